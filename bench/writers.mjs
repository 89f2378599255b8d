// Section "writers": does the mailbox let several nodes write one PostgreSQL at once? Why: issue 16
// found every queue write of the cluster behind one advisory lock, so two nodes never stored more
// than one; its goal is 4 writers ≥ 3 × one writer's throughput. 1, 2 and 4 writer processes
// (lib/mailbox-writer.mjs: the real Mailbox and database code of a server build, the realtime port
// left out) each keep one send outstanding per sender device of their own conversations — distinct
// recipients per writer — against PostgreSQL through lib/delay-proxy.mjs, which adds 0.5 ms to
// every round trip: a real network's cost, which makes time spent holding a lock count as it would
// between machines. Reported: stored messages/s per writer count as a ratio to 1 writer, the CPU of
// the writers, the proxy and PostgreSQL (they share the machine's cores: when they use them all,
// more writers cannot help whatever the locking), and pg_stat_activity's lock-wait share.
// BENCH_WRITERS_BASELINE=/path/to/checkout measures that checkout's build the same way in the same
// run (its packages/server/dist, e.g. main before issue 16), for contrast.
//
// Usage: node bench/writers.mjs. BENCH_WRITERS_COUNTS (default 1,2,4), BENCH_WRITERS_SECONDS
// (measured, default 10), BENCH_WRITERS_WARMUP_SECONDS (default 2), BENCH_WRITERS_PAIRS
// (conversations per writer = sends outstanding, default 32), BENCH_WRITERS_DELAY_MS (default 0.5).
// Needs PostgreSQL at 127.0.0.1:5432; under CI=true its absence fails the section.
// BENCH_SMOKE=1: 1 and 2 writers, 8 conversations each, 1 s; without PostgreSQL (and CI unset),
// one writer on SQLite and no proxy.

import { fork, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { emit, formatNumber, progress } from './lib/measure.mjs';
import { SMOKE, setting, smokeNote, smokeOr } from './lib/smoke.mjs';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const { cpuTicks, tickSeconds, ticksOf, ticksSince } = await import(
  new URL('scripts/load.mjs', `file://${ROOT}`).href
);
const { postgresPids, sampleActivity } = await import(
  new URL('scripts/pg-activity.mjs', `file://${ROOT}`).href
);
const testing = await import(
  new URL('packages/server/dist/testing/index.js', `file://${ROOT}`).href
);

const counts = (process.env.BENCH_WRITERS_COUNTS || smokeOr('1,2,4', '1,2')).split(',').map(Number);
const seconds = setting('BENCH_WRITERS_SECONDS', 10, 1);
const warmup = setting('BENCH_WRITERS_WARMUP_SECONDS', 2, 0.3);
const pairsPerWriter = setting('BENCH_WRITERS_PAIRS', 32, 8);
const delayMs = setting('BENCH_WRITERS_DELAY_MS', 0.5);
const PAYLOAD_BYTES = 334; // a 100-byte text's MLS ciphertext, as in the load section
const GOAL = { writers: 4, ratio: 3, lockWaits: 0.05 };

const builds = [{ label: 'this checkout', root: ROOT }];
if (process.env.BENCH_WRITERS_BASELINE) {
  const root = resolve(process.env.BENCH_WRITERS_BASELINE);
  builds.push({ label: `baseline (${root})`, root });
}

const postgres = await testing.postgresReachable();
if (!postgres && (process.env.CI === 'true' || !SMOKE)) {
  throw new Error(
    `bench/writers.mjs needs PostgreSQL at ${testing.POSTGRES_ADMIN_URL}${process.env.CI === 'true' ? ' (required under CI: .ci/run provides it)' : ''}`,
  );
}
/** Without PostgreSQL (smoke mode off CI only): one writer on an SQLite file, no proxy. */
const writerCounts = postgres ? counts : [1];

for (const n of writerCounts) {
  if (!(Number.isInteger(n) && n > 0)) throw new Error(`BENCH_WRITERS_COUNTS: bad count ${n}`);
}

/** The proxy as its own process (its CPU apart); resolves when it listens. */
async function startProxy(hold) {
  const child = spawn(
    process.execPath,
    [join(ROOT, 'bench/lib/delay-proxy.mjs'), '127.0.0.1:5432', String(hold)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const line = await new Promise((resolveLine, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`delay proxy exited with ${code}`)));
    createInterface({ input: child.stdout }).once('line', resolveLine);
  });
  return { child, port: JSON.parse(line).port };
}

