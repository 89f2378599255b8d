/**
 * Writing device queues in order, per device. Each device has a counter row (`queue_heads`, made
 * with the device): a writer locks the counters of every queue it will touch, in device-id order,
 * takes the next seqs from them, and holds the locks until it commits. Only writers of the same
 * queue wait for each other; why a reader can never skip an entry is in mailbox.ts.
 *
 * Lock order, everywhere: the directory lock (if any), then group rows (in id order), then queue
 * counters (in device-id order), then queue rows. A transaction that deletes a device locks its
 * counter first, so a writer holding a counter knows the device stays until it commits.
 */

import { sql } from 'kysely';
import type { Executor } from '../infra/db/database.js';
import { lockRows, prepared, rowsOf, textsOf, writeBoth } from '../infra/db/dialect.js';
import type { QueueKind } from '../infra/db/schema.js';

/** One entry to append, as the queue stores it. */
export interface QueueRow {
  deviceId: string;
  kind: QueueKind;
  messageId: string;
  groupId: string;
  senderAccount: string;
  senderDevice: string;
  epoch: number;
  payload: Uint8Array | null;
  keyPackageId: string | null;
}

/**
 * Locks the counters of these devices' queues, in device-id order, until the transaction ends;
 * returns each one's last seq. A device without a counter (deleted) is absent from the answer.
 */
export async function lockQueues(
  trx: Executor,
  deviceIds: Iterable<string>,
): Promise<Map<string, number>> {
  const ids = [...new Set(deviceIds)];
  if (ids.length === 0) return new Map();
  const { rows } = await sql<{
    device_id: string;
    last_seq: number;
  }>`${prepared}select h.device_id, h.last_seq
    from queue_heads h
    where h.device_id in (select d.device_id from (${textsOf(trx, 'device_id', ids)}) d)
    order by h.device_id ${lockRows(trx, 'update', 'h')}`.execute(trx);
  return new Map(rows.map((r) => [r.device_id, Number(r.last_seq)]));
}

/**
 * Appends entries to queues whose counters this transaction holds (`heads`, from lockQueues,
 * advanced here): each entry takes its queue's next seq, in the order given. Entries for a device
 * absent from `heads` are skipped. Returns each entry's seq (undefined when skipped). One
 * statement on PostgreSQL (counters and rows together), two on SQLite.
 */
export async function appendLocked(
  trx: Executor,
  heads: Map<string, number>,
  entries: readonly QueueRow[],
  times: { sentAt: number; expiresAt: number },
): Promise<Array<number | undefined>> {
  const seqs: Array<number | undefined> = [];
  const rows: Array<Array<string | number | Uint8Array | null>> = [];
  const advanced = new Map<string, number>();
  for (const e of entries) {
    const last = advanced.get(e.deviceId) ?? heads.get(e.deviceId);
    if (last === undefined) {
      seqs.push(undefined);
      continue;
    }
    const seq = last + 1;
    advanced.set(e.deviceId, seq);
    seqs.push(seq);
    rows.push([
      e.deviceId,
      seq,
      e.kind,
      e.messageId,
      e.groupId,
      e.senderAccount,
      e.senderDevice,
      e.epoch,
      e.payload,
      e.keyPackageId,
    ]);
  }
  if (rows.length === 0) return seqs;
  for (const [device, seq] of advanced) heads.set(device, seq);
  const counters = rowsOf(
    trx,
    ['device_id', 'last_seq'],
    ['text', 'int'],
    [...advanced].map(([device, seq]) => [device, seq]),
  );
  const values = rowsOf(trx, COLUMNS, TYPES, rows);
  await writeBoth(
    trx,
    sql`update queue_heads set last_seq = c.last_seq
      from (${counters}) c where queue_heads.device_id = c.device_id`,
    sql`insert into queue (device_id, seq, kind, message_id, group_id, sender_account,
        sender_device, epoch, payload, key_package_id, sent_at, expires_at)
      select v.device_id, v.seq, v.kind, v.message_id, v.group_id, v.sender_account,
        v.sender_device, v.epoch, v.payload, v.key_package_id,
        cast(${times.sentAt} as bigint), cast(${times.expiresAt} as bigint)
      from (${values}) v`,
  );
  return seqs;
}

const COLUMNS = [
  'device_id',
  'seq',
  'kind',
  'message_id',
  'group_id',
  'sender_account',
  'sender_device',
  'epoch',
  'payload',
  'key_package_id',
] as const;
const TYPES = [
  'text',
  'int',
  'text',
  'text',
  'text',
  'text',
  'text',
  'int',
  'bytes',
  'text',
] as const;
