/**
 * The durable per-device queues. A message is written to the queue of every recipient device in
 * one transaction before the sender hears "stored"; a row is deleted only when its device
 * acknowledges it, and the acknowledgement of an application message puts a delivery receipt in
 * the sender's queue. Rows expire after the configured time whether delivered or not.
 *
 * Order is per device, not per cluster. Each device's queue has its own counter row; a writer
 * locks the counters of the queues it writes (in device-id order, so two writers cannot deadlock),
 * gives each entry the next seq of its queue, and holds the lock until it commits (queues.ts).
 * Why a device that reads its queue after the last seq it got can never skip an entry:
 * - A seq is taken and its row written inside one transaction holding the queue's counter lock,
 *   so the transaction that writes seq s of a queue commits (or rolls back, taking its seqs and
 *   the counter's advance with it) before any other can take a seq of that queue: seqs of one
 *   queue commit in seq order, whichever node writes them.
 * - PostgreSQL: a reader's statement sees every transaction committed before its snapshot. If it
 *   sees seq s' of a queue, the writer of any s < s' had committed before the writer of s' took
 *   the lock, so it sees s too: nothing below the largest seq it read can appear later. SQLite:
 *   one node with one connection runs one transaction at a time, so the same holds trivially.
 * - Hence `after` (realtime/port.ts) is the counter before a batch's entries: everything up to it
 *   is committed, and a socket that has sent up to it may take the new entries without a read.
 * Writers of different devices share no lock, so nodes add capacity until the database is busy.
 * A batch also shares its groups' rows, which a Commit or a leave locks exclusively: in every
 * member's queue a message of epoch n comes before the Commit that ends epoch n, as before.
 *
 * Overload: sends waiting for the writer are bounded (MAX_WAITING_*); past the bound a send is
 * refused at once with SERVER_BUSY, which the SDK's outbox retries with the same id after the
 * hinted delay, so the sends the node does accept keep a bounded wait.
 */

import { createHash, randomBytes } from 'node:crypto';
import type { DeviceRef } from '@parley/core';
import {
  type DeliverFrame,
  fromBase64Url,
  ParleyError,
  Rerunnable,
  type SendFrame,
  toBase64Url,
} from '@parley/core';
import { type Selectable, sql } from 'kysely';
import type { Db, Executor } from '../infra/db/database.js';
import { prepared } from '../infra/db/dialect.js';
import type { QueueKind, QueueTable } from '../infra/db/schema.js';
import { DeliveryStats } from '../infra/metrics/counters.js';
import type { Realtime } from '../realtime/port.js';
import { type AckItem, type BlockLookup, type StoreItem, writeBatch } from './mailbox-batch.js';
import { appendLocked, lockQueues } from './queues.js';

export interface QueueEntry {
  deviceId: string;
  kind: QueueKind;
  messageId: string;
  groupId: string;
  sender: DeviceRef;
  epoch: number;
  payload: Uint8Array | null;
  keyPackageId?: string;
}

interface PendingAck extends AckItem {
  resolve: (count: number) => void;
  reject: (error: unknown) => void;
}

interface PendingStore extends StoreItem {
  resolve: (result: { duplicate: boolean }) => void;
  reject: (error: unknown) => void;
}

/** An id for an entry the server itself queues (Commit fan-out, leave and removal notices). */
export const newMessageId = (): string => randomBytes(16).toString('base64url');

/** Sends (and acknowledgements) written per transaction at most. */
const STORE_BATCH = 512;

/**
 * Sends waiting for the writer, at most, beyond the batch being written: one batch. The writer
 * takes at most a batch per transaction, so more waiting would not raise its throughput, only
 * every send's wait: with one batch waiting the next transaction is full and an accepted send
 * waits for at most two. And 16 MiB of payload, so a burst of large messages cannot hold more
 * memory than that (a full batch of the largest, 64 KiB, is 32 MiB).
 */
export const MAX_WAITING_SENDS = STORE_BATCH;
const MAX_WAITING_BYTES = 16 * 1024 * 1024;
/** The retry hint a refused send carries: about a transaction's time under load. */
const BUSY_RETRY_MS = 250;

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
/** Expired entries deleted per statement by the sweep. */
const SWEEP_CHUNK = 2000;

/** Told of the devices that just had messages committed (push/notifier.ts wakes them). */
export interface WakeUps {
  queued(deviceIds: Iterable<string>): void;
}

export class Mailbox {
  /** Counted here and by the sockets; read by the metrics at scrape time. */
  readonly stats = new DeliveryStats();
  /** Set at start when push is wired; messages and invitations are reported here. */
  wakeUps: WakeUps | undefined;

  constructor(
    private readonly db: Db,
    private readonly realtime: Realtime,
    private readonly ttlMs: number,
    /** The time entries expire by (tests move it instead of waiting). */
    private readonly clock: () => number = Date.now,
    /** Who blocks whom: a message in a conversation of two is refused when one blocks the other. */
    private readonly blocks?: BlockLookup,
  ) {}

