/**
 * Security warnings: what the messenger noticed the server claim that MLS does not back. Each is
 * a `warning` event; the server's claim was ignored (nothing changed because of it). As
 * matrix-js-sdk's decryption failures, a code with one line each, and the sentence shown to
 * people kept apart from the details, which are for logs.
 *
 * @example
 * messenger.on('warning', (w) => {
 *   banner(securityWarningText(w.code));
 *   log.warn(w.code, w.conversationId, w.detail);
 * });
 */

import type { DeviceRef } from '@parley/core';

export type SecurityWarningCode =
  /** A delivery named a different sender than MLS authenticates; the MLS sender is shown. */
  | 'SENDER_MISMATCH'
  /** The server said an account left, but no device of it said so in MLS; nothing changed. */
  | 'UNVERIFIED_LEAVE'
  /** The server said a device was signed out, but no device of its account said so in MLS. */
  | 'UNVERIFIED_REMOVAL'
  /** An MLS message asked to remove devices its sender may not remove; it was not acted on. */
  | 'REMOVAL_REFUSED'
  /** A typing notice or read receipt did not verify as the device named; it was dropped. */
  | 'SIGNAL_FORGED'
  /**
   * A device key did not chain to its account's identity key as this device knows it (an
   * operator-made KeyPackage or leaf): nothing was encrypted to it.
   */
  | 'KEY_REFUSED';

export interface SecurityWarning {
  code: SecurityWarningCode;
  conversationId: string;
  /** For logs only: what was claimed and what MLS says. Never shown as it is. */
  detail: {
    claimed?: DeviceRef;
    authenticated?: DeviceRef;
    deviceIds?: string[];
    entry?: string;
    reason?: string;
  };
}

const TEXTS: Readonly<Record<SecurityWarningCode, string>> = Object.freeze({
  SENDER_MISMATCH:
    'The server named the wrong sender for a message. Parley shows who really sent it.',
  UNVERIFIED_LEAVE:
    'The server said someone left this conversation, but they did not say so. Nothing changed.',
  UNVERIFIED_REMOVAL:
    'The server said a device was signed out, but its owner did not say so. Nothing changed.',
  REMOVAL_REFUSED:
    'Someone asked to remove a device that is not theirs from this conversation. Nothing changed.',
  SIGNAL_FORGED: 'A typing notice or read receipt could not be verified and was ignored.',
  KEY_REFUSED:
    'The server offered a key that does not belong to the person it names. Nothing was sent to it.',
});

/** The sentence to show a person for a warning (no ids, no details). */
export function securityWarningText(code: SecurityWarningCode): string {
  return TEXTS[code];
}
