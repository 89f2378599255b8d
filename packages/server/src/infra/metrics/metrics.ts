/**
 * Prometheus metrics (`GET /metrics`, text exposition format, admin token required). Each server
 * has its own registry, so tests can run several in one process. What is cheap to read is read at
 * scrape time (connections, queue depth, counters kept as plain numbers by their owners); only the
 * HTTP histogram is updated per request, with labels bounded by the route table.
 */

import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Db } from '../db/database.js';
import type { OprfPool } from '../oprf/oprf-pool.js';
import type { Buckets, DeliveryStats } from './counters.js';

/**
 * What the metrics read from, described by what is read: the services that hold these numbers
 * sit above this layer, and hand themselves in at start (server.ts).
 */
export interface MetricSources {
  db: Db;
  hub: { connectionCount(): number };
  mailbox: { readonly stats: DeliveryStats };
  discovery: { readonly evaluations: number };
  pool: Pick<OprfPool, 'stats' | 'pendingTasks'>;
  /** Push wake-ups by outcome (push/notifier.ts). */
  push?: {
    readonly stats: {
      claimed: number;
      sent: number;
      gone: number;
      refused: number;
      failed: number;
    };
  };
}

/** Refusals counted by kind: error code → kind (`RATE_LIMITED` is told apart by its route). */
const RATE_LIMIT_KINDS: Record<string, string> = {
  VERIFICATION_RATE_LIMITED: 'verification',
  'RATE_LIMITED /v1/discovery/resolve': 'resolve',
  'RATE_LIMITED /v1/keys/claim': 'key_claim',
};

/** The errors of a verification SMS that did not go out (infra/sms). */
const SMS_FAILURES: readonly string[] = [
  'SMS_DELIVERY_FAILED',
  'SMS_NUMBER_REJECTED',
  'SMS_PROVIDER_RATE_LIMITED',
  'SMS_PROVIDER_OUT_OF_CREDIT',
  'SMS_PROVIDER_UNAVAILABLE',
];

export class Metrics {
  readonly registry = new Registry();
  /** Content type of `registry.metrics()`. */
  readonly contentType = this.registry.contentType;
  private readonly budgetRefusals: Counter;
  private readonly rateLimitRefusals: Counter<'kind'>;
  private readonly smsFailures: Counter<'code'>;
  private readonly httpDuration: Histogram<'method' | 'route' | 'status_class'>;

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    const { db, hub, mailbox, discovery, pool } = sources;
    const stats = mailbox.stats;
    collectDefaultMetrics({ register: this.registry });

