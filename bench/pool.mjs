// Section "pool": the server's OPRF throughput with its whole worker pool, and what a big
// discovery batch does to the event loop. Why: the design (docs/design.md) says OPRF work never runs on the event
// loop; this checks that a pool of one worker per core scales (N workers vs 1), that a
// 10,000-element evaluation in batches of 1,024 leaves the loop responsive (goal: longest stall
// ≤ 20 ms), and the same through the real HTTP server, with GET /healthz latency under load.
// Usage: node bench/pool.mjs (one JSON object on the last stdout line; progress on stderr).
// BENCH_SMOKE=1: 2,048 elements, 2 repetitions, 100 ms rounds (lib/smoke.mjs).

import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  emit,
  formatNumber,
  loopDelay,
  MIN_MS,
  opsPerSecond,
  progress,
  RUNS,
  reason,
  repeatedLoopDelay,
  roundRobin,
} from './lib/measure.mjs';
import { importNativeAddon, makeFixture } from './lib/oprf-subjects.mjs';
import { httpRows } from './lib/pool-http.mjs';
import { SMOKE, smokeNote, smokeOr } from './lib/smoke.mjs';

const poolModule = new URL('../packages/server/dist/infra/oprf/oprf-pool.js', import.meta.url);
const STALL_GOAL_MS = 20;
const STALL_ELEMENTS = smokeOr(10_000, 2048);
const BATCH = 1024;
const STALL_REPS = smokeOr(5, 2);
const IDLE_MS = smokeOr(200, 50);

/** Keeps `inflight` 1,024-element evaluations going for minMs; returns evaluations per second. */
async function saturate(pool, packed, minMs, inflight = 4) {
  const start = performance.now();
  let done = 0;
  const client = async () => {
    while (performance.now() - start < minMs) {
      await pool.evaluate('k', packed);
      done += packed.length / 32;
    }
  };
  await Promise.all(Array.from({ length: inflight }, client));
  return done / ((performance.now() - start) / 1000);
}

/** 10,000 elements as the batches of ≤ 1,024 a client sends. */
function batchesOf(elements, count) {
  const batches = [];
  for (let start = 0; start < count; start += BATCH) {
    const end = Math.min(count, start + BATCH);
    const packed = new Uint8Array((end - start) * 32);
    for (let i = start; i < end; i++) packed.set(elements[i % elements.length], (i - start) * 32);
    batches.push(packed);
  }
  return batches;
}

/**
 * The work of one 1,024-element batch on this thread, with the backend the pool's workers use, so
 * that "pool of 1 worker ÷ this" is the pool's own overhead.
 */
async function inThread(fixture, backend) {
  const { oprf, key } = fixture;
  if (backend === 'native') {
    const native = (await importNativeAddon()).loadNativeOprf();
    return (batch) => native.scalarmultBatch(key, batch);
  }
  return (batch) => {
    for (let i = 0; i < batch.length; i += 32) oprf.blindEvaluate(key, batch.subarray(i, i + 32));
  };
}

async function throughputRows(fixture, pools, cores, evaluateBatch) {
  const { packed } = fixture;
  const backend = pools.one.backend ?? 'wasm';
  const subjects = [
    {
      id: 'one-thread',
      measure: (minMs) => opsPerSecond(() => evaluateBatch(packed), { minMs, opsPerCall: 1024 }),
    },
    { id: 'pool-1', measure: (minMs) => saturate(pools.one, packed, minMs) },
    { id: 'pool-all', measure: (minMs) => saturate(pools.all, packed, minMs) },
  ];
  const results = await roundRobin(subjects);
  const [direct, one, all] = subjects.map((s) => results.get(s.id).median);
  const rows = [
    {
      what: `one thread, no pool: 1,024-element batches (${backend}; reference)`,
      value: direct,
      unit: 'evaluations/s',
    },
    {
      what: `pool of 1 worker (${backend}), 4 × 1,024-element requests in flight`,
      value: one,
      unit: 'evaluations/s',
      ratio: one / direct,
      baseline: `one thread, no pool: ${formatNumber(direct)}/s`,
    },
    {
      what: `pool of ${cores} workers (availableParallelism), same load`,
      value: all,
      unit: 'evaluations/s',
      ratio: all / one,
      baseline: `pool of 1 worker: ${formatNumber(one)}/s (ideal ratio ${cores})`,
    },
  ];
  return { rows, results, poolOps: all };
}

