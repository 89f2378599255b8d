/**
 * One pass of the mailbox's writer: a batch of sends and acknowledgements in one short
 * transaction. What needs no order is read before it, without locks: which message ids were seen
 * (a resend is answered `duplicate`) and who sent the acknowledged entries (the queues their
 * receipts go to). The transaction then takes its locks in the order queues.ts fixes — the
 * batch's groups shared (a Commit or a leave takes them exclusively), then every queue counter it
 * will touch — and writes with a fixed number of statements whatever the batch's size, each of
 * one text for every batch (dialect.ts, rowsOf), so both databases reuse their prepared plans:
 * the acknowledged entries deleted, the message ids claimed, the counters and entries written.
 */

import type { DeviceRef } from '@parley/core';
import { type DeliverFrame, MESSAGING_LIMITS, ParleyError, type SendFrame } from '@parley/core';
import { sql } from 'kysely';
import type { Db, Executor } from '../infra/db/database.js';
import {
  lockRows,
  prepared,
  rowsOf,
  textIntPairs,
  textsOf,
  transientConflict,
} from '../infra/db/dialect.js';
import type { QueueKind } from '../infra/db/schema.js';
import type { Addressed } from '../realtime/port.js';
import { appendLocked, lockQueues, type QueueRow } from './queues.js';

export interface StoreItem {
  sender: DeviceRef;
  frame: SendFrame;
  payload: Uint8Array;
  digest: Buffer;
}

export interface AckItem {
  device: DeviceRef;
  seqs: number[];
}

export interface BatchResult {
  /** Per send: stored (or a resend of a stored one), or why not. */
  outcome: Array<{ duplicate: boolean } | ParleyError>;
  /** Per acknowledgement: how many entries it deleted. */
  counts: number[];
  /** When each acknowledged application message was stored (the latency histogram). */
  storedAt: number[];
  /** The entries written, to hand to the sockets. */
  frames: Addressed[];
}

/** Which (blocker, sender) pairs are blocks, as `blocker/sender` keys (blocks.ts). */
export interface BlockLookup {
  blockedPairs(
    db: Executor,
    pairs: ReadonlyArray<readonly [blocker: string, sender: string]>,
  ): Promise<Set<string>>;
}

interface BatchOptions {
  now: number;
  ttlMs: number;
  notePrior: boolean;
  blocks?: BlockLookup | undefined;
}

/** A transaction that met another one (deadlock, serialization failure) runs again, this often. */
const ATTEMPTS = 3;

/** A row to append and the frame it becomes once it has its seq. */
interface Planned {
  row: QueueRow;
  frame: Omit<DeliverFrame, 'seq'>;
}

export async function writeBatch(
  db: Db,
  stores: readonly StoreItem[],
  acks: readonly AckItem[],
  options: BatchOptions,
): Promise<BatchResult> {
  const pairs = ackPairs(acks);
  const [seen, ackedSenders] = await Promise.all([
    seenDigests(db, stores),
    pairs.list.length === 0 ? [] : sendersOf(db, pairs.list),
  ]);
  for (let attempt = 1; ; attempt++) {
    try {
      return await db
        .transaction()
        .execute((trx) => inTransaction(trx, stores, acks, pairs, seen, ackedSenders, options));
    } catch (error) {
      if (attempt >= ATTEMPTS || !transientConflict(error)) throw error;
    }
  }
}

