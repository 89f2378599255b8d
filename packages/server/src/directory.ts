/**
 * The blind directory: the current OPRF key, each account's directory element under it, and the
 * membership filter over the fingerprints of discoverable accounts, served as a versioned snapshot
 * plus deltas. Every change to the filter's content is appended to directory_log in the same
 * transaction as the account change, so a delta since version v is exactly what changed after v.
 */

import { createHash } from 'node:crypto';
import {
  directoryFingerprint,
  directoryToken,
  encodeFilter,
  encodeFilterPacked,
  filterBitsFor,
  type Oprf,
  ParleyError,
  type RotateKeyResponse,
  removalPrefixBits,
} from '@parley/core';
import { sql } from 'kysely';
import type { Db, Executor } from './db/database.js';
import { Mutex } from './mutex.js';
import type { KeyStore } from './oprf/key-store.js';
import type { OprfPool } from './oprf/oprf-pool.js';

export const sha512 = (data: Uint8Array): Uint8Array =>
  new Uint8Array(createHash('sha512').update(data).digest());

/**
 * Truncation width for a snapshot: room for 1/8 more entries (at least 1,024) before clients'
 * copies outgrow the 2⁻³² bound and must fetch a new snapshot instead of deltas. Costs about
 * 0.17 bits per entry.
 */
export function snapshotBits(count: number): number {
  return filterBitsFor(Math.max(1024, Math.ceil(count * 1.125)));
}

export interface DirectoryEntry {
  element: Uint8Array;
  fingerprint: Uint8Array;
  token: Uint8Array;
}

export type DirectoryPayload =
  | {
      type: 'snapshot';
      keyId: string;
      version: number;
      count: number;
      bits: number;
      bytes: number;
      path: string;
    }
  | {
      type: 'delta';
      keyId: string;
      fromVersion: number;
      version: number;
      bits: number;
      added: Uint8Array;
      removed: Uint8Array;
    };

interface Snapshot {
  keyId: string;
  version: number;
  count: number;
  bits: number;
  filter: Uint8Array;
}

export class Directory {
  /** Serialises account writes against key rotation. */
  readonly writeLock = new Mutex();
  /** One rotation at a time. */
  private readonly rotationLock = new Mutex();
  private keyId = '';
  private snapshot: Snapshot | null = null;
  /**
   * Discoverable accounts, kept up to date by logChange, so choosing between a delta and a
   * snapshot never rebuilds the snapshot (seconds of work at 2^24). Only a heuristic: a change
   * whose transaction rolls back leaves it off by one.
   */
  private discoverableCount: number | undefined;

  constructor(
    private readonly db: Db,
    private readonly pool: OprfPool,
    private readonly keys: KeyStore,
    private readonly oprf: Oprf,
    private readonly keyRetentionMs: number,
  ) {}

  get currentKeyId(): string {
    return this.keyId;
  }

  retainedKeyIds(): string[] {
    return this.keys.list().map((k) => k.id);
  }

  async init(): Promise<void> {
    const row = await this.db
      .selectFrom('meta')
      .select('value')
      .where('name', '=', 'current_key_id')
      .executeTakeFirst();
    let current = row?.value;
    if (!current || !this.keys.get(current)) {
      const accounts = await this.db
        .selectFrom('accounts')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      if (current && Number(accounts.n) > 0) {
        throw new Error(
          `The OPRF key ${current} named by the database is missing from oprf-keys.json; restore the key file from a backup.`,
        );
      }
      current = this.keys.add(this.oprf.generateSecretKey()).id;
      await this.setCurrentKey(this.db, current);
    }
    this.keyId = current;
    await this.loadKeysIntoPool();
  }

  private async loadKeysIntoPool(): Promise<void> {
    const keys: Record<string, Uint8Array> = {};
    for (const k of this.keys.list()) keys[k.id] = new Uint8Array(Buffer.from(k.secret, 'base64'));
    await this.pool.setKeys(keys);
  }

  private async setCurrentKey(db: Executor, keyId: string): Promise<void> {
    await db
      .insertInto('meta')
      .values({ name: 'current_key_id', value: keyId })
      .onConflict((oc) => oc.column('name').doUpdateSet({ value: keyId }))
      .execute();
  }

  derive(keyId: string, element: Uint8Array): DirectoryEntry {
    return {
      element,
      fingerprint: directoryFingerprint(sha512, keyId, element),
      token: directoryToken(sha512, keyId, element),
    };
  }

  /** The directory entry of a verified number under the current key. The number is not kept. */
  async entryForNumber(e164: string): Promise<DirectoryEntry> {
    const element = await this.pool.hashAndEvaluate(this.keyId, new TextEncoder().encode(e164));
    return this.derive(this.keyId, element);
  }

