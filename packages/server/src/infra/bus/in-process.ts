/**
 * The default bus: everything in this process's memory, every call a direct one. Nodes that
 * join the same instance (tests run two "nodes" in one process) reach each other by plain
 * function calls; a single node has no peers and publishes nothing.
 *
 * With `persist`, the token buckets outlive the process: they are loaded at construction and
 * saved every few seconds while they change and on close, so a restart gives nobody a fresh
 * allowance. Their keys are then HMACs under `persist.key`, so the file holds no address or
 * number. Sessions (pending verifications) are never saved: they hold a number.
 */

import { createHmac, randomBytes } from 'node:crypto';
import { type BucketState, loadBucketState, saveBucketState } from './bucket-state.js';
import type { Bucket, Bus, BusEvent, BusNode, LimitResult, SessionStore } from './bus.js';
import { TokenBuckets } from './token-buckets.js';

export interface BucketPersistence {
  /** The state file (beside the data). */
  path: string;
  /** Keys the bucket keys written there. */
  key: Uint8Array;
  /** How often changed buckets are saved; default 5 s. */
  intervalMs?: number;
}

export class InProcessBus implements Bus {
  readonly kind = 'in-process';
  readonly sessions: SessionStore;
  private readonly nodes = new Map<string, (event: BusEvent) => void>();
  /** account id → ids of the nodes that have one of its devices connected */
  private readonly online = new Map<string, Set<string>>();
  private readonly buckets = new Map<string, TokenBuckets>();
  /** Saved buckets whose shape is not known yet (nobody has taken from them since the start). */
  private readonly loaded: BucketState;
  private dirty = false;
  private closed = false;
  private readonly saver: NodeJS.Timeout | undefined;

  constructor(
    private readonly now: () => number = Date.now,
    private readonly persist?: BucketPersistence,
  ) {
    this.sessions = new MemorySessions(now);
    this.loaded = persist ? loadBucketState(persist.path) : new Map();
    if (persist) {
      this.saver = setInterval(() => {
        if (this.dirty) this.save();
      }, persist.intervalMs ?? 5_000);
      this.saver.unref();
    }
  }

  /** Writes the buckets to the state file now (when persisting). */
  save(): void {
    if (!this.persist) return;
    this.dirty = false;
    const state: BucketState = new Map(this.loaded);
    for (const [name, buckets] of this.buckets) state.set(name, buckets.entries());
    saveBucketState(this.persist.path, state);
  }

  async join(onEvent: (event: BusEvent) => void): Promise<BusNode> {
    const id = randomBytes(8).toString('hex');
    this.nodes.set(id, onEvent);
    const { nodes, online } = this;
    return {
      id,
      get hasPeers() {
        return nodes.size > 1;
      },
      publish(event) {
        for (const [other, deliver] of nodes) if (other !== id) deliver(event);
      },
      setOnline(accountId, isOnline) {
        let set = online.get(accountId);
        if (isOnline) {
          if (!set) {
            set = new Set();
            online.set(accountId, set);
          }
          set.add(id);
        } else if (set?.delete(id) && set.size === 0) online.delete(accountId);
      },
      async onlineElsewhere(accountId) {
        for (const node of online.get(accountId) ?? []) if (node !== id) return true;
        return false;
      },
      async leave() {
        nodes.delete(id);
        for (const [accountId, set] of online) {
          if (set.delete(id) && set.size === 0) online.delete(accountId);
        }
      },
    };
  }

  async take(bucket: Bucket, key: string, cost = 1): Promise<LimitResult> {
    this.dirty = true;
    return this.bucketsOf(bucket).take(this.keyOf(key), cost);
  }

  async refund(bucket: Bucket, key: string, cost = 1): Promise<void> {
    this.dirty = true;
    this.bucketsOf(bucket).refund(this.keyOf(key), cost);
  }

  async forget(bucket: Bucket, key: string): Promise<void> {
    this.dirty = true;
    this.bucketsOf(bucket).forget(this.keyOf(key));
  }

  async ready(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {
    clearInterval(this.saver);
    if (!this.closed) this.save();
    this.closed = true;
    this.nodes.clear();
    this.online.clear();
    this.buckets.clear();
    (this.sessions as MemorySessions).clear();
  }

  private bucketsOf(bucket: Bucket): TokenBuckets {
    let buckets = this.buckets.get(bucket.name);
    if (!buckets) {
      buckets = new TokenBuckets(bucket.capacity, bucket.windowMs, this.now);
      buckets.restore(this.loaded.get(bucket.name) ?? []);
      this.loaded.delete(bucket.name);
      this.buckets.set(bucket.name, buckets);
    }
    return buckets;
  }

  private keyOf(key: string): string {
    if (!this.persist) return key;
    return createHmac('sha256', this.persist.key).update(key).digest('base64url');
  }
}

export class MemorySessions implements SessionStore {
  private readonly entries = new Map<string, { data: string; expiresAt: number; fails: number }>();
  /** Expired sessions leave memory within 30 s even if nobody asks for them again. */
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly now: () => number) {
    this.sweeper = setInterval(() => this.sweep(this.now()), 30_000);
    this.sweeper.unref();
  }

  /** Entries held in memory, expired or not. */
  get held(): number {
    return this.entries.size;
  }

  async count(): Promise<number> {
    this.sweep(this.now());
    return this.entries.size;
  }

  async create(id: string, data: string, ttlMs: number): Promise<void> {
    this.entries.set(id, { data, expiresAt: this.now() + ttlMs, fails: 0 });
  }

  async get(id: string): Promise<string | undefined> {
    return this.live(id)?.data;
  }

  async fail(id: string): Promise<number> {
    const entry = this.live(id);
    if (!entry) return 0;
    entry.fails += 1;
    return entry.fails;
  }

  async consume(id: string): Promise<boolean> {
    const live = this.live(id) !== undefined;
    this.entries.delete(id);
    return live;
  }

  clear(): void {
    clearInterval(this.sweeper);
    this.entries.clear();
  }

  private live(id: string) {
    const entry = this.entries.get(id);
    if (entry && entry.expiresAt <= this.now()) {
      this.entries.delete(id);
      return undefined;
    }
    return entry;
  }

  private sweep(now: number): void {
    for (const [id, e] of this.entries) if (e.expiresAt <= now) this.entries.delete(id);
  }
}