async function stallRows(fixture, pool, evaluateBatch) {
  const batches = batchesOf(fixture.elements, STALL_ELEMENTS);
  const idle = await repeatedLoopDelay(STALL_REPS, () => sleep(IDLE_MS));
  const pooled = await repeatedLoopDelay(STALL_REPS, () =>
    Promise.all(batches.map((b) => pool.evaluate('k', b))),
  );
  // For contrast: the same work done on the event loop, one 1,024-element batch per tick.
  const inline = await loopDelay(async () => {
    for (const batch of batches) {
      await new Promise((resolve) => setImmediate(resolve));
      evaluateBatch(batch);
    }
  });
  const idleBase = `idle loop: ${formatNumber(idle.maxMs)} ms`;
  const rows = [
    {
      what: `event loop, longest stall while ${STALL_ELEMENTS.toLocaleString('en-US')} elements go through the pool in batches of 1,024 at once (median of ${STALL_REPS})`,
      value: pooled.maxMs,
      unit: 'ms',
      ratio: pooled.maxMs / idle.maxMs,
      baseline: idleBase,
      goal: `≤ ${STALL_GOAL_MS} ms`,
      met: pooled.maxMs <= STALL_GOAL_MS,
    },
    { what: 'event loop, p99 delay during the same', value: pooled.p99Ms, unit: 'ms' },
    {
      what: 'for contrast: the same evaluated on the event loop, one batch per tick (what the pool avoids)',
      value: inline.maxMs,
      unit: 'ms',
      ratio: inline.maxMs / idle.maxMs,
      baseline: idleBase,
    },
  ];
  const note = `Pool stall: worst of the ${STALL_REPS} repetitions ${formatNumber(pooled.worstMs)} ms (idle worst ${formatNumber(idle.worstMs)} ms).`;
  return { rows, note };
}

async function main() {
  const cores = availableParallelism();
  const notes = [];
  let OprfPool;
  try {
    ({ OprfPool } = await import(poolModule.href));
  } catch (error) {
    const why = `packages/server/dist/infra/oprf/oprf-pool.js does not load (${reason(error)}); run npm run build`;
    progress(`pool: not available: ${why}`);
    const row = { what: 'event loop, longest stall with the OPRF pool', value: null, unit: 'ms' };
    emit({
      section: 'pool',
      title: 'OPRF worker pool and event loop',
      rows: [{ ...row, goal: `≤ ${STALL_GOAL_MS} ms`, met: null, unavailable: why }],
      notes: [`Not available: ${why}.`],
    });
    return;
  }
  progress(`pool: ${cores} cores; preparing elements and pools`);
  const fixture = await makeFixture();
  const pools = { one: new OprfPool(1), all: new OprfPool(cores) };
  const rows = [];
  let poolOps;
  try {
    await Promise.all([
      pools.one.setKeys({ k: fixture.key }),
      pools.all.setKeys({ k: fixture.key }),
    ]);
    const evaluateBatch = await inThread(fixture, pools.all.backend);
    const throughput = await throughputRows(fixture, pools, cores, evaluateBatch);
    rows.push(...throughput.rows);
    poolOps = throughput.poolOps;
    notes.push(
      `Throughput: median of ${RUNS} rounds of ≥ ${MIN_MS / 1000} s each, round-robin; spread ${[
        ...throughput.results,
      ]
        .map(([id, r]) => `${id} ${(r.spread * 100).toFixed(1)}%`)
        .join(', ')}.`,
      `Pool workers' backend: ${pools.all.backend ?? 'wasm (this OprfPool has no backend option)'}.`,
    );
    progress(`pool: event-loop stall under a ${STALL_ELEMENTS}-element evaluation`);
    const stall = await stallRows(fixture, pools.all, evaluateBatch);
    rows.push(...stall.rows);
    notes.push(stall.note);
  } finally {
    await Promise.all([pools.one.close(), pools.all.close()]);
  }
  notes.push(
    'Event-loop delays come from perf_hooks.monitorEventLoopDelay at 1 ms resolution, so even an idle loop reads about 1 ms.',
  );
  progress('pool: through the HTTP server');
  const http = await httpRows(fixture, { poolOps, stallGoalMs: STALL_GOAL_MS });
  rows.push(...http.rows);
  notes.push(...http.notes);
  if (SMOKE) {
    notes.push(
      smokeNote(
        `rounds of ${MIN_MS} ms; ${STALL_ELEMENTS} elements instead of 10,000 and ${STALL_REPS} repetitions instead of 5 for the stall; HTTP load ${http.shape}`,
      ),
    );
  }
  emit({ section: 'pool', title: 'OPRF worker pool and event loop', rows, notes });
}

await main();
