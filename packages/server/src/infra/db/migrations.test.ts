/**
 * Migration 0003 rebuilds the accounts table (named unique indexes, no next_* columns): rows,
 * row ids and child rows survive it, and foreign keys are enforced again afterwards. Migration
 * 0005 moves each account's directory entry into the current key's own table: accounts keep their
 * order (seq = the old row id), entries and child rows survive, deleting an account deletes its
 * entry. Migration 0008 leaves old accounts without identity key or lock, old devices without
 * certificate. Migration 0011 gives each device queue its own seq counter without losing an entry
 * or letting a later seq fall below one a device has seen (both databases).
 */

import * as assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, type Selectable, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import {
  createPostgresDatabase,
  dropPostgresDatabases,
  postgresReachable,
} from '../../testing/test-databases.js';
import { type Db, openDatabase } from './database.js';
import { postgresMigrations, sqliteMigrations } from './migrations/index.js';
import type { QueueTable } from './schema.js';

const migrationProvider = { getMigrations: async () => sqliteMigrations };

describe('migration 0003: accounts rebuilt with named unique indexes', () => {
  it('keeps accounts, row ids, devices and key usage, and enforces foreign keys after', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-migration-test-'));
    const sqlite = new SQLite(join(dir, 'parley.sqlite'));
    sqlite.pragma('foreign_keys = ON');
    const old = new Kysely<unknown>({ dialect: new SqliteDialect({ database: sqlite }) });
    const { error } = await new Migrator({
      db: old,
      provider: migrationProvider,
    }).migrateTo('0002-staged-rotation');
    assert.equal(error, undefined);
    const blob = (byte: number, length: number) => Buffer.alloc(length, byte);
    await sql`insert into accounts (rowid, id, element, key_id, fingerprint, token, discoverable,
        created_at, budget_level, budget_at, next_key_id)
      values (41, 'acct1', ${blob(1, 32)}, 'k1', ${blob(2, 8)}, ${blob(3, 32)}, 1, 'then', 2.5, 7,
        'k2')`.execute(old);
    await sql`insert into devices (id, account_id, name, credential_hash, created_at)
      values ('dev1', 'acct1', 'phone', ${blob(4, 32)}, 'then')`.execute(old);
    await sql`insert into key_usage (account_id, key_id, evaluated, translated)
      values ('acct1', 'k1', 5, 0)`.execute(old);
    await old.destroy();

    // Up to 0004 only, as openDatabase would run it (foreign keys off while migrating).
    const upgraded = new SQLite(join(dir, 'parley.sqlite'));
    upgraded.pragma('foreign_keys = OFF');
    const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: upgraded }) });
    const migrated = await new Migrator({ db, provider: migrationProvider }).migrateTo(
      '0004-messaging',
    );
    assert.equal(migrated.error, undefined);
    upgraded.pragma('foreign_keys = ON');
    try {
      const rows = await sql<Record<string, unknown>>`select rowid, * from accounts`.execute(db);
      assert.equal(rows.rows.length, 1);
      const row = rows.rows[0]!;
      assert.equal(row.rowid, 41);
      assert.equal(row.id, 'acct1');
      assert.deepEqual(Buffer.from(row.token as Uint8Array), blob(3, 32));
      assert.equal(row.budget_level, 2.5);
      assert.ok(!('next_key_id' in row), 'the staging columns are gone');
      const devices = await sql`select * from devices`.execute(db);
      assert.equal(devices.rows.length, 1, 'the table rebuild did not cascade to devices');
      assert.equal((await sql`select * from key_usage`.execute(db)).rows.length, 1);
      const indexes = await sql<{ name: string }>`select name from sqlite_master
        where type = 'index' and tbl_name = 'accounts'`.execute(db);
      const names = indexes.rows.map((r) => r.name);
      assert.ok(names.includes('accounts_element') && names.includes('accounts_token'), `${names}`);
      await assert.rejects(
        sql`insert into devices (id, account_id, name, credential_hash, created_at)
          values ('dev2', 'nobody', 'x', ${blob(5, 32)}, 'now')`.execute(db),
        /FOREIGN KEY/,
      );
      await assert.rejects(
        sql`insert into accounts (id, element, key_id, fingerprint, token, discoverable,
            created_at) values ('acct2', ${blob(1, 32)}, 'k1', ${blob(9, 8)}, ${blob(9, 32)}, 1,
            'now')`.execute(db),
        /UNIQUE/,
      );
    } finally {
      await db.destroy();
    }
  });
});

