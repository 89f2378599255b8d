// Section "load": the relay under many connected devices, through `npm run load`'s generator
// (scripts/load.mjs: its own server processes on loopback, N devices in one-to-one pairs over real
// WebSockets, a fixed offered rate, a drain, then lost/duplicate accounting). Why: issue 16 asks
// what one node on SQLite, one on PostgreSQL and two on PostgreSQL + Redis deliver at 1,000 to
// 8,000 msg/s offered: p50 ≤ 20 ms and p99 ≤ 50 ms at 2,000 msg/s on PostgreSQL (1 and 2 nodes),
// nothing lost or duplicated anywhere, and past saturation no collapse — delivered at twice the
// saturating offered rate ≥ 0.9 × the saturation figure; and on two nodes, no cluster-wide lock:
// a backend waits on a lock in ≤ 5 % of pg_stat_activity samples. Sends a node refuses for now (a
// retryable error) are resent with the same id, as the SDK's outbox does, and counted as refused.
// With 2 nodes the two devices of every conversation sit on different nodes, so every message and
// every receipt crosses from one node to the other (the worst case for a load balancer).
// The capacity rows (messages per node CPU-second, PostgreSQL CPU per 1,000 messages) are what
// docs/operations.md's capacity model is built from.
//
// Usage: node bench/load.mjs. BENCH_LOAD_RATES (default 1000,2000,4000,8000 msg/s),
// BENCH_LOAD_SECONDS (default 15), BENCH_LOAD_DEVICES (default 1000), BENCH_LOAD_CONFIGS (default
// sqlite,postgres,postgres-2). BENCH_SMOKE=1: 20 devices on 1 node with SQLite at 100 and 200 msg/s
// for 1 s each, no PostgreSQL or Redis (lib/smoke.mjs); the variables above still override.

import { emit, formatNumber, progress } from './lib/measure.mjs';
import { SMOKE, setting, smokeNote, smokeOr } from './lib/smoke.mjs';

const { runLoad } = await import(new URL('../scripts/load.mjs', import.meta.url).href);
const list = (name, full, small) =>
  (process.env[name] || smokeOr(full, small)).split(',').map((v) => v.trim());
const rates = list('BENCH_LOAD_RATES', '1000,2000,4000,8000', '100,200').map(Number);
const duration = setting('BENCH_LOAD_SECONDS', 15, 1);
const sizes = list('BENCH_LOAD_DEVICES', '1000', '20').map(Number);
const CONFIGS = {
  sqlite: { storage: 'sqlite', nodes: 1, label: '1 node, SQLite' },
  postgres: { storage: 'postgres', nodes: 1, label: '1 node, PostgreSQL' },
  'postgres-2': { storage: 'postgres', nodes: 2, label: '2 nodes, PostgreSQL + Redis' },
};
// Smoke mode needs no services: the SQLite node only.
const configs = list('BENCH_LOAD_CONFIGS', 'sqlite,postgres,postgres-2', 'sqlite').map((name) => {
  if (!CONFIGS[name]) throw new Error(`BENCH_LOAD_CONFIGS: unknown configuration ${name}`);
  return { name, ...CONFIGS[name] };
});
for (const rate of rates) {
  if (!(Number.isInteger(rate) && rate > 0)) throw new Error(`BENCH_LOAD_RATES: bad rate ${rate}`);
}
/** Issue 16's goals. */
const GOALS = { latencyRate: 2000, p50: 20, p99: 50, overload: 0.9, lockWaits: 0.05, cost: 1.3 };

const ms = (v) => `${v.toFixed(1)} ms`;
const pct = (share) => `${(share * 100).toFixed(1)} %`;
const rows = [];
const notes = [];

