/**
 * Test support: waiting for a condition or a value, how far a sent message has got, and what a
 * device received in a conversation. A real server and a real browser run on their own time: what
 * is still settling (a list re-rendering, a counter, a status on its way) is polled for, never read
 * once and asserted.
 */

import * as assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import type { ChatMessage, MessageStatus } from '@parley/client';

/** Polls `test` every 25 ms until it holds; throws naming `what` after `ms` (30 s by default). */
export async function until(
  what: string,
  test: () => boolean | Promise<boolean>,
  ms = 30_000,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await test())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Polls `read` every 25 ms until it gives `expected` (deep equality); after `ms` (30 s by default)
 * fails as `assert.deepEqual` would, showing the last value read.
 *
 * @example await eventually('the device list', () => devices.getByRole('listitem').count(), 1);
 */
export async function eventually<T>(
  what: string,
  read: () => T | Promise<T>,
  expected: T,
  ms = 30_000,
): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (isDeepStrictEqual(value, expected)) return;
    if (Date.now() > end) assert.deepEqual(value, expected, `${what}, still after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A sent message's statuses in the order it goes through them. */
const PROGRESS: readonly MessageStatus[] = ['sending', 'stored', 'delivered', 'read'];

/**
 * Whether a sent message is at `least` or past it. A status moves on by itself — a fast receipt
 * turns 'stored' into 'delivered' before `send()` has returned — so tests ask how far it got.
 */
export const reached = (status: MessageStatus, least: MessageStatus): boolean =>
  PROGRESS.includes(status) && PROGRESS.indexOf(status) >= PROGRESS.indexOf(least);

/**
 * The texts of the text messages in `inbox` that belong to `conversationId`, in arrival order
 * (membership notices and placeholders left out).
 */
export const texts = (inbox: ChatMessage[], conversationId: string): string[] =>
  inbox.filter((m) => m.conversationId === conversationId && m.kind === 'text').map((m) => m.text);
