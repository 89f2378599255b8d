/**
 * The inbox: the entries of this device's queue, applied one at a time in the order they come
 * (in the lane), and acknowledged. Its rules for "exactly once, in order":
 * - An entry is acknowledged only after its effect is saved; one that fails for a passing reason
 *   (the store failed) is not, so the server delivers it again on the next connection.
 * - An entry seen again (its acknowledgement was lost) is recognised — a message by its id, a
 *   Commit by its epoch, a Welcome by its group — and only acknowledged.
 * - Acknowledgements go out together: when the lane has applied everything queued so far, or
 *   when a delivery window's worth has gathered.
 * When an entry asks this device to commit (a member left or signed a device out), the Commit
 * starts after the entry's lane task, through `after`.
 */

import { type DeliverFrame, type DeviceRef, MESSAGING_LIMITS, ParleyError } from '@parley/core';
import { parseContent } from './content.js';
import type { Conversations } from './conversations.js';
import type { GroupChanges } from './group-changes.js';
import type { KeyPackageStock } from './key-packages.js';
import type { Lane, LaneTask } from './lane.js';
import * as mls from './mls.js';
import {
  asParleyError,
  type ChatMessage,
  type MessengerEventSink,
  otherAccounts,
  type Wire,
} from './model.js';

export class Inbox {
  private readonly acks: number[] = [];
  private ackScheduled = false;

  constructor(
    private readonly device: DeviceRef,
    private readonly lane: Lane,
    private readonly conversations: Conversations,
    private readonly keys: KeyPackageStock,
    private readonly changes: GroupChanges,
    private readonly wire: Wire,
    private readonly events: MessengerEventSink,
  ) {}

  /** Queues a delivered entry; it is applied after everything queued before it. */
  receive(frame: DeliverFrame): Promise<void> {
    return this.lane.run((task) => this.receiveIn(task, frame));
  }

  /** Sends the acknowledgements gathered so far. */
  flushAcks(): void {
    while (this.acks.length > 0) {
      const seqs = this.acks.splice(0, MESSAGING_LIMITS.deliveryWindow);
      // Unsent acks are harmless: the entries come again and are recognised as seen.
      this.wire.send({ t: 'ack', seqs });
    }
  }

  private ack(seq: number): void {
    this.acks.push(seq);
    if (this.acks.length >= MESSAGING_LIMITS.deliveryWindow) this.flushAcks();
    if (this.ackScheduled) return;
    this.ackScheduled = true;
    this.lane.whenIdle(() => {
      this.ackScheduled = false;
      this.flushAcks();
    });
  }

  private async receiveIn(task: LaneTask, frame: DeliverFrame): Promise<void> {
    try {
      await this.apply(task, frame);
    } catch (error) {
      this.events.emit('error', asParleyError(error));
      // An entry this device can never process (corrupt, or for keys it no longer has) would
      // block the queue forever: it is let go. Anything else (the store failed) stays
      // unacknowledged, so the server delivers it again on the next connection.
      if (!(error instanceof ParleyError)) return;
    }
    this.ack(frame.seq);
  }

  private async apply(task: LaneTask, frame: DeliverFrame): Promise<void> {
    switch (frame.kind) {
      case 'welcome':
        return this.applyWelcome(frame);
      case 'commit':
        return this.applyCommit(frame);
      case 'application':
        return this.applyMessage(frame);
      case 'receipt':
        return this.applyReceipt(frame);
      case 'leave':
        return this.applyLeave(task, frame);
      case 'removed':
        return this.applyRemoved(task, frame);
    }
  }

  private async applyWelcome(frame: DeliverFrame): Promise<void> {
    if (await this.conversations.load(frame.groupId)) return;
    const kp = frame.keyPackageId ? await this.keys.own(frame.keyPackageId) : undefined;
    if (!kp || !frame.payload) {
      throw new ParleyError('MLS_FAILED', {
        details: { what: 'Welcome for an unknown KeyPackage' },
      });
    }
    const state = await mls.joinByWelcome(frame.payload, kp, await this.keys.signatureKeys());
    await this.conversations.adopt(frame.groupId, state, frame.sentAt);
    await this.keys.spend(kp);
  }

