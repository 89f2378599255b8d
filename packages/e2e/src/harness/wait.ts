/** Test support: waiting for a condition, and what a device received in a conversation. */

import type { ChatMessage } from '@parley/client';

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

/** The texts of the messages in `inbox` that belong to `conversationId`, in arrival order. */
export const texts = (inbox: ChatMessage[], conversationId: string): string[] =>
  inbox.filter((m) => m.conversationId === conversationId).map((m) => m.text);
