/**
 * Migration 0014-push-subscriptions, the same on both dialects: each device's Web Push
 * subscription (at most one; a new one replaces it), deleted with the device. `pushed_at` is when
 * the last wake-up was claimed for the device (push/subscriptions.ts): the claim is one
 * conditional UPDATE, so two nodes storing messages for the device at once cannot both push
 * within the coalescing window. 0: nothing claimed since the device last connected.
 */

import { type Kysely, type Migration, sql } from 'kysely';
import { columnTypes, dialectOf } from '../dialect.js';

const migration: Migration = {
  async up(db: Kysely<unknown>) {
    const { blob, int } = columnTypes(dialectOf(db));
    await sql`create table push_subscriptions (
      device_id text primary key references devices (id) on delete cascade,
      endpoint text not null,
      p256dh ${blob} not null,
      auth ${blob} not null,
      created_at ${int} not null,
      pushed_at ${int} not null
    )`.execute(db);
  },
};

export const sqlite = migration;
export const postgres = migration;
