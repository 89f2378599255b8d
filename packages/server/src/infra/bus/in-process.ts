/**
 * The default bus: everything in this process's memory, every call a direct one. Nodes that
 * join the same instance (tests run two "nodes" in one process) reach each other by plain
 * function calls; a single node has no peers and publishes nothing.
 */

import { randomBytes } from 'node:crypto';
import type { Bucket, Bus, BusEvent, BusNode, LimitResult, SessionStore } from './bus.js';
import { TokenBuckets } from './token-buckets.js';

export class InProcessBus implements Bus {
  readonly kind = 'in-process';
  readonly sessions: SessionStore;
  private readonly nodes = new Map<string, (event: BusEvent) => void>();
  /** account id → ids of the nodes that have one of its devices connected */
  private readonly online = new Map<string, Set<string>>();
  private readonly buckets = new Map<string, TokenBuckets>();

  constructor(private readonly now: () => number = Date.now) {
    this.sessions = new MemorySessions(now);
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
    return this.bucketsOf(bucket).take(key, cost);
  }

  async refund(bucket: Bucket, key: string, cost = 1): Promise<void> {
    this.bucketsOf(bucket).refund(key, cost);
  }

  async forget(bucket: Bucket, key: string): Promise<void> {
    this.buckets.get(bucket.name)?.forget(key);
  }

  async ready(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {
    this.nodes.clear();
    this.online.clear();
    this.buckets.clear();
    (this.sessions as MemorySessions).clear();
  }

  private bucketsOf(bucket: Bucket): TokenBuckets {
    let buckets = this.buckets.get(bucket.name);
    if (!buckets) {
      buckets = new TokenBuckets(bucket.capacity, bucket.windowMs, this.now);
      this.buckets.set(bucket.name, buckets);
    }
    return buckets;
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
