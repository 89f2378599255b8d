// Section "rebuild": rebuilding the directory from scratch at 2^24 registered users — a key
// rotation (every account's element re-keyed as (k'/k)·N in the OPRF worker pool, fingerprints and
// tokens re-derived, all written back) followed by building the first filter snapshot under the
// new key — on a synthetic directory (bench/lib/synthetic-directory.mjs).
// Reported: wall time of services.directory.rotate() and of the first services.directory.payload()
// (the snapshot build), their sum against the goal of ≤ 10 minutes, and peak memory: the server
// process's RSS sampled every 100 ms from outside (/proc, Linux) plus the kernel's own peak
// (getrusage maxRSS). The OPRF worker threads live in the same process, so RSS covers them.
// The measured work runs in a child process holding only the server, so the data generation or
// copying done beforehand by this process does not count.
// A rotation still running when the section's time is nearly up (bench/run.mjs kills a section
// after BENCH_SECTION_TIMEOUT_MS, 20 min by default) is stopped: the row then says "did not finish
// in N min" (goal not met), the accounts already staged under the new key give an extrapolated
// rotation time (clearly labelled), and the snapshot build is measured on its own in a new server.
// Why: rotating the key is the operator's answer to a suspected key compromise; it must finish in
// a maintenance window without anyone verifying again (docs/design.md).
// Usage: node bench/rebuild.mjs. BENCH_MAX_LOG2 sets the size (default 24; 20 for a quick run);
// BENCH_REBUILD_LIMIT_MIN caps the rotation (default: what the section timeout leaves).
// BENCH_SMOKE=1: 2^10 accounts (lib/smoke.mjs).
// One JSON object on the last stdout line; progress on stderr.

import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { emit, formatNumber, progress } from './lib/measure.mjs';
import { SMOKE, SMOKE_LOG2, setting, smokeNote } from './lib/smoke.mjs';

const LOG2 = Math.min(24, setting('BENCH_MAX_LOG2', 24, SMOKE_LOG2));
const GOAL_MINUTES = 10;
const CHILD = 'BENCH_REBUILD_CHILD';
const SECTION_MS = Number(process.env.BENCH_SECTION_TIMEOUT_MS || 20 * 60_000);
/** Time kept back for the snapshot build, checks and reporting after a stopped rotation. */
const RESERVE_MS = 5 * 60_000;
const sectionStarted = performance.now();
/** The rotation's phases as Directory.rotate reports them. */
const PHASES = {
  start: 'choosing the new key, creating its table',
  stage: 're-keying every entry into the new table (workers) and appending it',
  index: "building the new table's token index",
  lock: 'waiting for the write lock',
  switch: 'accounts created meanwhile, then the switch',
  done: "reloading keys into the workers, dropping the old table's index (the retirement's first statement)",
};

// --- child: the server, rotated and rebuilt ------------------------------------------------------

