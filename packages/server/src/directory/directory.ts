/**
 * The blind directory: the current OPRF key, each account's directory element under it, and the
 * membership filter over the fingerprints of discoverable accounts, served as a versioned snapshot
 * plus deltas. The pieces live beside this file — keys.ts (the key lifecycle), log.ts (the change
 * log), publication.ts (snapshots and deltas), rotation.ts (moving to a new key) with
 * rotation-statements.ts (the old key vouching for the new) — and this facade
 * wires them and owns the one way to change the directory: write().
 */

import type { Oprf, RotateKeyResponse } from '@parley/core';
import type { Transaction } from 'kysely';
import { type Db, lock } from '../infra/db/database.js';
import type { Database } from '../infra/db/schema.js';
import { Mutex } from '../infra/mutex.js';
import type { KeyStore } from '../infra/oprf/key-store.js';
import type { OprfPool } from '../infra/oprf/oprf-pool.js';
import { type DirectoryEntry, DirectoryKeys } from './keys.js';
import { DirectoryLog } from './log.js';
import { type DirectoryPayload, Publication } from './publication.js';
import { Rotation, type RotationPhase } from './rotation.js';
import { type RotationRecord, RotationStatements } from './rotation-statements.js';

/** What a write may do, inside its transaction (Directory.write). */
export interface DirectoryChange {
  /** The transaction; it holds the `directory` lock (take `queue` next, if needed). */
  readonly trx: Transaction<Database>;
  /** The current key's entries table: the key cannot change before the write ends. */
  readonly entries: 'directory_entries';
  /** Records that an account entered or left the filter. */
  log(fingerprint: Uint8Array, op: 'add' | 'remove'): Promise<void>;
  /**
   * A deleted account's fingerprint: its history in the log goes, and if any client may hold it,
   * one removal takes its place until its tombstone is forgotten. Once the write commits, the
   * member set held in memory drops it too.
   */
  forgetAccount(fingerprint: Uint8Array, discoverable: boolean): Promise<void>;
}

export class Directory {
  /**
   * Serialises directory writes against a rotation's switch. Changes go through write(), which
   * takes it; only tests hold it bare, to pause writers.
   */
  readonly writeLock = new Mutex();
  private readonly keys: DirectoryKeys;
  private readonly log: DirectoryLog;
  private readonly publication: Publication;
  private readonly rotation: Rotation;
  private readonly statements: RotationStatements;

  constructor(
    private readonly db: Db,
    pool: OprfPool,
    keys: KeyStore,
    oprf: Oprf,
    keyRetentionMs: number,
    tombstoneMs = 72 * 3_600_000,
  ) {
    this.keys = new DirectoryKeys(db, pool, keys, oprf);
    const currentKeyId = () => this.keys.currentKeyId;
    this.log = new DirectoryLog(db, currentKeyId, tombstoneMs, (counted) =>
      this.publication.noteChange(counted),
    );
    this.publication = new Publication(db, this.log, currentKeyId);
    this.statements = new RotationStatements(db, this.keys, oprf);
    this.rotation = new Rotation(
      db,
      pool,
      this.keys,
      this.log,
      this.publication,
      this.statements,
      this.writeLock,
      keyRetentionMs,
    );
  }

  init(): Promise<void> {
    return this.keys.init();
  }

  /** The public key k·G of a retained key id (for the directory response); see DirectoryKeys. */
  publicKey(keyId: string): Uint8Array | undefined {
    return this.keys.publicKey(keyId);
  }

  get currentKeyId(): string {
    return this.keys.currentKeyId;
  }

  retainedKeyIds(): string[] {
    return this.keys.retainedKeyIds();
  }

  /** Throws KEY_ID_UNKNOWN unless `keyId` is the current key. */
  requireCurrent(keyId: string): void {
    this.keys.requireCurrent(keyId);
  }

  /**
   * The table of `keyId`'s directory entries (default: the current key's), as Kysely types it,
   * for reads. Columns must be named unqualified (`token`, not `directory_entries.token`).
   */
  entries(keyId?: string): 'directory_entries' {
    return this.keys.entries(keyId);
  }

  derive(keyId: string, element: Uint8Array): DirectoryEntry {
    return this.keys.derive(keyId, element);
  }

  /** The directory entry of a verified number under the current key. The number is not kept. */
  entryForNumber(e164: string): Promise<DirectoryEntry> {
    return this.keys.entryForNumber(e164);
  }

  /**
   * Runs `fn` in a transaction that may change the directory, with the locks taken in the one
   * order that keeps it consistent: the write lock (no rotation can switch keys until it ends),
   * then the `directory` advisory lock (log versions become visible in commit order across
   * nodes), then the log, through `change`. `prepare` runs first, under the write lock but
   * outside the transaction: work under the current key that must not hold the database (an
   * OPRF evaluation). Whatever the change forgot leaves memory once it commits.
   */
  write<T>(fn: (change: DirectoryChange) => Promise<T>): Promise<T>;
  write<T, P>(
    fn: (change: DirectoryChange, prepared: P) => Promise<T>,
    prepare: () => Promise<P>,
  ): Promise<T>;
  async write<T, P>(
    fn: (change: DirectoryChange, prepared: P | undefined) => Promise<T>,
    prepare?: () => Promise<P>,
  ): Promise<T> {
    const forgotten: Uint8Array[] = [];
    const result = await this.writeLock.run(async () => {
      const prepared = prepare ? await prepare() : undefined;
      return this.db.transaction().execute(async (trx) => {
        await lock(trx, 'directory');
        const change: DirectoryChange = {
          trx,
          entries: this.keys.entries(),
          log: (fingerprint, op) => this.log.append(trx, fingerprint, op),
          forgetAccount: async (fingerprint, discoverable) => {
            await this.log.forgetAccount(trx, fingerprint, discoverable);
            forgotten.push(fingerprint);
          },
        };
        return fn(change, prepared);
      });
    });
    for (const fingerprint of forgotten) await this.publication.forgotten(fingerprint);
    return result;
  }

  /** Forgets deleted accounts' removals whose time has come; returns how many. */
  forgetTombstones(now?: number): Promise<number> {
    return this.log.forgetTombstones(now);
  }

  currentVersion(): Promise<number> {
    return this.log.version();
  }

  /** What a client holding (keyId, since, range) should fetch: a delta, or a snapshot's address. */
  payload(keyId?: string, since?: number, range?: bigint): Promise<DirectoryPayload> {
    return this.publication.payload(keyId, since, range);
  }

  /** The binary snapshot named by payload(); DIRECTORY_SNAPSHOT_STALE once superseded. */
  snapshotBytes(keyId: string, version: number): Promise<Uint8Array> {
    return this.publication.snapshotBytes(keyId, version);
  }

  /** Rotates the OPRF key (rotation.ts); an interrupted rotation is resumed. */
  rotate(options?: { onPhase?: (phase: RotationPhase) => void }): Promise<RotateKeyResponse> {
    return this.rotation.rotate(options);
  }

  /** The old keys' signed statements from `fromKeyId` to the current key (rotation-statements.ts). */
  rotations(fromKeyId?: string): Promise<RotationRecord[]> {
    return this.statements.chain(fromKeyId);
  }

  /** Settles when the old keys' tables are gone (tests, the rebuild benchmark). */
  retired(): Promise<void> {
    return this.keys.retired();
  }

  /** Stops the background clean-up after its current statement (the next start resumes it). */
  close(): Promise<void> {
    return this.keys.close();
  }
}