/** The URL `url` names, through the proxy listening on `port`. */
function proxied(url, port) {
  const through = new URL(url);
  through.port = String(port);
  return through.toString();
}

/**
 * Milliseconds per `select 1` round trip on one connection: the fastest of 7 runs of 100, the
 * figure least disturbed by other work on the machine.
 */
async function roundTripMs(url) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (let i = 0; i < 20; i++) await client.query('select 1');
    const runs = [];
    for (let run = 0; run < 7; run++) {
      const start = performance.now();
      for (let i = 0; i < 100; i++) await client.query('select 1');
      runs.push((performance.now() - start) / 100);
    }
    return Math.min(...runs);
  } finally {
    await client.end();
  }
}

/**
 * What the proxy adds to a round trip, measured: the hold asked for plus its own hop (another
 * process, two more socket passes). The hop is not taken off the hold: on a busy machine it cannot
 * be measured steadily enough, and the same proxy serves every build of the run alike.
 */
async function calibrate() {
  const url = await testing.createPostgresDatabase();
  const proxy = await startProxy(delayMs);
  try {
    return { direct: await roundTripMs(url), proxied: await roundTripMs(proxied(url, proxy.port)) };
  } finally {
    proxy.child.stdin.end();
    await testing.dropPostgresDatabases();
  }
}

/**
 * Accounts, devices and one-to-one groups straight into the database: 2 devices per pair. Devices
 * through the build's own insertDevice, so whatever a device comes with in that build (its queue
 * counter, after issue 16) is made as registration makes it.
 */
async function seed(build, storage, writers) {
  const dist = `file://${join(build.root, 'packages/server/dist/')}`;
  const { openDatabase } = await import(new URL('infra/db/database.js', dist).href);
  const { insertDevice } = await import(new URL('identity/device-store.js', dist).href);
  const db = await openDatabase(storage);
  const tag = Math.random().toString(36).slice(2, 8);
  const now = new Date().toISOString();
  const perWriter = [];
  try {
    for (let w = 0; w < writers; w++) {
      const pairs = [];
      for (let p = 0; p < pairsPerWriter; p++) {
        const device = (role) => ({
          accountId: `bench-${tag}-${w}-${p}-${role}-account`,
          deviceId: `bench-${tag}-${w}-${p}-${role}-device`,
        });
        pairs.push({ sender: device('s'), recipient: device('r'), groupId: `g-${tag}-${w}-${p}` });
      }
      const devices = pairs.flatMap((p) => [p.sender, p.recipient]);
      await db
        .insertInto('accounts')
        .values(
          devices.map((d) => ({
            id: d.accountId,
            discoverable: 0,
            created_at: now,
            budget_level: 0,
            budget_at: 0,
          })),
        )
        .execute();
      await db.transaction().execute(async (trx) => {
        for (const d of devices) {
          await insertDevice(trx, {
            id: d.deviceId,
            accountId: d.accountId,
            name: 'bench',
            credentialHash: new Uint8Array(32),
            createdAt: now,
            lastSeenAt: Date.now(),
          });
        }
      });
      await db
        .insertInto('groups')
        .values(pairs.map((p) => ({ id: p.groupId, epoch: 1, created_at: Date.now() })))
        .execute();
      await db
        .insertInto('group_members')
        .values(
          pairs.flatMap((p) =>
            [p.sender, p.recipient].map((d) => ({
              group_id: p.groupId,
              device_id: d.deviceId,
              account_id: d.accountId,
            })),
          ),
        )
        .execute();
      perWriter.push(pairs);
    }
  } finally {
    await db.destroy();
  }
  return perWriter;
}

