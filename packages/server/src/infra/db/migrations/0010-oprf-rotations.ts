/**
 * Migration 0010-oprf-rotations, the same on both dialects: one row per OPRF key rotation, the
 * statement the old key signed for the new one (core rotation-statement.ts). Kept for good: a
 * client that pinned a key long ago follows these rows to the current one. In the database, not
 * the key file, so every node serves the same chain.
 */

import { type Kysely, type Migration, sql } from 'kysely';
import { columnTypes, dialectOf } from '../dialect.js';

const migration: Migration = {
  async up(db: Kysely<unknown>) {
    const { blob, int } = columnTypes(dialectOf(db));
    await sql`create table oprf_rotations (
      new_key_id text primary key,
      old_key_id text not null unique,
      old_public_key ${blob} not null,
      new_public_key ${blob} not null,
      rotated_at ${int} not null,
      signature ${blob} not null
    )`.execute(db);
  },
};

export const sqlite = migration;
export const postgres = migration;
