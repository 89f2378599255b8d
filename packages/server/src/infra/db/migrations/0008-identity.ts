/**
 * Migration 0008-identity, the same on both dialects: account identity keys and the registration
 * lock, device certificates and activity, and the linking relay's sessions. No column holds a
 * phone number, a PIN or a device secret: the lock is a scrypt verifier, a linked device's
 * credential a SHA-256 hash, as for every device.
 */

import { type Kysely, type Migration, sql } from 'kysely';
import { columnTypes, dialectOf } from '../dialect.js';

const migration: Migration = {
  async up(db: Kysely<unknown>) {
    const { blob, int } = columnTypes(dialectOf(db));
    // Null for accounts made before identity keys, until their first device sets one.
    await sql`alter table accounts add column identity_key ${blob}`.execute(db);
    // The registration lock's verifier (identity/registration-lock.ts); null when off.
    await sql`alter table accounts add column registration_lock text`.execute(db);
    await sql`alter table accounts add column lock_failures integer not null default 0`.execute(db);
    // Null until the device sends it (PUT /v1/device/certificate).
    await sql`alter table devices add column certificate ${blob}`.execute(db);
    // When the device last authenticated (ms; refreshed at most hourly): the registration lock
    // holds while some device of the account was active in the last REGISTRATION_LOCK_DAYS.
    await sql`alter table devices add column last_seen_at ${int} not null default 0`.execute(db);
    await sql`create table link_sessions (
      id text primary key,
      handle text not null unique,
      public_key ${blob} not null,
      device_name text not null,
      credential_hash ${blob} not null,
      created_at ${int} not null,
      expires_at ${int} not null,
      account_id text,
      device_id text,
      envelope ${blob}
    )`.execute(db);
    await sql`create index link_sessions_expiry on link_sessions (expires_at)`.execute(db);
  },
};

export const sqlite = migration;
export const postgres = migration;
