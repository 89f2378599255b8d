/** Migration 0007-budget-carry, the same on both dialects: a deleted account's discovery budget. */

import { type Kysely, type Migration, sql } from 'kysely';
import { columnTypes, dialectOf } from '../dialect.js';

const migration: Migration = {
  // A deleted account's discovery budget level, kept under a keyed digest until it drains.
  async up(db: Kysely<unknown>) {
    const { blob, int } = columnTypes(dialectOf(db));
    await sql`create table budget_carry (
      digest ${blob} primary key,
      level double precision not null,
      at ${int} not null,
      forget_at ${int} not null
    )`.execute(db);
    await sql`create index budget_carry_forget on budget_carry (forget_at)`.execute(db);
  },
};

export const sqlite = migration;
export const postgres = migration;
