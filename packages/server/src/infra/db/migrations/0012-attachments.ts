/**
 * Migration 0012-attachments: the blob store of end-to-end encrypted attachments
 * (messaging/attachments.ts). `attachments` holds each upload's size, uploader and conversation —
 * never a key, a file name or a content type; `attachment_chunks` which chunks arrived (an upload
 * resumes from it); `attachment_pending` the recipient devices that have not fetched it yet. On
 * PostgreSQL the ciphertext itself lives in `blob_chunks` (infra/blobs/postgres-store.ts), so
 * every node of a cluster reads it; the SQLite deployment keeps it in files under the data
 * directory and has no such table.
 */

import { type Kysely, type Migration, sql } from 'kysely';
import { columnTypes, dialectOf } from '../dialect.js';

async function tables(db: Kysely<unknown>) {
  const { int } = columnTypes(dialectOf(db));
  await sql`create table attachments (
    id text primary key,
    account_id text not null,
    device_id text not null,
    group_id text not null,
    size ${int} not null,
    chunk_bytes integer not null,
    chunk_count integer not null,
    recipients integer not null default 0,
    completed_at ${int},
    created_at ${int} not null,
    expires_at ${int} not null
  )`.execute(db);
  await sql`create index attachments_account on attachments (account_id)`.execute(db);
  await sql`create index attachments_expiry on attachments (expires_at)`.execute(db);
  await sql`create table attachment_chunks (
    attachment_id text not null references attachments (id) on delete cascade,
    idx integer not null,
    primary key (attachment_id, idx)
  )`.execute(db);
  await sql`create table attachment_pending (
    attachment_id text not null references attachments (id) on delete cascade,
    device_id text not null references devices (id) on delete cascade,
    primary key (attachment_id, device_id)
  )`.execute(db);
}

export const sqlite: Migration = { up: tables };

export const postgres: Migration = {
  async up(db: Kysely<unknown>) {
    await tables(db);
    await sql`create table blob_chunks (
      blob_id text not null,
      idx integer not null,
      data bytea not null,
      primary key (blob_id, idx)
    )`.execute(db);
  },
};
