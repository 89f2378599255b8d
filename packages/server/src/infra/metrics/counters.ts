/**
 * Counters the message path updates: plain numbers and a fixed-bucket histogram, so counting a
 * message costs an addition, not a label lookup. Prometheus reads them at scrape time
 * (metrics.ts); nothing here knows about Prometheus.
 */

/** Upper bounds (seconds) of the delivery-latency buckets: from a live socket to a day offline. */
export const LATENCY_BOUNDS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21_600, 86_400,
];

/** A histogram without labels: `counts[i]` holds the observations in (bounds[i-1], bounds[i]]. */
export class Buckets {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    this.sum += value;
    this.count += 1;
    const { bounds, counts } = this;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        counts[i] = counts[i]! + 1;
        return;
      }
    }
    // Above the last bound: only in +Inf, which is `count`.
  }
}

/** What happened to queue entries since the server started. */
export class DeliveryStats {
  /** Application messages stored (a retried send answered `duplicate` is not counted again). */
  stored = 0;
  /** Queue entries pushed to a device, redeliveries after a reconnect included. */
  delivered = 0;
  /** Queue entries a device acknowledged (and the server deleted). */
  acknowledged = 0;
  /** Sends refused with SERVER_BUSY (too many already waiting to be stored). */
  refusedBusy = 0;
  /** Seconds from an application message being stored to a recipient device acknowledging it. */
  readonly latency = new Buckets(LATENCY_BOUNDS);
}
