/**
 * The chain of OPRF key rotation statements (core rotation-statement.ts): at each rotation's
 * switch, the old key signs the new key's id and public key, in the same transaction that makes
 * the new key current, so no node ever serves a current key without its statement. Clients that
 * pinned an earlier key follow the chain to the current one before they accept it.
 */

import {
  loadRotationSigner,
  type Oprf,
  type RotationSigner,
  type RotationStatement,
} from '@parley/core';
import type { Db, Executor } from '../infra/db/database.js';
import type { DirectoryKeys } from './keys.js';

export interface RotationRecord extends RotationStatement {
  signature: Uint8Array;
}

export class RotationStatements {
  private signer: Promise<RotationSigner> | undefined;

  constructor(
    private readonly db: Db,
    private readonly keys: DirectoryKeys,
    private readonly oprf: Oprf,
  ) {}

  /**
   * Signs "`oldKeyId` → `newKeyId`" with the old key and writes it in `trx` (the switch's
   * transaction). One signature per rotation, so on this thread rather than the pool.
   */
  async record(
    trx: Executor,
    oldKeyId: string,
    newKeyId: string,
    now = Date.now(),
  ): Promise<RotationRecord> {
    const oldKey = this.keys.store.get(oldKeyId);
    const oldPublicKey = this.keys.publicKey(oldKeyId);
    const newPublicKey = this.keys.publicKey(newKeyId);
    if (!oldKey || !oldPublicKey || !newPublicKey) {
      throw new Error(`rotation: the key ${oldKey ? newKeyId : oldKeyId} is not in the key store`);
    }
    this.signer ??= loadRotationSigner(this.oprf);
    const statement: RotationStatement = {
      oldKeyId,
      oldPublicKey,
      newKeyId,
      newPublicKey,
      rotatedAt: now,
    };
    const secret = new Uint8Array(Buffer.from(oldKey.secret, 'base64'));
    const signature = (await this.signer).sign(secret, statement);
    secret.fill(0);
    await trx
      .insertInto('oprf_rotations')
      .values({
        new_key_id: newKeyId,
        old_key_id: oldKeyId,
        old_public_key: oldPublicKey,
        new_public_key: newPublicKey,
        rotated_at: now,
        signature,
      })
      .execute();
    return { ...statement, signature };
  }

  /**
   * The statements from `fromKeyId` to the current key, in order: the one naming `fromKeyId` as
   * its old key first. Empty when `fromKeyId` is current or unknown (the client then has no
   * chain to follow and refuses); every statement, from the first key on, without `fromKeyId`.
   */
  async chain(fromKeyId?: string): Promise<RotationRecord[]> {
    const rows = await this.db
      .selectFrom('oprf_rotations')
      .selectAll()
      .orderBy('rotated_at')
      .execute();
    const byOld = new Map(rows.map((r) => [r.old_key_id, r]));
    const newKeys = new Set(rows.map((r) => r.new_key_id));
    let at = fromKeyId ?? rows.find((r) => !newKeys.has(r.old_key_id))?.old_key_id;
    const chain: RotationRecord[] = [];
    // Each key id is the old key of at most one statement (unique): the walk ends.
    let row = at === undefined ? undefined : byOld.get(at);
    while (row && chain.length < rows.length) {
      chain.push({
        oldKeyId: row.old_key_id,
        oldPublicKey: new Uint8Array(row.old_public_key),
        newKeyId: row.new_key_id,
        newPublicKey: new Uint8Array(row.new_public_key),
        rotatedAt: Number(row.rotated_at),
        signature: new Uint8Array(row.signature),
      });
      at = row.new_key_id;
      row = byOld.get(at);
    }
    return chain;
  }
}
