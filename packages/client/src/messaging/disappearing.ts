/**
 * Disappearing messages. A conversation's timer (set by any member with a `timer` envelope, shown
 * to all as a notice) rides on every text sent under it as `expiresIn`, so each device keeps a
 * message for the same time whatever timer it believes in. The clock starts when this device's
 * user has read the message (`markRead`) — for one's own messages, when they are sent — and at
 * `expiresAt` the message leaves the history of this device. Until read it stays: a message
 * nobody has seen has not disappeared, it was never shown.
 *
 * One timer for the whole messenger, set to the earliest `expiresAt`; each sweep runs in the lane
 * (never beside the inbox), removes what is due and reports it as an 'expired' event.
 */

import type { Conversations } from './conversations.js';
import type { Lane } from './lane.js';
import { asParleyError, type ChatMessage, type MessengerEventSink } from './model.js';

/** setTimeout's longest wait; a later expiry is re-checked after it. */
const MAX_WAIT_MS = 2 ** 31 - 1;

/** The moment a message read (or sent) at `from` disappears, or undefined when it does not. */
export function expiryOf(m: ChatMessage, from: Date): string | undefined {
  if (!m.expiresIn || m.expiresAt) return m.expiresAt;
  return new Date(from.getTime() + m.expiresIn * 1000).toISOString();
}

export class Disappearing {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private due: number | undefined;
  private running = false;

  constructor(
    private readonly conversations: Conversations,
    private readonly lane: Lane,
    private readonly events: MessengerEventSink,
  ) {}

  /** Finds the earliest expiry in every history and waits for it. */
  async start(): Promise<void> {
    this.running = true;
    await this.reschedule();
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.due = undefined;
  }

  /** A message now has an `expiresAt`: wait for it if it comes before the current one. */
  note(expiresAt: string | undefined): void {
    if (!expiresAt || !this.running) return;
    const at = Date.parse(expiresAt);
    if (this.due === undefined || at < this.due) this.wait(at);
  }

  /** Removes what is due now (in the lane) and waits for the next one. */
  async sweep(): Promise<void> {
    await this.lane.run(async () => {
      const now = Date.now();
      for (const c of await this.conversations.list()) {
        const due = (await this.conversations.history(c.id))
          .filter((m) => m.expiresAt && Date.parse(m.expiresAt) <= now)
          .map((m) => m.id);
        if (due.length === 0) continue;
        await this.conversations.removeMessages(c.id, due);
        this.events.emit('expired', { conversationId: c.id, ids: due });
      }
    });
    await this.reschedule();
  }

  private async reschedule(): Promise<void> {
    let earliest: number | undefined;
    for (const c of await this.conversations.list()) {
      for (const m of await this.conversations.history(c.id)) {
        const at = m.expiresAt ? Date.parse(m.expiresAt) : Number.NaN;
        if (!Number.isNaN(at) && (earliest === undefined || at < earliest)) earliest = at;
      }
    }
    if (earliest === undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.due = undefined;
      return;
    }
    this.wait(earliest);
  }

  private wait(at: number): void {
    if (!this.running) return;
    clearTimeout(this.timer);
    this.due = at;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.due = undefined;
        this.sweep().catch((error: unknown) => this.events.emit('error', asParleyError(error)));
      },
      Math.min(MAX_WAIT_MS, Math.max(0, at - Date.now())),
    );
    this.timer.unref?.();
  }
}
