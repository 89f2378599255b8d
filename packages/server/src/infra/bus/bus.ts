/**
 * The bus: what server nodes share. One node needs nothing but its own memory (`InProcessBus`,
 * the default); several nodes behind a load balancer share one Redis (`RedisBus`, when
 * PARLEY_REDIS_URL is set). It carries
 *
 * - events between nodes: a device's queue grew (wake it where its socket is), ephemeral signals
 *   (typing, read receipts), presence changes, and orders to close or unwatch;
 * - which nodes have an account online, for presence watches that start on another node;
 * - token buckets (verification, key claims), so a client gains nothing by spreading over nodes;
 * - verification sessions with a TTL: short-lived, never on disk.
 *
 * Nothing a bus holds names a phone number: bucket keys for numbers are HMACs, and a session's
 * content is encrypted by its owner (see verification.ts) under a key only the client holds.
 */

import type { DeliverFrame, ServerFrame } from '@parley/core';

/** What a node tells the others; each node acts on its own connections. */
export type BusEvent =
  | { t: 'wake'; devices: string[] }
  /**
   * From the bus itself, not another node: events may have been lost (Redis was unreachable and
   * is back), so every device connected here reads its queue.
   */
  | { t: 'resync' }
  /**
   * Entries just committed for devices connected elsewhere, each with what its queue held before
   * (`after`): the node holding the socket sends them without reading the queue back, when it
   * has sent everything up to `after`; else it reads (as on wake).
   */
  | { t: 'offer'; entries: Array<{ deviceId: string; frame: DeliverFrame; after: number }> }
  | { t: 'relay'; devices: string[]; frame: ServerFrame }
  | { t: 'presence'; accountId: string; online: boolean }
  /** `watchers`: only these accounts' devices stop watching; absent, everyone does. */
  | { t: 'unwatch'; accountId: string; watchers?: string[] }
  | { t: 'rewatch'; accountId: string; watchers: string[] }
  | { t: 'disconnect'; devices: string[]; code: number; reason: string };

/** One server node's membership of the bus. */
export interface BusNode {
  readonly id: string;
  /**
   * False while this is the only node: the hub then skips publishing altogether, so the
   * single-node message path pays nothing for the bus.
   */
  readonly hasPeers: boolean;
  /** Sends to every other node (never back to this one). Fire and forget. */
  publish(event: BusEvent): void;
  /**
   * Records whether this node has any device of `accountId` connected (or, for a key
   * `device:<id>`, that device: realtime/hub.ts).
   */
  setOnline(accountId: string, online: boolean): void;
  /** Whether another live node has a device of `accountId` connected. */
  onlineElsewhere(accountId: string): Promise<boolean>;
  /** Leaves the bus: no more events, and this node's presence is withdrawn. */
  leave(): Promise<void>;
}

/** A token bucket's shape: `capacity` tokens, refilled at `capacity` per `windowMs`. */
export interface Bucket {
  readonly name: string;
  readonly capacity: number;
  readonly windowMs: number;
}

export interface LimitResult {
  allowed: boolean;
  retryAfterMs: number;
}

/** Short-lived sessions (verifications). `data` is opaque to the bus. */
export interface SessionStore {
  create(id: string, data: string, ttlMs: number): Promise<void>;
  get(id: string): Promise<string | undefined>;
  /** Counts one failed attempt and returns the count so far; 0 when the session is gone. */
  fail(id: string): Promise<number>;
  /** Deletes the session; true only for the one caller that removed it (single use). */
  consume(id: string): Promise<boolean>;
  /** Live sessions (for the admin stats; on Redis a scan of the session keys). */
  count(): Promise<number>;
}

export interface Bus {
  readonly kind: 'in-process' | 'redis';
  /** Joins as a node; `onEvent` receives what other nodes publish. */
  join(onEvent: (event: BusEvent) => void): Promise<BusNode>;
  /** Takes `cost` tokens from `key`'s bucket, atomically across nodes. */
  take(bucket: Bucket, key: string, cost?: number): Promise<LimitResult>;
  /** Gives back up to `cost` tokens (never above capacity), e.g. for work that was not done. */
  refund(bucket: Bucket, key: string, cost?: number): Promise<void>;
  /** Drops `key`'s bucket (its owner is gone; nothing about it is kept). */
  forget(bucket: Bucket, key: string): Promise<void>;
  readonly sessions: SessionStore;
  /** Whether the bus can be used now (`/readyz`). */
  ready(): Promise<boolean>;
  close(): Promise<void>;
}

/** Charges every bucket, or none: a refusal gives back what the others took, and names the wait. */
export async function takeAll(
  bus: Bus,
  buckets: readonly Bucket[],
  key: string,
): Promise<LimitResult> {
  const taken: Bucket[] = [];
  for (const bucket of buckets) {
    const result = await bus.take(bucket, key);
    if (!result.allowed) {
      for (const t of taken) await bus.refund(t, key);
      return result;
    }
    taken.push(bucket);
  }
  return { allowed: true, retryAfterMs: 0 };
}
