/**
 * The hub: which devices are connected to this node, waking their delivery when their queue
 * grows, relaying ephemeral signals, and presence. What concerns a device that is not connected
 * here goes to the other nodes over the bus (infra/bus/bus.ts); a single node has no peers, so its
 * message path stays a few map lookups with nothing published.
 */

import type { CloseCode, DeliverFrame, ServerFrame } from '@parley/core';
import type { BusEvent, BusNode } from '../infra/bus/bus.js';
import type { Addressed, Realtime } from './port.js';

export interface DeviceConnection {
  readonly accountId: string;
  readonly deviceId: string;
  /** The device's queue has new entries: deliver them. */
  wake(): void;
  /**
   * These entries were just committed to the device's queue, in order: send them without
   * reading the queue back, if nothing older is still unsent (else it reads, as on wake). With
   * `after`, the queue's largest seq before they were written: anything up to it must have been
   * sent already (another node may have written it).
   */
  offer(frames: DeliverFrame[], after?: number): void;
  /** Sends a frame that is not stored (signals, presence, notices). */
  push(frame: ServerFrame): void;
  /** Closes the connection with this WebSocket close code; it detaches itself when closed. */
  end(code: number, reason: string): void;
  /**
   * Checks the device's last presence request again (someone it asked about has just allowed
   * it), if it asked about `subject`.
   */
  recheckPresence?(subject: string): void;
}

export class Hub implements Realtime {
  private readonly byDevice = new Map<string, Set<DeviceConnection>>();
  private readonly onlineDevices = new Map<string, Set<string>>();
  /** subject account id → connections watching it (already checked against its setting). */
  private readonly watchers = new Map<string, Set<DeviceConnection>>();
  /** connection → the accounts it watches, each with what it was last told (undefined: nothing). */
  private readonly watching = new Map<DeviceConnection, Map<string, boolean | undefined>>();
  private node: BusNode | undefined;

  /** Other nodes write the same queues (the mailbox then notes what each queue held before). */
  get sharedQueues(): boolean {
    return this.node?.hasPeers === true;
  }

  /** Connects this hub to the other nodes; `receive` must get the node's events. */
  join(node: BusNode): void {
    this.node = node;
  }

  /** What another node published. */
  receive(event: BusEvent): void {
    switch (event.t) {
      case 'wake':
        this.wakeHere(event.devices);
        break;
      case 'offer':
        this.offerHere(event.entries);
        break;
      case 'resync':
        for (const conns of this.byDevice.values()) for (const conn of conns) conn.wake();
        break;
      case 'relay':
        this.relayHere(event.devices, event.frame);
        break;
      case 'disconnect':
        this.disconnectHere(event.devices, event.code, event.reason);
        break;
      case 'unwatch':
        this.unwatchHere(event.accountId, event.watchers && new Set(event.watchers));
        break;
      case 'rewatch':
        this.rewatchHere(event.accountId, new Set(event.watchers));
        break;
      case 'presence':
        if (event.online) this.presenceChanged(event.accountId, true);
        else if (!this.isOnline(event.accountId)) {
          // Offline there; still online on a third node?
          void this.onlineAnywhere(event.accountId).then((online) => {
            if (!online) this.presenceChanged(event.accountId, false);
          });
        }
        break;
    }
  }

  attach(conn: DeviceConnection): void {
    const conns = setIn(this.byDevice, conn.deviceId);
    // Recorded with the other nodes, for their wake-up decisions (unconnected).
    if (conns.size === 0) this.node?.setOnline(deviceKey(conn.deviceId), true);
    conns.add(conn);
    const devices = setIn(this.onlineDevices, conn.accountId);
    const wasOnline = devices.size > 0;
    devices.add(conn.deviceId);
    if (!wasOnline) {
      this.presenceChanged(conn.accountId, true);
      this.node?.setOnline(conn.accountId, true);
      if (this.node?.hasPeers) {
        this.node.publish({ t: 'presence', accountId: conn.accountId, online: true });
      }
    }
  }

  detach(conn: DeviceConnection): void {
    this.unwatchAll(conn);
    const set = this.byDevice.get(conn.deviceId);
    if (!set?.delete(conn)) return;
    if (set.size > 0) return;
    this.byDevice.delete(conn.deviceId);
    this.node?.setOnline(deviceKey(conn.deviceId), false);
    const devices = this.onlineDevices.get(conn.accountId);
    devices?.delete(conn.deviceId);
    if (devices && devices.size === 0) {
      this.onlineDevices.delete(conn.accountId);
      this.node?.setOnline(conn.accountId, false);
      if (this.node?.hasPeers) {
        this.node.publish({ t: 'presence', accountId: conn.accountId, online: false });
        void this.onlineAnywhere(conn.accountId).then((online) => {
          if (!online) this.presenceChanged(conn.accountId, false);
        });
      } else this.presenceChanged(conn.accountId, false);
    }
  }

  wake(deviceIds: Iterable<string>): void {
    const elsewhere = this.wakeHere(deviceIds);
    if (elsewhere.length > 0) this.node?.publish({ t: 'wake', devices: elsewhere });
  }

