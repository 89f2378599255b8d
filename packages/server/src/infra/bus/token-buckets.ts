/**
 * In-memory token buckets keyed by string (an IP, or a keyed hash of a number). A bucket holds
 * `capacity` tokens and refills at capacity per `windowMs`; an empty bucket answers with how long
 * until the next token. Idle buckets that have refilled completely are swept.
 */

export interface LimitResult {
  allowed: boolean;
  retryAfterMs: number;
}

export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly ratePerMs: number;

  constructor(
    private readonly capacity: number,
    windowMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.ratePerMs = capacity / windowMs;
  }

  take(key: string, cost = 1): LimitResult {
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.capacity, at: now };
    const tokens = Math.min(this.capacity, bucket.tokens + (now - bucket.at) * this.ratePerMs);
    if (tokens < cost) {
      this.buckets.set(key, { tokens, at: now });
      return { allowed: false, retryAfterMs: Math.ceil((cost - tokens) / this.ratePerMs) };
    }
    this.buckets.set(key, { tokens: tokens - cost, at: now });
    if (this.buckets.size > 10_000) this.sweep(now);
    return { allowed: true, retryAfterMs: 0 };
  }

  /** Gives back up to `cost` tokens, never above capacity. */
  refund(key: string, cost = 1): void {
    const bucket = this.buckets.get(key);
    if (bucket) bucket.tokens = Math.min(this.capacity, bucket.tokens + cost);
  }

  /** Drops the bucket of `key` (its owner is gone; nothing about it is kept). */
  forget(key: string): void {
    this.buckets.delete(key);
  }

  /** The buckets not yet full again, as `[key, tokens, at]` (to be saved across a restart). */
  entries(): Array<[string, number, number]> {
    this.sweep(this.now());
    return [...this.buckets].map(([key, b]) => [key, b.tokens, b.at]);
  }

  /** Puts back what `entries()` returned; they refill from `at` as if never gone. */
  restore(entries: Iterable<readonly [string, number, number]>): void {
    for (const [key, tokens, at] of entries) {
      this.buckets.set(key, { tokens: Math.min(this.capacity, tokens), at });
    }
  }

  private sweep(now: number): void {
    for (const [key, b] of this.buckets) {
      if (b.tokens + (now - b.at) * this.ratePerMs >= this.capacity) this.buckets.delete(key);
    }
  }
}
