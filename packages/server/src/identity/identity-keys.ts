/**
 * Identity keys and device certificates as the server holds them: it stores and relays them and
 * checks they are coherent (a certificate names its device and carries its account's key and a
 * valid signature), but never vouches for a key — clients trust a contact's key on first use and
 * verify every MLS leaf against it themselves (docs/design.md, "Identity").
 */

import {
  type AccountIdentityResponse,
  bytesEqual,
  type DeviceRef,
  fromBase64Url,
  loadIdentityCrypto,
  ParleyError,
  toBase64Url,
} from '@parley/core';
import type { Db } from '../infra/db/database.js';
import { certificateOf, setCertificate } from './device-store.js';

const invalid = (reason: string) => new ParleyError('CERTIFICATE_INVALID', { details: { reason } });

export class IdentityKeys {
  constructor(private readonly db: Db) {}

  /**
   * Stores the calling device's certificate. Sending the same one again is harmless; another one
   * is refused, since a device's key never changes (a new key is a new device).
   */
  async setCertificate(caller: DeviceRef, encoded: string): Promise<void> {
    const bytes = fromBase64Url(encoded);
    if (!bytes) throw invalid('not base64url');
    const crypto = await loadIdentityCrypto();
    const certificate = crypto.verifyCertificate(bytes);
    if (!certificate) throw invalid('not a certificate signed by the identity key it carries');
    if (certificate.accountId !== caller.accountId || certificate.deviceId !== caller.deviceId) {
      throw invalid('it must name this account and this device');
    }
    const account = await this.db
      .selectFrom('accounts')
      .select('identity_key')
      .where('id', '=', caller.accountId)
      .executeTakeFirst();
    if (!account?.identity_key) {
      throw invalid('the account has no identity key yet: PUT /v1/account/identity first');
    }
    if (!bytesEqual(account.identity_key, certificate.identityKey)) {
      throw invalid("it must carry the account's identity key");
    }
    if (await setCertificate(this.db, caller.deviceId, bytes)) return;
    const stored = await certificateOf(this.db, caller.deviceId);
    if (!stored || !bytesEqual(stored, bytes)) {
      throw invalid('this device already has another certificate');
    }
  }

  /**
   * Sets the identity key of an account made before identity keys; IDENTITY_EXISTS once it has
   * one (the same key again is a retry, and succeeds).
   */
  async setIdentityKey(accountId: string, identityKey: Uint8Array): Promise<void> {
    const result = await this.db
      .updateTable('accounts')
      .set({ identity_key: identityKey })
      .where('id', '=', accountId)
      .where('identity_key', 'is', null)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 1) return;
    const held = await this.db
      .selectFrom('accounts')
      .select('identity_key')
      .where('id', '=', accountId)
      .executeTakeFirst();
    if (held?.identity_key && bytesEqual(held.identity_key, identityKey)) return;
    throw new ParleyError('IDENTITY_EXISTS');
  }

  /** The identity key the server holds for an account (a hint: clients trust on first use). */
  async identityOf(accountId: string): Promise<AccountIdentityResponse> {
    const account = await this.db
      .selectFrom('accounts')
      .select('identity_key')
      .where('id', '=', accountId)
      .executeTakeFirst();
    if (!account?.identity_key) {
      throw new ParleyError('ACCOUNT_NOT_FOUND', {
        details: { reason: account ? 'the account has no identity key yet' : 'no such account' },
      });
    }
    return { accountId, identityKey: toBase64Url(account.identity_key) };
  }
}
