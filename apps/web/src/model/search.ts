/**
 * Search across chats, on this device only: every conversation's title and every message's text
 * (from the SDK's store) matched against the words typed, case- and accent-insensitively. Nothing
 * is sent anywhere; the history never leaves IndexedDB.
 */

import type { AppModel, ConversationView } from './model.js';

export interface SearchHit {
  conversationId: string;
  title: string;
  /** The matching message's text (or undefined when the chat's title matched). */
  text: string | undefined;
  messageId: string | undefined;
  sentAt: string | undefined;
}

/** The most hits shown: a search is for finding, not for reading history. */
export const MAX_HITS = 50;

/** Lower case without accents, so "cafe" finds "Café". */
export const fold = (s: string): string =>
  s.normalize('NFD').replace(/\p{M}/gu, '').toLocaleLowerCase();

/** Whether every word of `query` occurs in `text` (folded). */
export function matches(text: string, query: string): boolean {
  const haystack = fold(text);
  return fold(query)
    .split(/\s+/)
    .filter(Boolean)
    .every((w) => haystack.includes(w));
}

export async function searchChats(model: AppModel, query: string): Promise<SearchHit[]> {
  if (!query.trim()) return [];
  const hits: SearchHit[] = [];
  const byTitle = (c: ConversationView): SearchHit => ({
    conversationId: c.id,
    title: c.title,
    text: undefined,
    messageId: undefined,
    sentAt: undefined,
  });
  for (const c of model.conversations) if (matches(c.title, query)) hits.push(byTitle(c));
  for (const c of model.conversations) {
    const history = await model.client.messenger.history(c.id);
    // Newest first within a chat: what was said last is most likely what is sought.
    for (const m of [...history].reverse()) {
      if (m.kind !== 'text') continue;
      const text = model.messageText(m);
      if (matches(text, query)) {
        hits.push({
          conversationId: c.id,
          title: c.title,
          text,
          messageId: m.id,
          sentAt: m.sentAt,
        });
      }
      if (hits.length >= MAX_HITS) return hits;
    }
  }
  return hits;
}
