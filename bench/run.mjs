// Runs the benchmarks and writes docs/benchmarks.md. Each section is a script bench/<name>.mjs run
// in its own process (a clean heap and event loop per section) that prints one JSON object on its
// last stdout line: { section, title, rows: [{ what, value, unit, ratio?, baseline?, goal?, met? }],
// notes: [] }. A section whose script does not exist yet, or that crashes, is written down as such.
//
//   npm run bench                   build, then every section; docs/benchmarks.md from this run alone
//   node bench/run.mjs oprf pool    only those sections; the others are kept from docs/benchmarks.md
//
// Peer libraries live in bench/package.json, installed here on first use (never by the root).
// BENCH_MIN_MS and BENCH_RUNS shorten a run for a smoke test; the runs table records them.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem, type } from 'node:os';
import { fileURLToPath } from 'node:url';
import { readData, renderMarkdown } from './lib/report.mjs';
import { SECTIONS } from './lib/sections.mjs';

const root = fileURLToPath(new URL('../', import.meta.url));
const benchDir = new URL('./', import.meta.url);
const output = new URL('../docs/benchmarks.md', import.meta.url);
const TIMEOUT_MS = Number(process.env.BENCH_SECTION_TIMEOUT_MS || 20 * 60_000);

function log(message) {
  process.stderr.write(`[bench] ${message}\n`);
}

function ensurePeers() {
  if (existsSync(new URL('node_modules', benchDir))) return;
  log('bench/node_modules is missing: npm ci --prefix bench --ignore-scripts');
  // --ignore-scripts: @openmined/psi.js pulls in protoc-gen-js, whose postinstall downloads protoc.
  const args = ['ci', '--prefix', 'bench', '--ignore-scripts', '--no-audit', '--no-fund'];
  const result = spawnSync('npm', args, { cwd: root, stdio: ['ignore', 2, 2] });
  if (result.status !== 0) {
    log('installing bench/ failed; sections will report the libraries they cannot load');
  }
}

