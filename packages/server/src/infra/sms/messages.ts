/**
 * What a verification SMS says and who it comes from, per locale. The operator sets a default
 * text and sender (PARLEY_SMS_TEXT, PARLEY_SMS_FROM) and, per locale, either or both
 * (PARLEY_SMS_MESSAGES); a request's Accept-Language picks the locale: its tags in order of
 * preference, each matched exactly and then by its language alone ("de-CH" finds "de").
 */

/** The placeholder the code replaces in a text. */
export const CODE_PLACEHOLDER = '{code}';

export const DEFAULT_TEXT = `Your Parley code is ${CODE_PLACEHOLDER}. Do not share it with anyone.`;

export interface LocaleMessage {
  text?: string;
  /** Sender id: a number in E.164 or an alphanumeric name (up to 11 characters). */
  from?: string;
}

export interface MessageConfig {
  text: string;
  from: string | undefined;
  /** Lower-case BCP 47 tag → what differs for it. */
  locales: Record<string, LocaleMessage>;
}

export const DEFAULT_MESSAGES: MessageConfig = { text: DEFAULT_TEXT, from: undefined, locales: {} };

export interface RenderedSms {
  text: string;
  from: string | undefined;
}

/** The tags of an Accept-Language header, most preferred first (q=0 and `*` dropped). */
export function acceptedLanguages(header: string | undefined): string[] {
  if (!header) return [];
  const tags: { tag: string; q: number; i: number }[] = [];
  for (const [i, part] of header.split(',').entries()) {
    const [rawTag, ...params] = part.trim().split(';');
    const tag = (rawTag ?? '').trim().toLowerCase();
    if (!/^[a-z]{1,8}(-[a-z0-9]{1,8})*$/.test(tag)) continue;
    let q = 1;
    for (const param of params) {
      const m = /^\s*q\s*=\s*([01](\.\d{0,3})?)\s*$/.exec(param);
      if (m) q = Number(m[1]);
    }
    if (q > 0) tags.push({ tag, q, i });
  }
  // Highest q first; equal q keeps the header's order.
  tags.sort((a, b) => b.q - a.q || a.i - b.i);
  return tags.slice(0, 16).map((t) => t.tag);
}

/** The text (with the code in it) and the sender for the first locale of `languages` configured. */
export function renderSms(
  config: MessageConfig,
  code: string,
  languages: readonly string[] = [],
): RenderedSms {
  let chosen: LocaleMessage = {};
  for (const tag of languages) {
    const match = config.locales[tag] ?? config.locales[tag.split('-')[0]!];
    if (match) {
      chosen = match;
      break;
    }
  }
  const text = chosen.text ?? config.text;
  return { text: text.split(CODE_PLACEHOLDER).join(code), from: chosen.from ?? config.from };
}

/** A sender id providers accept: a number or short code (3 to 15 digits, `+` allowed), or 1 to 11 letters, digits and spaces. */
export function isSenderId(from: string): boolean {
  return /^\+?[1-9]\d{2,14}$/.test(from) || /^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$/.test(from);
}

// GSM 03.38's default alphabet and its extension table: texts outside it go as Unicode (UCS-2).
const GSM_7 = new Set(
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€',
);

export function isGsm7(text: string): boolean {
  for (const ch of text) if (!GSM_7.has(ch)) return false;
  return true;
}
