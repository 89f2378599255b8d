/**
 * Opens the embedded SQLite database (WAL) under the data directory and brings its schema up to
 * date. PostgreSQL joins behind the same Kysely interface in the scale-out work.
 */

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, type SqliteDatabase, SqliteDialect, type Transaction } from 'kysely';
import { migrationProvider } from './migrations.js';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;
/** The database or a transaction on it. */
export type Executor = Kysely<Database> | Transaction<Database>;

export async function openDatabase(dataDir: string): Promise<Db> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const sqlite = new SQLite(join(dataDir, 'parley.sqlite'));
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  // Off while migrating (better-sqlite3 turns them on by default): see below.
  sqlite.pragma('foreign_keys = OFF');
  // Deleted rows are overwritten, not left readable in free pages (no number is stored, but
  // account elements of deleted accounts should not linger either).
  sqlite.pragma('secure_delete = ON');
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database: withStatementCache(sqlite) }),
  });
  const { error } = await new Migrator({ db, provider: migrationProvider }).migrateToLatest();
  if (error) {
    await db.destroy();
    throw error;
  }
  // Foreign keys on only after migrating: a migration that rebuilds a table (SQLite's procedure
  // for schema changes ALTER TABLE cannot make) must not cascade its drop to child tables.
  const violations = sqlite.pragma('foreign_key_check') as unknown[];
  if (violations.length > 0) {
    await db.destroy();
    throw new Error(`database: ${violations.length} foreign key violations after migrating`);
  }
  sqlite.pragma('foreign_keys = ON');
  return db;
}

/**
 * Kysely prepares every statement anew; preparing costs about as much as running a small one.
 * The hot statements (queue reads, acks, inserts) repeat the same SQL, so the last 256 prepared
 * statements are kept. Safe because Kysely runs each statement to completion before the next
 * (nothing here streams).
 */
function withStatementCache(sqlite: SQLite.Database, size = 256): SqliteDatabase {
  const cache = new Map<string, SQLite.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(sql: string) {
      let statement = cache.get(sql);
      if (statement) {
        cache.delete(sql);
      } else {
        statement = sqlite.prepare(sql);
        if (cache.size >= size) cache.delete(cache.keys().next().value!);
      }
      cache.set(sql, statement);
      return statement;
    },
  };
}
