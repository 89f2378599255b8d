/**
 * The outbox: messages this device sends. A message is encrypted and saved to the outbox, with
 * its id, before the first attempt, and sent again with the same id until the server says it is
 * stored (the server keeps one copy per id, so a resend after a lost answer is harmless):
 * - on reconnect, when the connection dropped before the answer came;
 * - SERVICE_RETRY_MS later, when the server answered SERVICE_UNAVAILABLE;
 * - after the server's hint, backing off (doubling with jitter, up to BUSY_RETRY_MAX_MS) while it
 *   keeps answering SERVER_BUSY (it has more sends waiting than it can store);
 * - encrypted again in the new epoch, when the server answered EPOCH_CONFLICT (another member's
 *   Commit moved the group on; the outbox waits until this device has applied it).
 * Any other refusal marks the message failed. Sends go out in order, pipelined.
 */

import {
  type AttachmentEnvelope,
  type DeviceRef,
  type DeviceRemovedEnvelope,
  type Envelope,
  encodeEnvelope,
  type LeaveEnvelope,
  type MessageChangeEnvelope,
  ParleyError,
  type ProfileEnvelope,
  Rerunnable,
  type SettingEnvelope,
} from '@parley/core';
import type { ClientStore } from '../store/store.js';
import type { ApiClient } from '../transport/api.js';
import { attachmentFields } from './attachments.js';
import type { Conversations } from './conversations.js';
import type { Lane } from './lane.js';
import { quoteOf } from './message-changes.js';
import * as mls from './mls.js';
import {
  asParleyError,
  type ChatMessage,
  type MessageStatus,
  type MessengerEventSink,
  randomId,
  type Wire,
} from './model.js';

/** How long the outbox waits after the server answered SERVICE_UNAVAILABLE, by default. */
export const SERVICE_RETRY_MS = 2_000;
/** The first wait after SERVER_BUSY when the server gives no hint, by default; then it doubles. */
export const BUSY_RETRY_MS = 250;
/** The longest wait between attempts while the server stays busy. */
export const BUSY_RETRY_MAX_MS = 8_000;
/**
 * The longest server hint the outbox honours. The hint comes from the server, which may lie: an
 * unbounded one would park every send forever (and one past 2^31 ms makes a timer fire at once,
 * turning "wait" into a tight loop). A minute keeps an honest overloaded node's hint meaningful.
 */
export const BUSY_HINT_MAX_MS = 60_000;

const KEY = 'outbox';

/**
 * The wait before sending again after the `round`-th SERVER_BUSY answer in a row (from 1): the
 * base doubling each round, capped at BUSY_RETRY_MAX_MS, times a jitter factor between 0.5 and 1
 * from `random` (in [0, 1), so refused clients do not all come back at once); never less than the
 * server's hint, which counts only up to BUSY_HINT_MAX_MS (a negative or NaN hint counts as none).
 */
export function busyBackoffMs(
  round: number,
  baseMs: number,
  hintMs: number,
  random: number,
): number {
  const backoff = Math.min(BUSY_RETRY_MAX_MS, baseMs * 2 ** Math.min(round - 1, 16));
  const hint = hintMs > 0 ? Math.min(hintMs, BUSY_HINT_MAX_MS) : 0; // NaN > 0 is false
  return Math.max(hint, Math.round(backoff * (0.5 + random / 2)));
}

interface OutboxEntry {
  id: string;
  conversationId: string;
  epoch: number;
  payload: string;
  /** Kept so the message can be encrypted again after an epoch change (envelope JSON). */
  content: string;
  /** A control envelope (leave, device-removed): in no history, only awaited. */
  control?: true;
}

/** Envelopes that change membership rather than show in the history. */
export type ControlEnvelope = LeaveEnvelope | DeviceRemovedEnvelope | ProfileEnvelope;

