/**
 * The durable per-device queues. A message is written to the queue of every recipient device in
 * one transaction before the sender hears "stored"; a row is deleted only when its device
 * acknowledges it, and the acknowledgement of an application message puts a delivery receipt in
 * the sender's queue. Rows expire after the configured time whether delivered or not.
 */

import { createHash, randomBytes } from 'node:crypto';
import type { DeviceRef } from '@parley/core';
import {
  type DeliverFrame,
  fromBase64Url,
  MESSAGING_LIMITS,
  ParleyError,
  Rerunnable,
  type SendFrame,
  toBase64Url,
} from '@parley/core';
import { type Selectable, sql } from 'kysely';
import { existingDevices } from '../identity/device-store.js';
import { type Db, type Executor, lock } from '../infra/db/database.js';
import { textIntPairs } from '../infra/db/dialect.js';
import type { QueueKind, QueueTable } from '../infra/db/schema.js';
import { DeliveryStats } from '../infra/metrics/counters.js';
import type { Addressed, Realtime } from '../realtime/port.js';

export interface QueueEntry {
  deviceId: string;
  kind: QueueKind;
  messageId: string;
  groupId: string;
  sender: DeviceRef;
  epoch: number;
  payload: Uint8Array | null;
  keyPackageId?: string;
  /** What a receipt names (all the messages one acknowledgement covered). */
  ids?: string[];
  /** The payload as the sender sent it, to deliver without encoding it again. */
  payloadB64?: string;
}

interface PendingAck {
  device: DeviceRef;
  seqs: number[];
  resolve: (count: number) => void;
  reject: (error: unknown) => void;
}

interface PendingStore {
  sender: DeviceRef;
  frame: SendFrame;
  payload: Uint8Array;
  digest: Buffer;
  resolve: (result: { duplicate: boolean }) => void;
  reject: (error: unknown) => void;
}

/** An id for an entry the server itself queues (Commit fan-out, leave and removal notices). */
export const newMessageId = (): string => randomBytes(16).toString('base64url');

/** Sends written per transaction at most, and rows per INSERT (SQLite's variable limit). */
const STORE_BATCH = 512;

function toFrame(r: Selectable<QueueTable>): DeliverFrame {
  return {
    t: 'deliver',
    seq: r.seq,
    kind: r.kind,
    id: r.message_id,
    groupId: r.group_id,
    from: { accountId: r.sender_account, deviceId: r.sender_device },
    epoch: r.epoch,
    ...(r.payload
      ? r.kind === 'receipt'
        ? { ids: JSON.parse(new TextDecoder().decode(r.payload)) as string[] }
        : { payload: toBase64Url(r.payload) }
      : {}),
    ...(r.key_package_id ? { keyPackageId: r.key_package_id } : {}),
    sentAt: new Date(r.sent_at).toISOString(),
  };
}
const INSERT_CHUNK = 500;
/** Expired entries deleted per statement by the sweep. */
const SWEEP_CHUNK = 2000;

export class Mailbox {
  /** Counted here and by the sockets; read by the metrics at scrape time. */
  readonly stats = new DeliveryStats();

  constructor(
    private readonly db: Db,
    private readonly realtime: Realtime,
    private readonly ttlMs: number,
    /** The time entries expire by (tests move it instead of waiting). */
    private readonly clock: () => number = Date.now,
  ) {}

  /** Adds entries inside the caller's transaction; wake the devices after it commits. */
  async enqueue(trx: Executor, entries: QueueEntry[], now = this.clock()): Promise<void> {
    await this.insert(trx, entries, now, false);
  }

