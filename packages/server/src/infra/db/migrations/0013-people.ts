/**
 * Migration 0013-people, the same on both dialects: profiles, blocks and spam reports.
 * - `profiles`: each account's profile as its owner sealed it (core profile.ts: a fixed-size
 *   ciphertext under a key the server never sees), with the version the owner gave it.
 * - `blocks`: HMAC(link key, "block" ‖ blocker ‖ blocked) beside the blocker's id, as the
 *   presence allow-list keeps its pairs: a dump without the key shows how many accounts each
 *   one blocks, not which.
 * - `spam_reports`: the reported account, when, and the texts only if the reporter chose to
 *   attach them; not who reported.
 */

import { type Kysely, type Migration, sql } from 'kysely';
import { columnTypes, dialectOf } from '../dialect.js';

const migration: Migration = {
  async up(db: Kysely<unknown>) {
    const dialect = dialectOf(db);
    const { blob, int } = columnTypes(dialect);
    await sql`create table profiles (
      account_id text primary key references accounts (id) on delete cascade,
      version ${int} not null,
      ciphertext ${blob} not null,
      updated_at ${int} not null
    )`.execute(db);
    await sql`create table blocks (
      digest ${blob} primary key,
      blocker_id text not null references accounts (id) on delete cascade,
      created_at ${int} not null
    )`.execute(db);
    await sql`create index blocks_blocker on blocks (blocker_id)`.execute(db);
    const id =
      dialect === 'postgres'
        ? sql`id bigint generated always as identity primary key`
        : sql`id integer primary key autoincrement`;
    await sql`create table spam_reports (
      ${id},
      reported_id text not null,
      messages text,
      created_at ${int} not null
    )`.execute(db);
  },
};

export const sqlite = migration;
export const postgres = migration;
