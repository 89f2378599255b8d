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
 *
 * Who did what is MLS's word only: the sender of a message or Commit is its MLS sender (a `from`
 * the server wrote that disagrees is ignored, with a warning), and membership changes only by
 * Commits. A member's leave or a device's sign-out is acted on when its own account announced it
 * in an MLS message (a `leave` or `device-removed` envelope); the server's `leave` and `removed`
 * entries are hints that change nothing by themselves.
 */

import {
  type DeliverFrame,
  type DeviceRef,
  type Envelope,
  isMessageChange,
  MESSAGING_LIMITS,
  type MessageChangeEnvelope,
  ParleyError,
  type ProfileEnvelope,
  parseEnvelope,
} from '@parley/core';
import { attachmentFields } from './attachments.js';
import type { Conversations } from './conversations.js';
import type { GroupChanges } from './group-changes.js';
import type { KeyChecks } from './key-checks.js';
import type { KeyPackageStock } from './key-packages.js';
import type { Lane, LaneTask } from './lane.js';
import { applyChange, quoteOf, refusal } from './message-changes.js';
import * as mls from './mls.js';
import {
  asParleyError,
  type ChatMessage,
  type MessengerEventSink,
  otherAccounts,
  publicView,
  type StoredConversation,
  type Wire,
} from './model.js';
import { noticeMessage, sameSettings, settingNotice, withSetting } from './notices.js';
import type { SecurityWarning } from './warnings.js';

/** How long a profile envelope holds the entries after it while its profile is fetched. */
const PROFILE_WAIT_MS = 10_000;

/** Ids of history-less messages a conversation remembers, to recognise them delivered again. */
const HANDLED_MAX = 64;

/** Who a Commit's notice names when MLS gives no member (cannot happen with basic credentials). */
const NOBODY: DeviceRef = { accountId: '', deviceId: '' };

/**
 * What the inbox asks about people: who is a contact (a conversation started by anyone else is a
 * message request), who is blocked (their messages in shared groups are hidden), and the
 * profiles (a `profile` envelope is learned; this account's own is shared where it joins).
 */
export interface InboxPeople {
  isKnown(accountId: string): Promise<boolean>;
  isBlocked(accountId: string): Promise<boolean>;
  learnProfile(from: string, envelope: ProfileEnvelope): Promise<void>;
  shareProfile(conversationId: string): Promise<void>;
}

