/**
 * Every difference between the two SQL dialects the server speaks, in one place: the embedded
 * SQLite (one node) and PostgreSQL (any number of nodes sharing it). Callers write one query and
 * ask this module for the pieces that differ — column types, hex and string aggregation, bytes
 * parameters, advisory and row locks, the catalog — instead of branching on the dialect.
 */

import {
  type Kysely,
  PostgresAdapter,
  type QueryExecutorProvider,
  type RawBuilder,
  sql,
} from 'kysely';

export type Dialect = 'sqlite' | 'postgres';

/** Anything that runs statements: the database, a transaction, or a migration's handle. */
type Runs = QueryExecutorProvider;

/** Which SQL the database speaks. */
export function dialectOf(db: Pick<Kysely<unknown>, 'getExecutor'>): Dialect {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
}

/**
 * Whether other nodes may share this database: PostgreSQL may be shared, the embedded SQLite
 * file never is.
 */
export function sharedByNodes(db: Runs): boolean {
  return dialectOf(db) === 'postgres';
}

/**
 * Statements whose text starts with this comment are prepared once per connection on PostgreSQL
 * (a named statement, parsed and planned once: database.ts) instead of on every run — the hot
 * path's, each of one text for every batch (rowsOf). SQLite keeps its last 256 prepared
 * statements anyway (database.ts, withStatementCache), so the comment changes nothing there.
 * Only for statements whose text is one of a few: each text is prepared on every connection.
 */
export const PREPARED = '/*prepared*/';
/** The marker as the first piece of a `sql` template. */
export const prepared = sql.raw(PREPARED);

/** Column types: bytes, and 64-bit integers (millisecond times, sequence numbers). */
export function columnTypes(dialect: Dialect): {
  blob: RawBuilder<unknown>;
  int: RawBuilder<unknown>;
} {
  return dialect === 'postgres'
    ? { blob: sql.raw('bytea'), int: sql.raw('bigint') }
    : { blob: sql.raw('blob'), int: sql.raw('integer') };
}

/**
 * Makes the transaction's reads one snapshot: PostgreSQL's default (read committed) takes a new
 * snapshot per statement, so a version read and the rows read after it could straddle another
 * node's commit. Must be the transaction's first statement. SQLite's one connection already reads
 * one state per transaction.
 */
export async function snapshotReads(trx: Runs): Promise<void> {
  if (dialectOf(trx) !== 'postgres') return;
  await sql`set transaction isolation level repeatable read`.execute(trx);
}

/**
 * A transaction-scoped advisory lock (PostgreSQL's pg_advisory_xact_lock); nothing on SQLite,
 * whose one connection runs one transaction at a time.
 */
export async function advisoryLock(trx: Runs, key: bigint): Promise<void> {
  if (dialectOf(trx) !== 'postgres') return;
  await sql`select pg_advisory_xact_lock(${key})`.execute(trx);
}

/**
 * A read that the transaction will write back, locked against other nodes' transactions until it
 * commits (PostgreSQL's FOR UPDATE; SQLite's single writer needs none, and lacks the syntax).
 */
export function forUpdate<Q extends { forUpdate(): Q }>(trx: Runs, query: Q): Q {
  return dialectOf(trx) === 'postgres' ? query.forUpdate() : query;
}

/**
 * The locking clause that makes a read hold its rows against other nodes' writers until the
 * transaction ends: `for share of t` or `for update of t` on PostgreSQL; nothing on SQLite, whose
 * single connection runs one transaction at a time. With ORDER BY, PostgreSQL takes the row locks
 * in that order (the sort runs first), which is what keeps two writers from deadlocking.
 */
export function lockRows(db: Runs, mode: 'share' | 'update', table: string): RawBuilder<unknown> {
  if (dialectOf(db) !== 'postgres') return sql``;
  return sql`for ${sql.raw(mode)} of ${sql.ref(table)}`;
}

/**
 * Two writes in one round trip where the dialect can (PostgreSQL runs the first as a
 * data-modifying WITH clause of the second); SQLite runs them one after the other.
 */
export async function writeBoth(
  db: Runs,
  first: RawBuilder<unknown>,
  second: RawBuilder<unknown>,
): Promise<void> {
  if (dialectOf(db) === 'postgres') {
    await sql`${prepared}with first_write as (${first}) ${second}`.execute(db);
    return;
  }
  await first.execute(db);
  await second.execute(db);
}

/**
 * Whether a PostgreSQL transaction failed only because it met another one (deadlock detected,
 * serialization failure): run again, it succeeds.
 */
export function transientConflict(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001';
}

/** The column types `rowsOf` can carry. */
export type RowsColumn = 'text' | 'int' | 'bytes';

/**
 * A subquery holding `rows`, columns named `names` of types `types`, with one parameter per
 * column however many rows (PostgreSQL: arrays through unnest; SQLite: one JSON array through
 * json_each, bytes as hex): the statement text depends on the columns only, so every batch size
 * reuses one prepared statement and no driver's parameter limit applies. Null is allowed in any
 * column.
 */