function startWriter(build, storage, pairs) {
  const child = fork(join(ROOT, 'bench/lib/mailbox-writer.mjs'), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting = new Map();
  child.on('message', (m) => {
    waiting.get(m.t)?.(m);
    waiting.delete(m.t);
  });
  const exited = new Promise((_, reject) =>
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`writer ${child.pid} exited with ${code}`));
    }),
  );
  exited.catch(() => {});
  const ask = (message, answer) =>
    Promise.race([
      new Promise((resolveAnswer) => {
        waiting.set(answer, resolveAnswer);
        child.send(message);
      }),
      exited,
    ]);
  return {
    child,
    init: () => ask({ t: 'init', root: build.root, storage, pairs }, 'ready'),
    go: () => child.send({ t: 'go', payloadBytes: PAYLOAD_BYTES }),
    mark: () => ask({ t: 'mark' }, 'mark'),
    stop: () => ask({ t: 'stop' }, 'done'),
  };
}

/** One measurement: `n` writers of `build` on a fresh database. */
async function measure(build, n) {
  let storage;
  let direct;
  let proxy;
  let dataDir;
  if (postgres) {
    direct = await testing.createPostgresDatabase();
    storage = { kind: 'postgres', url: direct };
  } else {
    dataDir = mkdtempSync(join(tmpdir(), 'parley-bench-writers-'));
    storage = { kind: 'sqlite', dataDir };
  }
  const writers = [];
  try {
    const perWriter = await seed(build, storage, n);
    if (postgres) {
      proxy = await startProxy(delayMs);
      storage = { kind: 'postgres', url: proxied(direct, proxy.port) };
    }
    for (const pairs of perWriter) writers.push(startWriter(build, storage, pairs));
    await Promise.all(writers.map((w) => w.init()));
    for (const w of writers) w.go();
    await sleep(warmup * 1000);

    const own = [...writers.map((w) => w.child.pid), ...(proxy ? [proxy.child.pid] : [])];
    const pgPids = postgres ? await postgresPids(direct) : [];
    const before = {
      own: ticksOf(own),
      pg: ticksOf(pgPids),
      marks: await Promise.all(writers.map((w) => w.mark())),
      at: performance.now(),
    };
    const activity = postgres ? await sampleActivity(direct) : null;
    await sleep(seconds * 1000);
    const marks = await Promise.all(writers.map((w) => w.mark()));
    const elapsed = (performance.now() - before.at) / 1000;
    const lockSamples = activity ? await activity.stop() : null;
    const cores = (pid) => tickSeconds(cpuTicks(pid) - before.own.get(pid)) / elapsed;
    const cpu = {
      writers: writers.reduce((sum, w) => sum + cores(w.child.pid), 0),
      proxy: proxy ? cores(proxy.child.pid) : 0,
      postgres: postgres
        ? tickSeconds(ticksSince(before.pg, 'postgres', await postgresPids(direct))) / elapsed
        : 0,
    };
    const delta = (key) => marks.reduce((sum, m, i) => sum + m[key] - before.marks[i][key], 0);
    const done = await Promise.all(writers.map((w) => w.stop()));
    const errors = {};
    for (const d of done) {
      for (const [code, k] of Object.entries(d.errors)) errors[code] = (errors[code] ?? 0) + k;
    }
    return {
      stored: delta('stored') / elapsed,
      acked: delta('acked') / elapsed,
      refused: delta('refused'),
      errors,
      cpu,
      activity: lockSamples,
    };
  } finally {
    for (const w of writers) if (w.child.exitCode === null) w.child.kill();
    if (proxy) proxy.child.stdin.end();
    if (postgres) await testing.dropPostgresDatabases();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}

const rows = [];
const notes = [];
if (postgres) {
  const trip = await calibrate();
  rows.push({
    what: `proxy: time added to a round trip (${delayMs} ms asked)`,
    value: Number((trip.proxied - trip.direct).toFixed(3)),
    unit: `ms (select 1: ${trip.direct.toFixed(3)} ms direct, ${trip.proxied.toFixed(3)} ms through the proxy)`,
  });
}
/** build label → writer count → result */
const results = new Map();
for (const build of builds) {
  const byCount = new Map();
  results.set(build.label, byCount);
  for (const n of writerCounts) {
    progress(`writers: ${build.label}, ${n} writer(s) for ${seconds} s`);
    const r = await measure(build, n);
    byCount.set(n, r);
    progress(`writers: ${formatNumber(r.stored)} stored/s, CPU ${JSON.stringify(r.cpu)}`);
  }
  const one = byCount.get(1) ?? byCount.get(Math.min(...writerCounts));
  for (const [n, r] of byCount) {
    const isGoal = build === builds[0] && n === GOAL.writers;
    const lock = r.activity
      ? `; lock waits in ${(r.activity.lockWaitShare * 100).toFixed(1)} % of ${r.activity.samples} samples (advisory ${(r.activity.advisoryWaitShare * 100).toFixed(1)} %), idle in transaction ${(r.activity.idleInTransactionShare * 100).toFixed(1)} %`
      : '';
    rows.push({
      what: `${build.label}: ${n} writer${n > 1 ? 's' : ''}, messages stored/s`,
      value: Math.round(r.stored),
      unit: `msg/s (entries acknowledged ${formatNumber(r.acked)}/s); CPU in cores: writers ${r.cpu.writers.toFixed(2)}, proxy ${r.cpu.proxy.toFixed(2)}, PostgreSQL ${r.cpu.postgres.toFixed(2)}${lock}`,
      ratio: r.stored / one.stored,
      baseline: `1 writer: ${formatNumber(one.stored)} msg/s`,
      ...(isGoal
        ? { goal: `≥ ${GOAL.ratio} × 1 writer`, met: r.stored >= GOAL.ratio * one.stored }
        : {}),
    });
    const failed = Object.values(r.errors).reduce((a, b) => a + b, 0);
    if (failed > 0 || r.refused > 0) {
      notes.push(
        `${build.label}, ${n} writers: ${r.refused} sends refused for now and resent; failed: ${JSON.stringify(r.errors)}.`,
      );
    }
  }
  const most = Math.max(...writerCounts);
  const top = byCount.get(most);
  if (top.activity) {
    rows.push({
      what: `${build.label}: ${most} writers, pg_stat_activity samples with a backend waiting on a lock`,
      value: Number((top.activity.lockWaitShare * 100).toFixed(1)),
      unit: `% of ${top.activity.samples} samples`,
      ...(build === builds[0]
        ? { goal: `≤ ${GOAL.lockWaits * 100} %`, met: top.activity.lockWaitShare <= GOAL.lockWaits }
        : {}),
    });
  }
  const failed = [...byCount.values()].reduce(
    (sum, r) => sum + Object.values(r.errors).reduce((a, b) => a + b, 0),
    0,
  );
  rows.push({
    what: `${build.label}: sends that failed (other than refused and resent)`,
    value: failed,
    unit: 'sends',
    goal: '0',
    met: failed === 0,
  });
}
if (builds.length > 1) {
  const [current, base] = builds.map((b) => results.get(b.label));
  for (const n of writerCounts) {
    rows.push({
      what: `${n} writer${n > 1 ? 's' : ''}: this checkout against the baseline`,
      value: Math.round(current.get(n).stored),
      unit: 'msg/s',
      ratio: current.get(n).stored / base.get(n).stored,
      baseline: `baseline: ${formatNumber(base.get(n).stored)} msg/s`,
    });
  }
} else {
  notes.push(
    'No baseline measured: set BENCH_WRITERS_BASELINE to a checkout with a built server (e.g. `git worktree add /tmp/base c9f8c11`, then `npm ci && npm run build` there) to compare against it in the same run.',
  );
}
notes.push(
  `Each writer keeps ${pairsPerWriter} sends outstanding (one per sender device, each to its own recipient device), acknowledges what its mailbox hands over for delivery (deleting the entries and queueing receipts, acknowledged in turn), ${seconds} s measured after ${warmup} s of warm-up, a fresh database per measurement. ${postgres ? `The proxy holds every answer ${delayMs} ms; with its own hop it adds what the first row says to a round trip (measured with select 1 before the writers start; more when the machine is busy: lib/delay-proxy.mjs).` : 'SQLite: no proxy.'} CPU in cores = CPU-seconds per second of the writers, the proxy, and PostgreSQL (this database's backends and the shared WAL writer and checkpointer), read from /proc.`,
);
if (SMOKE) {
  notes.push(
    smokeNote(
      `${writerCounts.join(', ')} writers, ${pairsPerWriter} conversations each, ${seconds} s${postgres ? '' : ', on SQLite without the proxy (no PostgreSQL here)'}`,
    ),
  );
}
emit({ section: 'writers', title: 'Writer scaling: nodes writing one PostgreSQL', rows, notes });
