/**
 * Rotating the OPRF key: every account's element becomes (k'/k)·element, with its fingerprint and
 * token under the new key, all computed in the worker pool. The new entries go into the new key's
 * own table (appended in seq order, indexed once at the end) while the server keeps serving under
 * the old key; then, under the write lock, accounts created meanwhile are added and the switch
 * names the new key current: no row of the accounts is rewritten. The old key's table is emptied
 * in the background afterwards. The switch also records the old key's signed statement naming the
 * new one (rotation-statements.ts). Nobody verifies again; clients see the new key id, check the
 * statement, re-key their caches through translate (free) and download the new filter.
 *
 * An interrupted rotation (crash, restart) is resumed by the next call: same new key, the entries
 * already staged kept.
 */

import type { RotateKeyResponse } from '@parley/core';
import { sql } from 'kysely';
import { type Db, type Executor, lock } from '../infra/db/database.js';
import { bytes, hex, stringAgg } from '../infra/db/dialect.js';
import { directoryTableName } from '../infra/db/schema.js';
import { Mutex } from '../infra/mutex.js';
import { type OprfPool, REKEYED_ENTRY } from '../infra/oprf/oprf-pool.js';
import { type DirectoryKeys, ROTATION_TARGET } from './keys.js';
import type { DirectoryLog } from './log.js';
import type { Publication } from './publication.js';
import type { RotationStatements } from './rotation-statements.js';

/**
 * What a rotation is doing: staging the entries under the new key, indexing them, waiting for the
 * write lock, switching (the accounts created meanwhile, then the pointer), done.
 */
export type RotationPhase = 'stage' | 'index' | 'lock' | 'switch' | 'done';

/** Accounts per re-keying batch of a rotation. */
const STAGE_BATCH = 16_384;

export class Rotation {
  /** One rotation at a time. */
  private readonly rotationLock = new Mutex();

  constructor(
    private readonly db: Db,
    private readonly pool: OprfPool,
    private readonly keys: DirectoryKeys,
    private readonly log: DirectoryLog,
    private readonly publication: Publication,
    private readonly statements: RotationStatements,
    /** The directory's write lock: the switch waits for writers, and they for it. */
    private readonly writeLock: Mutex,
    private readonly keyRetentionMs: number,
  ) {}

  async rotate(
    options: { onPhase?: (phase: RotationPhase) => void } = {},
  ): Promise<RotateKeyResponse> {
    return this.rotationLock.run(() => this.rotateOnce(options.onPhase ?? (() => {})));
  }

  private async rotateOnce(onPhase: (phase: RotationPhase) => void): Promise<RotateKeyResponse> {
    const started = performance.now();
    const previousKeyId = this.keys.currentKeyId;
    const target = await this.target();
    const table = sql.table(directoryTableName(target.keyId));
    const { rows } = await sql<{ last: number | null; n: number }>`
      select max(account_seq) as last, count(*) as n from ${table}`.execute(this.db);
    let last = rows[0]!.last ?? 0;
    let staged = target.resumed ? rows[0]!.n : 0;
    const pass = async () => {
      const done = await this.stage(previousKeyId, target.keyId, last);
      last = done.last;
      staged += done.staged;
    };
    onPhase('stage');
    await pass();
    onPhase('index');
    // One sort instead of a random index update per entry. Outside the write lock: nothing else
    // writes this table yet. It blocks the event loop for its duration (seconds per million).
    await this.keys.createTokenIndex(this.db, target.keyId);
    onPhase('lock');
    return this.writeLock.run(async () => {
      onPhase('switch');
      // Accounts created while the first pass ran have larger seqs.
      await pass();
      await this.db.transaction().execute(async (trx) => {
        await lock(trx, 'directory');
        await this.keys.setCurrentKey(trx, target.keyId);
        // The old key vouches for the new one, in the transaction that makes it current.
        await this.statements.record(trx, previousKeyId, target.keyId);
        await trx.deleteFrom('meta').where('name', '=', ROTATION_TARGET).execute();
        await this.log.dropAllBut(trx, target.keyId);
      });
      this.keys.switchTo(target.keyId);
      this.publication.reset();
      this.keys.store.retireAllBut(target.keyId, this.keyRetentionMs);
      await this.keys.loadIntoPool();
      this.keys.retire([previousKeyId]);
      onPhase('done');
      return {
        keyId: target.keyId,
        previousKeyId,
        accountsRekeyed: staged,
        durationMs: Math.round(performance.now() - started),
      };
    });
  }

  /**
   * The key a rotation moves to, with its (possibly partly filled) table: the one an interrupted
   * rotation recorded, when its key and table are still there; else a new key, written to the key
   * file before anything is derived under it.
   */
  private async target(): Promise<{ keyId: string; resumed: boolean }> {
    const current = this.keys.currentKeyId;
    const recorded = await this.keys.metaValue(ROTATION_TARGET);
    if (recorded && recorded !== current && this.keys.store.get(recorded)) {
      if ((await this.keys.tables()).includes(recorded)) {
        return { keyId: recorded, resumed: true };
      }
    }
    const keyId = this.keys.generate();
    await this.keys.loadIntoPool();
    await this.db.transaction().execute(async (trx) => {
      if (recorded && recorded !== current) {
        await sql`drop table if exists ${sql.table(directoryTableName(recorded))}`.execute(trx);
      }
      await this.keys.createEntriesTable(trx, keyId);
      await trx
        .insertInto('meta')
        .values({ name: ROTATION_TARGET, value: keyId })
        .onConflict((oc) => oc.column('name').doUpdateSet({ value: keyId }))
        .execute();
    });
    return { keyId, resumed: false };
  }

