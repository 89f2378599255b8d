/**
 * The bus on Redis, for several nodes behind a load balancer. Events go over pub/sub (one
 * channel; the subscriber is a duplicated connection, as a subscribed connection can send nothing
 * else); buckets and sessions are hashes updated by Lua scripts, so each take or attempt is atomic
 * across nodes, and timed by Redis' own clock, so nodes' clocks need not agree. Every key starts
 * with the configured prefix. No key or value holds a phone number: bucket keys for numbers are
 * HMACs, session keys are hashes of the verification id, and session data arrives encrypted.
 */

import { createHash, randomBytes } from 'node:crypto';
import { ParleyError } from '@parley/core';
import { Redis } from 'ioredis';
import type { Bucket, Bus, BusEvent, BusNode, LimitResult, SessionStore } from './bus.js';

/** A node that stops refreshing its heartbeat (it crashed) no longer counts as having anyone online. */
const HEARTBEAT_MS = 10_000;
const NODE_TTL_MS = 30_000;

// KEYS[1] bucket; ARGV capacity, tokens per ms, cost (negative: a refund). Returns {allowed, retryAfterMs}.
const TAKE = `
local cap = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1])
local at = tonumber(b[2])
if tokens == nil then
  if cost < 0 then return {1, 0} end
  tokens = cap
  at = now
end
tokens = math.min(cap, tokens + math.max(0, now - at) * rate)
local ttl = math.ceil((cap - math.min(tokens - math.max(cost, 0), cap)) / rate) + 1000
if cost >= 0 and tokens < cost then
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
  redis.call('PEXPIRE', KEYS[1], ttl)
  return {0, math.ceil((cost - tokens) / rate)}
end
redis.call('HSET', KEYS[1], 'tokens', tostring(math.min(cap, tokens - cost)), 'at', now)
redis.call('PEXPIRE', KEYS[1], ttl)
return {1, 0}
`;

// KEYS[1] session. Returns the failure count, 0 when the session is gone.
const FAIL = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('HINCRBY', KEYS[1], 'fails', 1)
`;

// KEYS[1] the account's set of node ids; ARGV this node, node key prefix. Stale nodes are dropped.
const ONLINE_ELSEWHERE = `
for _, node in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if node ~= ARGV[1] then
    if redis.call('EXISTS', ARGV[2] .. node) == 1 then return 1 end
    redis.call('SREM', KEYS[1], node)
  end