export function rowsOf(
  db: Runs,
  names: readonly string[],
  types: readonly RowsColumn[],
  rows: ReadonlyArray<ReadonlyArray<string | number | Uint8Array | null>>,
): RawBuilder<unknown> {
  if (dialectOf(db) === 'sqlite') {
    const json = JSON.stringify(
      rows.map((row) =>
        row.map((v, i) =>
          types[i] === 'bytes' && v !== null ? Buffer.from(v as Uint8Array).toString('hex') : v,
        ),
      ),
    );
    const columns = types.map((type, i) =>
      type === 'bytes'
        ? sql`unhex(value ->> ${sql.lit(i)}) as ${sql.ref(names[i]!)}`
        : sql`value ->> ${sql.lit(i)} as ${sql.ref(names[i]!)}`,
    );
    return sql`select ${sql.join(columns)} from json_each(${json})`;
  }
  const arrays = types.map((type, i) => {
    const column = rows.map((row) => row[i] ?? null);
    return sql`cast(${column} as ${sql.raw(PG_ARRAY[type])})`;
  });
  return sql`select * from unnest(${sql.join(arrays)}) as t(${sql.join(names.map((n) => sql.ref(n)))})`;
}

/** rowsOf for one text column: `values` as a subquery of one column named `name`. */
export function textsOf(db: Runs, name: string, values: readonly string[]): RawBuilder<unknown> {
  return rowsOf(
    db,
    [name],
    ['text'],
    values.map((v) => [v]),
  );
}

const PG_ARRAY: Record<RowsColumn, string> = { text: 'text[]', int: 'bigint[]', bytes: 'bytea[]' };

/** A blob as hex text (SQLite: upper case, PostgreSQL: lower; Buffer reads either). */
export function hex(db: Runs, expr: RawBuilder<unknown>): RawBuilder<string> {
  return dialectOf(db) === 'postgres' ? sql`encode(${expr}, 'hex')` : sql`hex(${expr})`;
}

/** The aggregate concatenation of text values in `order`, `separator` between them. */
export function stringAgg(
  db: Runs,
  expr: RawBuilder<unknown>,
  separator: string,
  order: RawBuilder<unknown>,
): RawBuilder<string> {
  return dialectOf(db) === 'postgres'
    ? sql`string_agg(${expr}, ${sql.lit(separator)} order by ${order})`
    : sql`group_concat(${expr}, ${sql.lit(separator)} order by ${order})`;
}

/** A bytes parameter typed as such (PostgreSQL would otherwise take it for text in substr). */
export function bytes(db: Runs, value: Uint8Array): RawBuilder<Uint8Array> {
  return dialectOf(db) === 'postgres' ? sql`cast(${value} as bytea)` : sql`${value}`;
}

/** A subquery of one column: the bytes of each hex string in the JSON array `json`. */
export function bytesOfHexJson(db: Runs, json: string): RawBuilder<unknown> {
  return dialectOf(db) === 'postgres'
    ? sql`select decode(value, 'hex') from json_array_elements_text(cast(${json} as json))`
    : sql`select unhex(value) from json_each(${json})`;
}

/**
 * A subquery of two columns, (text, integer), holding `rows`: one parameter per column however
 * many rows (PostgreSQL: two arrays through unnest; SQLite: one JSON array through json_each), so
 * the statement text is the same for every batch and no driver's parameter limit applies. Meant
 * for a row-value `(a, b) in (…)` match, which both planners answer from an index on (a, b).
 */
export function textIntPairs(
  db: Runs,
  rows: ReadonlyArray<readonly [string, number]>,
): RawBuilder<unknown> {
  if (dialectOf(db) === 'sqlite') {
    return sql`select value ->> 0, value ->> 1 from json_each(${JSON.stringify(rows)})`;
  }
  const texts = rows.map((r) => r[0]);
  const ints = rows.map((r) => r[1]);
  return sql`select * from unnest(cast(${texts} as text[]), cast(${ints} as bigint[]))`;
}

/**
 * Makes deleted rows' earlier versions leave the disk now: SQLite keeps them in its write-ahead
 * log until a checkpoint overwrites them (secure_delete zeroes the main file only); a truncating
 * checkpoint removes them. PostgreSQL: nothing here (its own vacuum reclaims them).
 */
export async function purgeDeletedRows(db: Runs): Promise<void> {
  if (dialectOf(db) === 'sqlite') await sql`pragma wal_checkpoint(TRUNCATE)`.execute(db);
}

// --- The catalog ---------------------------------------------------------------------------------

/**
 * The names of the tables, all or those matching a pattern (given both ways: a PostgreSQL regular
 * expression and a SQLite glob).
 */
export async function tableNames(
  db: Runs,
  pattern?: { regex: string; glob: string },
): Promise<string[]> {
  const postgres = dialectOf(db) === 'postgres';
  const { rows } = postgres
    ? await sql<{ name: string }>`select tablename as name from pg_tables
        where schemaname = current_schema()
        ${pattern ? sql`and tablename ~ ${pattern.regex}` : sql``}`.execute(db)
    : await sql<{ name: string }>`select name from sqlite_master where type = 'table'
        ${pattern ? sql`and name glob ${pattern.glob}` : sql``}`.execute(db);
  return rows.map((r) => r.name);
}

/** The names of every table and index. */
export async function schemaNames(db: Runs): Promise<string[]> {
  const { rows } =
    dialectOf(db) === 'postgres'
      ? await sql<{ name: string }>`select tablename as name from pg_tables
          where schemaname = current_schema()
          union all select indexname from pg_indexes where schemaname = current_schema()`.execute(
          db,
        )
      : await sql<{ name: string }>`select name from sqlite_master`.execute(db);
  return rows.map((r) => r.name);
}

/** The statement that created an index, as the database reports it; undefined when none. */
export async function indexDefinition(db: Runs, name: string): Promise<string | undefined> {
  const { rows } =
    dialectOf(db) === 'postgres'
      ? await sql<{ def: string }>`select indexdef as def from pg_indexes
          where indexname = ${name}`.execute(db)
      : await sql<{ def: string }>`select sql as def from sqlite_master
          where name = ${name}`.execute(db);
  return rows[0]?.def;
}