describe('migration 0005: a directory table per key', () => {
  it("moves the entries into the current key's table, keeps accounts and their order", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-migration-test-'));
    const sqlite = new SQLite(join(dir, 'parley.sqlite'));
    const old = new Kysely<unknown>({ dialect: new SqliteDialect({ database: sqlite }) });
    const { error } = await new Migrator({
      db: old,
      provider: migrationProvider,
    }).migrateTo('0004-messaging');
    assert.equal(error, undefined);
    const blob = (byte: number, length: number) => Buffer.alloc(length, byte);
    const keyId = '0123456789';
    await sql`insert into meta (name, value) values ('current_key_id', ${keyId})`.execute(old);
    for (const [rowid, id, byte] of [
      [41, 'acct1', 1],
      [7, 'acct0', 5],
    ] as const) {
      await sql`insert into accounts (rowid, id, element, key_id, fingerprint, token,
          discoverable, created_at, budget_level, budget_at, presence)
        values (${rowid}, ${id}, ${blob(byte, 32)}, ${keyId}, ${blob(byte + 1, 8)},
          ${blob(byte + 2, 32)}, 1, 'then', 2.5, 7, 'contacts')`.execute(old);
    }
    await sql`insert into devices (id, account_id, name, credential_hash, created_at)
      values ('dev1', 'acct1', 'phone', ${blob(4, 32)}, 'then')`.execute(old);
    await sql`create table rotation_stage (account_rowid integer primary key)`.execute(old);
    await old.destroy();

    const db = await openDatabase({ kind: 'sqlite', dataDir: dir });
    try {
      const accounts = await db.selectFrom('accounts').selectAll().orderBy('seq').execute();
      assert.deepEqual(
        accounts.map((a) => [a.seq, a.id, a.presence, a.budget_level]),
        [
          [7, 'acct0', 'contacts', 2.5],
          [41, 'acct1', 'contacts', 2.5],
        ],
      );
      assert.ok(!('element' in accounts[0]!), 'the entry columns are gone');
      const table = `directory_${keyId}`;
      const entries = await sql<{ account_seq: number; token: Uint8Array }>`select * from
        ${sql.table(table)} order by account_seq`.execute(db);
      assert.deepEqual(
        entries.rows.map((e) => [e.account_seq, Buffer.from(e.token).toString('hex')]),
        [
          [7, blob(7, 32).toString('hex')],
          [41, blob(3, 32).toString('hex')],
        ],
      );
      const names = (
        await sql<{ name: string }>`select name from sqlite_master`.execute(db)
      ).rows.map((r) => r.name);
      assert.ok(names.includes(`${table}_token`) && names.includes('accounts_id'), `${names}`);
      assert.ok(!names.includes('rotation_stage'), 'a stale stage is dropped');
      const devices = await db.selectFrom('devices').selectAll().execute();
      assert.equal(devices.length, 1);
      // 0008: an old device has no certificate and was never seen; an old account no identity
      // key and no lock; the linking relay's table is there, empty.
      assert.equal(devices[0]!.certificate, null);
      assert.equal(devices[0]!.last_seen_at, 0);
      assert.deepEqual(
        accounts.map((a) => [a.identity_key, a.registration_lock, a.lock_failures]),
        [
          [null, null, 0],
          [null, null, 0],
        ],
      );
      assert.deepEqual(await db.selectFrom('link_sessions').selectAll().execute(), []);
      // A new account comes after every old one; deleting an account deletes its entry.
      const { seq } = await db
        .insertInto('accounts')
        .values({ id: 'acct2', discoverable: 1, created_at: 'now', budget_level: 0, budget_at: 0 })
        .returning('seq')
        .executeTakeFirstOrThrow();
      assert.equal(seq, 42);
      await db.deleteFrom('accounts').where('id', '=', 'acct0').execute();
      const left = await sql<{ n: number }>`select count(*) as n from ${sql.table(table)}`.execute(
        db,
      );
      assert.equal(left.rows[0]!.n, 1);
      await assert.rejects(
        sql`insert into ${sql.table(table)} (account_seq, element, fingerprint, token)
          values (99, ${blob(9, 32)}, ${blob(9, 8)}, ${blob(9, 32)})`.execute(db),
        /FOREIGN KEY/,
      );
    } finally {
      await db.destroy();
    }
  });
});

