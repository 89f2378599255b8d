// Section "load": the relay under many connected devices, through `npm run load`'s generator
// (scripts/load.mjs: its own server processes on loopback, N devices in one-to-one pairs over real
// WebSockets, a fixed offered rate, a drain, then lost/duplicate accounting). Why: issue 6 asks
// for delivered/s, p99 and server CPU-seconds per 1,000 delivered messages for 1 node on SQLite,
// 1 node on PostgreSQL and 2 nodes on PostgreSQL + Redis, at 1,000 and 10,000 devices, in one run.
// With 2 nodes the two devices of every conversation sit on different nodes, so every message and
// every receipt crosses from one node to the other (the worst case for a load balancer).
// The cost goal compares the 2 nodes' CPU per message with the 1 PostgreSQL node's at the same
// size (same storage, one node more); PostgreSQL's and Redis' own CPU is reported beside it.
//
// Usage: node bench/load.mjs. BENCH_LOAD_RATE (default 2000 msg/s), BENCH_LOAD_SECONDS (default 20),
// BENCH_LOAD_DEVICES (default 1000,10000), BENCH_LOAD_CONFIGS (default sqlite,postgres,postgres-2).
// BENCH_SMOKE=1: 20 devices on 1 node with SQLite at 100 msg/s for 1 s, no PostgreSQL or Redis
// (lib/smoke.mjs); the variables above still override.

import { emit, formatNumber, progress } from './lib/measure.mjs';
import { SMOKE, setting, smokeNote, smokeOr } from './lib/smoke.mjs';

const { runLoad } = await import(new URL('../scripts/load.mjs', import.meta.url).href);
const rate = setting('BENCH_LOAD_RATE', 2000, 100);
const duration = setting('BENCH_LOAD_SECONDS', 20, 1);
const sizes = (process.env.BENCH_LOAD_DEVICES || smokeOr('1000,10000', '20'))
  .split(',')
  .map(Number);
const CONFIGS = {
  sqlite: { storage: 'sqlite', nodes: 1, label: '1 node, SQLite' },
  postgres: { storage: 'postgres', nodes: 1, label: '1 node, PostgreSQL' },
  'postgres-2': { storage: 'postgres', nodes: 2, label: '2 nodes, PostgreSQL + Redis' },
};
// Smoke mode needs no services: the SQLite node only.
const configs = (process.env.BENCH_LOAD_CONFIGS || smokeOr('sqlite,postgres,postgres-2', 'sqlite'))
  .split(',')
  .map((name) => {
    if (!CONFIGS[name]) throw new Error(`BENCH_LOAD_CONFIGS: unknown configuration ${name}`);
    return { name, ...CONFIGS[name] };
  });
const COST_GOAL = 1.3;