  private async applyCommit(frame: DeliverFrame): Promise<void> {
    const stored = await this.conversations.load(frame.groupId);
    if (!stored || frame.epoch < stored.epoch || !frame.payload) return; // seen before
    const state = await mls.processHandshake(await mls.decodeState(stored.state), frame.payload);
    await this.conversations.adopt(frame.groupId, state);
  }

  private async applyMessage(frame: DeliverFrame): Promise<void> {
    // Delivered before; the acknowledgement was lost.
    if (await this.conversations.has(frame.groupId, frame.id)) return;
    const stored = await this.conversations.load(frame.groupId);
    if (!stored || !frame.payload) return;
    const { state, plaintext } = await mls.decrypt(
      await mls.decodeState(stored.state),
      frame.payload,
    );
    const content = parseContent(plaintext);
    const message: ChatMessage = {
      id: frame.id,
      conversationId: frame.groupId,
      from: frame.from,
      text: content.text,
      sentAt: content.sentAt,
      status: 'received',
      deliveredTo: [],
      readBy: [],
    };
    // History first: if the process dies between the two writes, the id is known and the
    // redelivered copy is dropped instead of failing to decrypt with a spent key.
    await this.conversations.append(frame.groupId, message);
    await this.conversations.save({ ...stored, state: await mls.encodeState(state) });
    this.events.emit('message', message);
  }

  /**
   * Another account left: the remaining device with the lowest id commits their removal (one
   * device, to avoid a burst of competing Commits; a conflict would be retried anyway).
   */
  private async applyLeave(task: LaneTask, frame: DeliverFrame): Promise<void> {
    const stored = await this.conversations.load(frame.groupId);
    if (!stored?.active) return;
    const leaver = frame.from.accountId;
    if (leaver === this.device.accountId) {
      // Another device of this account left: so did this one.
      await this.conversations.markLeft(stored);
      return;
    }
    if (!stored.members.some((m) => m.accountId === leaver)) return; // already removed
    const remaining = stored.members.filter((m) => m.accountId !== leaver).map((m) => m.deviceId);
    if (remaining.sort()[0] !== this.device.deviceId) return;
    task.after(() => this.changes.remove(frame.groupId, [leaver]));
  }

  /**
   * A device of a member (this account's, or another's) was signed out: the server no longer
   * delivers to it, and the first remaining device (by id) removes its leaf in MLS, so it cannot
   * read later epochs.
   */
  private async applyRemoved(task: LaneTask, frame: DeliverFrame): Promise<void> {
    const stored = await this.conversations.load(frame.groupId);
    if (!stored?.active) return;
    const removed = frame.from.deviceId;
    if (!stored.members.some((m) => m.deviceId === removed)) return; // already removed
    const remaining = stored.members.filter((m) => m.deviceId !== removed).map((m) => m.deviceId);
    if (remaining.sort()[0] !== this.device.deviceId) return;
    task.after(() => this.changes.removeDevices(frame.groupId, [removed]));
  }

  private async applyReceipt(frame: DeliverFrame): Promise<void> {
    const conversation = await this.conversations.load(frame.groupId);
    const others = otherAccounts(conversation, this.device.accountId);
    const changed = await this.conversations.updateMessages(
      frame.groupId,
      frame.ids ?? [frame.id],
      (m) => {
        if (!m.deliveredTo.includes(frame.from.accountId)) m.deliveredTo.push(frame.from.accountId);
        if (m.status !== 'read' && others.every((a) => m.deliveredTo.includes(a))) {
          m.status = 'delivered';
        }
      },
    );
    for (const m of changed) this.events.emit('status', m);
  }
}
