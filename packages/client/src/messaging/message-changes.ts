/**
 * Changes to messages already in a history — a reaction, an edit, a delete for everyone — and the
 * quote a reply shows. Each arrives as its own MLS application message naming the original by id,
 * in queue order like any message, so every device applies the same changes in the same order.
 * MLS says who sent a change; the rules below say whether it counts:
 * - anyone in the conversation may react, once per account (a new reaction replaces theirs, ''
 *   takes it back);
 * - only the author may edit or delete, within MESSAGE_CHANGE_WINDOW_MS of the original on the
 *   author's clock, and never after deleting;
 * - a change to a message this device does not hold (it joined later, or the message expired)
 *   changes nothing.
 * Applying a change twice changes nothing the second time, so a redelivered one is harmless.
 */

import {
  type DeviceRef,
  MESSAGE_CHANGE_WINDOW_MS,
  type MessageChangeEnvelope,
  ParleyError,
} from '@parley/core';
import type { ChatMessage } from './model.js';

/** How much of the original a reply keeps to show (the original may be edited or deleted later). */
export const QUOTE_MAX_LENGTH = 200;

/** The quote a reply to `id` shows, from the history this device holds. */
export function quoteOf(
  history: readonly ChatMessage[],
  id: string,
): NonNullable<ChatMessage['replyTo']> {
  const original = history.find(
    (m) => m.id === id && (m.kind === 'text' || m.kind === 'attachment') && !m.deletedAt,
  );
  if (!original) return { id, from: '', text: '' };
  // A file is quoted by its caption, or its name.
  const text = original.text || (original.attachment ? `📎 ${original.attachment.name}` : '');
  return { id, from: original.from.accountId, text: text.slice(0, QUOTE_MAX_LENGTH) };
}

/** Why `change` from `by` may not apply to `m`, or undefined when it may. */
export function refusal(
  m: ChatMessage,
  by: DeviceRef,
  change: MessageChangeEnvelope,
): string | undefined {
  if (m.kind !== 'text' && m.kind !== 'attachment') return 'not a message';
  if (m.deletedAt) return 'deleted';
  if (change.type === 'reaction') return undefined;
  if (change.type === 'edit' && m.kind !== 'text') return 'a file cannot be edited';
  if (by.accountId !== m.from.accountId) return 'not the author';
  const elapsed = Date.parse(change.sentAt) - Date.parse(m.sentAt);
  if (!(elapsed >= 0 && elapsed <= MESSAGE_CHANGE_WINDOW_MS)) return 'outside the window';
  return undefined;
}

/** Applies `change` to `m` (a copy the caller saves); assumes `refusal` said nothing. */
export function applyChange(m: ChatMessage, by: DeviceRef, change: MessageChangeEnvelope): void {
  switch (change.type) {
    case 'reaction': {
      const reactions = { ...m.reactions };
      if (change.emoji) reactions[by.accountId] = change.emoji;
      else delete reactions[by.accountId];
      if (Object.keys(reactions).length > 0) m.reactions = reactions;
      else delete m.reactions;
      return;
    }
    case 'edit':
      m.text = change.text;
      m.editedAt = change.sentAt;
      return;
    case 'delete':
      m.text = '';
      m.deletedAt = change.sentAt;
      // The key goes with it: the file cannot be fetched and decrypted here any more.
      delete m.attachment;
      delete m.reactions;
      delete m.replyTo;
      delete m.editedAt;
      return;
  }
}

/** The typed error for a change this device's own user may not make. */
export function refused(reason: string, messageId: string): ParleyError {
  return new ParleyError('MESSAGE_CHANGE_REFUSED', { details: { reason, messageId } });
}
