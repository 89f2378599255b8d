/**
 * The devices table, and the only module that queries it: each read and write other modules need
 * is a function here, run on the database or inside the caller's transaction (`db` may be either),
 * so the caller keeps its transaction boundaries. A device row holds the hash of its credential,
 * never the credential. Each device's queue counter (queue_heads) is made with it and goes with it
 * (ON DELETE CASCADE).
 */

import type { Executor } from '../infra/db/database.js';

export interface NewDevice {
  id: string;
  accountId: string;
  name: string;
  credentialHash: Uint8Array;
  createdAt: string;
  /** ms since epoch; the device counts as active from its creation. */
  lastSeenAt: number;
}

export async function insertDevice(db: Executor, device: NewDevice): Promise<void> {
  await db
    .insertInto('devices')
    .values({
      id: device.id,
      account_id: device.accountId,
      name: device.name,
      credential_hash: device.credentialHash,
      created_at: device.createdAt,
      last_seen_at: device.lastSeenAt,
    })
    .execute();
  // Its queue's counter (messaging/mailbox.ts), in the same transaction as the device: a device
  // without one would be skipped by every writer.
  await db.insertInto('queue_heads').values({ device_id: device.id, last_seq: 0 }).execute();
}

/**
 * A device's account and credential hash, to check a presented credential against, and when it
 * was last seen.
 */
export function credentialOf(db: Executor, deviceId: string) {
  return db
    .selectFrom('devices')
    .select(['id', 'account_id', 'credential_hash', 'last_seen_at'])
    .where('id', '=', deviceId)
    .executeTakeFirst();
}

export async function touchDevice(db: Executor, deviceId: string, at: number): Promise<void> {
  await db.updateTable('devices').set({ last_seen_at: at }).where('id', '=', deviceId).execute();
}

/** When a device of the account was last seen (ms; 0 when it has none). */
export async function lastActivity(db: Executor, accountId: string): Promise<number> {
  const { at } = await db
    .selectFrom('devices')
    .select((eb) => eb.fn.max('last_seen_at').as('at'))
    .where('account_id', '=', accountId)
    .executeTakeFirstOrThrow();
  return Number(at ?? 0);
}

/** A device's stored certificate: null before it sent one, undefined when there is no device. */
export async function certificateOf(
  db: Executor,
  deviceId: string,
): Promise<Uint8Array | null | undefined> {
  const row = await db
    .selectFrom('devices')
    .select('certificate')
    .where('id', '=', deviceId)
    .executeTakeFirst();
  return row ? row.certificate : undefined;
}

/** Stores a device's certificate unless it has one; whether it was stored. */
export async function setCertificate(
  db: Executor,
  deviceId: string,
  certificate: Uint8Array,
): Promise<boolean> {
  const result = await db
    .updateTable('devices')
    .set({ certificate })
    .where('id', '=', deviceId)
    .where('certificate', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function deviceExists(db: Executor, deviceId: string): Promise<boolean> {
  const row = await db
    .selectFrom('devices')
    .select('id')
    .where('id', '=', deviceId)
    .executeTakeFirst();
  return row !== undefined;
}

/** An account's devices as its owner sees them, oldest first. */
export function devicesOf(db: Executor, accountId: string) {
  return db
    .selectFrom('devices')
    .select(['id', 'name', 'created_at', 'certificate'])
    .where('account_id', '=', accountId)
    .orderBy('created_at')
    .execute();
}

/**
 * The ids of an account's devices; with `among`, only those of these ids (another account's id
 * matches nothing); with `except`, all but that one.
 */
export async function deviceIdsOf(
  db: Executor,
  accountId: string,
  filter: { among?: string[]; except?: string } = {},
): Promise<string[]> {
  let query = db.selectFrom('devices').select('id').where('account_id', '=', accountId);
  if (filter.among) query = query.where('id', 'in', filter.among);
  if (filter.except !== undefined) query = query.where('id', '!=', filter.except);
  return (await query.execute()).map((d) => d.id);
}

/** The devices of these accounts (but `except`), oldest first. */
export function devicesOfAccounts(db: Executor, accountIds: string[], except?: string) {
  let query = db
    .selectFrom('devices')
    .select(['id', 'account_id'])
    .where('account_id', 'in', accountIds);
  if (except !== undefined) query = query.where('id', '!=', except);
  return query.orderBy('created_at').execute();
}

/** Which of these device ids exist, with their accounts. */
export function existingDevices(db: Executor, deviceIds: string[]) {
  return db
    .selectFrom('devices')
    .select(['id', 'account_id'])
    .where('id', 'in', deviceIds)
    .execute();
}

export async function deleteDevices(db: Executor, deviceIds: string[]): Promise<void> {
  await db.deleteFrom('devices').where('id', 'in', deviceIds).execute();
}

export async function countDevices(db: Executor): Promise<number> {
  const { n } = await db
    .selectFrom('devices')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(n);
}