const same = (a: DeviceRef, b: DeviceRef) =>
  a.accountId === b.accountId && a.deviceId === b.deviceId;

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
    private readonly checks: KeyChecks,
    private readonly people: InboxPeople,
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
        return this.applyWelcome(task, frame);
      case 'commit':
        return this.applyCommit(task, frame);
      case 'application':
        return this.applyMessage(task, frame);
      case 'receipt':
        return this.applyReceipt(frame);
      case 'leave':
        return this.applyLeave(frame);
      case 'removed':
        return this.applyRemoved(frame);
    }
  }

  private async applyWelcome(task: LaneTask, frame: DeliverFrame): Promise<void> {
    if (await this.conversations.load(frame.groupId)) return;
    const kp = frame.keyPackageId ? await this.keys.own(frame.keyPackageId) : undefined;
    if (!kp || !frame.payload) {
      throw new ParleyError('MLS_FAILED', {
        details: { what: 'Welcome for an unknown KeyPackage' },
      });
    }
    const { state, addedBy } = await mls.joinByWelcome(
      frame.payload,
      kp,
      await this.keys.signatureKeys(),
    );
    this.checkSender(frame, addedBy);
    // Every member's certificate against the identity keys this device knows, before joining.
    await this.checks.tree(frame.groupId, state);
    const by = addedBy ?? NOBODY;
    const notices = [
      { change: 'added' as const, by, accounts: [this.device.accountId], devices: [this.device] },
    ];
    await this.conversations.adopt(frame.groupId, state, { by, notices }, frame.sentAt);
    await this.keys.spend(kp);
    // Started by someone who is not a contact: a message request, and no profile for them yet.
    const adder = addedBy?.accountId;
    if (adder && adder !== this.device.accountId && !(await this.people.isKnown(adder))) {
      await this.conversations.setRequest(frame.groupId, adder);
    } else {
      task.after(() => this.people.shareProfile(frame.groupId));
    }
  }

  private async applyCommit(task: LaneTask, frame: DeliverFrame): Promise<void> {
    const stored = await this.conversations.load(frame.groupId);
    if (!stored || frame.epoch < stored.epoch || !frame.payload) return; // seen before
    const { state, committer } = await mls.processHandshake(
      await mls.decodeState(stored.state),
      frame.payload,
    );
    this.checkSender(frame, committer);
    await this.checks.tree(frame.groupId, state);
    const after = await this.conversations.adopt(frame.groupId, state, {
      by: committer ?? NOBODY,
    });
    // A new device (of a new member, or a newly linked one): it gets this account's profile key,
    // from this account's lowest device, once.
    const before = new Set(stored.members.map((m) => m.deviceId));
    const mine = after.members.filter((m) => m.accountId === this.device.accountId);
    if (
      after.active &&
      !after.request &&
      after.members.some((m) => !before.has(m.deviceId)) &&
      lowest(mine) === this.device.deviceId
    ) {
      task.after(() => this.people.shareProfile(frame.groupId));
    }
  }

  private async applyMessage(task: LaneTask, frame: DeliverFrame): Promise<void> {
    const stored = await this.conversations.load(frame.groupId);
    // Delivered before; the acknowledgement was lost.
    if (stored?.handled?.includes(frame.id)) return;
    if (await this.conversations.has(frame.groupId, frame.id)) return;
    if (!stored || !frame.payload) return;
    const { state, plaintext, sender } = await mls.decrypt(
      await mls.decodeState(stored.state),
      frame.payload,
    );
    this.checkSender(frame, sender);
    const read = parseEnvelope(plaintext);
    const envelope = read.kind === 'envelope' ? read.envelope : undefined;
    // A blocked member of a shared group: the MLS state moves on, what they say is not shown (the
    // settings every member shares still apply, or this device's view of the group would drift).
    const hidden =
      sender.accountId !== this.device.accountId && (await this.people.isBlocked(sender.accountId));
    if (!hidden && envelope && isMessageChange(envelope)) {
      // The history first, as for a text: redelivered before the state was saved, it decrypts
      // again and applies again, which changes nothing.
      const changed = await this.applyMessageChange(frame.groupId, sender, envelope);
      await this.conversations.save({
        ...stored,
        state: await mls.encodeState(state),
        handled: [...(stored.handled ?? []), frame.id].slice(-HANDLED_MAX),
      });
      if (changed) {
        this.events.emit('status', changed);
        this.events.emit('changed', { message: changed, change: envelope, by: sender });
      }
      return;
    }
    if (envelope?.type === 'timer' || envelope?.type === 'group-name') {
      // The state first, then the notice: redelivered, the entry is recognised as handled.
      const next = withSetting(
        {
          ...stored,
          state: await mls.encodeState(state),
          handled: [...(stored.handled ?? []), frame.id].slice(-HANDLED_MAX),
        },
        envelope,
      );
      await this.conversations.save(next);
      // Repeated for a newcomer (messenger.addMembers): a setting that changes nothing here
      // leaves no notice.
      if (sameSettings(stored, next)) return;
      const notice = noticeMessage(frame.groupId, settingNotice(sender, envelope));
      await this.conversations.append(frame.groupId, notice);
      this.events.emit('message', notice);
      this.events.emit('conversation', publicView(await this.conversations.require(frame.groupId)));
      return;
    }
    if (hidden || (envelope && envelope.type !== 'text' && envelope.type !== 'attachment')) {
      const next: StoredConversation = {
        ...stored,
        state: await mls.encodeState(state),
        handled: [...(stored.handled ?? []), frame.id].slice(-HANDLED_MAX),
      };
      if (
        hidden ||
        !envelope ||
        envelope.type === 'text' ||
        envelope.type === 'attachment' ||
        isMessageChange(envelope)
      ) {
        return this.conversations.save(next);
      }
      return this.applyControl(task, next, sender, envelope);
    }
    const message: ChatMessage = {
      id: frame.id,
      conversationId: frame.groupId,
      from: sender,
      status: 'received',
      deliveredTo: [],
      readBy: [],
      // A newer kind of message (or unreadable content) is kept and shown as a placeholder.
      ...(envelope?.type === 'text'
        ? {
            kind: 'text',
            text: envelope.text,
            sentAt: envelope.sentAt,
            ...(envelope.expiresIn ? { expiresIn: envelope.expiresIn } : {}),
            ...(envelope.replyTo
              ? {
                  replyTo: quoteOf(
                    await this.conversations.history(frame.groupId),
                    envelope.replyTo,
                  ),
                }
              : {}),
          }
        : envelope?.type === 'attachment'
          ? attachmentFields(envelope)
          : {
              kind: 'unsupported',
              text: '',
              contentType: read.kind === 'unsupported' ? read.type : '',
              sentAt: frame.sentAt,
            }),
    };
    // History first: if the process dies between the two writes, the id is known and the
    // redelivered copy is dropped instead of failing to decrypt with a spent key.
    await this.conversations.append(frame.groupId, message);
    await this.conversations.save({ ...stored, state: await mls.encodeState(state) });
    this.events.emit('message', message);
  }

  /**
   * A reaction, an edit or a delete from `sender` (MLS's word): applied to the message it names
   * when the rules of message-changes.ts allow; otherwise nothing changes. Returns the message as
   * changed, if it was.
   */
  private async applyMessageChange(
    conversationId: string,
    sender: DeviceRef,
    change: MessageChangeEnvelope,
  ): Promise<ChatMessage | undefined> {
    const target = (await this.conversations.history(conversationId)).find(
      (m) => m.id === change.target,
    );
    if (!target || refusal(target, sender, change)) return undefined;
    return this.conversations.updateMessage(conversationId, change.target, (m) =>
      applyChange(m, sender, change),
    );
  }

  /**
   * A leave or a sign-out, announced in MLS by the account it concerns. The announcement is
   * remembered (so the server's matching hint raises no warning), and the remaining device with
   * the lowest id commits the removal (one device, to avoid a burst of competing Commits; a
   * conflict would be retried anyway). This saves `next` (the new MLS state) in every case.
   */
  private async applyControl(
    task: LaneTask,
    next: StoredConversation,
    sender: DeviceRef,
    envelope: Exclude<
      Envelope,
      { type: 'text' | 'timer' | 'group-name' | 'attachment' } | MessageChangeEnvelope
    >,
  ): Promise<void> {
    const mine = sender.accountId === this.device.accountId;
    await this.conversations.save(next);
    if (envelope.type === 'profile') {
      // Read before the entries after it, so the messages that follow show the name; a fetch
      // that hangs holds the queue PROFILE_WAIT_MS at most, then goes on in the background.
      // Never throws: a profile the server serves wrong is reported and the name known is kept.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.people.learnProfile(sender.accountId, envelope),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, PROFILE_WAIT_MS);
        }),
      ]);
      clearTimeout(timer);
      return;
    }
    if (envelope.type === 'leave') {
      if (!next.members.some((m) => m.accountId === sender.accountId)) return;
      await this.conversations.noteDepartures(next.id, [sender.accountId]);
      if (!next.active) return;
      // Another device of this account left: so did this one.
      if (mine) {
        await this.conversations.markLeft(await this.conversations.require(next.id));
        return;
      }
      const remaining = next.members.filter((m) => m.accountId !== sender.accountId);
      if (lowest(remaining) !== this.device.deviceId) return;
      task.after(() => this.changes.remove(next.id, [sender.accountId]));
      return;
    }
    // device-removed: only a device of the same account may sign devices out.
    const named = next.members.filter((m) => envelope.deviceIds.includes(m.deviceId));
    if (named.some((m) => m.accountId !== sender.accountId)) {
      this.warn({
        code: 'REMOVAL_REFUSED',
        conversationId: next.id,
        detail: { authenticated: sender, deviceIds: envelope.deviceIds },
      });
      return;
    }
    const ids = named.map((m) => m.deviceId);
    if (ids.length === 0) return;
    await this.conversations.noteDepartures(next.id, ids);
    if (!next.active || ids.includes(this.device.deviceId)) return;
    if (removerOf(next.members, ids) !== this.device.deviceId) return;
    task.after(() => this.changes.removeDevices(next.id, ids));
  }

  /**
   * The server says another account left. Only a hint: the account's own `leave` envelope is
   * what counts, and it comes before this entry (the leaver stores it before leaving).
   */
  private async applyLeave(frame: DeliverFrame): Promise<void> {
    const stored = await this.conversations.load(frame.groupId);
    if (!stored) return;
    const leaver = frame.from.accountId;
    if (!stored.members.some((m) => m.accountId === leaver)) return; // already removed
    if (leaver === this.device.accountId && !stored.active) return; // left here already
    if (stored.departures?.includes(leaver)) return; // announced; the removal is under way
    this.warn({
      code: 'UNVERIFIED_LEAVE',
      conversationId: frame.groupId,
      detail: { claimed: frame.from, entry: 'leave' },
    });
  }

  /** The server says a device was signed out: a hint, as `leave` is. */
  private async applyRemoved(frame: DeliverFrame): Promise<void> {
    const stored = await this.conversations.load(frame.groupId);
    if (!stored?.active) return;
    const removed = frame.from.deviceId;
    if (removed === this.device.deviceId) return; // the server closes this device's socket
    if (!stored.members.some((m) => m.deviceId === removed)) return; // already removed
    if (stored.departures?.includes(removed)) return; // announced; the removal is under way
    this.warn({
      code: 'UNVERIFIED_REMOVAL',
      conversationId: frame.groupId,
      detail: { claimed: frame.from, deviceIds: [removed], entry: 'removed' },
    });
  }

  /** A `from` the server wrote that MLS contradicts is ignored, and said so. */
  private checkSender(frame: DeliverFrame, authenticated: DeviceRef | undefined): void {
    if (!authenticated || same(frame.from, authenticated)) return;
    this.warn({
      code: 'SENDER_MISMATCH',
      conversationId: frame.groupId,
      detail: { claimed: frame.from, authenticated, entry: frame.kind },
    });
  }

  private warn(warning: SecurityWarning): void {
    this.events.emit('warning', warning);
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

/** The device with the lowest id: the one that commits a removal. */
function lowest(members: readonly DeviceRef[]): string | undefined {
  return members.map((m) => m.deviceId).sort()[0];
}

/** The device that commits the removal of these devices: the lowest id among the others. */
export function removerOf(members: readonly DeviceRef[], deviceIds: readonly string[]) {
  return lowest(members.filter((m) => !deviceIds.includes(m.deviceId)));
}
