/**
 * The in-process hub: which devices are connected to this node, waking their delivery when their
 * queue grows, relaying ephemeral signals, and presence. One node needs nothing more; the
 * scale-out work puts a shared bus behind the same methods.
 */

import type { DeliverFrame, ServerFrame } from '@parley/core';
import type { Addressed } from './mailbox.js';

export interface DeviceConnection {
  readonly accountId: string;
  readonly deviceId: string;
  /** The device's queue has new entries: deliver them. */
  wake(): void;
  /**
   * These entries were just committed to the device's queue, in order: send them without
   * reading the queue back, if nothing older is still unsent (else it reads, as on wake).
   */
  offer(frames: DeliverFrame[]): void;
  /** Sends a frame that is not stored (signals, presence, notices). */
  push(frame: ServerFrame): void;
  /** Closes the connection with this WebSocket close code; it detaches itself when closed. */
  end(code: number, reason: string): void;
}

export class Hub {
  private readonly byDevice = new Map<string, Set<DeviceConnection>>();
  private readonly onlineDevices = new Map<string, Set<string>>();
  /** subject account id → connections watching it (already checked against its setting). */
  private readonly watchers = new Map<string, Set<DeviceConnection>>();
  private readonly watching = new Map<DeviceConnection, Set<string>>();

  attach(conn: DeviceConnection): void {
    setIn(this.byDevice, conn.deviceId).add(conn);
    const devices = setIn(this.onlineDevices, conn.accountId);
    const wasOnline = devices.size > 0;
    devices.add(conn.deviceId);
    if (!wasOnline) this.presenceChanged(conn.accountId, true);
  }

  detach(conn: DeviceConnection): void {
    this.unwatchAll(conn);
    const set = this.byDevice.get(conn.deviceId);
    if (!set?.delete(conn)) return;
    if (set.size > 0) return;
    this.byDevice.delete(conn.deviceId);
    const devices = this.onlineDevices.get(conn.accountId);
    devices?.delete(conn.deviceId);
    if (devices && devices.size === 0) {
      this.onlineDevices.delete(conn.accountId);
      this.presenceChanged(conn.accountId, false);
    }
  }

  wake(deviceIds: Iterable<string>): void {
    for (const id of deviceIds) for (const conn of this.byDevice.get(id) ?? []) conn.wake();
  }

  /** Entries just written by the mailbox, handed to the connected devices they are for. */
  offer(entries: Addressed[]): void {
    const byDevice = new Map<string, DeliverFrame[]>();
    for (const { deviceId, frame } of entries) {
      const list = byDevice.get(deviceId) ?? [];
      list.push(frame);
      byDevice.set(deviceId, list);
    }
    for (const [deviceId, list] of byDevice) {
      list.sort((a, b) => a.seq - b.seq); // RETURNING gives no order
      for (const conn of this.byDevice.get(deviceId) ?? []) conn.offer(list);
    }
  }

  /** Closes every connection of these devices (deleted devices: nothing more goes to them). */
  disconnect(deviceIds: Iterable<string>, code: number, reason: string): void {
    for (const id of deviceIds)
      for (const conn of this.byDevice.get(id) ?? []) conn.end(code, reason);
  }

  /** Sends an unstored frame to whichever of these devices are connected now. */
  relay(deviceIds: Iterable<string>, frame: ServerFrame): void {
    for (const id of deviceIds) for (const conn of this.byDevice.get(id) ?? []) conn.push(frame);
  }

  isOnline(accountId: string): boolean {
    return (this.onlineDevices.get(accountId)?.size ?? 0) > 0;
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
    const mine = new Set(accountIds);
    this.watching.set(conn, mine);
    for (const id of mine) {
      setIn(this.watchers, id).add(conn);
      conn.push({ t: 'presence', accountId: id, online: this.isOnline(id) });
    }
  }

  /** Stops everyone watching this account, telling them it is no longer shown online. */
  unwatchAccount(accountId: string): void {
    for (const conn of this.watchers.get(accountId) ?? []) {
      this.watching.get(conn)?.delete(accountId);
      conn.push({ t: 'presence', accountId, online: false });
    }
    this.watchers.delete(accountId);
  }

  private unwatchAll(conn: DeviceConnection): void {
    for (const id of this.watching.get(conn) ?? []) {
      const set = this.watchers.get(id);
      set?.delete(conn);
      if (set?.size === 0) this.watchers.delete(id);
    }
    this.watching.delete(conn);
  }

  private presenceChanged(accountId: string, online: boolean): void {
    for (const conn of this.watchers.get(accountId) ?? []) {
      conn.push({ t: 'presence', accountId, online });
    }
  }
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