async function inTransaction(
  trx: Executor,
  stores: readonly StoreItem[],
  acks: readonly AckItem[],
  pairs: AckPairs,
  seenBefore: ReadonlyMap<string, Buffer>,
  ackedSenders: readonly string[],
  { now, ttlMs, notePrior, blocks }: BatchOptions,
): Promise<BatchResult> {
  const sentAt = new Date(now).toISOString();
  const groups = await lockGroups(trx, [...new Set(stores.map((s) => s.frame.groupId))]);
  const blocked = await blockedInPairs(trx, blocks, stores, groups);
  const seen = new Map(seenBefore);
  const planned: Array<Planned[] | undefined> = [];
  const outcome = stores.map(({ sender, frame, payload, digest }, i) => {
    const key = `${sender.deviceId}/${frame.id}`;
    const earlier = seen.get(key);
    if (earlier) {
      return earlier.equals(digest) ? { duplicate: true } : new ParleyError('MESSAGE_ID_REUSED');
    }
    const group = groups.get(frame.groupId);
    if (!group) return new ParleyError('GROUP_NOT_FOUND');
    if (!group.members.includes(sender.deviceId)) return new ParleyError('NOT_GROUP_MEMBER');
    if (frame.epoch !== group.epoch) {
      return new ParleyError('EPOCH_CONFLICT', { details: { epoch: group.epoch } });
    }
    if (blocked.has(`${group.accounts.find((a) => a !== sender.accountId)}/${sender.accountId}`)) {
      return new ParleyError('BLOCKED');
    }
    planned[i] = group.members
      .filter((d) => d !== sender.deviceId)
      .map((deviceId) => ({
        row: {
          deviceId,
          kind: 'application' as const,
          messageId: frame.id,
          groupId: frame.groupId,
          senderAccount: sender.accountId,
          senderDevice: sender.deviceId,
          epoch: frame.epoch,
          payload,
          keyPackageId: null,
        },
        frame: {
          t: 'deliver',
          kind: 'application',
          id: frame.id,
          groupId: frame.groupId,
          from: sender,
          epoch: frame.epoch,
          payload: frame.payload,
          sentAt,
        },
      }));
    seen.set(key, digest);
    return { duplicate: false };
  });

  // Every queue this batch may write, locked in one sorted statement. The acknowledging devices'
  // queues are not: their rows are deleted after this, and a transaction deleting a device locks
  // its counter before its rows, so it never holds those rows while waiting for a counter here.
  const heads = await lockQueues(trx, [
    ...planned.flatMap((p) => p?.map((e) => e.row.deviceId) ?? []),
    ...ackedSenders,
  ]);
  const acked = await deleteAcked(trx, acks, pairs, sentAt);
  const late = acked.receipts.map((r) => r.row.deviceId).filter((d) => !heads.has(d));
  // Only if an acknowledgement named an entry committed after the read above (a client acking
  // what it was not sent yet): out of order, so a deadlock is possible and retried.
  if (late.length > 0) for (const [d, last] of await lockQueues(trx, late)) heads.set(d, last);

  const claimed = await claimIds(trx, stores, outcome, now + ttlMs);
  const rows: Planned[] = [];
  stores.forEach((_, i) => {
    if (planned[i] && claimed.has(i)) rows.push(...planned[i]);
  });
  await settleUnclaimed(trx, stores, outcome, planned, claimed);
  rows.push(...acked.receipts);

  const prior = new Map(heads);
  const seqs = await appendLocked(
    trx,
    heads,
    rows.map((r) => r.row),
    { sentAt: now, expiresAt: now + ttlMs },
  );
  const frames: Addressed[] = [];
  rows.forEach(({ row, frame }, i) => {
    const seq = seqs[i];
    if (seq === undefined) return; // the device was deleted meanwhile
    const addressed: Addressed = { deviceId: row.deviceId, frame: { ...frame, seq } };
    if (notePrior) addressed.after = prior.get(row.deviceId)!;
    frames.push(addressed);
  });
  return { outcome, counts: acked.counts, storedAt: acked.storedAt, frames };
}

interface LockedGroup {
  epoch: number;
  members: string[];
  /** The member accounts, each once. */
  accounts: string[];
}

/**
 * The sends of the batch in a conversation of exactly two accounts whose other account blocks
 * the sender, as `blocker/sender` keys. Groups of more keep every message (blocks.ts says why).
 */
async function blockedInPairs(
  trx: Executor,
  blocks: BlockLookup | undefined,
  stores: readonly StoreItem[],
  groups: ReadonlyMap<string, LockedGroup>,
): Promise<Set<string>> {
  if (!blocks) return new Set();
  const pairs = new Map<string, readonly [string, string]>();
  for (const { sender, frame } of stores) {
    const accounts = groups.get(frame.groupId)?.accounts ?? [];
    const other = accounts.find((a) => a !== sender.accountId);
    if (accounts.length !== 2 || !other) continue;
    pairs.set(`${other}/${sender.accountId}`, [other, sender.accountId]);
  }
  return blocks.blockedPairs(trx, [...pairs.values()]);
}

