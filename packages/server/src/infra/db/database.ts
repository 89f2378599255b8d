/**
 * Opens the database and brings its schema up to date: the embedded SQLite file under the data
 * directory (the default, one node), or PostgreSQL (PARLEY_DATABASE_URL, any number of nodes).
 * Both sit behind the same Kysely interface; what differs between them is in dialect.ts.
 */

import { createHash } from 'node:crypto';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import SQLite from 'better-sqlite3';
import {
  Kysely,
  type Migration,
  Migrator,
  PostgresDialect,
  type SqliteDatabase,
  SqliteDialect,
  sql,
  type Transaction,
} from 'kysely';
import pg from 'pg';
import type { Storage } from '../../config/config.js';
import { sqlitePath } from '../data-dir.js';
import { advisoryLock, PREPARED } from './dialect.js';
import { postgresMigrations, sqliteMigrations } from './migrations/index.js';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;
/** The database or a transaction on it. */
export type Executor = Kysely<Database> | Transaction<Database>;

export async function openDatabase(storage: Storage): Promise<Db> {
  return storage.kind === 'postgres' ? openPostgres(storage.url) : openSqlite(storage.dataDir);
}

/**
 * What a write transaction must hold so that several nodes writing one PostgreSQL keep the order
 * a single SQLite writer gives for free: `directory` for changes to the directory log (a client's
 * delta sync reads versions in commit order). A transaction-scoped advisory lock, taken first in
 * the transaction. No-op on SQLite, whose one connection runs one transaction at a time. Device
 * queues need no such lock: each is ordered by its own counter row (messaging/queues.ts).
 */
export async function lock(trx: Transaction<Database>, name: 'directory'): Promise<void> {
  await advisoryLock(trx, ADVISORY_LOCKS[name]);
}

/** Arbitrary but fixed: the first word spells "parl" in ASCII. */
const ADVISORY_LOCKS = { directory: 0x7061726c_0001n } as const;

// --- SQLite ------------------------------------------------------------------------------------

/**
 * The data directory 0700 (even when it existed: it holds the keys) and the database 0600, made
 * so before SQLite opens it: SQLite gives its -wal and -shm files the database's own mode, and
 * would create the database 0644 under the usual umask.
 */
function ownerOnly(dataDir: string, path: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chmodSync(dataDir, 0o700);
  closeSync(openSync(path, 'a', 0o600));
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    if (existsSync(file)) chmodSync(file, 0o600);
  }
}

