// Runs every compiled test file (packages/*/dist/**/*.test.js) with Node's test runner.
// Node 20's runner takes no globs, so the file list is gathered here.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { scanSecrets } from './scan-secrets.mjs';

function find(dir, out) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) find(path, out);
    else if (name.endsWith('.test.js')) out.push(path);
  }
  return out;
}

const filter = process.argv.slice(2);
const files = [];
for (const pkg of readdirSync('packages')) {
  const dist = join('packages', pkg, 'dist');
  try {
    statSync(dist);
  } catch {
    continue;
  }
  find(dist, files);
}
const selected = filter.length ? files.filter((f) => filter.some((s) => f.includes(s))) : files;
if (selected.length === 0) {
  console.error('no test files found: run `npm run build` first');
  process.exit(1);
}
mkdirSync('test-output', { recursive: true });
const tap = join('test-output', 'results.tap');
// What the servers of this run write is scanned at the end (scan-secrets.mjs): their output is
// kept, and so are their PostgreSQL databases, until then.
const serverLogs = join('test-output', 'servers');
rmSync(serverLogs, { recursive: true, force: true });
const started = Date.now();
const runId = `r${started.toString(36)}`;
const result = spawnSync(
  process.execPath,
  [
    '--test',
    '--test-concurrency=2',
    // A test that hangs fails after 10 minutes instead of holding CI until its limit.
    '--test-timeout=600000',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tap}`,
    ...selected,
  ],
  {
    stdio: 'inherit',
    env: {
      ...process.env,
      PARLEY_TEST_KEEP_DATABASES: '1',
      PARLEY_TEST_RUN_ID: runId,
      PARLEY_TEST_LOG_DIR: join(process.cwd(), serverLogs),
    },
  },
);
// The scan runs (and drops the kept databases) whether or not the tests passed.
const scan = await scanSecrets({ since: started, runId });
console.log(
  `secrets scan: ${scan.numbers} test phone numbers sought in ${scan.sqlite} SQLite files, ${scan.postgres} PostgreSQL databases, ${scan.redis} Redis keys and ${scan.logs} server logs: ${scan.found.length} found`,
);
if (scan.found.length > 0) {
  console.error(`phone numbers at rest or in logs:\n  ${scan.found.slice(0, 50).join('\n  ')}`);
  process.exit(1);
}
if (result.status !== 0) process.exit(result.status ?? 1);
// Under CI a skipped test is a failure: nothing required may pass by not running.
const summary = readFileSync(tap, 'utf8');
const skipped = Number(/^# skipped (\d+)$/m.exec(summary)?.[1] ?? 'NaN');
const todo = Number(/^# todo (\d+)$/m.exec(summary)?.[1] ?? 'NaN');
if (process.env.CI && (skipped !== 0 || todo !== 0)) {
  console.error(`CI: ${skipped} skipped and ${todo} todo tests; every test must run under CI.`);
  process.exit(1);
}