export class Outbox {
  private readonly waiters = new Map<
    string,
    { resolve: (m: ChatMessage | undefined) => void; reject: (e: ParleyError) => void }
  >();
  private readonly flusher = new Rerunnable(() => this.flushOnce());
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** Rounds in a row that the server answered SERVER_BUSY (the backoff's exponent). */
  private busyRounds = 0;

  constructor(
    private readonly device: DeviceRef,
    private readonly store: ClientStore,
    private readonly api: ApiClient,
    private readonly lane: Lane,
    private readonly conversations: Conversations,
    private readonly wire: Wire,
    private readonly events: MessengerEventSink,
    private readonly timing: { serviceRetryMs: number; busyRetryMs: number },
  ) {}

  /**
   * Encrypts and queues a text; resolves when the server has stored it for every recipient
   * device. While offline it waits in the outbox and goes out on reconnect.
   */
  async send(
    conversationId: string,
    text: string,
    options: { replyTo?: string; expiresIn?: number } = {},
  ): Promise<ChatMessage> {
    const { replyTo, expiresIn } = options;
    const now = new Date();
    const sentAt = now.toISOString();
    const timer = expiresIn ? { expiresIn } : {};
    const message = await this.queue(
      conversationId,
      { v: 1, type: 'text', text, sentAt, ...(replyTo ? { replyTo } : {}), ...timer },
      async (id) => ({
        id,
        conversationId,
        from: this.device,
        kind: 'text',
        text,
        sentAt,
        status: 'sending',
        deliveredTo: [],
        readBy: [],
        ...(replyTo
          ? { replyTo: quoteOf(await this.conversations.history(conversationId), replyTo) }
          : {}),
        // One's own message disappears counted from sending.
        ...(expiresIn
          ? { ...timer, expiresAt: new Date(now.getTime() + expiresIn * 1000).toISOString() }
          : {}),
      }),
    );
    return message!;
  }

  /**
   * Applies a reaction, edit or delete here (through `apply`, which throws when it may not be
   * made) and queues it for the other devices, in one lane task so neither happens without the
   * other; resolves with the changed message once the server has stored the change.
   */
  async sendChange(
    conversationId: string,
    change: MessageChangeEnvelope | SettingEnvelope,
    apply: () => Promise<ChatMessage>,
  ): Promise<ChatMessage> {
    let changed: ChatMessage | undefined;
    await this.queue(conversationId, change, undefined, async () => {
      changed = await apply();
    });
    return changed!;
  }

  /**
   * Queues the MLS message of an uploaded attachment; resolves when the server has stored it for
   * every recipient device.
   */
  async sendAttachment(conversationId: string, envelope: AttachmentEnvelope): Promise<ChatMessage> {
    const { expiresIn } = envelope;
    const message = await this.queue(conversationId, envelope, async (id) => ({
      id,
      conversationId,
      from: this.device,
      ...attachmentFields(envelope),
      status: 'sending',
      deliveredTo: [],
      readBy: [],
      // One's own file disappears counted from sending, as a text does.
      ...(expiresIn ? { expiresAt: new Date(Date.now() + expiresIn * 1000).toISOString() } : {}),
    }));
    return message!;
  }

  /**
   * Encrypts and queues a control envelope (no history entry); resolves when the server has
   * stored it. It goes out in order with the messages queued before it.
   */
  async sendControl(
    conversationId: string,
    envelope: ControlEnvelope | SettingEnvelope,
  ): Promise<void> {
    await this.queue(conversationId, envelope, undefined);
  }

  private async queue(
    conversationId: string,
    envelope: Envelope,
    shown: ((id: string) => Promise<ChatMessage>) | undefined,
    first?: () => Promise<void>,
  ): Promise<ChatMessage | undefined> {
    const id = randomId();
    const content = new TextDecoder().decode(encodeEnvelope(envelope));
    // Registered before the message can reach the outbox, so no answer can come before it.
    const stored = new Promise<ChatMessage | undefined>((resolve, reject) => {
      this.waiters.set(id, { resolve, reject });
    });
    try {
      await this.lane.run(async () => {
        const entry = await this.encrypt(conversationId, id, content);
        // A change refused here throws before anything is stored (a spent MLS generation is
        // all it costs).
        await first?.();
        const message = await shown?.(id);
        if (message) await this.conversations.append(conversationId, message);
        else entry.control = true;
        await this.store.set(KEY, [...(await this.entries()), entry]);
        // Shown at once as 'sending', also while offline; 'stored' follows when the server has it.
        if (message) this.events.emit('status', message);
      });
    } catch (error) {
      this.waiters.delete(id);
      throw error;
    }
    this.flush();
    return stored;
  }

  /** Sends what is in the outbox (now, or once more after the round under way). */
  flush(): void {
    void this.flusher.run();
  }

  /** Stops the SERVICE_UNAVAILABLE or SERVER_BUSY retry; what is queued stays for the next flush. */
  stop(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  /** Deletes the outbox; whoever waits for a message to be stored learns the account is gone. */
  async erase(): Promise<void> {
    this.stop();
    await this.store.delete(KEY);
    for (const waiter of this.waiters.values()) {
      waiter.reject(new ParleyError('NOT_REGISTERED', { message: 'The account was deleted.' }));
    }
    this.waiters.clear();
  }

  private async entries(): Promise<OutboxEntry[]> {
    return (await this.store.get<OutboxEntry[]>(KEY)) ?? [];
  }

  private async encrypt(conversationId: string, id: string, content: string): Promise<OutboxEntry> {
    const stored = await this.conversations.require(conversationId);
    if (!stored.active) throw new ParleyError('NOT_GROUP_MEMBER');
    const state = await mls.decodeState(stored.state);
    const encrypted = await mls.encrypt(state, new TextEncoder().encode(content));
    // Saved whatever the server answers: a key used once must never be used again.
    await this.conversations.save({ ...stored, state: await mls.encodeState(encrypted.state) });
    return { id, conversationId, epoch: stored.epoch, payload: encrypted.payload, content };
  }

  /** One round: sends the whole outbox, pipelined, and sorts the answers. */
  private async flushOnce(): Promise<void> {
    try {
      if (!this.wire.isReady()) return;
      const outbox = await this.entries();
      if (outbox.length === 0) return;
      const results = await Promise.allSettled(
        outbox.map((e) =>
          this.wire.sendMessage({
            t: 'send',
            id: e.id,
            groupId: e.conversationId,
            epoch: e.epoch,
            payload: e.payload,
          }),
        ),
      );
      const stale: OutboxEntry[] = [];
      const done = new Map<string, MessageStatus>();
      let offline = false;
      let unavailable = false;
      /** The largest retry hint of the SERVER_BUSY answers; undefined when none was busy. */
      let busy: number | undefined;
      results.forEach((r, i) => {
        const entry = outbox[i]!;
        if (r.status === 'fulfilled') {
          done.set(entry.id, 'stored');
          return;
        }
        const error = asParleyError(r.reason);
        if (error.code === 'EPOCH_CONFLICT') stale.push(entry);
        else if (error.code === 'CONNECTION_CLOSED') offline = true;
        // The server cannot store right now (its database is restarting, say): the message
        // stays in the outbox and goes again shortly, with the same id.
        else if (error.code === 'SERVICE_UNAVAILABLE') unavailable = true;
        // The node has more sends waiting than it can store: the same id goes again later.
        else if (error.code === 'SERVER_BUSY') busy = Math.max(busy ?? 0, error.retryAfterMs ?? 0);
        else {
          done.set(entry.id, 'failed');
          this.waiters.get(entry.id)?.reject(error);
          this.waiters.delete(entry.id);
        }
      });
      await this.settle(outbox, done);
      this.busyRounds = busy === undefined ? 0 : this.busyRounds + 1;
      if ((unavailable || busy !== undefined) && !offline) {
        const wait = Math.max(
          unavailable ? this.timing.serviceRetryMs : 0,
          busy === undefined ? 0 : this.busyWait(busy),
        );
        this.retryTimer ??= setTimeout(() => {
          this.retryTimer = undefined;
          this.flush();
        }, wait);
        this.retryTimer.unref?.();
      }
      // Offline: the next round comes with the reconnect (or now, if one came meanwhile).
      if (offline || stale.length === 0) return;
      await this.renew(stale);
      this.flush();
    } catch (error) {
      this.events.emit('error', asParleyError(error));
    }
  }

  private busyWait(hintMs: number): number {
    return busyBackoffMs(this.busyRounds, this.timing.busyRetryMs, hintMs, Math.random());
  }

  /** Takes the answered messages out of the outbox and shows their new status. */
  private async settle(outbox: OutboxEntry[], done: Map<string, MessageStatus>): Promise<void> {
    await this.lane.run(async () => {
      await this.store.set(
        KEY,
        (await this.entries()).filter((e) => !done.has(e.id)),
      );
      for (const [id, status] of done) {
        const entry = outbox.find((e) => e.id === id)!;
        if (entry.control) {
          if (status === 'stored') this.waiters.get(id)?.resolve(undefined);
          this.waiters.delete(id);
          continue;
        }
        const updated = await this.conversations.updateMessage(entry.conversationId, id, (m) => {
          if (m.status === 'sending') m.status = status;
        });
        if (updated) {
          this.events.emit('status', updated);
          if (status === 'stored') this.waiters.get(id)?.resolve(updated);
        }
        this.waiters.delete(id);
      }
    });
  }

  /** Encrypts again, in the group's new epoch, what the server refused as from an older one. */
  private async renew(stale: OutboxEntry[]): Promise<void> {
    for (const entry of stale) {
      const server = await this.api.group(entry.conversationId);
      await this.conversations.waitForEpoch(entry.conversationId, server.epoch);
    }
    await this.lane.run(async () => {
      const renewed: OutboxEntry[] = [];
      for (const e of await this.entries()) {
        renewed.push(
          stale.some((s) => s.id === e.id)
            ? {
                ...(await this.encrypt(e.conversationId, e.id, e.content)),
                ...(e.control ? { control: true as const } : {}),
              }
            : e,
        );
      }
      await this.store.set(KEY, renewed);
    });
  }
}
