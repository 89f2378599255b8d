/**
 * Migration 0003 rebuilds the accounts table (named unique indexes, no next_* columns): rows,
 * row ids and child rows survive it, and foreign keys are enforced again afterwards.
 */

import * as assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, sql } from 'kysely';
import { openDatabase } from './database.js';
import { migrationProvider } from './migrations.js';

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

    const db = await openDatabase(dir);
    try {
      const rows = await sql<Record<string, unknown>>`select rowid, * from accounts`.execute(db);
      assert.equal(rows.rows.length, 1);
      const row = rows.rows[0]!;
      assert.equal(row.rowid, 41);
      assert.equal(row.id, 'acct1');
      assert.deepEqual(Buffer.from(row.token as Uint8Array), blob(3, 32));
      assert.equal(row.budget_level, 2.5);
      assert.ok(!('next_key_id' in row), 'the staging columns are gone');
      const devices = await db.selectFrom('devices').selectAll().execute();
      assert.equal(devices.length, 1, 'the table rebuild did not cascade to devices');
      assert.equal((await db.selectFrom('key_usage').selectAll().execute()).length, 1);
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
