/**
 * The fake server's devices and their queues, as packages/server/src/messaging/mailbox.ts and
 * socket.ts: every entry gets the next seq and stays queued until its device acknowledges it; a
 * connection is sent the entries after the last one it was sent, at most a delivery window
 * unacknowledged; a send is stored once per (sender device, message id) for every other member
 * device; an acknowledged message puts one receipt per sender and conversation in the sender's
 * queue.
 */

import {
  type DeliverFrame,
  type DeliveryKind,
  type DeviceRef,
  MESSAGING_LIMITS,
  ParleyError,
  type SendFrame,
  toBase64Url,
} from '@parley/core';
import type { FakeSocket } from './fake-socket.js';

export interface Entry extends Omit<DeliverFrame, 't'> {
  deviceId: string;
}

/** An entry to queue: the server picks its seq, and its id unless it is a message's. */
export type NewEntry = Omit<Entry, 'seq' | 'id' | 'sentAt'> & { id?: string };

export interface Device {
  ref: DeviceRef;
  credential: string;
  queue: Entry[];
  link: Link | undefined;
  /** Deliveries held back by the test. */
  held: boolean;
  /** Acks thrown away by the test. */
  loseAcks: boolean;
}

/** One socket, server side. */
export interface Link {
  socket: FakeSocket;
  device: Device | undefined;
  lastSent: number;
  inflight: Set<number>;
  watching: Set<string>;
  chain: Promise<void>;
}

export const newId = (bytes = 16): string =>
  toBase64Url(crypto.getRandomValues(new Uint8Array(bytes)));

export class FakeQueues {
  readonly devices = new Map<string, Device>();
  /** (sender device, message id) → payload, for idempotent sends. */
  private readonly sent = new Map<string, string>();
  private seq = 0;

  device(deviceId: string): Device {
    const device = this.devices.get(deviceId);
    if (!device) throw new Error(`FakeServer: no device ${deviceId}`);
    return device;
  }

  /** Appends entries to their devices' queues and delivers what can go now; returns the seqs. */
  enqueue(entries: NewEntry[]): number[] {
    const sentAt = new Date().toISOString();
    const seqs: number[] = [];
    const woken = new Set<Device>();
    for (const e of entries) {
      const device = this.devices.get(e.deviceId);
      if (!device) continue;
      const seq = ++this.seq;
      device.queue.push({ ...e, seq, id: e.id ?? newId(), sentAt });
      seqs.push(seq);
      woken.add(device);
    }
    for (const device of woken) if (device.link) this.pump(device.link);
    return seqs;
  }

  /** Sends the entries after the last one sent, keeping at most a window unacknowledged. */
  pump(link: Link): void {
    const device = link.device;
    if (!device || device.held || !link.socket.isOpen) return;
    for (const entry of device.queue) {
      if (link.inflight.size >= MESSAGING_LIMITS.deliveryWindow) break;
      if (entry.seq <= link.lastSent) continue;
      link.inflight.add(entry.seq);
      link.lastSent = entry.seq;
      link.socket.push(toFrame(entry));
    }
  }

  /**
   * Stores a message for the group's other member devices; a resend (same id, same payload) is
   * recognised and not stored again. `group` is the group as the server knows it.
   */
  store(
    from: DeviceRef,
    frame: SendFrame,
    group: { epoch: number; members: DeviceRef[] } | undefined,
  ): { duplicate: boolean } {
    const key = `${from.deviceId}/${frame.id}`;
    const earlier = this.sent.get(key);
    if (earlier !== undefined) {
      if (earlier !== frame.payload) throw new ParleyError('MESSAGE_ID_REUSED');
      return { duplicate: true };
    }
    if (!group) throw new ParleyError('GROUP_NOT_FOUND');
    if (!group.members.some((m) => m.deviceId === from.deviceId)) {
      throw new ParleyError('NOT_GROUP_MEMBER');
    }
    if (frame.epoch !== group.epoch) {
      throw new ParleyError('EPOCH_CONFLICT', { details: { epoch: group.epoch } });
    }
    this.sent.set(key, frame.payload);
    this.enqueue(
      group.members
        .filter((m) => m.deviceId !== from.deviceId)
        .map((m) => ({
          deviceId: m.deviceId,
          kind: 'application' as DeliveryKind,
          id: frame.id,
          groupId: frame.groupId,
          from,
          epoch: frame.epoch,
          payload: frame.payload,
        })),
    );
    return { duplicate: false };
  }

  /** Deletes acknowledged entries and queues the receipts; then sends what the window allows. */
  ack(link: Link, device: Device, seqs: number[]): void {
    const acked = device.queue.filter((e) => seqs.includes(e.seq));
    device.queue = device.queue.filter((e) => !seqs.includes(e.seq));
    for (const seq of seqs) link.inflight.delete(seq);
    const receipts = new Map<string, NewEntry & { ids: string[] }>();
    for (const e of acked) {
      if (e.kind !== 'application' || !this.devices.has(e.from.deviceId)) continue;
      const key = `${e.from.deviceId}/${e.groupId}`;
      const receipt = receipts.get(key);
      if (receipt) receipt.ids.push(e.id);
      else {
        receipts.set(key, {
          deviceId: e.from.deviceId,
          kind: 'receipt',
          id: e.id,
          groupId: e.groupId,
          from: device.ref,
          epoch: e.epoch,
          ids: [e.id],
        });
      }
    }
    // A receipt names its messages in `ids` only when there are several (`id` is the first).
    this.enqueue(
      [...receipts.values()].map(({ ids, ...r }) => (ids.length > 1 ? { ...r, ids } : r)),
    );
    this.pump(link);
  }
}

export function toFrame(e: Entry): DeliverFrame {
  const { deviceId: _, ...rest } = e;
  return { t: 'deliver', ...rest };
}
