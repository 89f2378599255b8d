/**
 * How a chat reads: web addresses in a message turned into links, the day a message belongs to
 * (for the separators in a chat) and the short time shown beside a chat in the list. Pure
 * functions of the text and the clock, so the screens stay small.
 */

/** A run of message text: plain, or a link with the address it opens. */
export type TextPart = { text: string } | { text: string; href: string };

// An address starts with a scheme or "www." and runs to the next space or angle bracket; quotes
// end it too, as they do in mail clients.
const ADDRESS = /\b(?:https?:\/\/|www\.)[^\s<>"]+/gi;
// Punctuation that ends a sentence rather than the address ("see https://x.example.").
const TRAILING = /[.,;:!?'’”»]+$/;

/** Cuts a closing bracket the address did not open ("(see https://x.example/a)"). */
function balance(address: string): string {
  let out = address;
  for (const [open, close] of [
    ['(', ')'],
    ['[', ']'],
  ] as const) {
    while (out.endsWith(close) && out.split(open).length < out.split(close).length) {
      out = out.slice(0, -1);
    }
  }
  return out;
}

/**
 * Splits a message into text and links. Only http and https addresses become links (never
 * `javascript:` or `data:`); nothing is fetched — no preview is made, by the server or anyone.
 */
export function linkParts(text: string): TextPart[] {
  const parts: TextPart[] = [];
  let at = 0;
  for (const match of text.matchAll(ADDRESS)) {
    let address = match[0];
    // Trailing punctuation and unopened brackets belong to the sentence, in any order.
    for (let before = ''; before !== address; ) {
      before = address;
      address = balance(address.replace(TRAILING, ''));
    }
    const start = match.index ?? 0;
    const href = safeHref(address);
    if (!href) continue;
    if (start > at) parts.push({ text: text.slice(at, start) });
    parts.push({ text: address, href });
    at = start + address.length;
  }
  if (at < text.length) parts.push({ text: text.slice(at) });
  return parts;
}

function safeHref(address: string): string | undefined {
  try {
    const url = new URL(/^www\./i.test(address) ? `https://${address}` : address);
    if ((url.protocol === 'http:' || url.protocol === 'https:') && url.hostname.includes('.')) {
      return url.href;
    }
  } catch {
    // Not an address after all ("www." alone): plain text.
  }
  return undefined;
}

const startOfDay = (d: Date) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
const DAY_MS = 86_400_000;

/** The local calendar day of a timestamp, as a key ("2026-12-07"); '' for a missing time. */
export function dayKey(iso: string): string {
  if (!iso) return '';
  const d = new Date(iso);
  return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
}

/** The separator above a day's first message: "Today", "Yesterday", a weekday, or a date. */
export function dayLabel(iso: string, now = new Date()): string {
  const d = new Date(iso);
  const days = Math.round((startOfDay(now) - startOfDay(d)) / DAY_MS);
  if (days === 0) return 'Today';
  if (days === 1) return 'Yesterday';
  if (days > 1 && days < 7) return d.toLocaleDateString([], { weekday: 'long' });
  return d.toLocaleDateString([], {
    day: 'numeric',
    month: 'long',
    ...(d.getFullYear() === now.getFullYear() ? {} : { year: 'numeric' }),
  });
}

/** The time beside a chat in the list: the time today, the weekday this week, else the date. */
export function listTime(iso: string, now = new Date()): string {
  if (!iso) return '';
  const d = new Date(iso);
  const days = Math.round((startOfDay(now) - startOfDay(d)) / DAY_MS);
  if (days <= 0) return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  if (days === 1) return 'Yesterday';
  if (days < 7) return d.toLocaleDateString([], { weekday: 'short' });
  return d.toLocaleDateString([], {
    day: 'numeric',
    month: 'short',
    ...(d.getFullYear() === now.getFullYear() ? {} : { year: '2-digit' }),
  });
}
