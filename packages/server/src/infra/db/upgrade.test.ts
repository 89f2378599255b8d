/**
 * Upgrades from every schema Parley has shipped (issue 20): for each prefix of the migration list
 * — 0001…N on SQLite, from 0006 (PostgreSQL's first) on PostgreSQL — a fixture database is made by
 * running the shipped migration files up to it, filled with the upgrade world (testing/
 * upgrade-world.ts) in the columns that schema has, then opened as the server opens it (every
 * later migration runs, foreign keys are checked) and read back: every row with every value its
 * old schema held, a column the old schema lacked at its migration's default, a table it lacked
 * empty (or derived, as 0011's queue counters), each account's directory entry in its key's table.
 * Then a server starts on it and an old device signs in.
 *
 * The fixtures are generated here from the migration files and constant data rather than checked
 * in as database files: a fixture made by the very files that shipped is the schema operators
 * have, for every prefix including the ones added later (no file to regenerate, nothing binary to
 * review), and the same data on every run. A shipped migration file must never change (the
 * migrations' index says so); the data here is written in each schema's own columns, so a change
 * that broke an old schema's data would fail below.
 */

import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import SQLite from 'better-sqlite3';
import { Kysely, type Migration, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { testServer } from '../../testing/index.js';
import {
  createPostgresDatabase,
  dropPostgresDatabases,
  postgresReachable,
} from '../../testing/test-databases.js';
import {
  ALIASES,
  credentialOf,
  ENTRY_COLUMNS,
  KEY_ID,
  OPRF_KEY_FILE,
  type Row,
  WORLD,
} from '../../testing/upgrade-world.js';
import { type Db, openDatabase } from './database.js';
import { type Dialect, tableNames } from './dialect.js';
import { postgresMigrations, sqliteMigrations } from './migrations/index.js';
import { directoryColumns, directoryTableName } from './schema.js';

interface Column {
  name: string;
  nullable: boolean;
  /** The declared default as SQL text, null when none. */
  default: string | null;
  identity: boolean;
}

/** The tables of a database and their columns (Kysely's own tables left out). */
async function schemaOf(db: Kysely<unknown>, dialect: Dialect): Promise<Map<string, Column[]>> {
  const tables = new Map<string, Column[]>();
  for (const table of await tableNames(db)) {
    if (table.startsWith('kysely_') || table.startsWith('sqlite_')) continue;
    if (dialect === 'sqlite') {
      const { rows } = await sql<{
        name: string;
        notnull: number;
        dflt_value: string | null;
        pk: number;
      }>`
        select * from pragma_table_info(${table})`.execute(db);
      tables.set(
        table,
        rows.map((c) => ({
          name: c.name,
          nullable: c.notnull === 0 && c.pk === 0,
          default: c.dflt_value,
          identity: false,
        })),
      );
    } else {
      const { rows } = await sql<{
        column_name: string;
        is_nullable: string;
        column_default: string | null;
        is_identity: string;
      }>`select column_name, is_nullable, column_default, is_identity from information_schema.columns
        where table_schema = current_schema() and table_name = ${table}
        order by ordinal_position`.execute(db);
      tables.set(
        table,
        rows.map((c) => ({
          name: c.column_name,
          nullable: c.is_nullable === 'YES',
          default: c.column_default,
          identity: c.is_identity === 'YES',
        })),
      );
    }
  }
  return tables;
}

/** A declared default as a value: 'nobody' / 'nobody'::text → 'nobody', 0 → 0. */
function defaultValue(column: Column): Row[string] {
  const d = column.default;
  if (d === null) return null;
  const text = /^'((?:[^']|'')*)'(?:::[\w ]+)?$/.exec(d);
  if (text) return text[1]!.replaceAll("''", "'");
  if (/^\(?-?\d+(\.\d+)?\)?$/.test(d)) return Number(d.replace(/[()]/g, ''));
  throw new Error(`cannot read the default ${d} of column ${column.name}`);
}