  /**
   * Adds entries inside the caller's transaction; wake the devices after it commits. Locks the
   * queues of the entries' devices and of `alsoLock` (devices the caller will delete: locked in
   * the same sorted statement, queues.ts) and returns the devices whose queue is gone (deleted
   * meanwhile: their entries were not written). The caller must already hold, before this, any
   * group row it locks (lock order, queues.ts).
   */
  async enqueue(
    trx: Executor,
    entries: QueueEntry[],
    now = this.clock(),
    alsoLock: readonly string[] = [],
  ): Promise<string[]> {
    if (entries.length === 0 && alsoLock.length === 0) return [];
    const heads = await lockQueues(trx, [...entries.map((e) => e.deviceId), ...alsoLock]);
    await appendLocked(
      trx,
      heads,
      entries.map((e) => ({
        deviceId: e.deviceId,
        kind: e.kind,
        messageId: e.messageId,
        groupId: e.groupId,
        senderAccount: e.sender.accountId,
        senderDevice: e.sender.deviceId,
        epoch: e.epoch,
        payload: e.payload,
        keyPackageId: e.keyPackageId ?? null,
      })),
      { sentAt: now, expiresAt: now + this.ttlMs },
    );
    return [...new Set(entries.map((e) => e.deviceId).filter((d) => !heads.has(d)))];
  }

  /**
   * Stores an application message for every other member device of the group. A retried send
   * (same id, same bytes) is acknowledged again without a second copy. Sends that arrive while a
   * batch is being written go into the next one: one transaction for many messages, in arrival
   * order (group commit), which is what keeps a durable queue near a bare relay's throughput.
   * Refused with SERVER_BUSY while too many sends already wait (see the top of this file).
   */
  store(sender: DeviceRef, frame: SendFrame): Promise<{ duplicate: boolean }> {
    const payload = fromBase64Url(frame.payload);
    if (!payload) {
      return Promise.reject(new ParleyError('FRAME_INVALID', { details: { field: 'payload' } }));
    }
    if (
      this.pendingStores.length >= MAX_WAITING_SENDS ||
      this.waitingBytes + payload.length > MAX_WAITING_BYTES
    ) {
      this.stats.refusedBusy += 1;
      return Promise.reject(new ParleyError('SERVER_BUSY', { retryAfterMs: BUSY_RETRY_MS }));
    }
    const digest = createHash('sha256').update(payload).digest();
    this.waitingBytes += payload.length;
    return new Promise((resolve, reject) => {
      this.pendingStores.push({ sender, frame, payload, digest, resolve, reject });
      this.write();
    });
  }

  /**
   * Deletes acknowledged entries of this device's own queue (other devices' seqs match nothing)
   * and queues a delivery receipt for each application message's sender. Batched like stores,
   * and never refused: an acknowledgement only shortens the queues.
   */
  ack(device: DeviceRef, seqs: number[]): Promise<number> {
    return new Promise((resolve, reject) => {
      this.pendingAcks.push({ device, seqs, resolve, reject });
      this.write();
    });
  }

  private readonly pendingStores: PendingStore[] = [];
  private readonly pendingAcks: PendingAck[] = [];
  /** Payload bytes of the sends waiting in pendingStores. */
  private waitingBytes = 0;
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
      for (const s of stores) this.waitingBytes -= s.payload.length;
      let result: Awaited<ReturnType<typeof writeBatch>>;
      try {
        result = await writeBatch(this.db, stores, acks, {
          now: this.clock(),
          ttlMs: this.ttlMs,
          notePrior: this.realtime.sharedQueues,
          blocks: this.blocks,
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
      // Messages only: a delivery receipt is not worth waking a phone for.
      this.notify(
        result.frames.filter((f) => f.frame.kind === 'application').map((f) => f.deviceId),
      );
    }
    if (!this.writer.rerunAsked) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private readonly idleWaiters: Array<() => void> = [];

  /**
   * These devices just had a message or an invitation committed, on this node: each entry is
   * reported once, by the node that stored it, so it causes at most one wake-up in the cluster.
   */
  notify(deviceIds: readonly string[]): void {
    if (deviceIds.length > 0) this.wakeUps?.queued(deviceIds);
  }

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

  /** The device's queue after `afterSeq`, oldest first, unexpired. */
  async pending(deviceId: string, afterSeq: number, limit: number): Promise<DeliverFrame[]> {
    const { rows } = await sql<Selectable<QueueTable>>`${prepared}select * from queue
      where device_id = ${deviceId} and seq > ${afterSeq} and expires_at > ${this.clock()}
      order by seq limit ${limit}`.execute(this.db);
    return rows.map(toFrame);
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
    // oldest rows: find the first live one by walking id (the order rows were written in, across
    // all queues) from the start, which
    // costs about as many rows as are deleted, without an index on expires_at. (An entry written
    // under a shorter lifetime after a restart waits for the prefix; it is never delivered late,
    // as pending() checks expires_at.)
    const firstLive = await this.db
      .selectFrom('queue')
      .select('id')
      .where('expires_at', '>', now)
      .orderBy('id')
      .limit(1)
      .executeTakeFirst();
    // In chunks, yielding between them: a long backlog must not stall the event loop.
    let gone = 0;
    for (;;) {
      let chunk = this.db
        .selectFrom('queue')
        .select('id')
        .where('expires_at', '<=', now)
        .orderBy('id')
        .limit(SWEEP_CHUNK);
      if (firstLive) chunk = chunk.where('id', '<', firstLive.id);
      const deleted = await this.db.deleteFrom('queue').where('id', 'in', chunk).executeTakeFirst();
      gone += Number(deleted.numDeletedRows);
      if (Number(deleted.numDeletedRows) < SWEEP_CHUNK) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    await this.db.deleteFrom('sent_messages').where('expires_at', '<=', now).execute();
    return gone;
  }
}