  /**
   * Writes to `toKeyId`'s table the entry of every account with a seq above `after`, in batches
   * read in seq order from `fromKeyId`'s table (sequential reads, appends). The next batch is
   * re-keyed in the workers while this one is written. Returns the last seq read and the number
   * of entries written.
   */
  private async stage(
    fromKeyId: string,
    toKeyId: string,
    after: number,
  ): Promise<{ last: number; staged: number }> {
    const from = sql.table(directoryTableName(fromKeyId));
    const to = sql.table(directoryTableName(toKeyId));
    const load = async (after: number) => {
      const batch = await readElements(this.db, fromKeyId, after, STAGE_BATCH);
      const rekeyed = batch ? this.pool.rekey(fromKeyId, toKeyId, batch.elements) : null;
      // Unhandled until awaited below; mark it handled so a failure surfaces there, once.
      rekeyed?.catch(() => {});
      return { batch, rekeyed };
    };
    let last = after;
    let staged = 0;
    let current = await load(after);
    while (current.batch) {
      const { batch } = current;
      last = batch.last;
      const upcoming = batch.count === STAGE_BATCH ? load(last) : null;
      const entries = await current.rekeyed!;
      // One statement per batch: the entries are paired with their accounts by position, guarded
      // by the element that was re-keyed. An account deleted meanwhile shifts the positions after
      // it: the rest of its batch is then re-keyed on its own, below.
      const packed = bytes(this.db, entries);
      const result = await sql`
        insert into ${to} (account_seq, element, fingerprint, token)
        select o.account_seq,
          substr(${packed}, o.n * 72 + 1, 32),
          substr(${packed}, o.n * 72 + 33, 8),
          substr(${packed}, o.n * 72 + 41, 32)
        from (
          select account_seq, element,
            cast(row_number() over (order by account_seq) - 1 as integer) as n
          from ${from} where account_seq between ${batch.first} and ${batch.last}
        ) as o
        where o.element = substr(${bytes(this.db, batch.elements)}, o.n * 32 + 1, 32)`.execute(
        this.db,
      );
      const written = Number(result.numAffectedRows ?? 0n);
      staged += written;
      if (written < batch.count) staged += await this.stageMissed(fromKeyId, toKeyId, batch);
      current = upcoming ? await upcoming : { batch: null, rekeyed: null };
    }
    return { last, staged };
  }

  /** Re-keys the accounts of a batch's seq range that are not in `toKeyId`'s table yet. */
  private async stageMissed(
    fromKeyId: string,
    toKeyId: string,
    batch: { first: number; last: number },
  ): Promise<number> {
    const missed = await this.db
      .selectFrom(this.keys.entries(fromKeyId))
      .select(['account_seq', 'element'])
      .where('account_seq', '>=', batch.first)
      .where('account_seq', '<=', batch.last)
      .where('account_seq', 'not in', (eb) =>
        eb
          .selectFrom(this.keys.entries(toKeyId))
          .select('account_seq')
          .where('account_seq', '>=', batch.first)
          .where('account_seq', '<=', batch.last),
      )
      .execute();
    if (missed.length === 0) return 0;
    const packed = new Uint8Array(missed.length * 32);
    for (const [i, row] of missed.entries()) packed.set(row.element, i * 32);
    const entries = await this.pool.rekey(fromKeyId, toKeyId, packed);
    let written = 0;
    await this.db.transaction().execute(async (trx) => {
      for (const [i, row] of missed.entries()) {
        const at = i * REKEYED_ENTRY;
        // Guarded again: the account may have gone while its entry was computed.
        const result = await sql`insert into ${sql.table(directoryTableName(toKeyId))}
            (account_seq, element, fingerprint, token)
          select account_seq, ${entries.subarray(at, at + 32)},
            ${entries.subarray(at + 32, at + 40)}, ${entries.subarray(at + 40, at + 72)}
          from ${sql.table(directoryTableName(fromKeyId))}
          where account_seq = ${row.account_seq}`.execute(trx);
        written += Number(result.numAffectedRows ?? 0n);
      }
    });
    return written;
  }
}

/**
 * Up to `limit` elements of `keyId`'s table after seq `after`, in seq order, packed 32 bytes each
 * (one hex string from the database instead of a row object per account), with the first and
 * last seq; null when there are none.
 */
async function readElements(
  db: Executor,
  keyId: string,
  after: number,
  limit: number,
): Promise<{ first: number; last: number; count: number; elements: Uint8Array } | null> {
  const { rows } = await sql<{ first: number | null; last: number | null; n: number; hex: string }>`
    select min(account_seq) as first, max(account_seq) as last, count(*) as n,
      ${stringAgg(db, hex(db, sql`element`), '', sql`account_seq`)} as hex
    from (select account_seq, element from ${sql.table(directoryTableName(keyId))}
      where account_seq > ${after} order by account_seq limit ${limit}) as e`.execute(db);
  const r = rows[0]!;
  if (r.n === 0 || r.first === null || r.last === null) return null;
  const elements = new Uint8Array(Buffer.from(r.hex, 'hex'));
  if (elements.length !== r.n * 32) throw new Error('directory: an element is not 32 bytes');
  return { first: r.first, last: r.last, count: r.n, elements };
}
