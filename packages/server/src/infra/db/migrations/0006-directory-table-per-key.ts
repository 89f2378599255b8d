/**
 * Migration 0006-directory-table-per-key. SQLite: each OPRF key's directory entries move to a table
 * of their own. PostgreSQL: its first migration, the whole schema as SQLite has it after this one.
 */

import { type Kysely, type Migration, sql } from 'kysely';
import { directoryColumns, directoryTableName } from '../schema.js';

export const sqlite: Migration = {
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
};

/**
 * The same schema as the SQLite list ends with, in PostgreSQL's types: bytea for blobs, bigint for
 * millisecond times and sequence numbers (identity columns: never reused, like AUTOINCREMENT).
 */
export const postgres: Migration = {
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
};
