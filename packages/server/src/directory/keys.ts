/**
 * The directory's key lifecycle: which OPRF key is current (chosen once, at the first start, and
 * recorded in the database), the table of directory entries each key has, deriving an account's
 * entry under a key, and emptying the tables of keys no longer used, in the background.
 */

import { createHash } from 'node:crypto';
import {
  directoryFingerprint,
  directoryToken,
  type Oprf,
  ParleyError,
  RISTRETTO255_GENERATOR,
} from '@parley/core';
import { sql } from 'kysely';
import { type Db, type Executor, lock } from '../infra/db/database.js';
import { dialectOf, sharedByNodes, tableNames } from '../infra/db/dialect.js';
import { directoryColumns, directoryTableName } from '../infra/db/schema.js';
import type { KeyStore } from '../infra/oprf/key-store.js';
import type { OprfPool } from '../infra/oprf/oprf-pool.js';

export const sha512 = (data: Uint8Array): Uint8Array =>
  new Uint8Array(createHash('sha512').update(data).digest());

export interface DirectoryEntry {
  element: Uint8Array;
  fingerprint: Uint8Array;
  token: Uint8Array;
}

/** The meta row naming the key a rotation in progress moves to. */
export const ROTATION_TARGET = 'rotation_key_id';
/** Entries deleted per statement when emptying an old key's table. */
const RETIRE_CHUNK = 16_384;

export class DirectoryKeys {
  private keyId = '';
  /** The background clean-up of tables of keys no longer used (retire). */
  private retiring: Promise<void> = Promise.resolve();
  private closing = false;
  private readonly publicKeys = new Map<string, Uint8Array>();

  constructor(
    private readonly db: Db,
    private readonly pool: OprfPool,
    readonly store: KeyStore,
    private readonly oprf: Oprf,
  ) {}

  get currentKeyId(): string {
    return this.keyId;
  }

  retainedKeyIds(): string[] {
    return this.store.list().map((k) => k.id);
  }

  /** Throws KEY_ID_UNKNOWN unless `keyId` is the current key. */
  requireCurrent(keyId: string): void {
    if (keyId !== this.keyId) {
      throw new ParleyError('KEY_ID_UNKNOWN', { details: { currentKeyId: this.keyId } });
    }
  }

  async init(): Promise<void> {
    let current = await this.metaValue('current_key_id');
    if (!current || !this.store.get(current)) {
      // Under the directory lock: nodes starting together on an empty PostgreSQL agree on one key.
      current = await this.db.transaction().execute(async (trx) => {
        await lock(trx, 'directory');
        const named = await trx
          .selectFrom('meta')
          .select('value')
          .where('name', '=', 'current_key_id')
          .executeTakeFirst();
        if (named && this.store.get(named.value)) return named.value;
        // Keys from the environment cannot be added to: a new database starts with the newest.
        const supplied = this.store.readOnly
          ? this.store
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
        // Nodes sharing a database share its key: one that lacks it must not make its own.
        const shared = sharedByNodes(trx);
        if (named && (Number(accounts.n) > 0 || shared)) {
          throw new Error(
            `The OPRF key ${named.value} named by the database is missing from ${this.store.path}; ${
              shared
                ? 'every node sharing this database needs the same oprf-keys.json (copy it from a running node).'
                : 'restore the key file from a backup.'
            }`,
          );
        }
        const id = this.store.add(this.oprf.generateSecretKey()).id;
        await this.setCurrentKey(trx, id);
        return id;
      });
    }
    this.keyId = current;
    await this.createEntriesTable(this.db, current);
    await this.createTokenIndex(this.db, current);
    await this.loadIntoPool();
    // Tables of keys no longer current (a crash came between a rotation's switch and the end of
    // its clean-up) are emptied now, in the background.
    const target = await this.metaValue(ROTATION_TARGET);
    const stale = (await this.tables()).filter((k) => k !== current && k !== target);
    if (stale.length > 0) this.retire(stale);
  }

  async metaValue(name: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('meta')
      .select('value')
      .where('name', '=', name)
      .executeTakeFirst();
    return row?.value;
  }

  /** The key ids that have a directory table. */
  async tables(): Promise<string[]> {
    const names = await tableNames(this.db, {
      regex: '^directory_[0-9a-f]{10}$',
      glob: 'directory_[0-9a-f]*',
    });
    return names.map((name) => name.slice('directory_'.length));
  }

  async createEntriesTable(db: Executor, keyId: string): Promise<void> {
    await sql`create table if not exists ${sql.table(directoryTableName(keyId))} (
      ${directoryColumns(dialectOf(db))})`.execute(db);
  }

  async createTokenIndex(db: Executor, keyId: string): Promise<void> {
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

  /**
   * pkS = k·G of a retained key (RFC 9497 VOPRF), which clients pin per key id and check every
   * evaluation proof against; undefined for a key no longer kept. One multiplication per key, cached.
   */
  publicKey(keyId: string): Uint8Array | undefined {
    let pk = this.publicKeys.get(keyId);
    if (!pk) {
      const stored = this.store.get(keyId);
      if (!stored) return undefined;
      const secret = new Uint8Array(Buffer.from(stored.secret, 'base64'));
      pk = this.oprf.scalarMult(secret, RISTRETTO255_GENERATOR);
      this.publicKeys.set(keyId, pk);
    }
    return pk;
  }

  /** Hands every key of the store to the OPRF workers. */
  async loadIntoPool(): Promise<void> {
    const keys: Record<string, Uint8Array> = {};
    for (const k of this.store.list()) keys[k.id] = new Uint8Array(Buffer.from(k.secret, 'base64'));
    await this.pool.setKeys(keys);
  }

  async setCurrentKey(db: Executor, keyId: string): Promise<void> {
    await db
      .insertInto('meta')
      .values({ name: 'current_key_id', value: keyId })
      .onConflict((oc) => oc.column('name').doUpdateSet({ value: keyId }))
      .execute();
  }

  /** After a rotation's switch committed: `keyId` is current from now on. */
  switchTo(keyId: string): void {
    this.keyId = keyId;
  }

  /** A new key, written to the key file before anything is derived under it. */
  generate(): string {
    return this.store.add(this.oprf.generateSecretKey()).id;
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

  /**
   * Empties and drops the tables of keys no longer used, in the background: the token index in
   * one statement, then the rows in chunks, so the event loop and writers get their turn between
   * them (with secure_delete every freed page is overwritten: gigabytes at 2^24). A crash midway
   * is finished by the next start (init).
   */
  retire(keyIds: string[]): void {
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
}
