/**
 * Publishing the directory: the membership filter over the fingerprints of discoverable accounts,
 * served as a versioned binary snapshot plus deltas since a client's version. Owns what memory
 * holds to serve them cheaply — the member set at some version, the current snapshot, the count
 * of discoverable accounts — and the one path that drops it (a change, a deletion, a new key).
 */

import { createHash } from 'node:crypto';
import {
  filterCapacity,
  filterRangeFor,
  filterValue,
  ParleyError,
  REMOVAL_PREFIX_SHIFT,
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
import { sql } from 'kysely';
import type { Db } from '../infra/db/database.js';
import { hex, snapshotReads, stringAgg } from '../infra/db/dialect.js';
import { directoryTableName } from '../infra/db/schema.js';
import type { DirectoryLog } from './log.js';

/** Room for 1/8 more entries than a snapshot holds (at least 1,024 in all). */
const HEADROOM = 1.125;
/** Accounts per query when reading the member set. */
const MEMBER_CHUNK = 1 << 20;

/**
 * The range of a snapshot of `count` entries: capacity for 1/8 more (at least 1,024) before
 * clients' copies outgrow the 2⁻³² bound and must fetch a new snapshot instead of deltas. Costs
 * log2(1.125) ≈ 0.17 bits per entry.
 */
export function snapshotRange(count: number): bigint {
  return filterRangeFor(Math.max(1024, Math.ceil(count * HEADROOM)));
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
      /** SHA-256 of the snapshot's bytes. */
      digest: Uint8Array;
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
      /** Discoverable accounts at `version`. */
      count: number;
    };

interface Snapshot {
  keyId: string;
  version: number;
  count: number;
  range: bigint;
  filter: Uint8Array;
  digest: Uint8Array;
}

/** The sorted fingerprints of the discoverable accounts under `keyId` at directory `version`. */
interface Members {
  keyId: string;
  version: number;
  set: SortedPairs;
}

/** Whether a removal can be sent as a short prefix, only at full width, or not at all. */
type RemovalForm = 'prefix' | 'full' | 'keep';

export class Publication {
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
   * Discoverable accounts, kept up to date as changes are logged, so choosing between a delta and
   * a snapshot never rebuilds the snapshot (seconds of work at 2^24). Only a heuristic: a change
   * whose transaction rolls back leaves it off by one.
   */
  private discoverableCount: number | undefined;

  constructor(
    private readonly db: Db,
    private readonly log: DirectoryLog,
    private readonly currentKeyId: () => string,
  ) {}

  /** A change was logged (`counted`: how it moves the discoverable count): the snapshot is stale. */
  noteChange(counted: -1 | 0 | 1): void {
    this.snapshot = null;
    if (this.discoverableCount !== undefined) this.discoverableCount += counted;
  }

  /** The key changed: nothing held here is of use any more. */
  reset(): void {
    this.snapshot = null;
    this.members = null;
    this.discoverableCount = undefined;
  }

  /**
   * After a deleting transaction committed: the fingerprint leaves the member set held in memory
   * too (a set read later from the accounts no longer has it).
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
   * What a client holding (keyId, since, range) should fetch: the net delta since its version,
   * coded for its filter's range, or — when the key changed, the client is ahead, its filter could
   * not hold the current set within the 2⁻³² bound, or a delta would not be smaller — a pointer to
   * the current binary snapshot.
   */
  async payload(keyId?: string, since?: number, range?: bigint): Promise<DirectoryPayload> {
    if (keyId === this.currentKeyId() && since !== undefined && range !== undefined) {
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
      digest: snapshot.digest,
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
    const keyId = this.currentKeyId();
    const members = await this.loadMembers();
    if (members.keyId !== keyId) return null;
    const logged = await this.db.transaction().execute(async (trx) => {
      await snapshotReads(trx);
      const version = await this.log.version(trx);
      if (since > version || since < (await this.log.floor(trx))) return null;
      const rows = await this.log.since(trx, keyId, Math.min(since, members.version));
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
      count,
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
      cached.keyId === this.currentKeyId() &&
      cached.version === (await this.log.version()) &&
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
    const keyId = this.currentKeyId();
    const members = await this.loadMembers();
    const current = await this.db.transaction().execute(async (trx) => {
      await snapshotReads(trx);
      const version = await this.log.version(trx);
      const rows = await this.log.since(trx, keyId, members.version);
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
    const filter = encodeSortedFingerprints(set, range);
    const snapshot: Snapshot = {
      keyId,
      version: current.version,
      count,
      range,
      filter,
      digest: createHash('sha256').update(filter).digest(),
    };
    if (this.currentKeyId() === keyId) {
      this.snapshot = snapshot;
      this.discoverableCount = count;
    }
    return snapshot;
  }

  /** The member set for the current key (read from the accounts once per key and process). */
  private async loadMembers(): Promise<Members> {
    const keyId = this.currentKeyId();
    if (this.members && this.members.keyId === keyId) return this.members;
    if (!this.membersLoading) {
      this.membersLoading = this.readMembers(keyId).finally(() => {
        this.membersLoading = null;
      });
    }
    const members = await this.membersLoading;
    if (members.keyId === this.currentKeyId()) this.members = members;
    return members;
  }

  private async readMembers(keyId: string): Promise<Members> {
    // One read transaction (one snapshot, on PostgreSQL too), so the version matches the content. Fingerprints come a million rows
    // at a time as one hex string per query, so 2^24 accounts make a few dozen strings rather
    // than millions of row objects. Both tables are read in seq order.
    const table = sql.table(directoryTableName(keyId));
    return this.db.transaction().execute(async (trx) => {
      await snapshotReads(trx);
      const version = await this.log.version(trx);
      const chunks: Uint8Array[] = [];
      let after = 0;
      for (;;) {
        const discoverableHex = sql`case when a.discoverable = 1 then ${hex(trx, sql`e.fingerprint`)} end`;
        const { rows } = await sql<{ last: number | null; n: number; hex: string | null }>`
          select max(e.account_seq) as last, count(*) as n,
            ${stringAgg(trx, discoverableHex, '', sql`e.account_seq`)} as hex
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