async function openSqlite(dataDir: string): Promise<Db> {
  const path = sqlitePath(dataDir);
  ownerOnly(dataDir, path);
  const sqlite = new SQLite(path);
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
  await migrate(db, sqliteMigrations);
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
      // After some errors (disk full, I/O error) SQLite has rolled the transaction back itself;
      // Kysely's ROLLBACK would then fail with "no transaction is active" and hide the cause.
      if (sql === 'rollback' && !sqlite.inTransaction) return NOTHING_TO_ROLL_BACK;
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

const NOTHING_TO_ROLL_BACK = {
  reader: false,
  all: () => [],
  run: () => ({ changes: 0, lastInsertRowid: 0 }),
  iterate: () => [][Symbol.iterator](),
} as unknown as SQLite.Statement;

// --- PostgreSQL --------------------------------------------------------------------------------

/** Connections per node: the mailbox writer, socket reads, HTTP requests, the directory. */
const POOL_SIZE = 16;

async function openPostgres(url: string): Promise<Db> {
  const pool = new pg.Pool({
    connectionString: url,
    max: POOL_SIZE,
    // Counts, seqs and millisecond times are int8: JavaScript numbers hold them exactly up to
    // 2^53, far beyond any seq or time here. numeric is not used.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID
          ? (value: string) => Number(value)
          : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
    connectionTimeoutMillis: 10_000,
  });
  // An idle connection the server drops (PostgreSQL restarted) must not crash the process; the
  // pool replaces it on the next query.
  pool.on('error', () => {});
  pool.on('connect', prepareMarked);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  try {
    await sql`select 1`.execute(db);
  } catch (cause) {
    await db.destroy();
    const where = safeUrl(url);
    throw new Error(
      `Cannot reach PostgreSQL at ${where}: ${(cause as Error).message}. Check PARLEY_DATABASE_URL and that the server is running.`,
      { cause },
    );
  }
  await migrate(db, postgresMigrations);
  return db;
}

const INT8_OID = 20;

/** Routes the marked statements of a new pool connection through named prepared statements. */
function prepareMarked(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  const names = new Map<string, string>();
  (client as { query: unknown }).query = (config: unknown, ...rest: unknown[]) => {
    if (typeof config !== 'string' || !config.startsWith(PREPARED)) return query(config, ...rest);
    let name = names.get(config);
    if (!name) {
      name = `p${createHash('sha256').update(config).digest('hex').slice(0, 24)}`;
      names.set(config, name);
    }
    const [values, callback] = rest;
    return query({ name, text: config, values }, callback);
  };
}

/** The URL without its password, for messages. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.username ? `${u.username}@` : ''}${u.host}${u.pathname}`;
  } catch {
    return 'an invalid URL';
  }
}

/** What `parley admin migrate` would do: migrations run already, those it would run, and unknown ones. */
export interface MigrationPlan {
  applied: string[];
  pending: string[];
  /** Run in this database but not known to this version: a newer release migrated it. */
  unknown: string[];
}

/**
 * The migration plan of a database, read without changing anything: a SQLite file is opened
 * read-only (a missing one is a new database, every migration pending), PostgreSQL is only read.
 */
export async function migrationPlan(storage: Storage): Promise<MigrationPlan> {
  let db: Kysely<unknown>;
  let migrations: Record<string, Migration>;
  if (storage.kind === 'sqlite') {
    migrations = sqliteMigrations;
    const path = sqlitePath(storage.dataDir);
    if (!existsSync(path)) return { applied: [], pending: Object.keys(migrations), unknown: [] };
    db = new Kysely({
      dialect: new SqliteDialect({ database: new SQLite(path, { readonly: true }) }),
    });
  } else {
    migrations = postgresMigrations;
    db = new Kysely({
      dialect: new PostgresDialect({
        pool: new pg.Pool({
          connectionString: storage.url,
          max: 1,
          connectionTimeoutMillis: 10_000,
        }),
      }),
    });
  }
  try {
    const provider = { getMigrations: async () => migrations };
    const listed = await new Migrator({ db, provider }).getMigrations().catch((cause: unknown) => {
      if (storage.kind === 'sqlite') throw cause;
      throw new Error(
        `Cannot read the migrations of PostgreSQL at ${safeUrl(storage.url)}: ${(cause as Error).message}. Check PARLEY_DATABASE_URL and that the server is running.`,
        { cause },
      );
    });
    const applied = listed.filter((m) => m.executedAt).map((m) => m.name);
    const known = new Set(Object.keys(migrations));
    const { rows } = await sql<{ name: string }>`select name from kysely_migration`
      .execute(db)
      .catch(() => ({ rows: [] as { name: string }[] }));
    return {
      applied,
      pending: listed.filter((m) => !m.executedAt).map((m) => m.name),
      unknown: rows
        .map((r) => r.name)
        .filter((name) => !known.has(name))
        .sort(),
    };
  } finally {
    await db.destroy();
  }
}

async function migrate(db: Db, migrations: Record<string, Migration>): Promise<void> {
  const provider = { getMigrations: async () => migrations };
  const { error } = await new Migrator({ db, provider }).migrateToLatest();
  if (error) {
    await db.destroy();
    throw error;
  }
}

/**
 * Whether an error means the database cannot serve right now (PostgreSQL down, restarting or
 * unreachable; SQLite's disk full or failing) rather than a fault in the request: the client is
 * told SERVICE_UNAVAILABLE and retries, instead of INTERNAL.
 */
export function storageUnavailable(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : '';
  return (
    // PostgreSQL: connection exceptions (08…), operator intervention (57P01–57P03: shutdown,
    // crash, not accepting connections yet), insufficient resources (53…: disk full, memory).
    /^(08|53)/.test(code) ||
    /^57P0[1-3]$/.test(code) ||
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND'].includes(code) ||
    /Connection terminated|connection timeout|timeout exceeded when trying to connect/i.test(
      message,
    ) ||
    // SQLite: disk full, I/O error, read-only file system, locked past busy_timeout.
    /^SQLITE_(FULL|IOERR|READONLY|BUSY|CANTOPEN)/.test(code)
  );
}