  /** Records a filter change; call inside the transaction that changes the account. */
  async logChange(trx: Executor, fingerprint: Uint8Array, op: 'add' | 'remove'): Promise<void> {
    await trx.insertInto('directory_log').values({ key_id: this.keyId, fingerprint, op }).execute();
    this.snapshot = null;
    if (this.discoverableCount !== undefined) this.discoverableCount += op === 'add' ? 1 : -1;
  }

  private async version(db: Executor): Promise<number> {
    const row = await db
      .selectFrom('directory_log')
      .select((eb) => eb.fn.max('version').as('v'))
      .executeTakeFirst();
    return Number(row?.v ?? 0);
  }

  async currentVersion(): Promise<number> {
    return this.version(this.db);
  }

  /**
   * What a client holding (keyId, since, bits) should fetch: the net delta since its version,
   * coded at its filter's width, or — when the key changed, the client is ahead, or a delta would
   * not be smaller — a pointer to the current binary snapshot.
   */
  async payload(keyId?: string, since?: number, bits?: number): Promise<DirectoryPayload> {
    if (keyId === this.keyId && since !== undefined && bits !== undefined) {
      const delta = await this.db.transaction().execute(async (trx) => {
        const version = await this.version(trx);
        if (since > version) return null;
        const rows = await trx
          .selectFrom('directory_log')
          .select(['fingerprint', 'op'])
          .where('key_id', '=', this.keyId)
          .where('version', '>', since)
          .orderBy('version')
          .execute();
        return { version, rows };
      });
      if (delta) {
        // Net effect per fingerprint: present at `since` iff its first logged change removed it,
        // present now iff its last one added it. Anything added and removed again is left out.
        const touched = new Map<string, { fp: Uint8Array; first: string; last: string }>();
        for (const r of delta.rows) {
          const key = Buffer.from(r.fingerprint).toString('hex');
          const seen = touched.get(key);
          if (seen) seen.last = r.op;
          else touched.set(key, { fp: r.fingerprint, first: r.op, last: r.op });
        }
        const count = this.discoverableCount ?? (await this.currentSnapshot()).count;
        if (touched.size * 2 <= Math.max(16, count)) {
          const added: Uint8Array[] = [];
          const removed: Uint8Array[] = [];
          for (const { fp, first, last } of touched.values()) {
            const before = first === 'remove';
            const now = last === 'add';
            if (!before && now) added.push(fp);
            else if (before && !now) removed.push(fp);
          }
          return {
            type: 'delta',
            keyId: this.keyId,
            fromVersion: since,
            version: delta.version,
            bits,
            added: encodeFilter(added, bits),
            removed: encodeFilter(removed, removalPrefixBits(bits)),
          };
        }
      }
    }
    const snapshot = await this.currentSnapshot();
    return {
      type: 'snapshot',
      keyId: snapshot.keyId,
      version: snapshot.version,
      count: snapshot.count,
      bits: snapshot.bits,
      bytes: snapshot.filter.length,
      path: `/v1/directory/snapshots/${snapshot.keyId}/${snapshot.version}`,
    };
  }

  /** The binary snapshot named by payload(); DIRECTORY_SNAPSHOT_STALE once superseded. */
  async snapshotBytes(keyId: string, version: number): Promise<Uint8Array> {
    const snapshot = await this.currentSnapshot();
    if (snapshot.keyId !== keyId || snapshot.version !== version) {
      throw new ParleyError('DIRECTORY_SNAPSHOT_STALE');
    }
    return snapshot.filter;
  }

  private async currentSnapshot(): Promise<Snapshot> {
    if (this.snapshot && this.snapshot.keyId === this.keyId) return this.snapshot;
    const keyId = this.keyId;
    // One read transaction, so the version matches the content; fingerprints are copied page by
    // page into one buffer rather than held as millions of row objects.
    const built = await this.db.transaction().execute(async (trx) => {
      const version = await this.version(trx);
      const chunks: Uint8Array[] = [];
      let count = 0;
      let after = '';
      for (;;) {
        const rows = await trx
          .selectFrom('accounts')
          .select(['id', 'fingerprint'])
          .where('discoverable', '=', 1)
          .where('key_id', '=', keyId)
          .where('id', '>', after)
          .orderBy('id')
          .limit(65_536)
          .execute();
        if (rows.length === 0) break;
        const chunk = new Uint8Array(rows.length * 8);
        for (const [i, row] of rows.entries()) chunk.set(row.fingerprint, i * 8);
        chunks.push(chunk);
        count += rows.length;
        after = rows.at(-1)!.id;
      }
      const packed = new Uint8Array(count * 8);
      let offset = 0;
      for (const chunk of chunks) {
        packed.set(chunk, offset);
        offset += chunk.length;
      }
      return { version, count, packed };
    });
    const bits = snapshotBits(built.count);
    const snapshot: Snapshot = {
      keyId,
      version: built.version,
      count: built.count,
      bits,
      filter: encodeFilterPacked(built.packed, bits),
    };
    this.snapshot = snapshot;
    this.discoverableCount = snapshot.count;
    return snapshot;
  }