for (const devices of sizes) {
  /** config name → rate → result */
  const results = new Map();
  for (const config of configs) {
    const byRate = new Map();
    results.set(config.name, byRate);
    const label = `${config.label}, ${formatNumber(devices)} devices`;
    for (const rate of rates) {
      progress(
        `load: ${config.label}, ${devices} devices, ${rate} msg/s offered for ${duration} s`,
      );
      const r = await runLoad({
        devices,
        rate,
        duration,
        storage: config.storage,
        nodes: config.nodes,
      });
      byRate.set(rate, r);
      const cores = r.server.cpuSeconds / r.durationS;
      const pg = r.postgres
        ? `; PostgreSQL ${r.postgres.cpuSecondsPer1000Delivered.toFixed(3)} CPU-s per 1,000`
        : '';
      rows.push({
        what: `${label}, ${formatNumber(rate)} msg/s offered: delivered/s (p50, p99, server CPU)`,
        value: Math.round(r.deliveredPerSecond),
        unit: `msg/s, p50 ${ms(r.latencyMs.p50)}, p99 ${ms(r.latencyMs.p99)}; nodes ${r.server.cpuSecondsPer1000Delivered.toFixed(3)} CPU-s per 1,000 delivered (${cores.toFixed(2)} cores)${pg}`,
        ratio: r.deliveredPerSecond / rate,
        baseline: 'the offered rate',
      });
      rows.push({
        what: `${label}, ${formatNumber(rate)} msg/s offered: lost + duplicated`,
        value: r.lost + r.duplicates,
        unit: `(lost ${r.lost}, duplicated ${r.duplicates}; still unanswered at drain end ${r.unanswered}; refused and resent ${r.refused}; errors ${JSON.stringify(r.errors)})`,
        goal: '0',
        met: r.lost === 0 && r.duplicates === 0,
      });
      notes.push(
        `${label}, ${rate} msg/s offered: sent ${r.sent}, stored ${r.stored}, delivered ${r.delivered}; the generator was busy ${(r.generatorCpuShare * 100).toFixed(0)} % of a core while sending (it shares the 2 cores with the nodes${config.storage === 'postgres' ? ', PostgreSQL' : ''}${config.nodes === 2 ? ' and Redis' : ''}).`,
      );
    }

    // Latency goal on PostgreSQL at 2,000 msg/s (when that rate was in the sweep).
    const at = byRate.get(GOALS.latencyRate);
    if (at && config.storage === 'postgres') {
      rows.push({
        what: `${label}: p99 at ${formatNumber(GOALS.latencyRate)} msg/s offered (p50 in unit)`,
        value: Number(at.latencyMs.p99.toFixed(1)),
        unit: `ms p99 (p50 ${ms(at.latencyMs.p50)})`,
        goal: `p50 ≤ ${GOALS.p50} ms, p99 ≤ ${GOALS.p99} ms`,
        met: at.latencyMs.p50 <= GOALS.p50 && at.latencyMs.p99 <= GOALS.p99,
      });
    }

    // Saturation: the offered rate at which the most was delivered; then twice that rate.
    const ordered = rates.slice().sort((a, b) => a - b);
    const peakRate = ordered.reduce((best, rate) =>
      byRate.get(rate).deliveredPerSecond > byRate.get(best).deliveredPerSecond ? rate : best,
    );
    const saturation = byRate.get(peakRate).deliveredPerSecond;
    const double = ordered.find((rate) => rate >= 2 * peakRate);
    const peakIsTop = peakRate === ordered.at(-1);
    rows.push({
      what: `${label}: saturation (most delivered/s in the sweep, at ${formatNumber(peakRate)} msg/s offered)`,
      value: Math.round(saturation),
      unit: peakIsTop
        ? 'msg/s (the highest rate offered: the node may not have saturated)'
        : 'msg/s',
    });
    if (double !== undefined) {
      const over = byRate.get(double).deliveredPerSecond;
      rows.push({
        what: `${label}: delivered at ${formatNumber(double)} msg/s offered (${(double / peakRate).toFixed(1)} × the saturating rate)`,
        value: Math.round(over),
        unit: `msg/s (p99 of what was accepted ${ms(byRate.get(double).latencyMs.p99)})`,
        ratio: over / saturation,
        baseline: `saturation: ${formatNumber(saturation)} msg/s`,
        goal: `≥ ${GOALS.overload} × saturation`,
        met: over >= GOALS.overload * saturation,
      });
    } else {
      notes.push(
        `${label}: no rate in the sweep was twice the saturating one (${peakRate} msg/s); add a higher rate to BENCH_LOAD_RATES to measure overload.`,
      );
    }

    // The capacity model's inputs (docs/operations.md), at saturation.
    const sat = byRate.get(peakRate);
    const nodeCpuPerMessage = sat.server.cpuSeconds / Math.max(1, sat.delivered);
    rows.push({
      what: `${label}: capacity: messages per node CPU-second (at saturation)`,
      value: Math.round(1 / nodeCpuPerMessage),
      unit: `msg per CPU-s of the nodes${sat.postgres ? `; PostgreSQL ${sat.postgres.cpuSecondsPer1000Delivered.toFixed(3)} CPU-s per 1,000 messages` : ''}${sat.redis ? `; Redis ${sat.redis.cpuSecondsPer1000Delivered.toFixed(3)}` : ''}`,
    });

    // Lock waits, over every rate of this configuration.
    const activities = [...byRate.values()].map((r) => r.postgres?.activity).filter(Boolean);
    if (activities.length > 0) {
      const samples = activities.reduce((n, a) => n + a.samples, 0);
      const share = (key) => activities.reduce((n, a) => n + a[key] * a.samples, 0) / samples;
      const lock = share('lockWaitShare');
      rows.push({
        what: `${label}: pg_stat_activity samples with a backend waiting on a lock (all rates)`,
        value: Number((lock * 100).toFixed(1)),
        unit: `% of ${samples} samples (advisory ${pct(share('advisoryWaitShare'))}; idle in transaction ${pct(share('idleInTransactionShare'))})`,
        ...(config.nodes === 2
          ? { goal: `≤ ${GOALS.lockWaits * 100} %`, met: lock <= GOALS.lockWaits }
          : {}),
      });
    }
  }

  // Two nodes against one on the same PostgreSQL: CPU per message at the lowest rate (unsaturated).
  const low = Math.min(...rates);
  const pg1 = results.get('postgres')?.get(low);
  const pg2 = results.get('postgres-2')?.get(low);
  if (pg1 && pg2) {
    const one = pg1.server.cpuSecondsPer1000Delivered;
    const two = pg2.server.cpuSecondsPer1000Delivered;
    rows.push({
      what: `2 nodes vs 1 on PostgreSQL, ${formatNumber(devices)} devices, ${formatNumber(low)} msg/s: node CPU per 1,000 delivered`,
      value: Number(two.toFixed(3)),
      unit: 'CPU-s',
      ratio: two / one,
      baseline: `1 node: ${one.toFixed(3)} CPU-s`,
      goal: `≤ ${GOALS.cost} × 1 node`,
      met: two <= GOALS.cost * one,
    });
  }
}
notes.push(
  'Latency is from the first send of a message to its delivery (a refused send that was resent counts from its first try). Delivered/s counts what arrived during the sending window; lost = answered "stored" but never delivered by the end of the drain (30 s at most).',
  'CPU is read from /proc (utime + stime): the server processes, and on PostgreSQL the backends of the run’s own database plus the server’s shared processes (WAL writer, checkpointer; shared with anything else using that PostgreSQL), before and after the sending and draining. Redis: every process named redis-server. pg_stat_activity is sampled every 50 ms from a connection of its own.',
);
if (SMOKE) {
  notes.push(
    smokeNote(
      `${sizes.join(', ')} devices at ${rates.join(', ')} msg/s for ${duration} s each, configurations ${configs.map((c) => c.name).join(', ')} (PostgreSQL and Redis not used unless BENCH_LOAD_CONFIGS names them)`,
    ),
  );
}
emit({ section: 'load', title: 'Load: the relay with many connected devices', rows, notes });