  /** Inserts entries; with `returning`, gives back the frames to deliver (with their seq). */
  private async insert(
    trx: Executor,
    entries: QueueEntry[],
    now: number,
    returning: boolean,
  ): Promise<Addressed[]> {
    if (entries.length === 0) return [];
    const query = trx.insertInto('queue').values(
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
    );
    if (!returning) {
      await query.execute();
      return [];
    }
    // Only the new seqs come back (RETURNING has no defined order, so rows are matched by a key
    // unique within a batch: the stored ids are unique per sender device); the frames are built
    // from what is in memory already.
    const key = (device: string, kind: string, sender: string, id: string) =>
      `${device} ${kind} ${sender} ${id}`;
    const byKey = new Map(
      entries.map((e) => [key(e.deviceId, e.kind, e.sender.deviceId, e.messageId), e]),
    );
    const sentAt = new Date(now).toISOString();
    // With other nodes writing the same queues, what each queue held before (under the queue
    // lock, so nothing older can appear later): lets the hub push these without a read back.
    let before: Map<string, number> | undefined;
    if (this.realtime.sharedQueues) {
      const devices = [...new Set(entries.map((e) => e.deviceId))];
      const rows = await trx
        .selectFrom('queue')
        .select(['device_id', (eb) => eb.fn.max('seq').as('last')])
        .where('device_id', 'in', devices)
        .groupBy('device_id')
        .execute();
      before = new Map(rows.map((r) => [r.device_id, Number(r.last)]));
    }
    const rows = await query
      .returning(['seq', 'device_id', 'kind', 'sender_device', 'message_id'])
      .execute();
    return rows.map((r) => {
      const e = byKey.get(key(r.device_id, r.kind, r.sender_device, r.message_id))!;
      const frame: DeliverFrame = {
        t: 'deliver',
        seq: r.seq,
        kind: e.kind,
        id: e.messageId,
        groupId: e.groupId,
        from: { accountId: e.sender.accountId, deviceId: e.sender.deviceId },
        epoch: e.epoch,
        ...(e.ids && e.ids.length > 1 ? { ids: e.ids } : {}),
        ...(e.kind !== 'receipt' && e.payload
          ? { payload: e.payloadB64 ?? toBase64Url(e.payload) }
          : {}),
        ...(e.keyPackageId ? { keyPackageId: e.keyPackageId } : {}),
        sentAt,
      };
      return before
        ? { deviceId: r.device_id, frame, after: before.get(r.device_id) ?? 0 }
        : { deviceId: r.device_id, frame };
    });
  }

  /**
   * Stores an application message for every other member device of the group. A retried send
   * (same id, same bytes) is acknowledged again without a second copy. Sends that arrive while a
   * batch is being written go into the next one: one transaction for many messages, in arrival
   * order (group commit), which is what keeps a durable queue near a bare relay's throughput.
   */
  store(sender: DeviceRef, frame: SendFrame): Promise<{ duplicate: boolean }> {
    const payload = fromBase64Url(frame.payload);
    if (!payload) {
      return Promise.reject(new ParleyError('FRAME_INVALID', { details: { field: 'payload' } }));
    }
    const digest = createHash('sha256').update(payload).digest();
    return new Promise((resolve, reject) => {
      this.pendingStores.push({ sender, frame, payload, digest, resolve, reject });
      this.write();
    });
  }

  /**
   * Deletes acknowledged entries of this device's own queue (other devices' seqs match nothing)
   * and queues a delivery receipt for each application message's sender. Batched like stores.
   */
  ack(device: DeviceRef, seqs: number[]): Promise<number> {
    return new Promise((resolve, reject) => {
      this.pendingAcks.push({ device, seqs, resolve, reject });
      this.write();
    });
  }

  private readonly pendingStores: PendingStore[] = [];
  private readonly pendingAcks: PendingAck[] = [];
  /** One writer: whatever queued up while the last transaction ran goes into the next one. */
  private readonly writer = new Rerunnable(() => this.writePass());

  private write(): void {
    void this.writer.run();
  }