end
return 0
`;

/** A request that needs Redis while it is unreachable gets 503, not 500. */
function unavailable(cause: unknown): never {
  throw new ParleyError('SERVICE_UNAVAILABLE', { cause });
}

interface Scripts {
  parleyTake(key: string, cap: number, rate: number, cost: number): Promise<[number, number]>;
  parleyFail(key: string): Promise<number>;
  parleyOnlineElsewhere(key: string, node: string, nodePrefix: string): Promise<number>;
}

type Client = Redis & Scripts;

export class RedisBus implements Bus {
  readonly kind = 'redis';
  readonly sessions: SessionStore;
  private readonly nodes = new Set<RedisNode>();

  private constructor(
    private readonly client: Client,
    readonly prefix: string,
  ) {
    this.sessions = new RedisSessions(client, `${prefix}session:`);
  }

  /** Connects, or throws an error naming the URL's host (never its password) and the cause. */
  static async open(url: string, prefix: string): Promise<RedisBus> {
    const redis = new Redis(url, {
      lazyConnect: true,
      maxRetriesPerRequest: 2,
      connectTimeout: 5_000,
    });
    // Errors surface through the commands that fail; an unhandled 'error' event would crash.
    redis.on('error', () => {});
    try {
      await redis.connect();
    } catch (cause) {
      redis.disconnect();
      const host = new URL(url).host;
      throw new Error(`Redis at ${host} (PARLEY_REDIS_URL) is not reachable: ${String(cause)}`, {
        cause,
      });
    }
    redis.defineCommand('parleyTake', { numberOfKeys: 1, lua: TAKE });
    redis.defineCommand('parleyFail', { numberOfKeys: 1, lua: FAIL });
    redis.defineCommand('parleyOnlineElsewhere', { numberOfKeys: 1, lua: ONLINE_ELSEWHERE });
    return new RedisBus(redis as Client, prefix);
  }

  async join(onEvent: (event: BusEvent) => void): Promise<BusNode> {
    const node = new RedisNode(this.client, this.prefix, onEvent, (n) => this.nodes.delete(n));
    await node.start();
    this.nodes.add(node);
    return node;
  }

  async take(bucket: Bucket, key: string, cost = 1): Promise<LimitResult> {
    const [allowed, retryAfterMs] = await this.client
      .parleyTake(
        this.bucketKey(bucket, key),
        bucket.capacity,
        bucket.capacity / bucket.windowMs,
        cost,
      )
      .catch(unavailable);
    return { allowed: allowed === 1, retryAfterMs };
  }

  async refund(bucket: Bucket, key: string, cost = 1): Promise<void> {
    await this.client
      .parleyTake(
        this.bucketKey(bucket, key),
        bucket.capacity,
        bucket.capacity / bucket.windowMs,
        -cost,
      )
      .catch(unavailable);
  }

  async forget(bucket: Bucket, key: string): Promise<void> {
    await this.client.del(this.bucketKey(bucket, key)).catch(unavailable);
  }

  async ready(): Promise<boolean> {
    try {
      const pong = await Promise.race([
        this.client.ping(),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error('timeout')), 1_000).unref(),
        ),
      ]);
      return pong === 'PONG';
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    for (const node of [...this.nodes]) await node.leave().catch(() => {});
    this.client.disconnect();
  }

  private bucketKey(bucket: Bucket, key: string): string {
    return `${this.prefix}bucket:${bucket.name}:${key}`;
  }
}

class RedisNode implements BusNode {
  readonly id = randomBytes(8).toString('hex');
  readonly hasPeers = true;
  private readonly channel: string;
  private readonly nodeKey: string;
  private readonly onlineHere = new Set<string>();
  private subscriber: Redis | undefined;
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: Client,
    private readonly prefix: string,
    private readonly onEvent: (event: BusEvent) => void,
    private readonly onLeave: (node: RedisNode) => void,
  ) {
    this.channel = `${prefix}events`;
    this.nodeKey = `${prefix}node:${this.id}`;
  }

  async start(): Promise<void> {
    const subscriber = this.client.duplicate();
    subscriber.on('error', () => {});
    subscriber.on('message', (_channel: string, message: string) => {
      try {
        const { from, event } = JSON.parse(message) as { from: string; event: BusEvent };
        if (from !== this.id) this.onEvent(event);
      } catch {
        // A malformed message (another version's?) must not take the node down.
      }
    });
    await subscriber.subscribe(this.channel);
    this.subscriber = subscriber;
    // Back after an outage (ioredis reconnects and subscribes again by itself): whatever was
    // published meanwhile is lost, so the devices here read their queues, and this node's
    // presence is written again (a restarted Redis has none).
    subscriber.on('ready', () => {
      this.onEvent({ t: 'resync' });
      for (const accountId of this.onlineHere) {
        this.client.sadd(`${this.prefix}online:${accountId}`, this.id).catch(() => {});
      }
      this.client.set(this.nodeKey, '1', 'PX', NODE_TTL_MS).catch(() => {});
    });
    await this.client.set(this.nodeKey, '1', 'PX', NODE_TTL_MS);
    this.heartbeat = setInterval(() => {
      this.client.set(this.nodeKey, '1', 'PX', NODE_TTL_MS).catch(() => {});
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  publish(event: BusEvent): void {
    this.client.publish(this.channel, JSON.stringify({ from: this.id, event })).catch(() => {});
  }

  setOnline(accountId: string, online: boolean): void {
    const key = `${this.prefix}online:${accountId}`;
    if (online) {
      this.onlineHere.add(accountId);
      this.client.sadd(key, this.id).catch(() => {});
    } else {
      this.onlineHere.delete(accountId);
      this.client.srem(key, this.id).catch(() => {});
    }
  }

  async onlineElsewhere(accountId: string): Promise<boolean> {
    const found = await this.client.parleyOnlineElsewhere(
      `${this.prefix}online:${accountId}`,
      this.id,
      `${this.prefix}node:`,
    );
    return found === 1;
  }

  async leave(): Promise<void> {
    clearInterval(this.heartbeat);
    this.onLeave(this);
    this.subscriber?.disconnect();
    const pipeline = this.client.pipeline().del(this.nodeKey);
    for (const accountId of this.onlineHere)
      pipeline.srem(`${this.prefix}online:${accountId}`, this.id);
    this.onlineHere.clear();
    await pipeline.exec();
  }
}

class RedisSessions implements SessionStore {
  constructor(
    private readonly client: Client,
    private readonly prefix: string,
  ) {}

  async create(id: string, data: string, ttlMs: number): Promise<void> {
    await this.client
      .multi()
      .hset(this.key(id), 'data', data, 'fails', 0)
      .pexpire(this.key(id), ttlMs)
      .exec()
      .catch(unavailable);
  }

  async get(id: string): Promise<string | undefined> {
    return (await this.client.hget(this.key(id), 'data').catch(unavailable)) ?? undefined;
  }

  async fail(id: string): Promise<number> {
    return this.client.parleyFail(this.key(id)).catch(unavailable);
  }

  async consume(id: string): Promise<boolean> {
    return (await this.client.del(this.key(id)).catch(unavailable)) === 1;
  }

  async count(): Promise<number> {
    let n = 0;
    for (let cursor = '0'; ; ) {
      const [next, keys] = await this.client.scan(
        cursor,
        'MATCH',
        `${this.prefix}*`,
        'COUNT',
        1000,
      );
      n += keys.length;
      cursor = next;
      if (cursor === '0') return n;
    }
  }

  /** The id is the client's secret (it also keys the data's encryption): keys show only a hash. */
  private key(id: string): string {
    return this.prefix + createHash('sha256').update(id).digest('base64url');
  }
}
