/**
 * Versioned schema migrations, applied in order at start-up (Kysely's Migrator). SQLite databases
 * carry their history from the first release; PostgreSQL support came with the schema at 0006, so
 * its list starts there, with the same tables in PostgreSQL's types. A later change is added to
 * both lists under the same name.
 */

import { type Kysely, type Migration, PostgresAdapter, type RawBuilder, sql } from 'kysely';

export const sqliteMigrations: Record<string, Migration> = {
  '0001-directory': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('accounts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('element', 'blob', (c) => c.notNull().unique())
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('fingerprint', 'blob', (c) => c.notNull())
        .addColumn('token', 'blob', (c) => c.notNull().unique())
        .addColumn('discoverable', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('budget_level', 'real', (c) => c.notNull().defaultTo(0))
        .addColumn('budget_at', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .createTable('devices')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) =>
          c.notNull().references('accounts.id').onDelete('cascade'),
        )
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('credential_hash', 'blob', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('devices_account').on('devices').column('account_id').execute();
      await db.schema
        .createTable('directory_log')
        .addColumn('version', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('fingerprint', 'blob', (c) => c.notNull())
        .addColumn('op', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('directory_log_key')
        .on('directory_log')
        .columns(['key_id', 'version'])
        .execute();
      await db.schema
        .createTable('key_usage')
        .addColumn('account_id', 'text', (c) =>
          c.notNull().references('accounts.id').onDelete('cascade'),
        )
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('evaluated', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('translated', 'integer', (c) => c.notNull().defaultTo(0))
        .addPrimaryKeyConstraint('key_usage_pk', ['account_id', 'key_id'])
        .execute();
      await db.schema
        .createTable('meta')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0002-staged-rotation': {
    // A rotation writes each account's entry under the new key here, in small batches while
    // the server keeps serving, and then switches all rows in one statement.
    async up(db: Kysely<unknown>) {
      for (const column of ['next_element', 'next_fingerprint', 'next_token']) {
        await db.schema.alterTable('accounts').addColumn(column, 'blob').execute();
      }
      await db.schema.alterTable('accounts').addColumn('next_key_id', 'text').execute();
    },
  },
  '0003-rotation-by-index-rebuild': {
    // Key rotation now stages entries in a separate table (rotation_stage, created per rotation)
    // and switches them in with the unique indexes dropped and rebuilt (a sort, several times
    // faster than 2^24 random index updates). Column constraints make SQLite indexes that cannot
    // be dropped, so the table is rebuilt once with named indexes and without the next_* columns
    // (SQLite's documented procedure; openDatabase runs migrations with foreign keys off, so the
    // drop does not cascade to devices). Row ids are kept.
    async up(db: Kysely<unknown>) {
      await sql`create table accounts_rebuilt (
        id text primary key,
        element blob not null,
        key_id text not null,
        fingerprint blob not null,
        token blob not null,
        discoverable integer not null,
        created_at text not null,
        budget_level real default 0 not null,
        budget_at integer default 0 not null
      )`.execute(db);
      await sql`insert into accounts_rebuilt (rowid, id, element, key_id, fingerprint, token,
          discoverable, created_at, budget_level, budget_at)
        select rowid, id, element, key_id, fingerprint, token, discoverable, created_at,
          budget_level, budget_at from accounts order by rowid`.execute(db);
      await sql`drop table accounts`.execute(db);
      await sql`alter table accounts_rebuilt rename to accounts`.execute(db);
      await sql`create unique index accounts_element on accounts (element)`.execute(db);
      await sql`create unique index accounts_token on accounts (token)`.execute(db);
    },
  },
  '0004-messaging': {
    // Messaging: KeyPackages, groups and one durable queue per device. A queue row is deleted when
    // its device acknowledges it; `sent_messages` remembers message ids so a retried send is not
    // stored twice. Contact links are keyed digests, so a database dump shows no social graph.
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('accounts')
        .addColumn('presence', 'text', (c) => c.notNull().defaultTo('nobody'))
        .execute();
      await db.schema
        .createTable('key_packages')
        .addColumn('device_id', 'text', (c) =>
          c.notNull().references('devices.id').onDelete('cascade'),
        )
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('data', 'blob', (c) => c.notNull())
        .addColumn('last_resort', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('key_packages_pk', ['device_id', 'id'])
        .execute();
      await db.schema
        .createTable('groups')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('epoch', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'integer', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('group_members')
        .addColumn('group_id', 'text', (c) =>
          c.notNull().references('groups.id').onDelete('cascade'),
        )
        .addColumn('device_id', 'text', (c) =>
          c.notNull().references('devices.id').onDelete('cascade'),
        )
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('group_members_pk', ['group_id', 'device_id'])
        .execute();
      await db.schema
        .createIndex('group_members_device')
        .on('group_members')
        .column('device_id')
        .execute();
      await db.schema
        .createTable('queue')
        .addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('device_id', 'text', (c) =>
          c.notNull().references('devices.id').onDelete('cascade'),
        )
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('message_id', 'text', (c) => c.notNull())
        .addColumn('group_id', 'text', (c) => c.notNull())
        .addColumn('sender_account', 'text', (c) => c.notNull())
        .addColumn('sender_device', 'text', (c) => c.notNull())
        .addColumn('epoch', 'integer', (c) => c.notNull())
        .addColumn('payload', 'blob')
        .addColumn('key_package_id', 'text')
        .addColumn('sent_at', 'integer', (c) => c.notNull())
        .addColumn('expires_at', 'integer', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('queue_device')
        .on('queue')
        .columns(['device_id', 'seq'])
        .execute();
      // No index on expires_at: every insert and delete would pay for it, and expired entries
      // are a prefix of the table in seq order (Mailbox.sweep).
      await db.schema
        .createTable('sent_messages')
        .addColumn('sender_device', 'text', (c) => c.notNull())
        .addColumn('message_id', 'text', (c) => c.notNull())
        .addColumn('digest', 'blob', (c) => c.notNull())
        .addColumn('expires_at', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('sent_messages_pk', ['sender_device', 'message_id'])
        .execute();
      await db.schema
        .createIndex('sent_messages_expiry')
        .on('sent_messages')
        .column('expires_at')
        .execute();
      await db.schema
        .createTable('contact_links')
        .addColumn('digest', 'blob', (c) => c.primaryKey())
        .addColumn('created_at', 'integer', (c) => c.notNull())
        .execute();
    },
  },
  '0005-account-deletion': {
    // A deleted account's removal is kept in the log only until forget_at (the history of its
    // fingerprint is deleted with the account); a version floor in meta then sends clients that
    // synced before it to a snapshot.
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('directory_log').addColumn('forget_at', 'integer').execute();
    },
  },
  '0006-directory-table-per-key': {
    // Each OPRF key's directory entries (element, fingerprint, token) live in a table of their
    // own, directory_<key id>, keyed by the account's seq: a key rotation fills the new key's
    // table while the old one serves, and switches by naming the new key current (no rewrite of
    // the accounts). The accounts get an explicit integer key (AUTOINCREMENT: never reused, so an
    // entry can never be taken for a later account's; VACUUM keeps it) and lose the entry
    // columns. Only the token is indexed: an element is found by its token, which it determines.
    // Indexes are built after the bulk copies (a sort each, not random inserts).
    async up(db: Kysely<unknown>) {
      await sql`drop table if exists rotation_stage`.execute(db);
      const { rows: meta } = await sql<{ value: string }>`select value from meta
        where name = 'current_key_id'`.execute(db);
      const keyId = meta[0]?.value;
      const { rows: stray } = await sql<{ n: number }>`select count(*) as n from accounts
        where key_id is not ${keyId ?? null}`.execute(db);
      if (stray[0]!.n > 0) {
        throw new Error(
          `migration 0006: ${stray[0]!.n} accounts are not under the current key ${keyId}; restore the database from a backup`,
        );
      }
      await sql`create table accounts_v5 (
        seq integer primary key autoincrement,
        id text not null,
        discoverable integer not null,
        presence text default 'nobody' not null,
        created_at text not null,
        budget_level real default 0 not null,
        budget_at integer default 0 not null
      )`.execute(db);
      await sql`insert into accounts_v5 (seq, id, discoverable, presence, created_at,
          budget_level, budget_at)
        select rowid, id, discoverable, presence, created_at, budget_level, budget_at
        from accounts order by rowid`.execute(db);
      if (keyId !== undefined) {
        const table = sql.table(directoryTableName(keyId));
        await sql`create table ${table} (${directoryColumns('sqlite')})`.execute(db);
        await sql`insert into ${table} (account_seq, element, fingerprint, token)
          select rowid, element, fingerprint, token from accounts order by rowid`.execute(db);
        await sql`create unique index ${sql.id(`${directoryTableName(keyId)}_token`)}
          on ${table} (token)`.execute(db);
      }
      await sql`drop table accounts`.execute(db);
      await sql`alter table accounts_v5 rename to accounts`.execute(db);
      await sql`create unique index accounts_id on accounts (id)`.execute(db);
    },
  },
};

/** Migrations after 0006, the same in both lists (their SQL is in both dialects). */
const shared: Record<string, Migration> = {
  '0007-budget-carry': {
    // A deleted account's discovery budget level, kept under a keyed digest until it drains.
    async up(db: Kysely<unknown>) {
      const { blob, int } = types(db);
      await sql`create table budget_carry (
        digest ${blob} primary key,
        level double precision not null,
        at ${int} not null,
        forget_at ${int} not null
      )`.execute(db);
      await sql`create index budget_carry_forget on budget_carry (forget_at)`.execute(db);
    },
  },
};

/** Column types by dialect, for shared migrations. */
function types(db: Kysely<unknown>) {
  return db.getExecutor().adapter instanceof PostgresAdapter
    ? { blob: sql.raw('bytea'), int: sql.raw('bigint') }
    : { blob: sql.raw('blob'), int: sql.raw('integer') };
}

/**
 * The same schema as the SQLite list ends with, in PostgreSQL's types: bytea for blobs, bigint for
 * millisecond times and sequence numbers (identity columns: never reused, like AUTOINCREMENT).
 */
export const postgresMigrations: Record<string, Migration> = {
  '0006-directory-table-per-key': {
    async up(db: Kysely<unknown>) {
      await sql`create table accounts (
        seq bigint generated always as identity primary key,
        id text not null,
        discoverable integer not null,
        presence text default 'nobody' not null,
        created_at text not null,
        budget_level double precision default 0 not null,
        budget_at bigint default 0 not null
      )`.execute(db);
      await sql`create unique index accounts_id on accounts (id)`.execute(db);
      await sql`create table devices (
        id text primary key,
        account_id text not null references accounts (id) on delete cascade,
        name text not null,
        credential_hash bytea not null,
        created_at text not null
      )`.execute(db);
      await sql`create index devices_account on devices (account_id)`.execute(db);
      await sql`create table directory_log (
        version bigint generated always as identity primary key,
        key_id text not null,
        fingerprint bytea not null,
        op text not null,
        forget_at bigint
      )`.execute(db);
      await sql`create index directory_log_key on directory_log (key_id, version)`.execute(db);
      // Deleting an account deletes its fingerprint's history: by fingerprint.
      await sql`create index directory_log_fingerprint on directory_log (fingerprint)`.execute(db);
      await sql`create table key_usage (
        account_id text not null references accounts (id) on delete cascade,
        key_id text not null,
        evaluated bigint default 0 not null,
        translated bigint default 0 not null,
        constraint key_usage_pk primary key (account_id, key_id)
      )`.execute(db);
      await sql`create table meta (name text primary key, value text not null)`.execute(db);
      await sql`create table key_packages (
        device_id text not null references devices (id) on delete cascade,
        id text not null,
        data bytea not null,
        last_resort integer not null,
        created_at bigint not null,
        constraint key_packages_pk primary key (device_id, id)
      )`.execute(db);
      await sql`create table groups (
        id text primary key,
        epoch bigint not null,
        created_at bigint not null
      )`.execute(db);
      await sql`create table group_members (
        group_id text not null references groups (id) on delete cascade,
        device_id text not null references devices (id) on delete cascade,
        account_id text not null,
        constraint group_members_pk primary key (group_id, device_id)
      )`.execute(db);
      await sql`create index group_members_device on group_members (device_id)`.execute(db);
      await sql`create table queue (
        seq bigint generated always as identity primary key,
        device_id text not null references devices (id) on delete cascade,
        kind text not null,
        message_id text not null,
        group_id text not null,
        sender_account text not null,
        sender_device text not null,
        epoch bigint not null,
        payload bytea,
        key_package_id text,
        sent_at bigint not null,
        expires_at bigint not null
      )`.execute(db);
      await sql`create index queue_device on queue (device_id, seq)`.execute(db);
      await sql`create table sent_messages (
        sender_device text not null,
        message_id text not null,
        digest bytea not null,
        expires_at bigint not null,
        constraint sent_messages_pk primary key (sender_device, message_id)
      )`.execute(db);
      await sql`create index sent_messages_expiry on sent_messages (expires_at)`.execute(db);
      await sql`create table contact_links (
        digest bytea primary key,
        created_at bigint not null
      )`.execute(db);
    },
  },
};

for (const [name, migration] of Object.entries(shared)) {
  sqliteMigrations[name] = migration;
  postgresMigrations[name] = migration;
}

/**
 * The columns of a key's directory table: one entry per account, by the account's seq (so a
 * rotation reads and appends in one order); deleting an account deletes its entries.
 */
export function directoryColumns(dialect: 'sqlite' | 'postgres'): RawBuilder<unknown> {
  const [int, blob] = dialect === 'postgres' ? ['bigint', 'bytea'] : ['integer', 'blob'];
  return sql`
  account_seq ${sql.raw(int)} primary key references accounts (seq) on delete cascade,
  element ${sql.raw(blob)} not null,
  fingerprint ${sql.raw(blob)} not null,
  token ${sql.raw(blob)} not null`;
}

/** The table holding key `keyId`'s directory entries (key ids are 10 lowercase hex digits). */
export function directoryTableName(keyId: string): string {
  if (!/^[0-9a-f]{10}$/.test(keyId)) throw new Error(`not an OPRF key id: ${keyId}`);
  return `directory_${keyId}`;
}
