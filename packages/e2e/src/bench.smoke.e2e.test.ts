/**
 * The benchmarks cannot rot: every section of bench/run.mjs runs here in its smoke mode
 * (BENCH_SMOKE=1, bench/lib/smoke.mjs), seconds long, against the real server, OPRF and filter.
 * Each section script runs as its own process, `node bench/<name>.mjs` — not bench/run.mjs, which
 * would rewrite docs/benchmarks.md. Asserted: it exits 0, its last stdout line is its result
 * (bench/README.md), every row is a finite figure, and its notes say it was a smoke run. The figures
 * themselves are not checked: a smoke run measures too little for them to mean anything.
 */

import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** bench/run.mjs's sections, from the list it reads: a new section is smoke-tested too. */
const { SECTIONS } = (await import(new URL('bench/lib/sections.mjs', `file://${ROOT}`).href)) as {
  SECTIONS: string[];
};
/** A smoke section takes seconds; this only stops a hung one from holding the suite. */
const SECTION_TIMEOUT_MS = 90_000;

interface Row {
  what?: unknown;
  value?: unknown;
}
interface SectionResult {
  section?: unknown;
  rows?: unknown;
  notes?: unknown;
}

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** The environment without the caller's BENCH_* settings, so every run is the smoke default. */
function smokeEnv(cacheDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('BENCH_') && name !== 'NODE_TEST_CONTEXT') env[name] = value;
  }
  return { ...env, BENCH_SMOKE: '1', BENCH_CACHE_DIR: cacheDir };
}

function runSection(name: string, env: NodeJS.ProcessEnv): Promise<Run> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bench', `${name}.mjs`)], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), SECTION_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - started });
    });
  });
}

function tail(text: string, lines = 20): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

describe('bench smoke: every section runs against the real code', () => {
  let cacheDir: string;
  let env: NodeJS.ProcessEnv;
  before(() => {
    // The synthetic directories are generated afresh (2^10 accounts: a second) and not cached
    // beside the real ones. Named parley-bench-*: the secrets scan skips bench data by design.
    cacheDir = mkdtempSync(join(tmpdir(), 'parley-bench-smoke-cache-'));
    env = smokeEnv(cacheDir);
  });
  after(() => rmSync(cacheDir, { recursive: true, force: true }));

  for (const name of SECTIONS) {
    test(`node bench/${name}.mjs with BENCH_SMOKE=1`, {
      timeout: SECTION_TIMEOUT_MS + 10_000,
    }, async () => {
      const run = await runSection(name, env);
      const context = `bench/${name}.mjs (${Math.round(run.ms)} ms), stderr:\n${tail(run.stderr)}`;
      assert.equal(run.signal, null, `killed by ${run.signal}: ${context}`);
      assert.equal(run.code, 0, `exit code ${run.code}: ${context}`);

      const last = run.stdout.trim().split('\n').at(-1) ?? '';
      let result: SectionResult;
      try {
        result = JSON.parse(last) as SectionResult;
      } catch {
        assert.fail(`last stdout line is not JSON: ${last.slice(0, 200)}; ${context}`);
      }
      assert.equal(result.section, name);
      assert.ok(Array.isArray(result.rows) && result.rows.length > 0, `no rows: ${last}`);
      for (const row of result.rows as Row[]) {
        assert.equal(typeof row.what, 'string', `row without what: ${JSON.stringify(row)}`);
        assert.ok(
          typeof row.value === 'number' && Number.isFinite(row.value),
          `row value not a finite number: ${JSON.stringify(row)}`,
        );
      }
      assert.ok(Array.isArray(result.notes), `no notes: ${last}`);
      assert.ok(
        (result.notes as unknown[]).some(
          (n) => typeof n === 'string' && n.includes('BENCH_SMOKE=1'),
        ),
        `notes do not say it was a smoke run: ${JSON.stringify(result.notes)}`,
      );
    });
  }
});
