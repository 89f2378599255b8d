// The "pool" section's HTTP part: the real server in this process (so monitorEventLoopDelay sees
// its event loop), a load generator and a /healthz prober in worker threads. Load: `REPS` times, 10
// concurrent POST /v1/discovery/evaluate with 1,024 elements each (after one unmeasured warm-up);
// probe: GET /healthz every 5 ms throughout. Compared with the same probe on the idle server,
// measured just before.

import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { fromBase64Url, toBase64Url } from '@parley/core';
import {
  formatNumber,
  median,
  opsPerSecond,
  quantile,
  reason,
  repeatedLoopDelay,
} from './measure.mjs';
import { startBenchServer } from './parley-server.mjs';
import { smokeOr } from './smoke.mjs';

const workerFile = new URL('./http-client-worker.mjs', import.meta.url);
const CONCURRENT = smokeOr(10, 2);
const REPS = smokeOr(5, 1);
const IDLE_MS = smokeOr(500, 100);
const BASE64_MS = smokeOr(500, 50);

function nextMessage(worker) {
  return new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

async function startClient(workerData) {
  const worker = new Worker(workerFile, { workerData });
  await nextMessage(worker);
  return worker;
}

/** Runs `work` while the prober polls /healthz; returns work's result and the probe latencies. */
async function underProbe(url, work) {
  const prober = await startClient({ role: 'probe', url });
  const result = await work();
  prober.postMessage('stop');
  const { latencies, failure } = await nextMessage(prober);
  await prober.terminate();
  if (failure) throw new Error(`healthz probe: ${failure}`);
  return { ...result, latencies };
}

async function loadRound(loader) {
  loader.postMessage('round');
  const result = await nextMessage(loader);
  if (result.failure) throw new Error(`evaluate load: ${result.failure}`);
  return result;
}

/** Event-loop time one 1,024-element request costs in base64url alone (core's encoding.js). */
function base64Cost(elements) {
  const encoded = elements.map(toBase64Url);
  const once = () => {
    for (const text of encoded) fromBase64Url(text);
    for (const bytes of elements) toBase64Url(bytes);
  };
  return opsPerSecond(once, { minMs: BASE64_MS }).then((perSecond) => 1000 / perSecond);
}

function latencyRows(idle, load) {
  return [
    ['p50', 0.5],
    ['p99', 0.99],
    ['max', 1],
  ].map(([label, q]) => {
    const under = quantile(load, q);
    const base = quantile(idle, q);
    return {
      what: `HTTP: GET /healthz ${label} latency during the evaluate load`,
      value: under,
      unit: 'ms',
      ratio: under / base,
      baseline: `idle server: ${formatNumber(base)} ms`,
    };
  });
}

function measuredRows({ idle, load, poolOps, stallGoalMs, base64Ms }) {
  const rounds = load.results;
  const httpOps =
    rounds.reduce((n, r) => n + r.evaluations, 0) /
    (rounds.reduce((ms, r) => ms + r.elapsedMs, 0) / 1000);
  return [
    {
      what: `HTTP: evaluations/s, ${CONCURRENT} concurrent POST /v1/discovery/evaluate × 1,024 (${REPS} times)`,
      value: httpOps,
      unit: 'evaluations/s',
      ratio: poolOps ? httpOps / poolOps : null,
      baseline: `pool called directly: ${formatNumber(poolOps)}/s`,
    },
    {
      what: 'HTTP: one evaluate request (1,024 elements), p50 latency under that load',
      value: median(rounds.flatMap((r) => r.latencies)),
      unit: 'ms',
    },
    ...latencyRows(idle.latencies, load.latencies),
    {
      what: `HTTP: server event loop, longest stall while ${CONCURRENT} × 1,024 are evaluated (median of ${REPS})`,
      value: load.maxMs,
      unit: 'ms',
      ratio: load.maxMs / idle.maxMs,
      baseline: `idle server: ${formatNumber(idle.maxMs)} ms`,
      goal: `≤ ${stallGoalMs} ms`,
      met: load.maxMs <= stallGoalMs,
    },
    { what: 'HTTP: server event loop, p99 delay during the load', value: load.p99Ms, unit: 'ms' },
    {
      what: 'HTTP: event-loop time per 1,024-element request spent in base64url decode + encode (@parley/core encoding.js)',
      value: base64Ms,
      unit: 'ms',
    },
  ];
}

function unavailableRows(why, stallGoalMs) {
  const row = { what: 'HTTP: server event loop under evaluate load', value: null, unit: 'ms' };
  return {
    rows: [{ ...row, goal: `≤ ${stallGoalMs} ms`, met: null, unavailable: why }],
    notes: [why],
    shape: 'not run',
  };
}

/** Rows and notes for the HTTP measurement; a server that cannot start is reported, not skipped. */
export async function httpRows(fixture, { poolOps, stallGoalMs }) {
  let server;
  try {
    server = await startBenchServer({ env: { PARLEY_DISCOVERY_BUDGET: '10000000' } });
  } catch (error) {
    const why = `HTTP measurement not available: the server did not start (${reason(error)})`;
    return unavailableRows(why, stallGoalMs);
  }
  let loader;
  try {
    const elements = fixture.elements.map(toBase64Url);
    const { url, credential, keyId } = server;
    loader = await startClient({
      role: 'load',
      url,
      credential,
      keyId,
      elements,
      concurrent: CONCURRENT,
    });
    await loadRound(loader);
    const idle = await underProbe(url, () => repeatedLoopDelay(REPS, () => sleep(IDLE_MS)));
    const load = await underProbe(url, () => repeatedLoopDelay(REPS, () => loadRound(loader)));
    const base64Ms = await base64Cost(fixture.elements);
    const backend = server.server.services?.pool?.backend;
    return {
      shape: `${CONCURRENT} concurrent × 1,024, ${REPS} time(s)`,
      rows: measuredRows({ idle, load, poolOps, stallGoalMs, base64Ms }),
      notes: [
        `HTTP: server started in this process (startServer, temp data dir, ${backend ? `OPRF backend ${backend}, ` : ''}one OPRF worker per core). The load generator and the /healthz prober (every 5 ms; ${load.latencies.length} samples under load, ${idle.latencies.length} idle) are worker threads of the same process, so on a small machine they compete with the OPRF workers for cores, as remote clients would not.`,
        `HTTP: longest event-loop stall in the worst of the ${REPS} load repetitions: ${formatNumber(load.worstMs)} ms (idle: ${formatNumber(idle.worstMs)} ms).`,
      ],
    };
  } finally {
    await loader?.terminate();
    await server.close();
  }
}