/** The batch's groups, shared-locked in id order: each one's epoch and member devices. */
async function lockGroups(trx: Executor, ids: string[]): Promise<Map<string, LockedGroup>> {
  const groups = new Map<string, LockedGroup>();
  if (ids.length === 0) return groups;
  const { rows } = await sql<{
    id: string;
    epoch: number;
    device_id: string | null;
    account_id: string | null;
  }>`${prepared}
    select g.id, g.epoch, m.device_id, m.account_id from groups g
    left join group_members m on m.group_id = g.id
    where g.id in (select r.id from (${textsOf(trx, 'id', ids)}) r)
    order by g.id ${lockRows(trx, 'share', 'g')}`.execute(trx);
  for (const r of rows) {
    const group = groups.get(r.id) ?? { epoch: Number(r.epoch), members: [], accounts: [] };
    groups.set(r.id, group);
    if (r.device_id !== null) group.members.push(r.device_id);
    if (r.account_id !== null && !group.accounts.includes(r.account_id)) {
      group.accounts.push(r.account_id);
    }
  }
  return groups;
}

/** The digests of the batch's message ids already stored, by `sender/id`. */
async function seenDigests(
  db: Executor,
  stores: readonly StoreItem[],
): Promise<Map<string, Buffer>> {
  if (stores.length === 0) return new Map();
  const keys = stores.map((s) => [s.sender.deviceId, s.frame.id] as const);
  const { rows } = await sql<{
    sender_device: string;
    message_id: string;
    digest: Uint8Array;
  }>`${prepared}
    select s.sender_device, s.message_id, s.digest from sent_messages s
    where (s.sender_device, s.message_id) in (select k.sender_device, k.message_id from
      (${rowsOf(db, ['sender_device', 'message_id'], ['text', 'text'], keys)}) k)`.execute(db);
  return new Map(rows.map((r) => [`${r.sender_device}/${r.message_id}`, Buffer.from(r.digest)]));
}

/** The senders of the acknowledged application entries: the queues their receipts go to. */
async function sendersOf(db: Db, pairs: ReadonlyArray<[string, number]>): Promise<string[]> {
  const { rows } = await sql<{ sender_device: string }>`${prepared}
    select distinct q.sender_device from queue q
    where (q.device_id, q.seq) in (${textIntPairs(db, pairs)}) and q.kind = 'application'`.execute(
    db,
  );
  return rows.map((r) => r.sender_device);
}

/**
 * Records the batch's new message ids; one that another node recorded meanwhile is not claimed
 * (its entries are not written: that node stored them). Returns the claimed sends' indexes.
 */
async function claimIds(
  trx: Executor,
  stores: readonly StoreItem[],
  outcome: BatchResult['outcome'],
  expiresAt: number,
): Promise<Set<number>> {
  const fresh: number[] = [];
  outcome.forEach((o, i) => {
    if (!(o instanceof ParleyError) && !o.duplicate) fresh.push(i);
  });
  if (fresh.length === 0) return new Set();
  const values = rowsOf(
    trx,
    ['sender_device', 'message_id', 'digest'],
    ['text', 'text', 'bytes'],
    fresh.map((i) => [stores[i]!.sender.deviceId, stores[i]!.frame.id, stores[i]!.digest]),
  );
  // `where true`: SQLite would otherwise read ON CONFLICT as a join's ON.
  const { rows } = await sql<{ sender_device: string; message_id: string }>`${prepared}
    insert into sent_messages (sender_device, message_id, digest, expires_at)
    select v.sender_device, v.message_id, v.digest, cast(${expiresAt} as bigint)
    from (${values}) v where true
    on conflict (sender_device, message_id) do nothing
    returning sender_device, message_id`.execute(trx);
  const got = new Set(rows.map((r) => `${r.sender_device}/${r.message_id}`));
  return new Set(
    fresh.filter((i) => got.has(`${stores[i]!.sender.deviceId}/${stores[i]!.frame.id}`)),
  );
}

