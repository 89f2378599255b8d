// Section "load": the relay under many connected devices, through `npm run load`'s generator
// (scripts/load.mjs: its own `parley serve` on loopback, N devices in one-to-one pairs over real
// WebSockets, a fixed offered rate, a drain, then lost/duplicate accounting). Why: issue 6 asks
// for delivered/s, p99 and server CPU-seconds per 1,000 delivered messages per configuration, at
// 1,000 and 10,000 devices. Only the single-node SQLite configuration exists so far; PostgreSQL and
// PostgreSQL + Redis rows come with that storage. The baseline of each row is the 1,000-device run.
//
// Usage: node bench/load.mjs. BENCH_LOAD_RATE (default 2000 msg/s), BENCH_LOAD_SECONDS (default 20),
// BENCH_LOAD_DEVICES (default 1000,10000).

import { emit, formatNumber, progress } from './lib/measure.mjs';

const { runLoad } = await import(new URL('../scripts/load.mjs', import.meta.url).href);
const rate = Number(process.env.BENCH_LOAD_RATE || 2000);
const duration = Number(process.env.BENCH_LOAD_SECONDS || 20);
const sizes = (process.env.BENCH_LOAD_DEVICES || '1000,10000').split(',').map(Number);

const rows = [];
const notes = [];
let baseline;
for (const devices of sizes) {
  progress(`load: ${devices} devices, ${rate} msg/s offered for ${duration} s`);
  const r = await runLoad({ devices, rate, duration });
  const perThousand = r.server.cpuSecondsPer1000Delivered;
  baseline ??= { devices, perThousand };
  const clean = r.lost === 0 && r.duplicates === 0 && r.unanswered === 0;
  rows.push({
    what: `1 node, SQLite, ${formatNumber(devices)} devices: delivered/s at ${formatNumber(rate)} msg/s offered; p99`,
    value: Math.round(r.deliveredPerSecond),
    unit: `msg/s, p99 ${r.latencyMs.p99.toFixed(1)} ms (p50 ${r.latencyMs.p50.toFixed(1)} ms)`,
    ratio: r.deliveredPerSecond / rate,
    baseline: 'the offered rate',
  });
  rows.push({
    what: `1 node, SQLite, ${formatNumber(devices)} devices: server CPU per 1,000 delivered`,
    value: Number(perThousand.toFixed(3)),
    unit: `CPU-s (peak RSS ${r.server.peakRssMiB.toFixed(0)} MiB)`,
    ratio: perThousand / baseline.perThousand,
    baseline: `${formatNumber(baseline.devices)} devices: ${baseline.perThousand.toFixed(3)} CPU-s`,
  });
  rows.push({
    what: `1 node, SQLite, ${formatNumber(devices)} devices: lost / duplicated / unanswered`,
    value: r.lost + r.duplicates + r.unanswered,
    unit: `(lost ${r.lost}, duplicated ${r.duplicates}, unanswered ${r.unanswered}; errors ${JSON.stringify(r.errors)})`,
    goal: '0',
    met: clean,
  });
  notes.push(
    `${devices} devices: sent ${r.sent}, delivered ${r.delivered}; the generator was busy ${(r.generatorCpuShare * 100).toFixed(0)} % of a core while sending (it shares the 2 cores with the server).`,
  );
}
notes.push(
  'PostgreSQL and PostgreSQL + Redis (2 nodes): not built yet (issue 6), so not measured.',
);
emit({ section: 'load', title: 'Load: the relay with many connected devices', rows, notes });
