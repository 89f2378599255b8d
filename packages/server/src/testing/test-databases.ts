/**
 * Test support for the two storage backends: a fresh PostgreSQL database per test server (on the
 * PostgreSQL at 127.0.0.1:5432 that .ci/run starts), dropped at the end of the run, and the schema
 * questions tests ask in either dialect.
 */

import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { postgresMigrations, sqliteMigrations } from '../infra/db/migrations/index.js';

/** The maintenance database, to create and drop test databases from (trust auth, as on CI). */
export const POSTGRES_ADMIN_URL =
  process.env.PARLEY_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Which backend `testServer()` gives by default: PARLEY_TEST_STORAGE=postgres, or SQLite. */
export function testStorage(): 'sqlite' | 'postgres' {
  return process.env.PARLEY_TEST_STORAGE === 'postgres' ? 'postgres' : 'sqlite';
}

async function admin<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    connectionString: POSTGRES_ADMIN_URL,
    connectionTimeoutMillis: 3_000,
  });
  client.on('error', () => {});
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

export async function postgresReachable(): Promise<boolean> {
  try {
    return await admin(async (c) => (await c.query('select 1 as one')).rows[0]?.one === 1);
  } catch {
    return false;
  }
}

const created: string[] = [];

/** A new, empty database; its URL. Dropped by dropPostgresDatabases(). */
export async function createPostgresDatabase(): Promise<string> {
  // Named after the test run (scripts/test.mjs sets PARLEY_TEST_RUN_ID), so the scan at its end
  // takes this run's databases only, never those of a run going on beside it.
  const run = /^[a-z0-9]{1,16}$/.test(process.env.PARLEY_TEST_RUN_ID ?? '')
    ? process.env.PARLEY_TEST_RUN_ID
    : `p${process.pid}`;
  const name = `parley_test_${run}_${randomBytes(4).toString('hex')}`;
  await admin((c) => c.query(`create database ${name}`));
  created.push(name);
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * Drops every database this process created (connections still open are closed first). With
 * PARLEY_TEST_KEEP_DATABASES=1 (scripts/test.mjs) they are kept for the scan at the end of the
 * run, which drops them.
 */
export async function dropPostgresDatabases(): Promise<void> {
  const names = created.splice(0);
  if (names.length === 0 || process.env.PARLEY_TEST_KEEP_DATABASES === '1') return;
  await admin(async (c) => {
    for (const name of names) await c.query(`drop database if exists ${name} with (force)`);
  });
}

/** Schema questions tests ask, in either dialect. */
export { indexDefinition, schemaNames, tableNames } from '../infra/db/dialect.js';

/** Every row of every table of the database at `url`, as PostgreSQL prints it (bytea as hex). */
export async function dumpPostgresDatabase(url: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const tables = await client.query<{ name: string }>(
      `select tablename as name from pg_tables where schemaname = current_schema()`,
    );
    const out: string[] = [];
    for (const { name } of tables.rows) {
      const rows = await client.query<{ row: string }>(
        `select t::text as row from ${client.escapeIdentifier(name)} as t`,
      );
      for (const { row } of rows.rows) out.push(`${name} ${row}`);
    }
    return out;
  } finally {
    await client.end();
  }
}

/** Every migration's name in order, per dialect: tests say "the latest" without naming it. */
export const MIGRATION_NAMES = {
  sqlite: Object.keys(sqliteMigrations),
  postgres: Object.keys(postgresMigrations),
} as const;

/**
 * A database at an older schema, as a release that shipped it left it: the migrations up to and
 * including `last`, nothing after (upgrade tests; `parley admin migrate`).
 */
export async function databaseAt(
  storage: { kind: 'sqlite'; dataDir: string } | { kind: 'postgres'; url: string },
  last: string,
): Promise<void> {
  const db =
    storage.kind === 'sqlite'
      ? new Kysely<unknown>({
          dialect: new SqliteDialect({
            database: new SQLite(join(mkdirOwner(storage.dataDir), 'parley.sqlite')),
          }),
        })
      : new Kysely<unknown>({
          dialect: new PostgresDialect({
            pool: new pg.Pool({ connectionString: storage.url, max: 1 }),
          }),
        });
  try {
    const migrations = storage.kind === 'sqlite' ? sqliteMigrations : postgresMigrations;
    const provider = { getMigrations: async () => migrations };
    const { error } = await new Migrator({ db, provider }).migrateTo(last);
    if (error) throw error;
  } finally {
    await db.destroy();
  }
}

function mkdirOwner(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}
