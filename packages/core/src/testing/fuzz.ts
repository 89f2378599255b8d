/**
 * Test support for the property-based (fuzz) suites of every package: one place that decides how
 * many inputs a property gets and from which seed, and that reports the count.
 *
 * `npm test` runs each property a fixed number of times from a fixed seed, so a failure reproduces
 * with the same command. `npm run fuzz` (scripts/fuzz.mjs) sets FUZZ_RUNS and a fresh FUZZ_SEED for
 * long runs. On failure fast-check's report names the seed and the shrunk counterexample; rerun
 * with `FUZZ_SEED=<seed>` to replay it.
 *
 * Not exported from the package root: only test files import `@parley/core/testing/fuzz`.
 */

import fc from 'fast-check';

/** The seed of the bounded runs; any fixed value does, this one is the number. */
const DEFAULT_SEED = 7;

export interface FuzzSettings {
  numRuns: number;
  seed: number;
}

/**
 * Runs for a property: `boundedRuns` under `npm test`; FUZZ_RUNS (a positive integer) otherwise.
 * `weight` scales FUZZ_RUNS down for properties whose inputs are expensive (a real socket), so one
 * long run finishes in comparable time for each.
 */
export function fuzzSettings(boundedRuns: number, weight = 1): FuzzSettings {
  const runs = positive(process.env.FUZZ_RUNS);
  const seed = Number.parseInt(process.env.FUZZ_SEED ?? '', 10);
  return {
    numRuns: runs === undefined ? boundedRuns : Math.max(1, Math.round(runs * weight)),
    seed: Number.isSafeInteger(seed) ? seed : DEFAULT_SEED,
  };
}

function positive(text: string | undefined): number | undefined {
  const n = Number.parseInt(text ?? '', 10);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/** The line `fuzz()` reports; scripts/fuzz.mjs collects these into its summary. */
export function fuzzReport(name: string, runs: number, seed: number): string {
  return `fuzz: ${name}: ${runs} inputs (seed ${seed})`;
}

/**
 * Checks a property and throws fast-check's report (seed, counterexample, error) if it fails.
 * `report` receives one line with the number of inputs tried (node:test's `t.diagnostic`).
 */
export async function fuzz<Ts extends unknown[]>(
  name: string,
  property: fc.IRawProperty<Ts>,
  settings: FuzzSettings,
  report: (line: string) => void,
): Promise<void> {
  const details = await fc.check(property, settings);
  report(fuzzReport(name, details.numRuns, settings.seed));
  if (details.failed) {
    const cause = details.errorInstance;
    const why = cause instanceof Error ? (cause.stack ?? cause.message) : String(cause);
    throw new Error(`${fc.defaultReportMessage(details)}\nGot error: ${why}`, { cause });
  }
}

export { phoneLike, regionLike } from './phone-arbitrary.js';
export { arbitraryFor, mutationOf, oddValue } from './schema-arbitrary.js';
