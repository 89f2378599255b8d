/**
 * Profiles as the server keeps them: one sealed ciphertext per account (core profile.ts), with
 * the version its owner gave it. The server cannot open it; it checks only that the version
 * goes up, so two devices of one account saving at once cannot overwrite a newer profile with
 * an older one (PROFILE_VERSION_CONFLICT: the slower one reads and saves again). Anyone signed
 * in may fetch any profile: without its owner's key, shared only inside MLS, it reads as noise.
 */

import {
  fromBase64Url,
  ParleyError,
  type ProfilePut,
  type ProfileResponse,
  toBase64Url,
} from '@parley/core';
import type { Db } from '../infra/db/database.js';

export class Profiles {
  constructor(
    private readonly db: Db,
    private readonly clock: () => number = Date.now,
  ) {}

  async put(accountId: string, body: ProfilePut): Promise<{ version: number }> {
    const ciphertext = fromBase64Url(body.ciphertext);
    if (!ciphertext) {
      throw new ParleyError('VALIDATION_FAILED', { details: [{ field: 'body/ciphertext' }] });
    }
    const now = this.clock();
    const row = {
      account_id: accountId,
      version: body.version,
      ciphertext,
      updated_at: now,
    };
    // One statement: inserted, or updated only when the version goes up.
    const written = await this.db
      .insertInto('profiles')
      .values(row)
      .onConflict((oc) =>
        oc
          .column('account_id')
          .doUpdateSet({ version: body.version, ciphertext, updated_at: now })
          .where('profiles.version', '<', body.version),
      )
      .returning('version')
      .executeTakeFirst();
    if (!written) {
      const current = await this.db
        .selectFrom('profiles')
        .select('version')
        .where('account_id', '=', accountId)
        .executeTakeFirst();
      throw new ParleyError('PROFILE_VERSION_CONFLICT', {
        details: { version: Number(current?.version ?? 0) },
      });
    }
    return { version: Number(written.version) };
  }

  async get(accountId: string): Promise<ProfileResponse> {
    const row = await this.db
      .selectFrom('profiles')
      .select(['version', 'ciphertext'])
      .where('account_id', '=', accountId)
      .executeTakeFirst();
    if (!row) throw new ParleyError('PROFILE_NOT_FOUND');
    return {
      accountId,
      version: Number(row.version),
      ciphertext: toBase64Url(row.ciphertext),
    };
  }
}