/** Sends another node stored first: answered as a resend, or refused if the bytes differ. */
async function settleUnclaimed(
  trx: Executor,
  stores: readonly StoreItem[],
  outcome: BatchResult['outcome'],
  planned: ReadonlyArray<Planned[] | undefined>,
  claimed: ReadonlySet<number>,
): Promise<void> {
  const lost = stores.map((_, i) => i).filter((i) => planned[i] && !claimed.has(i));
  if (lost.length === 0) return;
  const digests = await seenDigests(
    trx,
    lost.map((i) => stores[i]!),
  );
  for (const i of lost) {
    const { sender, frame, digest } = stores[i]!;
    const theirs = digests.get(`${sender.deviceId}/${frame.id}`);
    outcome[i] = theirs?.equals(digest)
      ? { duplicate: true }
      : new ParleyError('MESSAGE_ID_REUSED');
  }
}

interface AckPairs {
  list: Array<[string, number]>;
  /** Which acknowledgement each (device, seq) pair counts for. */
  owner: Map<string, number>;
}

/** Each (device, seq) pair once, counted for the first acknowledgement that named it. */
function ackPairs(acks: readonly AckItem[]): AckPairs {
  const owner = new Map<string, number>();
  const list: Array<[string, number]> = [];
  acks.forEach(({ device, seqs }, i) => {
    for (const seq of seqs) {
      const key = `${device.deviceId}/${seq}`;
      if (owner.has(key)) continue;
      owner.set(key, i);
      list.push([device.deviceId, seq]);
    }
  });
  return { list, owner };
}

/**
 * Deletes every acknowledged entry of the batch in one statement keyed by (device, seq) pairs, so
 * an ack for another device's entry matches nothing, and plans the delivery receipts: one per
 * (acknowledging device, sender device, conversation), naming at most a delivery window of
 * message ids (the frame's limit) — a window of messages costs one queue row back, not one each.
 */
async function deleteAcked(
  trx: Executor,
  acks: readonly AckItem[],
  pairs: AckPairs,
  sentAt: string,
): Promise<{ counts: number[]; storedAt: number[]; receipts: Planned[] }> {
  const counts = acks.map(() => 0);
  const storedAt: number[] = [];
  if (pairs.list.length === 0) return { counts, storedAt, receipts: [] };
  const { rows } = await sql<{
    seq: number;
    device_id: string;
    kind: QueueKind;
    message_id: string;
    group_id: string;
    sender_device: string;
    epoch: number;
    sent_at: number;
  }>`${prepared}delete from queue where (device_id, seq) in (${textIntPairs(trx, pairs.list)})
    returning seq, device_id, kind, message_id, group_id, sender_device, epoch, sent_at`.execute(
    trx,
  );
  // RETURNING has no order: seq order makes each receipt name its messages oldest first.
  rows.sort((x, y) => Number(x.seq) - Number(y.seq));
  const receipts = new Map<string, { ids: string[]; i: number; row: (typeof rows)[number] }>();
  const open: Array<{ ids: string[]; i: number; row: (typeof rows)[number] }> = [];
  for (const r of rows) {
    const i = pairs.owner.get(`${r.device_id}/${r.seq}`)!;
    counts[i]! += 1;
    if (r.kind !== 'application') continue;
    storedAt.push(Number(r.sent_at));
    const key = `${r.device_id}/${r.sender_device}/${r.group_id}`;
    const receipt = receipts.get(key);
    if (receipt && receipt.ids.length < MESSAGING_LIMITS.deliveryWindow) {
      receipt.ids.push(r.message_id);
    } else {
      const opened = { ids: [r.message_id], i, row: r };
      receipts.set(key, opened);
      open.push(opened);
    }
  }
  return {
    counts,
    storedAt,
    receipts: open.map(({ ids, i, row }) => {
      const sender = acks[i]!.device;
      return {
        row: {
          deviceId: row.sender_device,
          kind: 'receipt',
          messageId: row.message_id,
          groupId: row.group_id,
          senderAccount: sender.accountId,
          senderDevice: sender.deviceId,
          epoch: Number(row.epoch),
          payload: ids.length > 1 ? new TextEncoder().encode(JSON.stringify(ids)) : null,
          keyPackageId: null,
        },
        frame: {
          t: 'deliver',
          kind: 'receipt',
          id: row.message_id,
          groupId: row.group_id,
          from: sender,
          epoch: Number(row.epoch),
          ...(ids.length > 1 ? { ids } : {}),
          sentAt,
        },
      };
    }),
  };
}
