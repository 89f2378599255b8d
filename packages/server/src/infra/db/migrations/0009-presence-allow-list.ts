/**
 * Migration 0009-presence-allow-list, the same on both dialects: the accounts each account lets
 * see it online. A row is HMAC(link key, owner ‖ member) beside the owner's id, so a database dump
 * shows how many accounts each one allows, not which. It starts empty: contact links (who
 * resolved whose number) no longer grant presence, and clients put their contacts back on the
 * list as they next run discovery (docs/design.md, "Presence").
 */

import { type Kysely, type Migration, sql } from 'kysely';
import { columnTypes, dialectOf } from '../dialect.js';

const migration: Migration = {
  async up(db: Kysely<unknown>) {
    const { blob, int } = columnTypes(dialectOf(db));
    await sql`create table presence_allow (
      digest ${blob} primary key,
      owner_id text not null references accounts (id) on delete cascade,
      created_at ${int} not null
    )`.execute(db);
    await sql`create index presence_allow_owner on presence_allow (owner_id)`.execute(db);
  },
};

export const sqlite = migration;
export const postgres = migration;
