// The benchmark sections, in report order: bench/<name>.mjs each. One list for bench/run.mjs and
// the smoke test that runs every section in `npm test` (packages/e2e/src/bench.smoke.e2e.test.ts).
export const SECTIONS = [
  'oprf',
  'pool',
  'filter',
  'discovery',
  'rebuild',
  'messaging',
  'attachments',
  'web',
  'load',
  'writers',
  'flood',
  'push',
];
