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
  encodeFilterPrefixes,
  encodeSortedFingerprints,
  filterCapacity,
  filterRangeFor,
  filterValue,
  fingerprintRank,
  type Oprf,
  ParleyError,
  pairValue,
  REMOVAL_PREFIX_SHIFT,
  type RotateKeyResponse,
  type SortedPairs,
  sortFingerprints,
  updateFingerprints,
} from '@parley/core';
import { sql } from 'kysely';
import type { Db, Executor } from './db/database.js';
import { Mutex } from './mutex.js';
import type { KeyStore } from './oprf/key-store.js';
import { type OprfPool, REKEYED_ENTRY } from './oprf/oprf-pool.js';

export const sha512 = (data: Uint8Array): Uint8Array =>
  new Uint8Array(createHash('sha512').update(data).digest());

/** Room for 1/8 more entries than a snapshot holds (at least 1,024 in all). */
const HEADROOM = 1.125;

/**
 * The range of a snapshot of `count` entries: capacity for 1/8 more (at least 1,024) before
 * clients' copies outgrow the 2⁻³² bound and must fetch a new snapshot instead of deltas. Costs
 * log2(1.125) ≈ 0.17 bits per entry.
 */
export function snapshotRange(count: number): bigint {
  return filterRangeFor(Math.max(1024, Math.ceil(count * HEADROOM)));
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
      range: bigint;
      bytes: number;
      path: string;
    }
  | {
      type: 'delta';
      keyId: string;
      fromVersion: number;
      version: number;
      range: bigint;
      added: Uint8Array;
      removed: Uint8Array;
      removedFull: Uint8Array;
    };

interface Snapshot {
  keyId: string;
  version: number;
  count: number;
  range: bigint;
  filter: Uint8Array;
}

/** The sorted fingerprints of the discoverable accounts under `keyId` at directory `version`. */
interface Members {
  keyId: string;
  version: number;
  set: SortedPairs;
}

/** Whether a removal can be sent as a short prefix, only at full width, or not at all. */
type RemovalForm = 'prefix' | 'full' | 'keep';

export class Directory {
  /** Serialises account writes against key rotation. */
  readonly writeLock = new Mutex();
  /** One rotation at a time. */
  private readonly rotationLock = new Mutex();
  private keyId = '';
  private snapshot: Snapshot | null = null;
  private snapshotBuilding: Promise<Snapshot> | null = null;
  /**
   * The member set at some version, kept between snapshots (8 bytes per member): with the log it
   * gives the set at any later version without reading every account again, and it tells which
   * removal prefixes a client's filter would find ambiguous.
   */
  private members: Members | null = null;
  private membersLoading: Promise<Members> | null = null;
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
    private readonly tombstoneMs = 72 * 3_600_000,
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

  /**
   * Forgets a deleted account's fingerprint, inside the transaction that deletes the account: its
   * history in the log goes, and if any client may hold it (the account is discoverable, or was
   * logged), one removal takes its place until `forget_at` (forgetTombstones), or — with a
   * retention of 0 — is forgotten at once. Call `forgotten` after the transaction commits.
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
        key_id: this.keyId,
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
    this.snapshot = null;
    if (discoverable && this.discoverableCount !== undefined) this.discoverableCount--;
  }

  /**
   * After the deleting transaction committed: the fingerprint leaves the member set held in
   * memory too (a set read later from the accounts no longer has it).
   */
  async forgotten(fingerprint: Uint8Array): Promise<void> {
    if (this.membersLoading) await this.membersLoading.catch(() => {});
    const members = this.members;
    if (members) {
      this.members = {
        ...members,
        set: updateFingerprints(members.set, { added: [], removed: [fingerprint] }),
      };
    }
    this.snapshot = null;
  }

