/** What a chat message carries inside MLS: a small versioned JSON object. */

import { ParleyError } from '@parley/core';

export interface Content {
  v: 1;
  type: 'text';
  text: string;
  sentAt: string;
}

export function encodeContent(text: string, sentAt: string): string {
  return JSON.stringify({ v: 1, type: 'text', text, sentAt } satisfies Content);
}

export function parseContent(bytes: Uint8Array): Content {
  const value = JSON.parse(new TextDecoder().decode(bytes)) as Partial<Content>;
  if (value.v !== 1 || value.type !== 'text' || typeof value.text !== 'string') {
    throw new ParleyError('MLS_FAILED', { details: { what: 'unknown message content' } });
  }
  return { v: 1, type: 'text', text: value.text, sentAt: String(value.sentAt ?? '') };
}