/** Writes the part of the world the fixture's schema can hold, in its own columns. */
async function fill(db: Kysely<unknown>, dialect: Dialect, prefix: string): Promise<void> {
  const schema = await schemaOf(db, dialect);
  for (const [table, rows] of Object.entries(WORLD)) {
    const columns = schema.get(table);
    if (!columns) continue;
    const names = new Set(columns.map((c) => c.name));
    for (const row of rows) {
      const values = new Map<string, Row[string]>();
      for (const column of columns) {
        if (column.name in row) values.set(column.name, row[column.name]!);
      }
      for (const [from, to] of Object.entries(ALIASES[table] ?? {})) {
        if (names.has(from) || !(from in row)) continue;
        if (to === 'rowid' && dialect !== 'sqlite') continue;
        if (values.has(to)) assert.equal(values.get(to), row[from], `${table}.${from} = ${to}`);
        values.set(to, row[from]!);
      }
      for (const column of columns) {
        if (!values.has(column.name) && !column.nullable && column.default === null) {
          throw new Error(
            `the upgrade world has no value for ${table}.${column.name} (schema at ${prefix}): add one to testing/upgrade-world.ts`,
          );
        }
      }
      const keys = [...values.keys()];
      const override =
        dialect === 'postgres' && columns.some((c) => c.identity && values.has(c.name))
          ? sql`overriding system value`
          : sql``;
      await sql`insert into ${sql.table(table)} (${sql.join(keys.map((k) => sql.id(k)))})
        ${override} values (${sql.join(keys.map((k) => values.get(k)))})`.execute(db);
    }
    // As a database that made these rows itself: its identity sequences past them.
    for (const column of columns.filter((c) => c.identity)) {
      await sql`select setval(pg_get_serial_sequence(${table}, ${column.name}),
        (select max(${sql.id(column.name)}) from ${sql.table(table)}))`.execute(db);
    }
  }
  if (!schema.get('accounts')!.some((c) => c.name === 'element')) {
    // Since 0006 the entries live in their key's table, which the server creates per key.
    const entries = sql.table(directoryTableName(KEY_ID));
    await sql`create table ${entries} (${directoryColumns(dialect)})`.execute(db);
    for (const a of WORLD.accounts!) {
      await sql`insert into ${entries} (account_seq, element, fingerprint, token)
        values (${a.seq}, ${a.element}, ${a.fingerprint}, ${a.token})`.execute(db);
    }
  }
}

/** Rows as comparable text: blobs in hex, in a stable order. */
function normalise(rows: readonly Record<string, unknown>[], columns: string[]): string[] {
  return rows
    .map((row) =>
      JSON.stringify(
        columns.map((c) => {
          const v = row[c];
          return v instanceof Uint8Array ? `x'${Buffer.from(v).toString('hex')}'` : v;
        }),
      ),
    )
    .sort();
}

/** Everything the world put into the fixture is in the migrated database, nothing else. */
async function check(db: Db, dialect: Dialect, fixture: Map<string, Column[]>): Promise<void> {
  const current = await schemaOf(db as unknown as Kysely<unknown>, dialect);
  const hadQueue = fixture.has('queue');
  for (const [table, columns] of current) {
    if (table.startsWith('directory_') && table !== 'directory_log') continue;
    const world = WORLD[table];
    assert.ok(world && world.length > 0, `the upgrade world has rows for ${table}`);
    const names = columns.map((c) => c.name);
    for (const name of names) {
      assert.ok(name in world[0]!, `the upgrade world has a value for ${table}.${name}`);
    }
    const before = fixture.get(table);
    let expected: Row[];
    if (before) {
      const had = new Set(before.map((c) => c.name));
      const aliases = ALIASES[table] ?? {};
      expected = world.map((row) =>
        Object.fromEntries(
          columns.map((c) => [
            c.name,
            had.has(c.name) ||
            (aliases[c.name] && (had.has(aliases[c.name]!) || aliases[c.name] === 'rowid'))
              ? row[c.name]!
              : defaultValue(c),
          ]),
        ),
      );
    } else if (table === 'queue_heads') {
      // 0011 gives every device a counter at the old queue's highest seq (none before 0004).
      expected = world.map((row) => ({ ...row, last_seq: hadQueue ? row.last_seq! : 0 }));
    } else {
      expected = [];
    }
    const { rows } = await sql<Record<string, unknown>>`select * from ${sql.table(table)}`.execute(
      db,
    );
    assert.deepEqual(normalise(rows, names), normalise(expected, names), `table ${table}`);
  }
  const { rows: entries } = await sql<Record<string, unknown>>`select * from
    ${sql.table(directoryTableName(KEY_ID))}`.execute(db);
  const entryColumns = ['account_seq', ...ENTRY_COLUMNS];
  assert.deepEqual(
    normalise(entries, entryColumns),
    normalise(
      WORLD.accounts!.map((a) => ({ ...a, account_seq: a.seq! })),
      entryColumns,
    ),
    'directory entries',
  );
}