  /**
   * Deletes deleted accounts' removals whose time has come and raises the version floor past
   * them: a client that synced before a forgotten removal gets a snapshot, not a delta.
   * Returns how many were forgotten.
   */
  async forgetTombstones(now = Date.now()): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
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
  private async floor(db: Executor): Promise<number> {
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

  private async version(db: Executor): Promise<number> {
    const row = await db
      .selectFrom('directory_log')
      .select((eb) => eb.fn.max('version').as('v'))
      .executeTakeFirst();
    return Math.max(Number(row?.v ?? 0), await this.floor(db));
  }

  async currentVersion(): Promise<number> {
    return this.version(this.db);
  }

  /**
   * What a client holding (keyId, since, range) should fetch: the net delta since its version,
   * coded for its filter's range, or — when the key changed, the client is ahead, its filter could
   * not hold the current set within the 2⁻³² bound, or a delta would not be smaller — a pointer to
   * the current binary snapshot.
   */
  async payload(keyId?: string, since?: number, range?: bigint): Promise<DirectoryPayload> {
    if (keyId === this.keyId && since !== undefined && range !== undefined) {
      const delta = await this.delta(since, range);
      if (delta) return delta;
    }
    const snapshot = await this.currentSnapshot();
    return {
      type: 'snapshot',
      keyId: snapshot.keyId,
      version: snapshot.version,
      count: snapshot.count,
      range: snapshot.range,
      bytes: snapshot.filter.length,
      path: `/v1/directory/snapshots/${snapshot.keyId}/${snapshot.version}`,
    };
  }

  /**
   * The delta from `since` to now for a filter of `range`, or null when a snapshot is the better
   * answer. Additions are coded at the client's range. Removals are coded as prefixes
   * (REMOVAL_PREFIX_SHIFT bits shorter), which the client resolves against the full values it
   * holds — but only where the prefix names one entry of the client's filter: the server checks
   * each against every fingerprint that can be in that filter (the member set it keeps plus every
   * fingerprint logged since, a superset of the set at `since`) and sends the others at full
   * width. A removed fingerprint whose full value another member shares is not sent at all:
   * removing the value would hide that member (a leftover value costs one possible false match,
   * which resolve catches).
   */
  private async delta(since: number, range: bigint): Promise<DirectoryPayload | null> {
    const keyId = this.keyId;
    const members = await this.loadMembers();
    if (members.keyId !== keyId) return null;
    const logged = await this.db.transaction().execute(async (trx) => {
      const version = await this.version(trx);
      if (since > version || since < (await this.floor(trx))) return null;
      const rows = await trx
        .selectFrom('directory_log')
        .select(['version', 'fingerprint', 'op'])
        .where('key_id', '=', keyId)
        .where('version', '>', Math.min(since, members.version))
        .orderBy('version')
        .execute();
      return { version, rows };
    });
    if (!logged) return null;
    // Net effect per fingerprint: present at `since` iff its first logged change removed it,
    // present now iff its last one added it. Anything added and removed again is left out.
    const touched = new Map<string, { fp: Uint8Array; first: string; last: string }>();
    for (const r of logged.rows) {
      if (r.version <= since) continue;
      const key = Buffer.from(r.fingerprint).toString('hex');
      const seen = touched.get(key);
      if (seen) seen.last = r.op;
      else touched.set(key, { fp: r.fingerprint, first: r.op, last: r.op });
    }
    const count = this.discoverableCount ?? members.set.hi.length;
    if (touched.size * 2 > Math.max(16, count) || count > filterCapacity(range)) return null;
    const added: Uint8Array[] = [];
    const removed: Uint8Array[] = [];
    for (const { fp, first, last } of touched.values()) {
      const before = first === 'remove';
      const now = last === 'add';
      if (!before && now) added.push(fp);
      else if (before && !now) removed.push(fp);
    }
    const prefixed: Uint8Array[] = [];
    const full: Uint8Array[] = [];
    if (removed.length > 0) {
      const packed = new Uint8Array(logged.rows.length * 8);
      for (const [i, r] of logged.rows.entries()) packed.set(r.fingerprint, i * 8);
      const sets = [members.set, sortFingerprints(packed)];
      for (const fp of removed) {
        const form = removalForm(fp, range, sets);
        if (form === 'prefix') prefixed.push(fp);
        else if (form === 'full') full.push(fp);
      }
    }
    return {
      type: 'delta',
      keyId,
      fromVersion: since,
      version: logged.version,
      range,
      added: encodeFilter(added, range),
      removed: encodeFilterPrefixes(prefixed, range, REMOVAL_PREFIX_SHIFT),
      removedFull: encodeFilter(full, range),
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
    if (!this.snapshotBuilding) {
      this.snapshotBuilding = this.buildSnapshot().finally(() => {
        this.snapshotBuilding = null;
      });
    }
    return this.snapshotBuilding;
  }

  /** The member set brought up to date from the log, encoded at snapshotRange(its size). */
  private async buildSnapshot(): Promise<Snapshot> {
    const keyId = this.keyId;
    const members = await this.loadMembers();
    const current = await this.db.transaction().execute(async (trx) => {
      const version = await this.version(trx);
      const rows = await trx
        .selectFrom('directory_log')
        .select(['fingerprint', 'op'])
        .where('key_id', '=', keyId)
        .where('version', '>', members.version)
        .orderBy('version')
        .execute();
      return { version, rows };
    });
    let set = members.set;
    if (current.rows.length > 0) {
      const last = new Map<string, { fp: Uint8Array; op: string }>();
      for (const r of current.rows) {
        last.set(Buffer.from(r.fingerprint).toString('hex'), { fp: r.fingerprint, op: r.op });
      }
      const added: Uint8Array[] = [];
      const removed: Uint8Array[] = [];
      for (const { fp, op } of last.values()) (op === 'add' ? added : removed).push(fp);
      set = updateFingerprints(set, { added, removed });
    }
    if (members.keyId === keyId && this.members === members) {
      this.members = { keyId, version: current.version, set };
    }
    const count = set.hi.length;
    const range = snapshotRange(count);
    const snapshot: Snapshot = {
      keyId,
      version: current.version,
      count,
      range,
      filter: encodeSortedFingerprints(set, range),
    };
    if (this.keyId === keyId) {
      this.snapshot = snapshot;
      this.discoverableCount = count;
    }
    return snapshot;
  }

  /** The member set for the current key (read from the accounts once per key and process). */
  private async loadMembers(): Promise<Members> {
    if (this.members && this.members.keyId === this.keyId) return this.members;
    if (!this.membersLoading) {
      this.membersLoading = this.readMembers(this.keyId).finally(() => {
        this.membersLoading = null;
      });
    }
    const members = await this.membersLoading;
    if (members.keyId === this.keyId) this.members = members;
    return members;
  }

  private async readMembers(keyId: string): Promise<Members> {
    // One read transaction, so the version matches the content. Fingerprints come a million rows
    // at a time as one hex string per query, so 2^24 accounts make a few dozen strings rather
    // than millions of row objects.
    return this.db.transaction().execute(async (trx) => {
      const version = await this.version(trx);
      const chunks: Uint8Array[] = [];
      let after: number | undefined;
      for (;;) {
        const { rows } = await sql<{ last: number | null; n: number; hex: string | null }>`
          select max(rowid) as last, count(*) as n,
            group_concat(iif(discoverable = 1 and key_id = ${keyId}, hex(fingerprint), null), ''
              order by rowid) as hex
          from (select rowid, fingerprint, discoverable, key_id from accounts
            ${rowidAfter(after)} order by rowid limit ${MEMBER_CHUNK})`.execute(trx);
        const chunk = rows[0]!;
        if (chunk.n === 0 || chunk.last === null) break;
        chunks.push(Buffer.from(chunk.hex ?? '', 'hex'));
        after = chunk.last;
      }
      const packed = new Uint8Array(chunks.reduce((sum, c) => sum + c.length, 0));
      let offset = 0;
      for (const chunk of chunks) {
        packed.set(chunk, offset);
        offset += chunk.length;
      }
      return { keyId, version, set: sortFingerprints(packed) };
    });
  }

  /**
   * Rotates the OPRF key: every account's element becomes (k'/k)·element, with its fingerprint and
   * token under the new key, all computed in the worker pool. The new entries are staged in a
   * table of their own (rotation_stage, appended in row-id order) while the server keeps serving
   * under the old key; then, under the write lock, accounts created meanwhile are staged too and
   * one transaction switches every row and the current key id. Nobody verifies again; clients see
   * the new key id, re-key their caches through translate (free) and download the new filter.
   */
  async rotate(): Promise<RotateKeyResponse> {
    return this.rotationLock.run(() => this.rotateOnce());
  }

  private async rotateOnce(): Promise<RotateKeyResponse> {
    const started = performance.now();
    const previousKeyId = this.keyId;
    const next = this.keys.add(this.oprf.generateSecretKey());
    await this.loadKeysIntoPool();
    await sql`drop table if exists rotation_stage`.execute(this.db);
    await sql`create table rotation_stage (
        account_rowid integer primary key,
        id text not null,
        element blob not null,
        fingerprint blob not null,
        token blob not null
      )`.execute(this.db);
    try {
      const staged = await this.stage(previousKeyId, next.id, undefined);
      return await this.writeLock.run(async () => {
        // SQLite gives a new row the largest row id plus one, so accounts created while the
        // first pass ran come after it.
        await this.stage(previousKeyId, next.id, staged);
        const switched = await this.db.transaction().execute(async (trx) => {
          const rekeyed = await this.switchStaged(trx, previousKeyId, next.id);
          await this.setCurrentKey(trx, next.id);
          // The old key's log is of no use to anyone once clients move to the new key.
          await trx.deleteFrom('directory_log').where('key_id', '!=', next.id).execute();
          await sql`drop table rotation_stage`.execute(trx);
          return rekeyed;
        });
        this.keyId = next.id;
        this.snapshot = null;
        this.members = null;
        this.discoverableCount = undefined;
        this.keys.retireAllBut(next.id, this.keyRetentionMs);
        await this.loadKeysIntoPool();
        return {
          keyId: next.id,
          previousKeyId,
          accountsRekeyed: switched,
          durationMs: Math.round(performance.now() - started),
        };
      });
    } finally {
      await sql`drop table if exists rotation_stage`.execute(this.db);
    }
  }

  /**
   * Moves the staged entries into the accounts. The two unique indexes are dropped first and
   * rebuilt after (one sort each instead of four random index updates per row: at 2^24 accounts
   * that is minutes). Accounts the staged rows do not match — a row id reused after a deletion
   * — are re-keyed one by one. Returns the number of accounts re-keyed.
   */
  private async switchStaged(trx: Executor, fromKeyId: string, toKeyId: string): Promise<number> {
    await sql`drop index accounts_element`.execute(trx);
    await sql`drop index accounts_token`.execute(trx);
    const result = await sql`
      update accounts set
        element = s.element,
        fingerprint = s.fingerprint,
        token = s.token,
        key_id = ${toKeyId}
      from rotation_stage as s
      where accounts.rowid = s.account_rowid and accounts.id = s.id`.execute(trx);
    let rekeyed = Number(result.numAffectedRows ?? 0n);
    const left = await trx
      .selectFrom('accounts')
      .select(['id', 'element'])
      .where('key_id', '!=', toKeyId)
      .execute();
    if (left.length > 0) {
      const packed = new Uint8Array(left.length * 32);
      for (const [i, row] of left.entries()) packed.set(row.element, i * 32);
      const entries = await this.pool.rekey(fromKeyId, toKeyId, packed);
      for (const [i, row] of left.entries()) {
        const at = i * REKEYED_ENTRY;
        await trx
          .updateTable('accounts')
          .set({
            element: entries.slice(at, at + 32),
            fingerprint: entries.slice(at + 32, at + 40),
            token: entries.slice(at + 40, at + 72),
            key_id: toKeyId,
          })
          .where('id', '=', row.id)
          .execute();
      }
      rekeyed += left.length;
    }
    await sql`create unique index accounts_element on accounts (element)`.execute(trx);
    await sql`create unique index accounts_token on accounts (token)`.execute(trx);
    return rekeyed;
  }

  /**
   * Stages the entry under `toKeyId` of every account with a row id above `afterRowid` (all when
   * undefined), in batches read in row-id order (sequential reads, appends to the stage). The
   * next batch is re-keyed in the workers while this one is written. Returns the last row id
   * staged.
   */
  private async stage(
    fromKeyId: string,
    toKeyId: string,
    afterRowid: number | undefined,
  ): Promise<number | undefined> {
    const load = async (after: number | undefined) => {
      const batch = await readElements(this.db, after, STAGE_BATCH);
      const rekeyed = batch ? this.pool.rekey(fromKeyId, toKeyId, batch.elements) : null;
      // Unhandled until awaited below; mark it handled so a failure surfaces there, once.
      rekeyed?.catch(() => {});
      return { batch, rekeyed };
    };
    let last = afterRowid;
    let current = await load(afterRowid);
    while (current.batch) {
      const { batch } = current;
      last = batch.last;
      const upcoming = batch.count === STAGE_BATCH ? load(last) : null;
      const entries = await current.rekeyed!;
      // One statement per batch: the rows are read again by row id and paired with their entry
      // by position, guarded by the element that was re-keyed (a row deleted or replaced
      // meanwhile is skipped here and re-keyed by the switch).
      await sql`
        insert into rotation_stage (account_rowid, id, element, fingerprint, token)
        select a.rowid, a.id,
          substr(${entries}, a.n * 72 + 1, 32),
          substr(${entries}, a.n * 72 + 33, 8),
          substr(${entries}, a.n * 72 + 41, 32)
        from (
          select rowid, id, element, row_number() over (order by rowid) - 1 as n
          from accounts where rowid between ${batch.first} and ${batch.last}
        ) as a
        where a.element = substr(${batch.elements}, a.n * 32 + 1, 32)`.execute(this.db);
      current = upcoming ? await upcoming : { batch: null, rekeyed: null };
    }
    return last;
  }

  /** Throws KEY_ID_UNKNOWN unless `keyId` is the current key. */
  requireCurrent(keyId: string): void {
    if (keyId !== this.keyId) {
      throw new ParleyError('KEY_ID_UNKNOWN', { details: { currentKeyId: this.keyId } });
    }
  }
}

/**
 * How a delta names the removal of `fp` from a client filter of `range` whose entries all come
 * from the sorted sets `sets`: by its prefix when no other fingerprint there shares it, else at
 * full width when none shares the full value, else not at all. Values and prefixes are monotone
 * in the fingerprint, so only each set's nearest neighbours below and above `fp` can share them.
 */
export function removalForm(fp: Uint8Array, range: bigint, sets: SortedPairs[]): RemovalForm {
  const shift = BigInt(REMOVAL_PREFIX_SHIFT);
  const value = filterValue(fp, range);
  const self = new DataView(fp.buffer, fp.byteOffset, 8).getBigUint64(0);
  let form: RemovalForm = 'prefix';
  for (const set of sets) {
    const n = set.hi.length;
    let at = fingerprintRank(set, fp);
    const below = at - 1;
    if (at < n && pairValue(set, at) === self) at++;
    for (const i of [below, at]) {
      if (i < 0 || i >= n) continue;
      const other = (pairValue(set, i) * range) >> 64n;
      if (other === value) return 'keep';
      if (other >> shift === value >> shift) form = 'full';
    }
  }
  return form;
}

/** Accounts per query when reading the member set. */
const MEMBER_CHUNK = 1 << 20;
/** Accounts per re-keying batch of a rotation. */
const STAGE_BATCH = 16_384;

/** `where rowid > after`, or nothing when after is undefined (from the first row). */
function rowidAfter(after: number | undefined) {
  return after === undefined ? sql`` : sql`where rowid > ${after}`;
}

/**
 * Up to `limit` accounts' elements after row id `after`, in row-id order, packed 32 bytes each
 * (one hex string from the database instead of a row object per account), with the first and
 * last row id; null when there are none.
 */
async function readElements(
  db: Executor,
  after: number | undefined,
  limit: number,
): Promise<{ first: number; last: number; count: number; elements: Uint8Array } | null> {
  const { rows } = await sql<{ first: number | null; last: number | null; n: number; hex: string }>`
    select min(rowid) as first, max(rowid) as last, count(*) as n,
      group_concat(hex(element), '' order by rowid) as hex
    from (select rowid, element from accounts ${rowidAfter(after)} order by rowid limit ${limit})`.execute(
    db,
  );
  const r = rows[0]!;
  if (r.n === 0 || r.first === null || r.last === null) return null;
  const elements = new Uint8Array(Buffer.from(r.hex, 'hex'));
  if (elements.length !== r.n * 32) throw new Error('directory: an element is not 32 bytes');
  return { first: r.first, last: r.last, count: r.n, elements };
}