function git(...args) {
  const result = spawnSync('git', args, { cwd: root, encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

function describeRun(id, command) {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? 'unknown';
  const commit = git('rev-parse', '--short', 'HEAD') ?? 'unknown';
  const dirty = git('status', '--porcelain') ? ' + uncommitted changes' : '';
  const shortened = ['BENCH_MIN_MS', 'BENCH_RUNS'];
  // Every other BENCH_* setting changes what a section measures (rates, durations, a baseline
  // build): recorded too, so a figure can be traced to how it was taken.
  const settings = Object.keys(process.env)
    .filter((name) => name.startsWith('BENCH_') && name !== 'BENCH_SECTION_TIMEOUT_MS')
    .sort()
    .map((name) =>
      shortened.includes(name)
        ? `${name}=${process.env[name]} (smoke run, not for comparison)`
        : `${name}=${process.env[name]}`,
    );
  return {
    id,
    command,
    date: new Date().toISOString().replace('T', ' ').slice(0, 16),
    commit: commit + dirty,
    machine: {
      cpu: model.trim(),
      cores: availableParallelism(),
      memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
      node: process.version,
      os: `${type()} ${release()}`,
      loadavg: loadavg()
        .map((l) => l.toFixed(2))
        .join(' / '),
    },
    settings: settings.join(', ') || 'defaults',
  };
}

/** The last non-empty stdout line as a section result, or a reason why it is not one. */
function parseResult(name, stdout) {
  const last = stdout.trim().split('\n').at(-1) ?? '';
  try {
    const result = JSON.parse(last);
    if (result.section !== name || !Array.isArray(result.rows) || !Array.isArray(result.notes)) {
      return { error: 'its last stdout line is not a section result for this section' };
    }
    return { result };
  } catch {
    return { error: 'its last stdout line is not JSON' };
  }
}

function runSection(name, run) {
  const file = new URL(`${name}.mjs`, benchDir);
  if (!existsSync(file)) {
    log(`${name}: not available (bench/${name}.mjs does not exist yet)`);
    return Promise.resolve({
      section: name,
      status: 'not available',
      reason: `bench/${name}.mjs does not exist yet`,
      run,
    });
  }
  log(`${name}: running bench/${name}.mjs`);
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [fileURLToPath(file)], {
      cwd: root,
      // Sections that bound their own work (rebuild) read the limit they run under.
      env: { ...process.env, BENCH_SECTION_TIMEOUT_MS: String(TIMEOUT_MS) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    const stderrTail = [];
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      process.stderr.write(chunk);
      stderrTail.push(...String(chunk).trimEnd().split('\n'));
      stderrTail.splice(0, Math.max(0, stderrTail.length - 15));
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const durationMs = performance.now() - started;
      const parsed = parseResult(name, stdout);
      if (code === 0 && parsed.result) {
        log(`${name}: done in ${Math.round(durationMs / 1000)} s`);
        return resolve({ ...parsed.result, status: 'ok', run, durationMs });
      }
      const why = signal
        ? `killed by ${signal}${signal === 'SIGKILL' ? ` after the ${TIMEOUT_MS / 60_000} min timeout` : ''}`
        : code === 0
          ? parsed.error
          : `exit code ${code}`;
      log(`${name}: failed (${why})`);
      resolve({ section: name, status: 'failed', reason: why, stderrTail, run, durationMs });
    });
  });
}

/** Keeps the earlier results of sections not run now, and the runs they came from. */
function merge(previous, run, fresh) {
  const order = (s) => {
    const i = SECTIONS.indexOf(s.section);
    return i === -1 ? SECTIONS.length : i;
  };
  const { runs: oldRuns = [], sections: oldSections = [] } = previous ?? {};
  const ran = new Set(fresh.map((s) => s.section));
  const kept = oldSections.filter((s) => !ran.has(s.section));
  const usedRuns = oldRuns.filter((r) => kept.some((s) => s.run === r.id));
  const sections = [...kept, ...fresh];
  for (const name of SECTIONS) {
    if (sections.some((s) => s.section === name)) continue;
    sections.push({
      section: name,
      status: 'not run',
      reason: 'run `npm run bench` for all sections',
    });
  }
  return { runs: [...usedRuns, run], sections: sections.sort((a, b) => order(a) - order(b)) };
}

function parseArgs(argv) {
  const unknown = argv.filter((name) => !SECTIONS.includes(name));
  if (unknown.length) {
    log(`unknown section(s): ${unknown.join(', ')}; known: ${SECTIONS.join(', ')}`);
    process.exit(2);
  }
  return argv.length ? SECTIONS.filter((s) => argv.includes(s)) : SECTIONS;
}

async function main() {
  const selected = parseArgs(process.argv.slice(2));
  const subset = selected.length < SECTIONS.length;
  const command =
    process.env.npm_lifecycle_event === 'bench' && !subset
      ? 'npm run bench'
      : `node bench/run.mjs${subset ? ` ${selected.join(' ')}` : ''}`;
  ensurePeers();
  const previous =
    subset && existsSync(output) ? readData(readFileSync(output, 'utf8')) : undefined;
  const runId = Math.max(0, ...(previous?.runs ?? []).map((r) => r.id)) + 1;
  const run = describeRun(runId, command);
  log(`run ${runId}: ${run.machine.cpu}, ${run.machine.cores} cores, Node ${run.machine.node}`);
  const fresh = [];
  for (const name of selected) fresh.push(await runSection(name, runId));
  const { runs, sections } = merge(previous, run, fresh);
  writeFileSync(output, renderMarkdown(runs, sections));
  log(`wrote docs/benchmarks.md (${sections.length} sections)`);
  if (fresh.some((s) => s.status === 'failed')) process.exitCode = 1;
}

await main();
