/**
 * The durable per-device queues. A message is written to the queue of every recipient device in
 * one transaction before the sender hears "stored"; a row is deleted only when its device
 * acknowledges it, and the acknowledgement of an application message puts a delivery receipt in
 * the sender's queue. Rows expire after the configured time whether delivered or not.
 */

import { createHash } from 'node:crypto';
import {
  type DeliverFrame,
  fromBase64Url,
  ParleyError,
  type SendFrame,
  toBase64Url,
} from '@parley/core';
import type { DeviceIdentity } from '../accounts.js';
import type { Db, Executor } from '../db/database.js';
import type { QueueKind } from '../db/schema.js';
import type { Hub } from './hub.js';

export interface QueueEntry {
  deviceId: string;
  kind: QueueKind;
  messageId: string;
  groupId: string;
  sender: DeviceIdentity;
  epoch: number;
  payload: Uint8Array | null;
  keyPackageId?: string;
}

export class Mailbox {
  constructor(
    private readonly db: Db,
    private readonly hub: Hub,
    private readonly ttlMs: number,
  ) {}

  /** Adds entries inside the caller's transaction; wake the devices after it commits. */
  async enqueue(trx: Executor, entries: QueueEntry[], now = Date.now()): Promise<void> {
    if (entries.length === 0) return;
    await trx
      .insertInto('queue')
      .values(
        entries.map((e) => ({
          device_id: e.deviceId,
          kind: e.kind,
          message_id: e.messageId,
          group_id: e.groupId,
          sender_account: e.sender.accountId,
          sender_device: e.sender.deviceId,
          epoch: e.epoch,
          payload: e.payload,
          key_package_id: e.keyPackageId ?? null,
          sent_at: now,
          expires_at: now + this.ttlMs,
        })),
      )
      .execute();
  }

  /**
   * Stores an application message for every other member device of the group. A retried send
   * (same id, same bytes) is acknowledged again without a second copy.
   */
  async store(sender: DeviceIdentity, frame: SendFrame): Promise<{ duplicate: boolean }> {
    const payload = fromBase64Url(frame.payload);
    if (!payload) throw new ParleyError('FRAME_INVALID', { details: { field: 'payload' } });
    const digest = createHash('sha256').update(payload).digest();
    const now = Date.now();
    const result = await this.db.transaction().execute(async (trx) => {
      const seen = await trx
        .selectFrom('sent_messages')
        .select('digest')
        .where('sender_device', '=', sender.deviceId)
        .where('message_id', '=', frame.id)
        .executeTakeFirst();
      if (seen) {
        if (!Buffer.from(seen.digest).equals(digest)) throw new ParleyError('MESSAGE_ID_REUSED');
        return { duplicate: true, recipients: [] as string[] };
      }
      const group = await trx
        .selectFrom('groups')
        .select('epoch')
        .where('id', '=', frame.groupId)
        .executeTakeFirst();
      if (!group) throw new ParleyError('GROUP_NOT_FOUND');
      const members = await trx
        .selectFrom('group_members')
        .select('device_id')
        .where('group_id', '=', frame.groupId)
        .execute();
      if (!members.some((m) => m.device_id === sender.deviceId)) {
        throw new ParleyError('NOT_GROUP_MEMBER');
      }
      if (frame.epoch !== group.epoch) {
        throw new ParleyError('EPOCH_CONFLICT', { details: { epoch: group.epoch } });
      }
      const recipients = members.map((m) => m.device_id).filter((d) => d !== sender.deviceId);
      await this.enqueue(
        trx,
        recipients.map((deviceId) => ({
          deviceId,
          kind: 'application' as const,
          messageId: frame.id,
          groupId: frame.groupId,
          sender,
          epoch: frame.epoch,
          payload,
        })),
        now,
      );
      await trx
        .insertInto('sent_messages')
        .values({
          sender_device: sender.deviceId,
          message_id: frame.id,
          digest,
          expires_at: now + this.ttlMs,
        })
        .execute();
      return { duplicate: false, recipients };
    });
    this.hub.wake(result.recipients);
    return { duplicate: result.duplicate };
  }

  /** The device's queue after `afterSeq`, oldest first, unexpired. */
  async pending(deviceId: string, afterSeq: number, limit: number): Promise<DeliverFrame[]> {
    const rows = await this.db
      .selectFrom('queue')
      .selectAll()
      .where('device_id', '=', deviceId)
      .where('seq', '>', afterSeq)
      .where('expires_at', '>', Date.now())
      .orderBy('seq')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      t: 'deliver' as const,
      seq: r.seq,
      kind: r.kind,
      id: r.message_id,
      groupId: r.group_id,
      from: { accountId: r.sender_account, deviceId: r.sender_device },
      epoch: r.epoch,
      ...(r.payload ? { payload: toBase64Url(r.payload) } : {}),
      ...(r.key_package_id ? { keyPackageId: r.key_package_id } : {}),
      sentAt: new Date(r.sent_at).toISOString(),
    }));
  }

  /**
   * Deletes acknowledged entries of this device's own queue (other devices' seqs match nothing)
   * and queues a delivery receipt for each application message's sender.
   */
  async ack(device: DeviceIdentity, seqs: number[]): Promise<number> {
    const now = Date.now();
    const result = await this.db.transaction().execute(async (trx) => {
      const rows = await trx
        .deleteFrom('queue')
        .where('device_id', '=', device.deviceId)
        .where('seq', 'in', seqs)
        .returning(['kind', 'message_id', 'group_id', 'sender_device', 'epoch'])
        .execute();
      const receipts = rows.filter((r) => r.kind === 'application');
      if (receipts.length > 0) {
        const senders = await trx
          .selectFrom('devices')
          .select('id')
          .where('id', 'in', [...new Set(receipts.map((r) => r.sender_device))])
          .execute();
        const alive = new Set(senders.map((s) => s.id));
        await this.enqueue(
          trx,
          receipts
            .filter((r) => alive.has(r.sender_device))
            .map((r) => ({
              deviceId: r.sender_device,
              kind: 'receipt' as const,
              messageId: r.message_id,
              groupId: r.group_id,
              sender: device,
              epoch: r.epoch,
              payload: null,
            })),
          now,
        );
      }
      return { count: rows.length, wake: receipts.map((r) => r.sender_device) };
    });
    this.hub.wake(new Set(result.wake));
    return result.count;
  }

  async depth(deviceId: string): Promise<number> {
    const { count } = await this.db
      .selectFrom('queue')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .where('device_id', '=', deviceId)
      .executeTakeFirstOrThrow();
    return Number(count);
  }

  /** Deletes expired queue entries and idempotency records; returns how many entries went. */
  async sweep(now = Date.now()): Promise<number> {
    const gone = await this.db
      .deleteFrom('queue')
      .where('expires_at', '<=', now)
      .executeTakeFirst();
    await this.db.deleteFrom('sent_messages').where('expires_at', '<=', now).execute();
    return Number(gone.numDeletedRows);
  }
}
