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
  filterCapacity,
  filterRangeFor,
  filterValue,
  type Oprf,
  ParleyError,
  REMOVAL_PREFIX_SHIFT,
  type RotateKeyResponse,
} from '@parley/core';
import {
  encodeFilter,
  encodeFilterPrefixes,
  encodeSortedFingerprints,
  fingerprintRank,
  pairValue,
  type SortedPairs,
  sortFingerprints,
  updateFingerprints,
} from '@parley/core/server';
import { type RawBuilder, sql } from 'kysely';
import { type Db, type Executor, lock } from '../infra/db/database.js';
import { dialectOf } from '../infra/db/dialect.js';
import { directoryColumns, directoryTableName } from '../infra/db/schema.js';
import { Mutex } from '../infra/mutex.js';
import type { KeyStore } from '../infra/oprf/key-store.js';
import { type OprfPool, REKEYED_ENTRY } from '../infra/oprf/oprf-pool.js';

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

/**
 * What a rotation is doing: staging the entries under the new key, indexing them, waiting for the
 * write lock, switching (the accounts created meanwhile, then the pointer), done.
 */
export type RotationPhase = 'stage' | 'index' | 'lock' | 'switch' | 'done';

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
  /** The background clean-up of tables of keys no longer used (retire). */
  private retiring: Promise<void> = Promise.resolve();
  private closing = false;

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
    let current = await this.metaValue('current_key_id');
    if (!current || !this.keys.get(current)) {
      // Under the directory lock: nodes starting together on an empty PostgreSQL agree on one key.
      current = await this.db.transaction().execute(async (trx) => {
        await lock(trx, 'directory');
        const named = await trx
          .selectFrom('meta')
          .select('value')
          .where('name', '=', 'current_key_id')
          .executeTakeFirst();
        if (named && this.keys.get(named.value)) return named.value;
        // Keys from the environment cannot be added to: a new database starts with the newest.
        const supplied = this.keys.readOnly
          ? this.keys
              .list()
              .filter((k) => !k.retiredAt)
              .at(-1)
          : undefined;
        if (!named && supplied) {
          await this.setCurrentKey(trx, supplied.id);
          return supplied.id;
        }
        const accounts = await trx
          .selectFrom('accounts')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow();
        // Nodes sharing a PostgreSQL share its key: one that lacks it must not make its own.
        if (named && (Number(accounts.n) > 0 || dialectOf(trx) === 'postgres')) {
          throw new Error(
            `The OPRF key ${named.value} named by the database is missing from ${this.keys.path}; ${
              dialectOf(trx) === 'postgres'
                ? 'every node sharing this database needs the same oprf-keys.json (copy it from a running node).'
                : 'restore the key file from a backup.'
            }`,
          );
        }
        const id = this.keys.add(this.oprf.generateSecretKey()).id;
        await this.setCurrentKey(trx, id);
        return id;
      });
    }
    this.keyId = current;
    await this.createEntriesTable(this.db, current);
    await this.createTokenIndex(this.db, current);
    await this.loadKeysIntoPool();
    // Tables of keys no longer current (a crash came between a rotation's switch and the end of
    // its clean-up) are emptied now, in the background.
    const target = await this.metaValue(ROTATION_TARGET);
    const stale = (await this.directoryTables()).filter((k) => k !== current && k !== target);
    if (stale.length > 0) this.retire(stale);
  }

  private async metaValue(name: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('meta')
      .select('value')
      .where('name', '=', name)
      .executeTakeFirst();
    return row?.value;
  }

  /** The key ids that have a directory table. */
  private async directoryTables(): Promise<string[]> {
    const { rows } =
      dialectOf(this.db) === 'postgres'
        ? await sql<{ name: string }>`select tablename as name from pg_tables
            where schemaname = current_schema() and tablename ~ '^directory_[0-9a-f]{10}$'`.execute(
            this.db,
          )
        : await sql<{ name: string }>`select name from sqlite_master
            where type = 'table' and name glob 'directory_[0-9a-f]*'`.execute(this.db);
    return rows.map((r) => r.name.slice('directory_'.length));
  }

  private async createEntriesTable(db: Executor, keyId: string): Promise<void> {
    await sql`create table if not exists ${sql.table(directoryTableName(keyId))} (
      ${directoryColumns(dialectOf(db))})`.execute(db);
  }

  private async createTokenIndex(db: Executor, keyId: string): Promise<void> {
    const table = directoryTableName(keyId);
    await sql`create unique index if not exists ${sql.id(`${table}_token`)}
      on ${sql.table(table)} (token)`.execute(db);
  }

  /**
   * The table of `keyId`'s directory entries (default: the current key's), as Kysely types it.
   * Columns must be named unqualified (`token`, not `directory_entries.token`).
   */
  entries(keyId: string = this.keyId): 'directory_entries' {
    return directoryTableName(keyId) as 'directory_entries';
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
    // Changes made here clear the snapshot at once; another node's (several nodes on one
    // PostgreSQL) show as a newer version in the log, checked by one indexed read.
    const cached = this.snapshot;
    if (
      cached &&
      cached.keyId === this.keyId &&
      cached.version === (await this.version(this.db)) &&
      this.snapshot === cached
    ) {
      return cached;
    }
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
    // than millions of row objects. Both tables are read in seq order.
    const table = sql.table(directoryTableName(keyId));
    return this.db.transaction().execute(async (trx) => {
      const version = await this.version(trx);
      const chunks: Uint8Array[] = [];
      let after = 0;
      for (;;) {
        const { rows } = await sql<{ last: number | null; n: number; hex: string | null }>`
          select max(e.account_seq) as last, count(*) as n,
            ${hexConcat(trx, sql`case when a.discoverable = 1 then ${hex(trx, sql`e.fingerprint`)} end`, sql`e.account_seq`)} as hex
          from (select account_seq, fingerprint from ${table} where account_seq > ${after}
            order by account_seq limit ${MEMBER_CHUNK}) as e
          join accounts as a on a.seq = e.account_seq`.execute(trx);
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
   * token under the new key, all computed in the worker pool. The new entries go into the new
   * key's own table (appended in seq order, indexed once at the end) while the server keeps
   * serving under the old key; then, under the write lock, accounts created meanwhile are added
   * and the switch names the new key current: no row of the accounts is rewritten. The old key's
   * table is emptied in the background afterwards. Nobody verifies again; clients see the new key
   * id, re-key their caches through translate (free) and download the new filter.
   *
   * An interrupted rotation (crash, restart) is resumed by the next call: same new key, the
   * entries already staged kept.
   */
  async rotate(
    options: { onPhase?: (phase: RotationPhase) => void } = {},
  ): Promise<RotateKeyResponse> {
    return this.rotationLock.run(() => this.rotateOnce(options.onPhase ?? (() => {})));
  }

  private async rotateOnce(onPhase: (phase: RotationPhase) => void): Promise<RotateKeyResponse> {
    const started = performance.now();
    const previousKeyId = this.keyId;
    const target = await this.rotationTarget();
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
    await this.createTokenIndex(this.db, target.keyId);
    onPhase('lock');
    return this.writeLock.run(async () => {
      onPhase('switch');
      // Accounts created while the first pass ran have larger seqs.
      await pass();
      await this.db.transaction().execute(async (trx) => {
        await lock(trx, 'directory');
        await this.setCurrentKey(trx, target.keyId);
        await trx.deleteFrom('meta').where('name', '=', ROTATION_TARGET).execute();
        // The old key's log is of no use to anyone once clients move to the new key.
        await trx.deleteFrom('directory_log').where('key_id', '!=', target.keyId).execute();
      });
      this.keyId = target.keyId;
      this.snapshot = null;
      this.members = null;
      this.discoverableCount = undefined;
      this.keys.retireAllBut(target.keyId, this.keyRetentionMs);
      await this.loadKeysIntoPool();
      this.retire([previousKeyId]);
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
  private async rotationTarget(): Promise<{ keyId: string; resumed: boolean }> {
    const recorded = await this.metaValue(ROTATION_TARGET);
    if (recorded && recorded !== this.keyId && this.keys.get(recorded)) {
      if ((await this.directoryTables()).includes(recorded)) {
        return { keyId: recorded, resumed: true };
      }
    }
    const keyId = this.keys.add(this.oprf.generateSecretKey()).id;
    await this.loadKeysIntoPool();
    await this.db.transaction().execute(async (trx) => {
      if (recorded && recorded !== this.keyId) {
        await sql`drop table if exists ${sql.table(directoryTableName(recorded))}`.execute(trx);
      }
      await this.createEntriesTable(trx, keyId);
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
      const packed = blob(this.db, entries);
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
        where o.element = substr(${blob(this.db, batch.elements)}, o.n * 32 + 1, 32)`.execute(
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
      .selectFrom(this.entries(fromKeyId))
      .select(['account_seq', 'element'])
      .where('account_seq', '>=', batch.first)
      .where('account_seq', '<=', batch.last)
      .where('account_seq', 'not in', (eb) =>
        eb
          .selectFrom(this.entries(toKeyId))
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

  /**
   * Empties and drops the tables of keys no longer used, in the background: the token index in
   * one statement, then the rows in chunks, so the event loop and writers get their turn between
   * them (with secure_delete every freed page is overwritten: gigabytes at 2^24). A crash midway
   * is finished by the next start (init).
   */
  private retire(keyIds: string[]): void {
    const run = async () => {
      for (const keyId of keyIds) {
        const name = directoryTableName(keyId);
        const table = sql.table(name);
        // The index first, in one statement (a fraction of a second per million entries): the
        // rows then go without a random index update each, ten times cheaper.
        await sql`drop index if exists ${sql.id(`${name}_token`)}`.execute(this.db);
        for (;;) {
          if (this.closing) return;
          const result = await sql`delete from ${table} where account_seq in (
              select account_seq from ${table} order by account_seq limit ${RETIRE_CHUNK})`.execute(
            this.db,
          );
          if (Number(result.numAffectedRows ?? 0n) === 0) break;
          await new Promise((resolve) => setImmediate(resolve));
        }
        await sql`drop table if exists ${table}`.execute(this.db);
      }
    };
    this.retiring = this.retiring.then(run).catch(() => {
      // The server may be closing; the next start finishes the clean-up.
    });
  }

  /** Settles when the old keys' tables are gone (tests, the rebuild benchmark). */
  retired(): Promise<void> {
    return this.retiring;
  }

  /** Stops the background clean-up after its current statement (the next start resumes it). */
  async close(): Promise<void> {
    this.closing = true;
    await this.retiring;
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

/** A blob as hex text (SQLite: upper case, PostgreSQL: lower; Buffer reads either). */
function hex(db: Executor, expr: RawBuilder<unknown>): RawBuilder<string> {
  return dialectOf(db) === 'postgres' ? sql`encode(${expr}, 'hex')` : sql`hex(${expr})`;
}

/** The aggregate concatenation of text values in `order`. */
function hexConcat(
  db: Executor,
  expr: RawBuilder<unknown>,
  order: RawBuilder<unknown>,
): RawBuilder<string> {
  return dialectOf(db) === 'postgres'
    ? sql`string_agg(${expr}, '' order by ${order})`
    : sql`group_concat(${expr}, '' order by ${order})`;
}

/** A bytes parameter typed as such (PostgreSQL would otherwise take it for text in substr). */
function blob(db: Executor, value: Uint8Array): RawBuilder<Uint8Array> {
  return dialectOf(db) === 'postgres' ? sql`cast(${value} as bytea)` : sql`${value}`;
}

/** Accounts per query when reading the member set. */
const MEMBER_CHUNK = 1 << 20;
/** Accounts per re-keying batch of a rotation. */
const STAGE_BATCH = 16_384;
/** Entries deleted per statement when emptying an old key's table. */
const RETIRE_CHUNK = 16_384;
/** The meta row naming the key a rotation in progress moves to. */
const ROTATION_TARGET = 'rotation_key_id';

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
      ${hexConcat(db, hex(db, sql`element`), sql`account_seq`)} as hex
    from (select account_seq, element from ${sql.table(directoryTableName(keyId))}
      where account_seq > ${after} order by account_seq limit ${limit}) as e`.execute(db);
  const r = rows[0]!;
  if (r.n === 0 || r.first === null || r.last === null) return null;
  const elements = new Uint8Array(Buffer.from(r.hex, 'hex'));
  if (elements.length !== r.n * 32) throw new Error('directory: an element is not 32 bytes');
  return { first: r.first, last: r.last, count: r.n, elements };
}
