/**
 * Migration 0003-rotation-by-index-rebuild: The accounts table rebuilt with named, droppable
 * unique indexes (SQLite only).
 */

import { type Kysely, type Migration, sql } from 'kysely';

export const sqlite: Migration = {
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
};
