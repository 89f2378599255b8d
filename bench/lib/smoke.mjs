// Smoke mode (BENCH_SMOKE=1): every section runs in seconds, so `npm test` can run them all
// (packages/e2e/src/bench.smoke.e2e.test.ts) and a section that no longer runs against the real
// code fails there instead of rotting until the next `npm run bench`. It checks that the bench
// works, not its figures: sizes, durations and repeats shrink, and the peers' libraries
// (bench/node_modules) and the C reference (bench/native-reference.c) are never loaded. Each
// section says in its notes what it shrank and what it left out. Settings given explicitly
// (BENCH_MIN_MS, BENCH_MAX_LOG2, …) still win over the smoke defaults.

/** True under BENCH_SMOKE=1. */
export const SMOKE = /^(1|true|yes)$/i.test(process.env.BENCH_SMOKE ?? '');

/** Directory size (log2) the sections that build directories use in smoke mode. */
export const SMOKE_LOG2 = 10;

/** `full`, or `small` in smoke mode. */
export function smokeOr(full, small) {
  return SMOKE ? small : full;
}

/** A numeric setting: the environment variable when set, else the full or the smoke default. */
export function setting(name, full, small = full) {
  const value = process.env[name];
  return value ? Number(value) : smokeOr(full, small);
}

/** The note a section adds in smoke mode: what it shrank or left out. */
export function smokeNote(what) {
  return `SMOKE MODE (BENCH_SMOKE=1): ${what}. This run checks that the section works against the real code; its figures are not for comparison.`;
}

/**
 * In smoke mode the rows of subjects that were not measured (`unavailable`) move to the notes, so
 * every row left is a figure from Parley's own code; outside smoke mode the result is unchanged.
 */
export function smokeResult(result) {
  if (!SMOKE) return result;
  const missing = result.rows.filter((row) => row.unavailable);
  return {
    ...result,
    rows: result.rows.filter((row) => !row.unavailable),
    notes: [
      ...result.notes,
      ...missing.map((row) => `Not measured in smoke mode: ${row.what} (${row.unavailable}).`),
    ],
  };
}