async function child({ dataDir, mode }) {
  const { startServerOn } = await import('./lib/parley-server.mjs');
  const core = await import('@parley/core');
  const { server } = await startServerOn(dataDir);
  const directory = server.services.directory;
  // The parent gone (killed by bench/run.mjs's timeout, say): do not rotate on as an orphan.
  process.on('disconnect', () => process.exit(1));
  const send = (message) => process.send(message);
  try {
    const before = directory.currentKeyId;
    const idleRss = process.memoryUsage.rss();
    let rotated;
    let rotateMs = 0;
    let rotateCpuMs = 0;
    const phases = [];
    // CPU time of this process, every thread (event loop, OPRF workers, SQLite), in ms.
    const cpuMs = () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    };
    const loadStart = loadavg()[0];
    if (mode === 'rotate') {
      send({ phase: 'rotate' });
      const t0 = performance.now();
      const c0 = cpuMs();
      // Wall and CPU time per phase of the rotation (servers that report phases).
      let phase = { name: 'start', t: t0, c: c0 };
      const next = (name) => {
        const now = { name, t: performance.now(), c: cpuMs() };
        phases.push({ phase: phase.name, ms: now.t - phase.t, cpuMs: now.c - phase.c });
        phase = now;
        send({ step: name });
      };
      rotated = await directory.rotate({ onPhase: next });
      rotateMs = performance.now() - t0;
      rotateCpuMs = cpuMs() - c0;
      if (phases.length > 0) next('end');
    }
    send({ phase: 'snapshot' });
    const t1 = performance.now();
    const c1 = cpuMs();
    const payload = await directory.payload();
    const snapshotMs = performance.now() - t1;
    const snapshotCpuMs = cpuMs() - c1;
    const loadEnd = loadavg()[0];
    send({ phase: 'done' });
    // The old key's table is emptied in the background after the switch: measured apart.
    const t2 = performance.now();
    const c2 = cpuMs();
    await directory.retired?.();
    const retireMs = performance.now() - t2;
    const retireCpuMs = cpuMs() - c2;
    const maxRss = process.resourceUsage().maxRSS * 1024;

    // Checks: the key changed (when rotated), and a registered number's entry under the current
    // key is in the snapshot.
    const keyId = directory.currentKeyId;
    if (rotated && (keyId === before || rotated.keyId !== keyId)) {
      throw new Error('the key id did not change');
    }
    const keys = JSON.parse(readFileSync(join(dataDir, 'oprf-keys.json'), 'utf8')).keys;
    const secret = new Uint8Array(Buffer.from(keys.find((k) => k.id === keyId).secret, 'base64'));
    const oprf = await core.loadOprf();
    const sha512 = (d) => new Uint8Array(createHash('sha512').update(d).digest());
    const filter = core.MembershipFilter.decode(
      await directory.snapshotBytes(keyId, payload.version),
    );
    const element = oprf.scalarMult(
      secret,
      oprf.hashToGroup(new TextEncoder().encode('+14152220000')),
    );
    send({
      result: {
        rotateMs,
        snapshotMs,
        rotateCpuMs,
        snapshotCpuMs,
        phases,
        retireMs,
        retireCpuMs,
        loadStart,
        loadEnd,
        accountsRekeyed: rotated?.accountsRekeyed,
        count: payload.count,
        bytes: payload.bytes,
        range: String(payload.range),
        idleRss,
        maxRss,
        realNumberFound: filter.has(core.directoryFingerprint(sha512, keyId, element)),
        backend: server.services.pool.backend,
      },
    });
  } finally {
    await server.close();
    // The IPC channel would keep this process alive: close it, so the parent sees it exit.
    process.removeAllListeners('disconnect');
    process.disconnect?.();
  }
}

// --- parent: prepare the data, run the child, watch its memory -----------------------------------