  /** Wakes the devices connected here; returns the others when there are other nodes. */
  private wakeHere(deviceIds: Iterable<string>): string[] {
    const elsewhere: string[] = [];
    const peers = this.node?.hasPeers === true;
    for (const id of deviceIds) {
      const conns = this.byDevice.get(id);
      if (conns) for (const conn of conns) conn.wake();
      else if (peers) elsewhere.push(id);
    }
    return elsewhere;
  }

  /** Entries just written by the mailbox, handed to the connected devices they are for. */
  offer(entries: Addressed[]): void {
    const byDevice = new Map<string, DeliverFrame[]>();
    /** Per device, the queue's largest seq before the first of these was written. */
    const afterOf = new Map<string, number | undefined>();
    for (const { deviceId, frame, after } of entries) {
      const list = byDevice.get(deviceId) ?? [];
      list.push(frame);
      byDevice.set(deviceId, list);
      const known = afterOf.has(deviceId) ? afterOf.get(deviceId) : after;
      afterOf.set(
        deviceId,
        known === undefined || after === undefined ? undefined : Math.min(known, after),
      );
    }
    let elsewhere: string[] | undefined;
    let remote: Array<{ deviceId: string; frame: DeliverFrame; after: number }> | undefined;
    for (const [deviceId, list] of byDevice) {
      const conns = this.byDevice.get(deviceId);
      if (!conns) {
        // Stored already: the node holding the socket sends it, or reads it from the queue.
        if (this.node?.hasPeers) {
          const after = afterOf.get(deviceId);
          if (after === undefined) {
            elsewhere ??= [];
            elsewhere.push(deviceId);
          } else {
            remote ??= [];
            for (const frame of list) remote.push({ deviceId, frame, after });
          }
        }
        continue;
      }
      list.sort((a, b) => a.seq - b.seq); // RETURNING gives no order
      if (this.node?.hasPeers) {
        // Other nodes write this queue too: one of them may have committed an earlier seq that
        // this socket has not read yet (its wake still on the way), and pushing these past it
        // would move the socket's read position beyond it. The mailbox noted the queue's counter
        // before writing (locked by the writer, so everything up to it is committed:
        // messaging/mailbox.ts): a socket that has sent up to it takes these directly; otherwise,
        // or without the note, it reads its queue.
        const after = afterOf.get(deviceId);
        for (const conn of conns) {
          if (after === undefined) conn.wake();
          else conn.offer(list, after);
        }
        continue;
      }
      for (const conn of conns) conn.offer(list);
    }
    if (elsewhere) this.node?.publish({ t: 'wake', devices: elsewhere });
    if (remote) this.node?.publish({ t: 'offer', entries: remote });
  }

  /** Another node's `offer`: entries for the devices connected here (the others read later). */
  private offerHere(entries: Array<{ deviceId: string; frame: DeliverFrame; after: number }>) {
    const byDevice = new Map<string, { frames: DeliverFrame[]; after: number }>();
    for (const { deviceId, frame, after } of entries) {
      if (!this.byDevice.has(deviceId)) continue;
      const seen = byDevice.get(deviceId);
      if (seen) {
        seen.frames.push(frame);
        seen.after = Math.min(seen.after, after);
      } else byDevice.set(deviceId, { frames: [frame], after });
    }
    for (const [deviceId, { frames, after }] of byDevice) {
      frames.sort((a, b) => a.seq - b.seq);
      for (const conn of this.byDevice.get(deviceId) ?? []) conn.offer(frames, after);
    }
  }

  /** Closes every connection of these devices (deleted devices: nothing more goes to them). */
  disconnect(deviceIds: Iterable<string>, code: CloseCode, reason: string): void {
    const devices = [...deviceIds];
    this.disconnectHere(devices, code, reason);
    if (this.node?.hasPeers) this.node.publish({ t: 'disconnect', devices, code, reason });
  }

  private disconnectHere(deviceIds: Iterable<string>, code: number, reason: string): void {
    for (const id of deviceIds)
      for (const conn of this.byDevice.get(id) ?? []) conn.end(code, reason);
  }

  /** Sends an unstored frame to whichever of these devices are connected now, on any node. */
  relay(deviceIds: Iterable<string>, frame: ServerFrame): void {
    const elsewhere = this.relayHere(deviceIds, frame);
    if (elsewhere.length > 0) this.node?.publish({ t: 'relay', devices: elsewhere, frame });
  }

  private relayHere(deviceIds: Iterable<string>, frame: ServerFrame): string[] {
    const elsewhere: string[] = [];
    const peers = this.node?.hasPeers === true;
    for (const id of deviceIds) {
      const conns = this.byDevice.get(id);
      if (conns) for (const conn of conns) conn.push(frame);
      else if (peers) elsewhere.push(id);
    }
    return elsewhere;
  }

  /** Whether a device of this account is connected to this node. */
  isOnline(accountId: string): boolean {
    return (this.onlineDevices.get(accountId)?.size ?? 0) > 0;
  }

