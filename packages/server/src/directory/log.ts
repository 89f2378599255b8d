/**
 * The directory's change log (directory_log): every change to the filter's content is appended in
 * the same transaction as the account change, so a delta since version v is exactly what changed
 * after v. A deleted account's history goes with it, leaving one removal until its tombstone is
 * forgotten; the version floor then sends clients that synced before it to a snapshot.
 */

import { type Db, type Executor, lock } from '../infra/db/database.js';

/**
 * Told of every logged change, with how it moves the number of discoverable accounts: the
 * publication's cached snapshot is stale from then on.
 */
export type ChangeListener = (counted: -1 | 0 | 1) => void;

export class DirectoryLog {
  constructor(
    private readonly db: Db,
    private readonly currentKeyId: () => string,
    private readonly tombstoneMs: number,
    private readonly changed: ChangeListener,
  ) {}

  /** Records a filter change; call inside the transaction that changes the account. */
  async append(trx: Executor, fingerprint: Uint8Array, op: 'add' | 'remove'): Promise<void> {
    await trx
      .insertInto('directory_log')
      .values({ key_id: this.currentKeyId(), fingerprint, op })
      .execute();
    this.changed(op === 'add' ? 1 : -1);
  }

  /**
   * Forgets a deleted account's fingerprint, inside the transaction that deletes the account: its
   * history in the log goes, and if any client may hold it (the account is discoverable, or was
   * logged), one removal takes its place until `forget_at` (forgetTombstones), or — with a
   * retention of 0 — is forgotten at once.
   */
  async forgetAccount(
    trx: Executor,
    fingerprint: Uint8Array,
    discoverable: boolean,
    now = Date.now(),
  ): Promise<void> {
    const history = await trx
      .deleteFrom('directory_log')
      .where('fingerprint', '=', fingerprint)
      .executeTakeFirst();
    if (!discoverable && Number(history.numDeletedRows) === 0) return;
    const { version } = await trx
      .insertInto('directory_log')
      .values({
        key_id: this.currentKeyId(),
        fingerprint,
        op: 'remove',
        forget_at: now + this.tombstoneMs,
      })
      .returning('version')
      .executeTakeFirstOrThrow();
    if (this.tombstoneMs === 0) {
      // The row only took a version number (AUTOINCREMENT never hands it out again).
      await trx.deleteFrom('directory_log').where('version', '=', version).execute();
      await this.raiseFloor(trx, version);
    }
    this.changed(discoverable ? -1 : 0);
  }

  /**
   * Deletes deleted accounts' removals whose time has come and raises the version floor past
   * them: a client that synced before a forgotten removal gets a snapshot, not a delta.
   * Returns how many were forgotten.
   */
  async forgetTombstones(now = Date.now()): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      await lock(trx, 'directory');
      const due = await trx
        .selectFrom('directory_log')
        .select((eb) => [eb.fn.max('version').as('v'), eb.fn.countAll<number>().as('n')])
        .where('forget_at', '<=', now)
        .executeTakeFirst();
      if (!due || due.v === null || Number(due.n) === 0) return 0;
      await trx.deleteFrom('directory_log').where('forget_at', '<=', now).execute();
      await this.raiseFloor(trx, Number(due.v));
      return Number(due.n);
    });
  }

  /** Deltas start at this version at the earliest: older clients fetch a snapshot. */
  async floor(db: Executor): Promise<number> {
    const row = await db
      .selectFrom('meta')
      .select('value')
      .where('name', '=', 'directory_floor')
      .executeTakeFirst();
    return Number(row?.value ?? 0);
  }

  private async raiseFloor(trx: Executor, version: number): Promise<void> {
    const floor = Math.max(version, await this.floor(trx));
    await trx
      .insertInto('meta')
      .values({ name: 'directory_floor', value: String(floor) })
      .onConflict((oc) => oc.column('name').doUpdateSet({ value: String(floor) }))
      .execute();
  }

  /** The directory's version: the last logged change, or the floor if that is higher. */
  async version(db: Executor = this.db): Promise<number> {
    const row = await db
      .selectFrom('directory_log')
      .select((eb) => eb.fn.max('version').as('v'))
      .executeTakeFirst();
    return Math.max(Number(row?.v ?? 0), await this.floor(db));
  }

  /** The changes under `keyId` after `version`, in order. */
  async since(trx: Executor, keyId: string, version: number) {
    return trx
      .selectFrom('directory_log')
      .select(['version', 'fingerprint', 'op'])
      .where('key_id', '=', keyId)
      .where('version', '>', version)
      .orderBy('version')
      .execute();
  }

  /** Once a rotation switched keys: the old key's log is of no use to anyone. */
  async dropAllBut(trx: Executor, keyId: string): Promise<void> {
    await trx.deleteFrom('directory_log').where('key_id', '!=', keyId).execute();
  }
}
