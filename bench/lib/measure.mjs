// Shared measuring helpers for the section scripts. Machines are noisy (other builds, other
// tenants), so subjects are measured round-robin — run 1 of every subject, then run 2, … — and the
// median of the runs is kept: drift then hits every subject alike and the ratios stay meaningful.

import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setting, smokeResult } from './smoke.mjs';

/** Milliseconds each subject runs per round (100 in smoke mode); BENCH_MIN_MS overrides it. */
export const MIN_MS = setting('BENCH_MIN_MS', 2000, 100);
/** Rounds per subject (median of these; 1 in smoke mode); BENCH_RUNS overrides. */
export const RUNS = setting('BENCH_RUNS', 3, 1);

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The value at quantile q (0..1) of an unsorted list. */
export function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/**
 * Calls `fn` until `minMs` have passed and returns operations per second; `opsPerCall` counts how
 * many operations one call does (a batch). Works for sync and async functions.
 */
export async function opsPerSecond(fn, { minMs = MIN_MS, opsPerCall = 1 } = {}) {
  const start = performance.now();
  let calls = 1;
  let elapsed = 0;
  const first = fn();
  if (first && typeof first.then === 'function') {
    await first;
    do {
      await fn();
      calls++;
      elapsed = performance.now() - start;
    } while (elapsed < minMs);
  } else {
    // Read the clock about once a millisecond: often enough for minMs, rare enough to cost nothing.
    const firstMs = Math.max(performance.now() - start, 0.001);
    const perCheck = Math.max(1, Math.min(64, Math.floor(1 / firstMs)));
    do {
      for (let i = 0; i < perCheck; i++) fn();
      calls += perCheck;
      elapsed = performance.now() - start;
    } while (elapsed < minMs);
  }
  return (calls * opsPerCall) / (elapsed / 1000);
}

/**
 * Measures subjects round-robin. Each subject is `{ id, measure(minMs) => Promise<ops/s> }`; one
 * short warm-up round (JIT, WASM tier-up, caches) is discarded. Returns a Map id → { median,
 * samples, spread } where spread = max/min − 1 over the rounds.
 */
export async function roundRobin(subjects, { minMs = MIN_MS, runs = RUNS, log = progress } = {}) {
  const samples = new Map(subjects.map((s) => [s.id, []]));
  for (const subject of subjects) await subject.measure(Math.min(300, minMs));
  for (let round = 1; round <= runs; round++) {
    for (const subject of subjects) {
      const value = await subject.measure(minMs);
      samples.get(subject.id).push(value);
      log(`  round ${round}/${runs} ${subject.id}: ${formatNumber(value)} ops/s`);
    }
  }
  const results = new Map();
  for (const [id, values] of samples) {
    results.set(id, {
      median: median(values),
      samples: values,
      spread: Math.max(...values) / Math.min(...values) - 1,
    });
  }
  return results;
}

export function formatNumber(value, digits = 3) {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-US');
  return Number(value.toPrecision(digits)).toString();
}

/** Progress goes to stderr; stdout carries only the section's JSON result. */
export function progress(message) {
  process.stderr.write(`${message}\n`);
}

/**
 * Prints the section's result: one JSON object on the last stdout line (bench/README.md). In smoke
 * mode rows not measured become notes (lib/smoke.mjs).
 */
export function emit(result) {
  process.stdout.write(`${JSON.stringify(smokeResult(result))}\n`);
}

/** The installed version of a package under bench/node_modules (or the root's), or undefined. */
export function packageVersion(name, from = new URL('../', import.meta.url)) {
  for (const base of [from, new URL('../../', import.meta.url)]) {
    try {
      const json = readFileSync(new URL(`node_modules/${name}/package.json`, base), 'utf8');
      return JSON.parse(json).version;
    } catch {
      // Try the next base.
    }
  }
  return undefined;
}

/** A short reason for an import or load failure, for the notes. */
export function reason(error) {
  const text = error?.code ? `${error.code}: ${error.message}` : String(error?.message ?? error);
  return text.split('\n')[0];
}

/** Runs `work` under a 1 ms event-loop delay monitor; returns the longest and p99 delay in ms. */
export async function loopDelay(work) {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  const result = await work();
  histogram.disable();
  return { maxMs: histogram.max / 1e6, p99Ms: histogram.percentile(99) / 1e6, result };
}

/**
 * Runs `work` n times, each under its own delay monitor. Other processes on a shared machine cause
 * occasional stalls of their own, so the figure is the median of the n longest stalls; the worst
 * is reported beside it.
 */
export async function repeatedLoopDelay(n, work) {
  const reps = [];
  for (let i = 0; i < n; i++) reps.push(await loopDelay(() => work(i)));
  return {
    maxMs: median(reps.map((r) => r.maxMs)),
    worstMs: Math.max(...reps.map((r) => r.maxMs)),
    p99Ms: median(reps.map((r) => r.p99Ms)),
    results: reps.map((r) => r.result),
  };
}