  /** Whether a device of this account is connected to any node. */
  async onlineAnywhere(accountId: string): Promise<boolean> {
    if (this.isOnline(accountId)) return true;
    if (!this.node?.hasPeers) return false;
    // The bus unreachable: shown offline rather than failing the caller.
    return this.node.onlineElsewhere(accountId).catch(() => false);
  }

  async unconnected(deviceIds: readonly string[]): Promise<string[]> {
    const notHere = deviceIds.filter((id) => !this.byDevice.has(id));
    const node = this.node;
    if (!node?.hasPeers || notHere.length === 0) return notHere;
    const elsewhere = await Promise.all(
      notHere.map((id) => node.onlineElsewhere(deviceKey(id)).catch(() => false)),
    );
    return notHere.filter((_, i) => !elsewhere[i]);
  }

  connectionCount(): number {
    let n = 0;
    for (const set of this.byDevice.values()) n += set.size;
    return n;
  }

  /** Replaces what `conn` watches with `accountIds` (the caller has checked each is allowed). */
  watch(conn: DeviceConnection, accountIds: readonly string[]): void {
    // A connection that closed while its subscription was being checked is not added back.
    if (!this.byDevice.get(conn.deviceId)?.has(conn)) return;
    this.unwatchAll(conn);
    const mine = new Map<string, boolean | undefined>(accountIds.map((id) => [id, undefined]));
    this.watching.set(conn, mine);
    for (const id of mine.keys()) {
      setIn(this.watchers, id).add(conn);
      if (this.isOnline(id) || !this.node?.hasPeers) {
        this.show(conn, id, this.isOnline(id));
        continue;
      }
      // Maybe online on another node. A presence event that arrives before this answer is at
      // least as recent, so the answer is used only if no event came.
      const answer = (online: boolean) => {
        if (this.watching.get(conn)?.get(id) === undefined) this.show(conn, id, online);
      };
      void this.node.onlineElsewhere(id).then(answer, () => answer(false));
    }
  }

  /** Stops everyone watching this account, on every node, telling them it is not shown online. */
  unwatchAccount(accountId: string): void {
    this.unwatchHere(accountId);
    if (this.node?.hasPeers) this.node.publish({ t: 'unwatch', accountId });
  }

  /** Stops these accounts' devices, on every node, watching this account (taken off its list). */
  unwatchBy(accountId: string, watchers: readonly string[]): void {
    if (watchers.length === 0) return;
    this.unwatchHere(accountId, new Set(watchers));
    if (this.node?.hasPeers)
      this.node.publish({ t: 'unwatch', accountId, watchers: [...watchers] });
  }

  /**
   * These accounts were put on `accountId`'s allow-list: their devices, on every node, that asked
   * about it check again (the answer they had was "not allowed").
   */
  rewatchBy(accountId: string, watchers: readonly string[]): void {
    if (watchers.length === 0) return;
    this.rewatchHere(accountId, new Set(watchers));
    if (this.node?.hasPeers) {
      this.node.publish({ t: 'rewatch', accountId, watchers: [...watchers] });
    }
  }

  private rewatchHere(accountId: string, watchers: ReadonlySet<string>): void {
    for (const conns of this.byDevice.values()) {
      for (const conn of conns) {
        if (watchers.has(conn.accountId)) conn.recheckPresence?.(accountId);
      }
    }
  }

  /** `only`: the watching accounts to stop; everyone when absent. */
  private unwatchHere(accountId: string, only?: ReadonlySet<string>): void {
    const set = this.watchers.get(accountId);
    for (const conn of set ?? []) {
      if (only && !only.has(conn.accountId)) continue;
      this.watching.get(conn)?.delete(accountId);
      set!.delete(conn);
      conn.push({ t: 'presence', accountId, online: false });
    }
    if (set?.size === 0) this.watchers.delete(accountId);
  }

  private unwatchAll(conn: DeviceConnection): void {
    for (const id of this.watching.get(conn)?.keys() ?? []) {
      const set = this.watchers.get(id);
      set?.delete(conn);
      if (set?.size === 0) this.watchers.delete(id);
    }
    this.watching.delete(conn);
  }

  private presenceChanged(accountId: string, online: boolean): void {
    for (const conn of this.watchers.get(accountId) ?? []) this.show(conn, accountId, online);
  }

  /** Tells `conn` about `accountId` if it still watches it and was told otherwise before. */
  private show(conn: DeviceConnection, accountId: string, online: boolean): void {
    const mine = this.watching.get(conn);
    if (!mine?.has(accountId) || mine.get(accountId) === online) return;
    mine.set(accountId, online);
    conn.push({ t: 'presence', accountId, online });
  }
}

/**
 * A device's key in the bus's online records, which otherwise hold account ids (base64url, so
 * never with a colon).
 */
function deviceKey(deviceId: string): string {
  return `device:${deviceId}`;
}

/** The set stored under `key`, created empty when absent. */
function setIn<K, V>(map: Map<K, Set<V>>, key: K): Set<V> {
  let set = map.get(key);
  if (!set) {
    set = new Set();
    map.set(key, set);
  }
  return set;
}
