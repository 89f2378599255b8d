/**
 * Migration 0011-device-queue-seq: a device queue's seq counts per device, not per cluster. Each
 * device gets a row in `queue_heads` holding the last seq given out in its queue; a writer takes
 * that row's lock, so only writers of the same queue wait for each other (messaging/mailbox.ts
 * says why a reader can then never skip an entry). The queue keeps a cluster-wide `id` for the
 * order rows were written in (the expiry sweep walks it) and gains `seq`, unique per device.
 *
 * Existing rows keep their seq, and every device's counter starts at the highest seq the old
 * global counter ever gave out (acknowledged rows included): a device may have seen any seq up to
 * it, so every later one must be larger, or its reader (which asks for entries after the last seq
 * it got) would skip them.
 */

import { type Kysely, type Migration, sql } from 'kysely';

export const sqlite: Migration = {
  async up(db: Kysely<unknown>) {
    // The old counter's high-water mark: AUTOINCREMENT records it in sqlite_sequence even when
    // the queue is empty.
    const { rows } = await sql<{ top: number }>`select max(
        coalesce((select seq from sqlite_sequence where name = 'queue'), 0),
        coalesce((select max(seq) from queue), 0)) as top`.execute(db);
    const top = rows[0]?.top ?? 0;
    // SQLite cannot add a NOT NULL column or change a key in place: the table is rebuilt (foreign
    // keys are off while migrating, and nothing references the queue).
    await sql`create table queue_new (
      id integer primary key,
      device_id text not null references devices (id) on delete cascade,
      seq integer not null,
      kind text not null,
      message_id text not null,
      group_id text not null,
      sender_account text not null,
      sender_device text not null,
      epoch integer not null,
      payload blob,
      key_package_id text,
      sent_at integer not null,
      expires_at integer not null
    )`.execute(db);
    await sql`insert into queue_new (id, device_id, seq, kind, message_id, group_id,
        sender_account, sender_device, epoch, payload, key_package_id, sent_at, expires_at)
      select seq, device_id, seq, kind, message_id, group_id, sender_account, sender_device,
        epoch, payload, key_package_id, sent_at, expires_at from queue`.execute(db);
    await sql`drop table queue`.execute(db);
    await sql`alter table queue_new rename to queue`.execute(db);
    await sql`create unique index queue_device on queue (device_id, seq)`.execute(db);
    await createHeads(db, sql`integer`, top);
  },
};

export const postgres: Migration = {
  async up(db: Kysely<unknown>) {
    // The identity sequence remembers the last value it gave even when the queue is empty.
    const { rows } = await sql<{ top: number | string }>`select greatest(
        coalesce(pg_sequence_last_value(pg_get_serial_sequence('queue', 'seq')), 0),
        coalesce((select max(seq) from queue), 0)) as top`.execute(db);
    const top = Number(rows[0]?.top ?? 0);
    await sql`alter table queue rename column seq to id`.execute(db);
    await sql`alter table queue add column seq bigint`.execute(db);
    await sql`update queue set seq = id`.execute(db);
    await sql`alter table queue alter column seq set not null`.execute(db);
    await sql`drop index queue_device`.execute(db);
    await sql`create unique index queue_device on queue (device_id, seq)`.execute(db);
    await createHeads(db, sql`bigint`, top);
  },
};

async function createHeads(db: Kysely<unknown>, int: ReturnType<typeof sql>, top: number) {
  await sql`create table queue_heads (
    device_id text primary key references devices (id) on delete cascade,
    last_seq ${int} not null
  )`.execute(db);
  await sql`insert into queue_heads (device_id, last_seq)
    select id, ${top} from devices`.execute(db);
}
