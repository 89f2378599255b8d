/**
 * The fallback for contacts who are not on Parley: a link that opens the user's own SMS app with
 * the text filled in (RFC 5724 `sms:` URI). The server never sends a user's text as SMS; the user's
 * phone does, at the user's own tap.
 */

import { normalizePhoneNumber, ParleyError } from '@parley/core';

export function smsLink(phoneNumber: string, body: string, defaultRegion?: string): string {
  const normalized = normalizePhoneNumber(phoneNumber, defaultRegion);
  if (!normalized.ok) {
    throw new ParleyError('INVALID_PHONE_NUMBER', {
      message: normalized.message,
      details: { reason: normalized.reason },
    });
  }
  // RFC 5724: the number as-is (E.164 '+' is allowed), the body percent-encoded.
  return `sms:${normalized.e164}?body=${encodeURIComponent(body)}`;
}

/** The invitation appended to a fallback SMS: where to get Parley, and that it is free. */
export function inviteText(appUrl: string, senderName?: string): string {
  const who = senderName ? `${senderName} uses` : 'I use';
  return `${who} Parley for free, end-to-end encrypted messages. Join me: ${appUrl}`;
}

/** A message for someone not on Parley, with the invitation below it. */
export function smsFallback(
  phoneNumber: string,
  text: string,
  options: { appUrl: string; senderName?: string; defaultRegion?: string },
): string {
  const body = text
    ? `${text}\n\n${inviteText(options.appUrl, options.senderName)}`
    : inviteText(options.appUrl, options.senderName);
  return smsLink(phoneNumber, body, options.defaultRegion);
}