  private async writePass(): Promise<void> {
    // Starting on the next turn lets the frames already read from the sockets join this batch.
    await new Promise((resolve) => setImmediate(resolve));
    while (this.pendingStores.length > 0 || this.pendingAcks.length > 0) {
      const stores = this.pendingStores.splice(0, STORE_BATCH);
      const acks = this.pendingAcks.splice(0, STORE_BATCH);
      let result: {
        outcome: Array<{ duplicate: boolean } | ParleyError>;
        frames: Addressed[];
        counts: number[];
        storedAt: number[];
      };
      try {
        result = await this.db.transaction().execute(async (trx) => {
          await lock(trx, 'queue');
          const written = await this.writeBatch(trx, stores);
          const acked = await this.applyAcks(trx, acks);
          return {
            outcome: written.outcome,
            frames: [...written.frames, ...acked.frames],
            counts: acked.counts,
            storedAt: acked.storedAt,
          };
        });
      } catch (error) {
        for (const item of [...stores, ...acks]) item.reject(error);
        continue;
      }
      // Answers first: they are owed whatever happens to the delivery below.
      stores.forEach((item, i) => {
        const outcome = result.outcome[i]!;
        if (outcome instanceof ParleyError) item.reject(outcome);
        else {
          if (!outcome.duplicate) this.stats.stored += 1;
          item.resolve(outcome);
        }
      });
      acks.forEach((item, i) => {
        this.stats.acknowledged += result.counts[i]!;
        item.resolve(result.counts[i]!);
      });
      const now = this.clock();
      for (const at of result.storedAt) this.stats.latency.observe((now - at) / 1000);
      try {
        this.realtime.offer(result.frames);
      } catch {
        // Committed entries are never lost: the devices read them from the queue instead.
        this.realtime.wake(new Set(result.frames.map((f) => f.deviceId)));
      }
    }
    if (!this.writer.rerunAsked) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private readonly idleWaiters: Array<() => void> = [];

  /**
   * Resolves when every send and acknowledgement handed over so far is committed and answered
   * (graceful shutdown waits for this before closing the database).
   */
  idle(): Promise<void> {
    if (!this.writer.running && this.pendingStores.length === 0 && this.pendingAcks.length === 0) {
      return Promise.resolve();
    }
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async writeBatch(
    trx: Executor,
    batch: PendingStore[],
  ): Promise<{ outcome: Array<{ duplicate: boolean } | ParleyError>; frames: Addressed[] }> {
    if (batch.length === 0) return { outcome: [], frames: [] };
    const now = this.clock();
    const senders = [...new Set(batch.map((b) => b.sender.deviceId))];
    const groupIds = [...new Set(batch.map((b) => b.frame.groupId))];
    const seenRows = await trx
      .selectFrom('sent_messages')
      .select(['sender_device', 'message_id', 'digest'])
      .where('sender_device', 'in', senders)
      .where(
        'message_id',
        'in',
        batch.map((b) => b.frame.id),
      )
      .execute();
    const seen = new Map<string, Buffer>(
      seenRows.map((r) => [`${r.sender_device}/${r.message_id}`, Buffer.from(r.digest)]),
    );
    const groups = new Map(
      (
        await trx.selectFrom('groups').select(['id', 'epoch']).where('id', 'in', groupIds).execute()
      ).map((g) => [g.id, g.epoch]),
    );
    const members = new Map<string, string[]>();
    for (const m of await trx
      .selectFrom('group_members')
      .select(['group_id', 'device_id'])
      .where('group_id', 'in', groupIds)
      .execute()) {
      const list = members.get(m.group_id) ?? [];
      list.push(m.device_id);
      members.set(m.group_id, list);
    }
    const entries: QueueEntry[] = [];
    const sent: Array<{ sender_device: string; message_id: string; digest: Buffer }> = [];
    const outcome = batch.map(({ sender, frame, payload, digest }) => {
      const key = `${sender.deviceId}/${frame.id}`;
      const earlier = seen.get(key);
      if (earlier) {
        return earlier.equals(digest) ? { duplicate: true } : new ParleyError('MESSAGE_ID_REUSED');
      }
      const epoch = groups.get(frame.groupId);
      if (epoch === undefined) return new ParleyError('GROUP_NOT_FOUND');
      const devices = members.get(frame.groupId) ?? [];
      if (!devices.includes(sender.deviceId)) return new ParleyError('NOT_GROUP_MEMBER');
      if (frame.epoch !== epoch) {
        return new ParleyError('EPOCH_CONFLICT', { details: { epoch } });
      }
      for (const deviceId of devices) {
        if (deviceId === sender.deviceId) continue;
        entries.push({
          deviceId,
          kind: 'application',
          messageId: frame.id,
          groupId: frame.groupId,
          sender,
          epoch: frame.epoch,
          payload,
          payloadB64: frame.payload,
        });
      }
      seen.set(key, digest);
      sent.push({ sender_device: sender.deviceId, message_id: frame.id, digest });
      return { duplicate: false };
    });
    const frames: Addressed[] = [];
    for (let i = 0; i < entries.length; i += INSERT_CHUNK) {
      frames.push(...(await this.insert(trx, entries.slice(i, i + INSERT_CHUNK), now, true)));
    }
    for (let i = 0; i < sent.length; i += INSERT_CHUNK) {
      await trx
        .insertInto('sent_messages')
        .values(
          sent.slice(i, i + INSERT_CHUNK).map((r) => ({ ...r, expires_at: now + this.ttlMs })),
        )
        .execute();
    }
    return { outcome, frames };
  }

  /** The device's queue after `afterSeq`, oldest first, unexpired. */
  async pending(deviceId: string, afterSeq: number, limit: number): Promise<DeliverFrame[]> {
    const rows = await this.db
      .selectFrom('queue')
      .selectAll()
      .where('device_id', '=', deviceId)
      .where('seq', '>', afterSeq)
      .where('expires_at', '>', this.clock())
      .orderBy('seq')
      .limit(limit)
      .execute();
    return rows.map(toFrame);
  }

  /**
   * Deletes every acknowledged entry of the batch in one statement keyed by (device, seq) pairs,
   * so an ack for another device's entry matches nothing; each pair counts for the first
   * acknowledgement in the batch that named it, as if they had run one after the other.
   */
  private async applyAcks(
    trx: Executor,
    acks: PendingAck[],
  ): Promise<{ counts: number[]; frames: Addressed[]; storedAt: number[] }> {
    const frames: Addressed[] = [];
    const counts = acks.map(() => 0);
    /** When each acknowledged application message was stored, for the latency histogram. */
    const storedAt: number[] = [];
    /** Which acknowledgement each (device, seq) pair counts for. */
    const owner = new Map<string, number>();
    const pairs: Array<[string, number]> = [];
    acks.forEach(({ device, seqs }, i) => {
      for (const seq of seqs) {
        const key = `${device.deviceId}/${seq}`;
        if (owner.has(key)) continue;
        owner.set(key, i);
        pairs.push([device.deviceId, seq]);
      }
    });
    if (pairs.length === 0) return { counts, frames, storedAt };
    const rows = await trx
      .deleteFrom('queue')
      .where(sql<boolean>`(device_id, seq) in (${textIntPairs(trx, pairs)})`)
      .returning([
        'seq',
        'device_id',
        'kind',
        'message_id',
        'group_id',
        'sender_device',
        'epoch',
        'sent_at',
      ])
      .execute();
    // RETURNING has no order: seq order makes each receipt name its messages oldest first.
    rows.sort((x, y) => x.seq - y.seq);
    // One receipt entry per (acknowledging device, sender device, conversation) per batch, naming
    // all the messages it covers: a window of messages costs one queue row back, not one each.
    // A receipt names at most a delivery window of ids (the frame's limit); past that, another.
    type Receipt = QueueEntry & { ids: string[] };
    const all: Receipt[] = [];
    const receipts = new Map<string, Receipt>();
    for (const r of rows) {
      const i = owner.get(`${r.device_id}/${r.seq}`)!;
      counts[i]! += 1;
      if (r.kind !== 'application') continue;
      storedAt.push(r.sent_at);
      const key = `${r.device_id}/${r.sender_device}/${r.group_id}`;
      const receipt = receipts.get(key);
      if (receipt && receipt.ids.length < MESSAGING_LIMITS.deliveryWindow) {
        receipt.ids.push(r.message_id);
      } else {
        const opened: Receipt = {
          deviceId: r.sender_device,
          kind: 'receipt',
          messageId: r.message_id,
          groupId: r.group_id,
          sender: acks[i]!.device,
          epoch: r.epoch,
          payload: null,
          ids: [r.message_id],
        };
        receipts.set(key, opened);
        all.push(opened);
      }
    }
    if (all.length > 0) {
      const senders = await existingDevices(trx, [...new Set(all.map((r) => r.deviceId))]);
      const alive = new Set(senders.map((d) => d.id));
      const live = all
        .filter((r) => alive.has(r.deviceId))
        .map((entry) => ({
          ...entry,
          payload:
            entry.ids.length > 1 ? new TextEncoder().encode(JSON.stringify(entry.ids)) : null,
        }));
      for (let i = 0; i < live.length; i += INSERT_CHUNK) {
        frames.push(
          ...(await this.insert(trx, live.slice(i, i + INSERT_CHUNK), this.clock(), true)),
        );
      }
    }
    return { counts, frames, storedAt };
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
  async sweep(now = this.clock()): Promise<number> {
    // Every entry lives the same time from when it was written, so the expired ones are the
    // oldest seqs: find the first live one by walking seq (the row id) from the start, which
    // costs about as many rows as are deleted, without an index on expires_at. (An entry written
    // under a shorter lifetime after a restart waits for the prefix; it is never delivered late,
    // as pending() checks expires_at.)
    const firstLive = await this.db
      .selectFrom('queue')
      .select('seq')
      .where('expires_at', '>', now)
      .orderBy('seq')
      .limit(1)
      .executeTakeFirst();
    // In chunks, yielding between them: a long backlog must not stall the event loop.
    let gone = 0;
    for (;;) {
      let chunk = this.db
        .selectFrom('queue')
        .select('seq')
        .where('expires_at', '<=', now)
        .orderBy('seq')
        .limit(SWEEP_CHUNK);
      if (firstLive) chunk = chunk.where('seq', '<', firstLive.seq);
      const deleted = await this.db
        .deleteFrom('queue')
        .where('seq', 'in', chunk)
        .executeTakeFirst();
      gone += Number(deleted.numDeletedRows);
      if (Number(deleted.numDeletedRows) < SWEEP_CHUNK) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    await this.db.deleteFrom('sent_messages').where('expires_at', '<=', now).execute();
    return gone;
  }
}