    new Gauge({
      name: 'parley_websocket_connections',
      help: 'Authenticated device WebSocket connections open on this node.',
      registers,
      collect() {
        this.set(hub.connectionCount());
      },
    });
    new Gauge({
      name: 'parley_queue_depth',
      help: 'Queue entries waiting for their device to acknowledge them, all devices.',
      registers,
      async collect() {
        const { n } = await db
          .selectFrom('queue')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow();
        this.set(Number(n));
      },
    });
    counterFrom(registers, 'parley_messages_stored_total', 'Messages stored.', () => stats.stored);
    const push = sources.push;
    if (push) {
      for (const outcome of ['claimed', 'sent', 'gone', 'refused', 'failed'] as const) {
        counterFrom(
          registers,
          `parley_push_${outcome}_total`,
          {
            claimed:
              'Wake-ups claimed for devices with no open socket (one per coalescing window).',
            sent: 'Wake-ups a push service accepted.',
            gone: 'Subscriptions dropped because the push service answered 404 or 410.',
            refused: 'Wake-ups a push service refused for good (4xx other than 404, 410, 429).',
            failed: 'Wake-ups given up after retries (429, 5xx, unreachable) or at shutdown.',
          }[outcome],
          () => push.stats[outcome],
        );
      }
    }
    counterFrom(
      registers,
      'parley_queue_entries_delivered_total',
      'Queue entries pushed to devices (redeliveries included).',
      () => stats.delivered,
    );
    counterFrom(
      registers,
      'parley_sends_refused_busy_total',
      'Sends refused with SERVER_BUSY because too many were already waiting to be stored.',
      () => stats.refusedBusy,
    );
    counterFrom(
      registers,
      'parley_queue_entries_acknowledged_total',
      'Queue entries acknowledged by their device.',
      () => stats.acknowledged,
    );
    new BucketHistogram(
      'parley_delivery_latency_seconds',
      'From a message being stored to a recipient device acknowledging it.',
      stats.latency,
      registers,
    );
    counterFrom(
      registers,
      'parley_discovery_evaluations_total',
      'Blinded elements evaluated for discovery.',
      () => discovery.evaluations,
    );
    counterFrom(
      registers,
      'parley_oprf_tasks_total',
      'Tasks handed to the OPRF worker pool.',
      () => pool.stats.tasks,
    );
    counterFrom(
      registers,
      'parley_oprf_elements_total',
      'Group elements sent to the OPRF worker pool.',
      () => pool.stats.elements,
    );
    new Gauge({
      name: 'parley_oprf_pending_tasks',
      help: 'Tasks waiting for or running in an OPRF worker.',
      registers,
      collect() {
        this.set(pool.pendingTasks);
      },
    });
    this.budgetRefusals = new Counter({
      name: 'parley_discovery_budget_refusals_total',
      help: 'Discovery requests refused with DISCOVERY_BUDGET_EXHAUSTED.',
      registers,
    });
    this.rateLimitRefusals = new Counter({
      name: 'parley_rate_limit_refusals_total',
      help: 'Requests refused by a rate limit, by kind.',
      labelNames: ['kind'],
      registers,
    });
    for (const kind of new Set(Object.values(RATE_LIMIT_KINDS))) {
      this.rateLimitRefusals.inc({ kind }, 0);
    }
    this.smsFailures = new Counter({
      name: 'parley_sms_failures_total',
      help: 'Verification codes the SMS provider did not take, by error code.',
      labelNames: ['code'],
      registers,
    });
    for (const code of SMS_FAILURES) this.smsFailures.inc({ code }, 0);
    this.httpDuration = new Histogram({
      name: 'parley_http_request_duration_seconds',
      help: 'HTTP request duration by route and status class.',
      labelNames: ['method', 'route', 'status_class'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
  }

  /** An HTTP request was answered. `route` is the route pattern, never the raw URL. */
  request(method: string, route: string | undefined, status: number, ms: number): void {
    this.httpDuration.observe(
      { method, route: route ?? 'unmatched', status_class: `${Math.floor(status / 100)}xx` },
      ms / 1000,
    );
  }

  /** An HTTP request was refused with this error code. */
  refused(code: string, route: string | undefined): void {
    if (SMS_FAILURES.includes(code)) {
      this.smsFailures.inc({ code });
      return;
    }
    if (code === 'DISCOVERY_BUDGET_EXHAUSTED') {
      this.budgetRefusals.inc();
      return;
    }
    const kind =
      RATE_LIMIT_KINDS[code] ??
      RATE_LIMIT_KINDS[`${code} ${route}`] ??
      (code === 'RATE_LIMITED' ? 'other' : undefined);
    if (kind) this.rateLimitRefusals.inc({ kind });
  }

  /** The exposition text. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}

/** A counter whose value is a number its owner keeps, read at scrape time. */
function counterFrom(
  registers: Registry[],
  name: string,
  help: string,
  read: () => number,
): Counter {
  return new Counter({
    name,
    help,
    registers,
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

type Exported = Awaited<ReturnType<Histogram['get']>>;

/**
 * A Prometheus histogram exported from plain `Buckets`: the message path observes into an array
 * (a comparison loop, no allocation) instead of prom-client's labelled map, 5–7× as costly.
 */
class BucketHistogram extends Histogram {
  constructor(
    private readonly metricName: string,
    private readonly helpText: string,
    private readonly source: Buckets,
    registers: Registry[],
  ) {
    super({ name: metricName, help: helpText, buckets: [...source.bounds], registers });
  }

  override async get(): Promise<Exported> {
    return this.getForPromString();
  }

  /** What the registry formats (prom-client's own histogram reads its label map here). */
  async getForPromString(): Promise<Exported> {
    const { bounds, counts, count, sum } = this.source;
    const name = this.metricName;
    const values: Exported['values'] = [];
    let cumulative = 0;
    bounds.forEach((le, i) => {
      cumulative += counts[i]!;
      values.push({ metricName: `${name}_bucket`, labels: { le }, value: cumulative });
    });
    values.push({ metricName: `${name}_bucket`, labels: { le: '+Inf' }, value: count });
    values.push({ metricName: `${name}_sum`, labels: {}, value: sum });
    values.push({ metricName: `${name}_count`, labels: {}, value: count });
    // prom-client's typings say MetricType is a numeric enum; at run time the type is this string.
    const type = 'histogram' as unknown as Exported['type'];
    return { name, help: this.helpText, type, aggregator: 'sum', values, collect: () => {} };
  }
}