  /**
   * Rotates the OPRF key: every account's element becomes (k'/k)·element, computed in the worker
   * pool. The new entries are staged beside the current ones in batches while the server keeps
   * serving under the old key; then, under the write lock, stragglers (accounts created meanwhile)
   * are staged too and one transaction switches every row and the current key id. Nobody verifies
   * again; clients see the new key id, re-key their caches through translate (free) and download
   * the new filter.
   */
  async rotate(): Promise<RotateKeyResponse> {
    return this.rotationLock.run(() => this.rotateOnce());
  }

  private async rotateOnce(): Promise<RotateKeyResponse> {
    const started = performance.now();
    const previousKeyId = this.keyId;
    const next = this.keys.add(this.oprf.generateSecretKey());
    await this.loadKeysIntoPool();
    await this.db
      .updateTable('accounts')
      .set({ next_key_id: null, next_element: null, next_fingerprint: null, next_token: null })
      .where('next_key_id', 'is not', null)
      .execute();
    await this.stage(previousKeyId, next.id);
    return this.writeLock.run(async () => {
      await this.stage(previousKeyId, next.id);
      const switched = await this.db.transaction().execute(async (trx) => {
        const result = await trx
          .updateTable('accounts')
          .set((eb) => ({
            element: eb.ref('next_element').$castTo<Uint8Array>(),
            fingerprint: eb.ref('next_fingerprint').$castTo<Uint8Array>(),
            token: eb.ref('next_token').$castTo<Uint8Array>(),
            key_id: next.id,
            next_key_id: null,
            next_element: null,
            next_fingerprint: null,
            next_token: null,
          }))
          .where('next_key_id', '=', next.id)
          .executeTakeFirst();
        await this.setCurrentKey(trx, next.id);
        // The old key's log is of no use to anyone once clients move to the new key.
        await trx.deleteFrom('directory_log').where('key_id', '!=', next.id).execute();
        return Number(result.numUpdatedRows);
      });
      this.keyId = next.id;
      this.snapshot = null;
      this.keys.retireAllBut(next.id, this.keyRetentionMs);
      await this.loadKeysIntoPool();
      return {
        keyId: next.id,
        previousKeyId,
        accountsRekeyed: switched,
        durationMs: Math.round(performance.now() - started),
      };
    });
  }

  /**
   * Stages the entry under `toKeyId` for every account still on `fromKeyId` without one, in
   * batches by id. The next batch is re-keyed in the workers while this one is written.
   */
  private async stage(fromKeyId: string, toKeyId: string): Promise<void> {
    const batch = 4096;
    const load = async (after: string) => {
      const rows = await this.db
        .selectFrom('accounts')
        .select(['id', 'element'])
        .where('key_id', '=', fromKeyId)
        .where('id', '>', after)
        .where((eb) => eb.or([eb('next_key_id', 'is', null), eb('next_key_id', '!=', toKeyId)]))
        .orderBy('id')
        .limit(batch)
        .execute();
      const packed = new Uint8Array(rows.length * 32);
      for (const [i, row] of rows.entries()) packed.set(row.element, i * 32);
      const rekeyed = rows.length > 0 ? this.pool.translate(fromKeyId, toKeyId, packed) : null;
      // Unhandled until awaited below; mark it handled so a failure surfaces there, once.
      rekeyed?.catch(() => {});
      return { rows, rekeyed };
    };
    let current = await load('');
    while (current.rows.length > 0) {
      const last = current.rows.at(-1)!.id;
      const upcoming = current.rows.length === batch ? load(last) : null;
      const elements = await current.rekeyed!;
      await this.writeStaged(current.rows, elements, toKeyId);
      current = upcoming ? await upcoming : { rows: [], rekeyed: null };
    }
  }

  private async writeStaged(
    rows: { id: string }[],
    elements: Uint8Array,
    keyId: string,
  ): Promise<void> {
    const perStatement = 256;
    await this.db.transaction().execute(async (trx) => {
      for (let start = 0; start < rows.length; start += perStatement) {
        const values = rows.slice(start, start + perStatement).map((row, j) => {
          const i = start + j;
          const entry = this.derive(keyId, elements.slice(i * 32, i * 32 + 32));
          return sql`(${row.id}, ${entry.element}, ${entry.fingerprint}, ${entry.token})`;
        });
        // UPDATE … FROM (VALUES …): one statement per batch, in SQLite and PostgreSQL alike.
        await sql`
          update accounts set
            next_key_id = ${keyId},
            next_element = v.column2,
            next_fingerprint = v.column3,
            next_token = v.column4
          from (values ${sql.join(values)}) as v
          where accounts.id = v.column1`.execute(trx);
      }
    });
  }

  /** Throws KEY_ID_UNKNOWN unless `keyId` is the current key. */
  requireCurrent(keyId: string): void {
    if (keyId !== this.keyId) {
      throw new ParleyError('KEY_ID_UNKNOWN', { details: { currentKeyId: this.keyId } });
    }
  }
}
