// After a full test run (scripts/test.mjs): one scan over everything the servers of the run wrote
// — every SQLite database under the temporary directory, every PostgreSQL test database (kept
// until now, dropped here), every key and value left in Redis, and every server's output — for
// every phone number the tests use, as E.164 and as bare digits. Any hit fails the run.
// The numbers are the literals of the test sources (packages/*/src: *.test.ts, testing/, and the
// end-to-end workspace packages/e2e with its harness).
// Client-side state (contacts books, histories) holds numbers by design and is not scanned.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('../', import.meta.url).pathname;

function walk(dir, pick, out = [], depth = 0) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) {
      if (depth < 6 && e.name !== 'node_modules' && e.name !== 'dist')
        walk(path, pick, out, depth + 1);
    } else if (pick(path, e.name)) out.push(path);
  }
  return out;
}

/** Every phone-number literal in the test sources. */
function testNumbers() {
  const sources = walk(
    join(ROOT, 'packages'),
    (path, name) =>
      /\.(test|e2e\.test|fuzz\.test)\.tsx?$/.test(name) || /\/(testing|e2e)\//.test(path),
  );
  const numbers = new Set();
  for (const file of sources) {
    for (const m of readFileSync(file, 'utf8').matchAll(/['"`](\+\d{10,15})['"`]/g)) {
      numbers.add(m[1]);
    }
  }
  return [...numbers];
}

function needlesOf(numbers) {
  return numbers.flatMap((n) => [n, n.slice(1)]);
}

function hits(text, needles) {
  return needles.filter((n) => text.includes(n));
}

export async function scanSecrets({ since, runId }) {
  const numbers = testNumbers();
  const needles = needlesOf(numbers);
  const report = { numbers: numbers.length, sqlite: 0, postgres: 0, redis: 0, logs: 0, found: [] };

  // SQLite: the servers' data directories of this run.
  // (Not the benchmarks' synthetic directories: gigabytes, and no number by construction.)
  const runDirs = readdirSync(tmpdir()).filter(
    (name) => name.startsWith('parley-') && !name.startsWith('parley-bench'),
  );
  const sqliteFiles = runDirs.flatMap((dir) =>
    walk(join(tmpdir(), dir), (path, name) => {
      if (!/^parley\.sqlite(-wal)?$/.test(name)) return false;
      try {
        const stat = statSync(path);
        return stat.mtimeMs >= since && stat.size < 1024 ** 3;
      } catch {
        return false;
      }
    }),
  );
  for (const file of sqliteFiles) {
    let bytes;
    try {
      bytes = readFileSync(file);
    } catch {
      continue; // removed meanwhile (a test's clean-up)
    }
    const found = hits(bytes.toString('latin1'), needles);
    report.sqlite++;
    for (const n of found) report.found.push(`${n} in ${file}`);
  }

  // Server output kept by ServerProcess (PARLEY_TEST_LOG_DIR), and the test report.
  const logs = [
    ...walk(join(ROOT, 'test-output', 'servers'), (_p, name) => name.endsWith('.log')),
    join(ROOT, 'test-output', 'results.tap'),
  ];
  for (const file of logs) {
    let text;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    report.logs++;
    // The test report names numbers in test titles and assertion messages: only server output
    // is held to the rule; the report is scanned for credentials elsewhere (logs.e2e.test.ts).
    if (file.endsWith('.tap')) continue;
    for (const n of hits(text, needles)) report.found.push(`${n} in ${file}`);
  }

  const server = await import(new URL('packages/server/dist/testing.js', `file://${ROOT}`).href);
  // PostgreSQL: the databases the run kept (PARLEY_TEST_KEEP_DATABASES), then dropped.
  if (await server.postgresReachable()) {
    const pg = (await import('pg')).default;
    const admin = new pg.Client({ connectionString: server.POSTGRES_ADMIN_URL });
    await admin.connect();
    try {
      const { rows } = await admin.query('select datname from pg_database where datname like $1', [
        `parley_test_${runId}_%`,
      ]);
      for (const { datname } of rows) {
        const url = new URL(server.POSTGRES_ADMIN_URL);
        url.pathname = `/${datname}`;
        const dump = (await server.dumpPostgresDatabase(url.toString())).join('\n');
        report.postgres++;
        for (const n of hits(dump, needles)) report.found.push(`${n} in PostgreSQL ${datname}`);
        await admin.query(`drop database if exists ${datname} with (force)`);
      }
    } finally {
      await admin.end();
    }
  }

  // Redis: whatever the run left, under any prefix.
  if (await server.redisReachable()) {
    const values = await server.dumpRedisKeys('');
    report.redis = values.length;
    for (const v of values) for (const n of hits(v, needles)) report.found.push(`${n} in Redis`);
  }
  return report;
}
