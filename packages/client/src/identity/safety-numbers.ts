/**
 * Safety numbers (docs/design.md, "Safety numbers"): for a contact, 60 digits and a QR code
 * derived from both accounts' identity keys (@parley/core safety-number.ts), equal on both
 * sides. The user compares the digits or scans the other's code; a match marks the contact
 * verified. The contact's key is the one pinned on this device (trust on first use); for an
 * account never met in a conversation, the server's answer is pinned first — a hint, which a
 * comparison then confirms or exposes.
 */

import {
  compareScannedSafetyNumber,
  fromBase64Url,
  ParleyError,
  safetyNumber,
  toBase64Url,
} from '@parley/core';
import type { ApiClient } from '../transport/api.js';
import type { OwnIdentity } from './own-identity.js';
import type { Trust } from './trust.js';

export interface SafetyNumber {
  accountId: string;
  /** 60 digits. */
  digits: string;
  /** The digits in 12 groups of 5, as shown. */
  groups: string[];
  /** What the QR code encodes, base64url (compare with `verify(accountId, scanned)`). */
  scannable: string;
  verified: boolean;
  /** When the contact's key last changed, if it did. */
  changedAt?: string;
  /** A verified contact's key changed and the user has not accepted it: sending waits. */
  blocked: boolean;
}

export class SafetyNumbers {
  constructor(
    private readonly selfAccountId: string,
    private readonly own: OwnIdentity,
    private readonly trust: Trust,
    private readonly api: ApiClient,
  ) {}

  async of(accountId: string): Promise<SafetyNumber> {
    if (accountId === this.selfAccountId) {
      throw new ParleyError('ACCOUNT_NOT_FOUND', { message: 'A safety number is for a contact.' });
    }
    const mine = await this.own.require();
    let pin = await this.trust.pin(accountId);
    if (!pin) {
      const answer = await this.api.accountIdentity(accountId);
      const key = fromBase64Url(answer.identityKey);
      if (answer.accountId !== accountId || key?.length !== 32) {
        throw new ParleyError('INVALID_RESPONSE', { details: { reason: 'identity key' } });
      }
      pin = await this.trust.pinFirstUse(accountId, key);
    }
    const theirs = fromBase64Url(pin.identityKey)!;
    const number = await safetyNumber(
      { accountId: this.selfAccountId, identityKey: mine.publicKey },
      { accountId, identityKey: theirs },
    );
    return {
      accountId,
      digits: number.digits,
      groups: number.groups,
      scannable: toBase64Url(number.scannable),
      verified: pin.verified,
      ...(pin.changedAt ? { changedAt: pin.changedAt } : {}),
      blocked: pin.unaccepted === true,
    };
  }

  /**
   * Marks the contact verified: after the user compared the digits (no `scanned`), or when the
   * code scanned from the contact's screen matches (SAFETY_NUMBER_CHANGED when it does not).
   */
  async verify(accountId: string, scanned?: Uint8Array | string): Promise<SafetyNumber> {
    const current = await this.of(accountId);
    if (scanned !== undefined) {
      const bytes = typeof scanned === 'string' ? fromBase64Url(scanned) : scanned;
      const mine = await this.own.require();
      const verdict = bytes
        ? await compareScannedSafetyNumber(
            { accountId: this.selfAccountId, identityKey: mine.publicKey },
            {
              accountId,
              identityKey: fromBase64Url((await this.trust.pin(accountId))!.identityKey)!,
            },
            bytes,
          )
        : 'mismatch';
      if (verdict !== 'match') {
        throw new ParleyError('SAFETY_NUMBER_CHANGED', {
          message:
            'The scanned code does not match: you and this contact see different keys. Do not mark them verified.',
          details: { accountId, verdict },
        });
      }
    }
    await this.trust.setVerified(accountId, true);
    return { ...current, verified: true, blocked: false };
  }

  async unverify(accountId: string): Promise<SafetyNumber> {
    await this.trust.setVerified(accountId, false);
    return this.of(accountId);
  }

  /** Accepts a changed key without verifying it: sending is allowed again. */
  async accept(accountId: string): Promise<SafetyNumber> {
    await this.trust.accept(accountId);
    return this.of(accountId);
  }
}