/**
 * A server starts on the migrated database (with the deployment's OPRF key file) and serves it: a
 * device of the old schema authenticates and sees its account, the directory answers.
 */
async function serve(dataDir: string, env: Record<string, string> = {}): Promise<void> {
  writeFileSync(join(dataDir, 'oprf-keys.json'), OPRF_KEY_FILE, { mode: 0o600 });
  const t = await testServer({ PARLEY_DATA_DIR: dataDir, ...env });
  try {
    const me = await t.call('GET', '/v1/account', { token: credentialOf('device-a1') });
    assert.equal(me.status, 200, JSON.stringify(me.json));
    assert.equal(me.json.accountId, 'acct-a');
    const devices = (me.json.devices as { deviceId: string }[]).map((d) => d.deviceId).sort();
    assert.deepEqual(devices, ['device-a1', 'device-a2']);
    const directory = await t.call('GET', '/v1/directory', { token: credentialOf('device-c1') });
    assert.equal(directory.status, 200, JSON.stringify(directory.json));
  } finally {
    await t.server.close();
  }
}

/** Every prefix of a dialect's migration list, by the name of its last migration. */
const prefixes = (migrations: Record<string, Migration>) => Object.keys(migrations);

const postgres = await postgresReachable();

describe('docs/operations.md', () => {
  it('says, for every migration since PostgreSQL’s first, whether old nodes may run beside it', () => {
    const docs = readFileSync(
      fileURLToPath(new URL('../../../../../docs/operations.md', import.meta.url)),
      'utf8',
    );
    const [first, ...later] = Object.keys(postgresMigrations);
    assert.ok(first);
    for (const name of later) {
      assert.match(docs, new RegExp(`^\\| ${name} \\| [^|]+ \\| (yes|\\*\\*no\\*\\*)`, 'm'), name);
    }
  });
});

describe('upgrades from every shipped SQLite schema', () => {
  for (const prefix of prefixes(sqliteMigrations)) {
    it(`from ${prefix} to the current schema, data intact`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'parley-upgrade-'));
      const old = new Kysely<unknown>({
        dialect: new SqliteDialect({ database: new SQLite(join(dir, 'parley.sqlite')) }),
      });
      let fixture: Map<string, Column[]>;
      try {
        const provider = { getMigrations: async () => sqliteMigrations };
        const { error } = await new Migrator({ db: old, provider }).migrateTo(prefix);
        assert.equal(error, undefined);
        await fill(old, 'sqlite', prefix);
        fixture = await schemaOf(old, 'sqlite');
      } finally {
        await old.destroy();
      }
      const db = await openDatabase({ kind: 'sqlite', dataDir: dir });
      try {
        await check(db, 'sqlite', fixture);
      } finally {
        await db.destroy();
      }
      await serve(dir);
    });
  }
});

describe('upgrades from every shipped PostgreSQL schema', {
  skip: postgres || process.env.CI === 'true' ? false : 'no PostgreSQL at 127.0.0.1:5432',
}, () => {
  after(() => dropPostgresDatabases());
  for (const prefix of prefixes(postgresMigrations)) {
    it(`from ${prefix} to the current schema, data intact`, async () => {
      const url = await createPostgresDatabase();
      const old = new Kysely<unknown>({
        dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 1 }) }),
      });
      let fixture: Map<string, Column[]>;
      try {
        const provider = { getMigrations: async () => postgresMigrations };
        const { error } = await new Migrator({ db: old, provider }).migrateTo(prefix);
        assert.equal(error, undefined);
        await fill(old, 'postgres', prefix);
        fixture = await schemaOf(old, 'postgres');
      } finally {
        await old.destroy();
      }
      const db = await openDatabase({ kind: 'postgres', url });
      try {
        await check(db, 'postgres', fixture);
      } finally {
        await db.destroy();
      }
      await serve(mkdtempSync(join(tmpdir(), 'parley-upgrade-')), { PARLEY_DATABASE_URL: url });
    });
  }
});