const rows = [];
const notes = [];
/** size → config name → result */
const results = new Map();
for (const devices of sizes) {
  results.set(devices, new Map());
  for (const config of configs) {
    progress(`load: ${config.label}, ${devices} devices, ${rate} msg/s offered for ${duration} s`);
    const r = await runLoad({
      devices,
      rate,
      duration,
      storage: config.storage,
      nodes: config.nodes,
    });
    results.get(devices).set(config.name, r);
    const label = `${config.label}, ${formatNumber(devices)} devices`;
    const clean = r.lost === 0 && r.duplicates === 0 && r.unanswered === 0;
    rows.push({
      what: `${label}: delivered/s at ${formatNumber(rate)} msg/s offered; p99`,
      value: Math.round(r.deliveredPerSecond),
      unit: `msg/s, p99 ${r.latencyMs.p99.toFixed(1)} ms (p50 ${r.latencyMs.p50.toFixed(1)} ms)`,
      ratio: r.deliveredPerSecond / rate,
      baseline: 'the offered rate',
    });
    const sqlite = results.get(devices).get('sqlite');
    const pg1 = results.get(devices).get('postgres');
    const perThousand = r.server.cpuSecondsPer1000Delivered;
    const extra = [
      r.postgres ? `PostgreSQL ${r.postgres.cpuSecondsPer1000Delivered.toFixed(3)}` : null,
      r.redis ? `Redis ${r.redis.cpuSecondsPer1000Delivered.toFixed(3)}` : null,
    ].filter(Boolean);
    const twoNodes = config.nodes === 2 && pg1;
    rows.push({
      what: `${label}: server CPU per 1,000 delivered`,
      value: Number(perThousand.toFixed(3)),
      unit: `CPU-s (peak RSS ${r.server.peakRssMiB.toFixed(0)} MiB${extra.length ? `; besides: ${extra.join(', ')} CPU-s` : ''})`,
      ...(twoNodes
        ? {
            ratio: perThousand / pg1.server.cpuSecondsPer1000Delivered,
            baseline: `1 node, PostgreSQL: ${pg1.server.cpuSecondsPer1000Delivered.toFixed(3)} CPU-s`,
            goal: `≤ ${COST_GOAL} × 1 node`,
            met: perThousand <= COST_GOAL * pg1.server.cpuSecondsPer1000Delivered,
          }
        : sqlite && config.name !== 'sqlite'
          ? {
              ratio: perThousand / sqlite.server.cpuSecondsPer1000Delivered,
              baseline: `1 node, SQLite: ${sqlite.server.cpuSecondsPer1000Delivered.toFixed(3)} CPU-s`,
            }
          : {}),
    });
    if (r.postgres || r.redis) {
      const total =
        perThousand +
        (r.postgres?.cpuSecondsPer1000Delivered ?? 0) +
        (r.redis?.cpuSecondsPer1000Delivered ?? 0);
      const base = twoNodes ? pg1 : sqlite;
      const baseTotal = base
        ? base.server.cpuSecondsPer1000Delivered +
          (base.postgres?.cpuSecondsPer1000Delivered ?? 0) +
          (base.redis?.cpuSecondsPer1000Delivered ?? 0)
        : undefined;
      rows.push({
        what: `${label}: all CPU per 1,000 delivered (nodes + PostgreSQL${r.redis ? ' + Redis' : ''})`,
        value: Number(total.toFixed(3)),
        unit: 'CPU-s',
        ...(baseTotal
          ? {
              ratio: total / baseTotal,
              baseline: `${twoNodes ? '1 node, PostgreSQL' : '1 node, SQLite'}: ${baseTotal.toFixed(3)} CPU-s`,
            }
          : {}),
      });
    }
    rows.push({
      what: `${label}: lost / duplicated / unanswered`,
      value: r.lost + r.duplicates + r.unanswered,
      unit: `(lost ${r.lost}, duplicated ${r.duplicates}, unanswered ${r.unanswered}; errors ${JSON.stringify(r.errors)})`,
      goal: '0',
      met: clean,
    });
    notes.push(
      `${label}: sent ${r.sent}, delivered ${r.delivered}; the generator was busy ${(r.generatorCpuShare * 100).toFixed(0)} % of a core while sending (it shares the 2 cores with the nodes${config.storage === 'postgres' ? ', PostgreSQL' : ''}${config.nodes === 2 ? ' and Redis' : ''}).`,
    );
  }
}
notes.push(
  'CPU is read from /proc (utime + stime) of the server processes, and of every process named postgres and redis-server, before and after the sending and draining; a PostgreSQL backend that exited in between would be missing (the nodes keep their pool connections for the whole run).',
);
if (SMOKE) {
  notes.push(
    smokeNote(
      `${sizes.join(', ')} devices at ${rate} msg/s for ${duration} s, configurations ${configs.map((c) => c.name).join(', ')} (PostgreSQL and Redis not used unless BENCH_LOAD_CONFIGS names them)`,
    ),
  );
}
emit({ section: 'load', title: 'Load: the relay with many connected devices', rows, notes });