/** VmRSS of a process in bytes (Linux /proc), or undefined. */
function rssOf(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+) kB/.exec(status);
    return kb ? Number(kb[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs the child in `mode` ('rotate': rotation then snapshot; 'snapshot': snapshot only), sampling
 * its RSS every 100 ms. Resolves with its result, or { stopped } when `limitMs` ran out first.
 */
function runChild(dataDir, mode, limitMs) {
  return new Promise((resolve, reject) => {
    const proc = fork(new URL(import.meta.url), [], {
      env: { ...process.env, [CHILD]: JSON.stringify({ dataDir, mode }) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const samples = { rotate: 0, snapshot: 0, all: 0, count: 0 };
    let phase = 'start';
    let phaseStarted = performance.now();
    let result;
    let stopped;
    const started = performance.now();
    let lastReport = started;
    const timer = setInterval(() => {
      const now = performance.now();
      if (phase === 'rotate' && now - phaseStarted > limitMs && !stopped) {
        stopped = { afterMs: now - phaseStarted };
        progress(`rebuild: rotation stopped after ${(stopped.afterMs / 60_000).toFixed(1)} min`);
        proc.kill('SIGKILL');
        return;
      }
      const rss = rssOf(proc.pid);
      if (rss === undefined) return;
      samples.count++;
      samples.all = Math.max(samples.all, rss);
      if (phase in samples) samples[phase] = Math.max(samples[phase], rss);
      if (now - lastReport >= 30_000) {
        lastReport = now;
        progress(
          `rebuild: ${phase}, ${((now - phaseStarted) / 1000).toFixed(0)} s, RSS ${(rss / 2 ** 20).toFixed(0)} MiB (max ${(samples.all / 2 ** 20).toFixed(0)})`,
        );
      }
    }, 100);
    proc.on('message', (message) => {
      if (message.phase) {
        phase = message.phase;
        phaseStarted = performance.now();
        progress(`rebuild: ${phase}`);
      }
      if (message.step) progress(`rebuild: rotation phase ${message.step}`);
      if (message.result) result = message.result;
    });
    proc.on('error', reject);
    proc.on('exit', (code, signal) => {
      clearInterval(timer);
      if (result) resolve({ ...result, samples });
      else if (stopped) resolve({ stopped, samples });
      else reject(new Error(`rebuild child exited with ${signal ?? code} before finishing`));
    });
  });
}

/** Accounts staged under a new key so far (servers that stage a rotation in rotation_stage). */
async function stagedAccounts(dataDir) {
  const Database = (await import('better-sqlite3')).default;
  const sqlite = new Database(join(dataDir, 'parley.sqlite'), { readonly: true });
  try {
    const stage = sqlite
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'rotation_stage'")
      .get();
    if (!stage) return undefined;
    return sqlite.prepare('SELECT count(*) AS n FROM rotation_stage').get().n;
  } finally {
    sqlite.close();
  }
}

const mib = (bytes) => bytes / 2 ** 20;

function memoryRows(r, label) {
  const rows = [
    {
      what: `peak RSS of the server process${label} (getrusage maxRSS)`,
      value: mib(r.maxRss),
      unit: 'MiB',
    },
  ];
  if (r.samples.rotate) {
    rows.push({
      what: 'peak RSS sampled every 100 ms during rotation',
      value: mib(r.samples.rotate),
      unit: 'MiB',
    });
  }
  if (r.samples.snapshot) {
    rows.push({
      what: 'peak RSS sampled every 100 ms during the snapshot build',
      value: mib(r.samples.snapshot),
      unit: 'MiB',
    });
  }
  return rows;
}

async function main() {
  const { benchWorkDir, createSyntheticDirectory } = await import('./lib/synthetic-directory.mjs');
  const count = 2 ** LOG2;
  const work = benchWorkDir('rebuild');
  const dataDir = work.dir;
  try {
    const synthetic = await createSyntheticDirectory({ dataDir, count });
    const total = count + synthetic.realNumbers.length;
    const left = SECTION_MS - (performance.now() - sectionStarted) - RESERVE_MS;
    const limitMs = process.env.BENCH_REBUILD_LIMIT_MIN
      ? Number(process.env.BENCH_REBUILD_LIMIT_MIN) * 60_000
      : Math.max(60_000, left);
    progress(
      `rebuild: rotating the key over ${formatNumber(total)} accounts (stopped after ${(limitMs / 60_000).toFixed(1)} min), then the snapshot`,
    );
    const notes = [
      `Synthetic directory of ${formatNumber(count)} + ${synthetic.realNumbers.length} accounts, ${synthetic.cached ? `copied from the cache (generated in ${(synthetic.generatedMs / 1000).toFixed(0)} s)` : `generated in ${(synthetic.generatedMs / 1000).toFixed(0)} s`}; SQLite on local disk; ${availableParallelism()} OPRF workers.`,
    ];
    let rows;
    const r = await runChild(dataDir, 'rotate', limitMs);
    if (r.backend && r.backend !== 'native') {
      // The rotation is ~2× slower on WASM: a figure from it is not the one CI gets.
      progress(
        `rebuild: WARNING: the OPRF workers ran on ${r.backend}, not the native addon (install libsodium-dev, then npm rebuild @parley/oprf-native)`,
      );
      notes.push(
        `WARNING: OPRF backend ${r.backend}, not the native addon: not comparable with native runs.`,
      );
    }
    if (!r.stopped) {
      if (r.accountsRekeyed !== total || r.count !== total) {
        throw new Error(
          `rebuild: ${r.accountsRekeyed} re-keyed, ${r.count} in the filter, expected ${total}`,
        );
      }
      if (!r.realNumberFound)
        throw new Error('rebuild: a registered number is missing from the new filter');
      const wallMs = r.rotateMs + r.snapshotMs;
      rows = [
        {
          what: `rebuild from scratch at 2^${LOG2} users: key rotation + first snapshot`,
          value: wallMs / 60_000,
          unit: 'min',
          goal: `≤ ${GOAL_MINUTES} min`,
          met: wallMs <= GOAL_MINUTES * 60_000,
        },
        {
          what: `key rotation, ${formatNumber(total)} accounts`,
          value: r.rotateMs / 1000,
          unit: 's',
        },
        ...r.phases.map((p) => ({
          what: `rotation phase: ${PHASES[p.phase] ?? p.phase}`,
          value: p.ms / 1000,
          unit: 's',
          baseline: `${(p.cpuMs / 1000).toFixed(0)} core-s of CPU`,
        })),
        {
          what: `first snapshot build after rotation (range 2^${Math.log2(Number(r.range)).toFixed(2)}, ${mib(r.bytes).toFixed(1)} MiB)`,
          value: r.snapshotMs / 1000,
          unit: 's',
        },
        {
          what: 'CPU time of the server process (all threads) during rotation + snapshot',
          value: (r.rotateCpuMs + r.snapshotCpuMs) / 1000,
          unit: 'core-s',
          baseline: `${(((r.rotateCpuMs + r.snapshotCpuMs) / wallMs / availableParallelism()) * 100).toFixed(0)} % of ${availableParallelism()} cores over the wall time`,
        },
        {
          what: "after the snapshot: emptying and dropping the old key's table (background, not in the rebuild time)",
          value: r.retireMs / 1000,
          unit: 's',
          baseline: `${(r.retireCpuMs / 1000).toFixed(0)} core-s of CPU`,
        },
        ...memoryRows(r, ''),
      ];
      notes.push(
        `Machine load (1-minute load average, all processes) when the rotation started: ${r.loadStart.toFixed(2)}; when the snapshot was built: ${r.loadEnd.toFixed(2)}. Above ${availableParallelism()}, other processes were competing for the cores and the wall time is longer than on a quiet machine.`,
        `Backend ${r.backend}. RSS before rotating (server started, idle): ${mib(r.idleRss).toFixed(0)} MiB; ${r.samples.count} RSS samples from /proc${existsSync('/proc/self/status') ? '' : ' (none: no /proc here, only the kernel peak)'}.`,
        'Checked: every account re-keyed, the new snapshot counts them all, and a registered number evaluated under the new key is in the new filter.',
      );
    } else {
      const staged = await stagedAccounts(dataDir);
      const stoppedMin = r.stopped.afterMs / 60_000;
      progress(
        `rebuild: ${staged ?? 'unknown'} of ${total} accounts staged; measuring the snapshot alone`,
      );
      const s = await runChild(dataDir, 'snapshot', Number.POSITIVE_INFINITY);
      if (s.count !== total || !s.realNumberFound)
        throw new Error('rebuild: snapshot check failed');
      rows = [
        {
          what: `rebuild from scratch at 2^${LOG2} users: key rotation + first snapshot — rotation DID NOT FINISH in ${stoppedMin.toFixed(1)} min (lower bound)`,
          value: stoppedMin + s.snapshotMs / 60_000,
          unit: 'min',
          goal: `≤ ${GOAL_MINUTES} min`,
          met: stoppedMin + s.snapshotMs / 60_000 <= GOAL_MINUTES ? null : false,
        },
      ];
      if (staged && staged < total) {
        const estimateMs = r.stopped.afterMs * (total / staged);
        rows.push({
          what: `key rotation, ${formatNumber(total)} accounts — EXTRAPOLATED from ${formatNumber(staged)} staged in ${stoppedMin.toFixed(1)} min (excludes the final switch)`,
          value: estimateMs / 60_000,
          unit: 'min',
        });
      }
      rows.push(
        {
          what: `first snapshot build (current key, separate server; range 2^${Math.log2(Number(s.range)).toFixed(2)}, ${mib(s.bytes).toFixed(1)} MiB)`,
          value: s.snapshotMs / 1000,
          unit: 's',
        },
        {
          what: `peak RSS sampled every 100 ms during rotation (first ${stoppedMin.toFixed(1)} min)`,
          value: mib(r.samples.rotate),
          unit: 'MiB',
        },
        ...memoryRows(s, ' building the snapshot'),
      );
      notes.push(
        `The rotation was stopped (SIGKILL) after ${stoppedMin.toFixed(1)} min to stay inside the section's time (BENCH_SECTION_TIMEOUT_MS ${SECTION_MS / 60_000} min; BENCH_REBUILD_LIMIT_MIN overrides). ${
          staged === undefined
            ? 'No rotation_stage table was found, so progress is unknown.'
            : staged >= total
              ? `Every account had been staged under the new key by then: the rotation was in its final switch (moving the staged entries into place), so the whole rotation takes longer than ${stoppedMin.toFixed(1)} min by an unknown amount.`
              : `${formatNumber(staged)} of ${formatNumber(total)} accounts (${((staged / total) * 100).toFixed(1)} %) were staged under the new key by then; the extrapolation assumes the same rate for the rest and leaves out the final switch.`
        } The snapshot was then built by a fresh server on the same data under the current key.`,
      );
    }
    if (SMOKE) notes.push(smokeNote(`2^${LOG2} accounts instead of 2^24`));
    else if (LOG2 < 24) notes.push(`BENCH_MAX_LOG2=${LOG2}: measured at 2^${LOG2}, not 2^24.`);
    emit({ section: 'rebuild', title: `Directory rebuild at 2^${LOG2} users`, rows, notes });
  } finally {
    work.remove();
  }
}

if (process.env[CHILD]) await child(JSON.parse(process.env[CHILD]));
else await main();