describe('migration 0011: a seq per device queue', () => {
  /**
   * Three entries written by the old global counter (seq 1 and 3 for dev1, 2 for dev2), the
   * last one acknowledged already; dev3 has none. What a device has seen must stay below
   * anything it is given later, whichever device saw the highest seq.
   */
  async function fillOld(db: Kysely<unknown>) {
    const blob = (byte: number) => Buffer.alloc(32, byte);
    await sql`insert into accounts (id, discoverable, created_at) values ('acct1', 1, 'then')`.execute(
      db,
    );
    for (const id of ['dev1', 'dev2', 'dev3']) {
      await sql`insert into devices (id, account_id, name, credential_hash, created_at)
        values (${id}, 'acct1', 'phone', ${blob(4)}, 'then')`.execute(db);
    }
    for (const [device, payload] of [
      ['dev1', 1],
      ['dev2', 2],
      ['dev1', 3],
    ] as const) {
      await sql`insert into queue (device_id, kind, message_id, group_id, sender_account,
          sender_device, epoch, payload, sent_at, expires_at)
        values (${device}, 'application', ${`m${payload}`}, 'g', 'acct1', 'dev3', 1,
          ${blob(payload)}, 10, 20)`.execute(db);
    }
    await sql`delete from queue where message_id = 'm3'`.execute(db);
  }

  async function checkMigrated(db: Db) {
    const rows = await db.selectFrom('queue').selectAll().orderBy('id').execute();
    assert.deepEqual(
      rows.map((r) => [r.id, r.device_id, r.seq, r.message_id, Buffer.from(r.payload!)[0]]),
      [
        [1, 'dev1', 1, 'm1', 1],
        [2, 'dev2', 2, 'm2', 2],
      ],
    );
    const heads = await db.selectFrom('queue_heads').selectAll().orderBy('device_id').execute();
    assert.deepEqual(
      heads.map((h) => [h.device_id, h.last_seq]),
      [
        ['dev1', 3],
        ['dev2', 3],
        ['dev3', 3],
      ],
    );
    // A seq is unique within its queue only.
    await db
      .insertInto('queue')
      .values({ ...rowOf(rows[0]!), device_id: 'dev2', seq: 1 })
      .execute();
    await assert.rejects(
      db.insertInto('queue').values(rowOf(rows[0]!)).execute(),
      /unique|duplicate/i,
    );
    // Deleting a device takes its counter with it.
    await db.deleteFrom('devices').where('id', '=', 'dev3').execute();
    assert.equal((await db.selectFrom('queue_heads').selectAll().execute()).length, 2);
  }

  const rowOf = (r: Selectable<QueueTable>) => {
    const { id: _id, ...rest } = r;
    return rest;
  };

  it('keeps every entry and its seq, and starts each counter above every seq given (SQLite)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-migration-test-'));
    const old = new Kysely<unknown>({
      dialect: new SqliteDialect({ database: new SQLite(join(dir, 'parley.sqlite')) }),
    });
    const { error } = await new Migrator({ db: old, provider: migrationProvider }).migrateTo(
      '0009-presence-allow-list',
    );
    assert.equal(error, undefined);
    await fillOld(old);
    await old.destroy();
    const db = await openDatabase({ kind: 'sqlite', dataDir: dir });
    try {
      await checkMigrated(db);
    } finally {
      await db.destroy();
    }
  });

  it('keeps every entry and its seq, and starts each counter above every seq given (PostgreSQL)', async (t) => {
    if (!(await postgresReachable())) {
      if (process.env.CI === 'true') assert.fail('PostgreSQL is not reachable (required under CI)');
      t.skip('no PostgreSQL at 127.0.0.1:5432');
      return;
    }
    const url = await createPostgresDatabase();
    const old = new Kysely<unknown>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 1 }) }),
    });
    const { error } = await new Migrator({
      db: old,
      provider: { getMigrations: async () => postgresMigrations },
    }).migrateTo('0009-presence-allow-list');
    assert.equal(error, undefined);
    await fillOld(old);
    await old.destroy();
    const db = await openDatabase({ kind: 'postgres', url });
    try {
      await checkMigrated(db);
    } finally {
      await db.destroy();
      await dropPostgresDatabases();
    }
  });
});
