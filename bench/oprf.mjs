// Section "oprf": server OPRF evaluations per second per core. One operation is RFC 9497
// BlindEvaluate — deserialize and validate the client's blinded element, multiply it by the key,
// serialize — on one thread, for our WASM path, our native addon (when built), @noble/curves,
// @cloudflare/voprf-ts and @openmined/psi.js, against libsodium compiled natively in the same run.
// Why: our goals (docs/benchmarks.md) hold us to ≥ 0.8 × native libsodium and ≥ 5 × OpenMined PSI per core, and this
// cost is what an attacker's scan and an honest user's discovery both pay on the server.
// Usage: node bench/oprf.mjs (prints one JSON object on its last stdout line; progress on stderr).
// The VOPRF rows (issue 15): evaluation with its share of a batched DLEQ proof against mode 0x00
// evaluation in the same run, per backend, and the client's VerifyProof per 1,024-element batch
// against the client's mode 0x00 work on that batch (unblinding).
// BENCH_SMOKE=1: our paths only, 100 ms rounds (lib/smoke.mjs).

import {
  emit,
  formatNumber,
  MIN_MS,
  packageVersion,
  progress,
  RUNS,
  roundRobin,
} from './lib/measure.mjs';
import {
  importNativeAddon,
  makeFixture,
  nativeReference,
  noble,
  oursNative,
  oursVoprf,
  oursWasm,
  psi,
  voprf,
} from './lib/oprf-subjects.mjs';
import { SMOKE, smokeNote } from './lib/smoke.mjs';

const NATIVE_GOAL = 0.8;
const PSI_GOAL = 5;
/** Our paths the goals apply to. */
const OURS = ['ours-wasm', 'ours-native-1024'];

async function gatherSubjects(fixture) {
  // Smoke mode: Parley's own paths only; the peers and the C reference are not loaded.
  if (SMOKE) return [oursWasm(fixture), ...(await oursNative(fixture))];
  return [
    await nativeReference(),
    oursWasm(fixture),
    ...(await oursNative(fixture)),
    await noble(fixture),
    await voprf({ ristretto: true }),
    await voprf({ ristretto: false }),
    await psi(),
  ];
}

/** One row per subject: ops/s and its ratio to the baseline (native, or our WASM without it). */
function subjectRows(subjects, results, baseline) {
  const base = results.get(baseline.id).median;
  const nativeMissing = baseline.id !== 'native';
  return subjects.map((subject) => {
    const measured = results.get(subject.id)?.median ?? null;
    const row = { what: subject.what, value: measured, unit: 'ops/s' };
    if (subject.unavailable) row.unavailable = subject.unavailable;
    else {
      row.ratio = measured / base;
      row.baseline = `${baseline.id === 'native' ? 'native libsodium' : 'ours, WASM'}: ${formatNumber(base)} ops/s`;
    }
    if (OURS.includes(subject.id)) {
      row.goal = `≥ ${NATIVE_GOAL} × native libsodium`;
      row.met = nativeMissing || measured === null ? null : measured / base >= NATIVE_GOAL;
    }
    return row;
  });
}

/** The "≥ 5 × psi.js" goal, one row per path of ours. */
function psiRows(subjects, results) {
  const psiOps = results.get('psi.js')?.median ?? null;
  return subjects
    .filter((s) => OURS.includes(s.id))
    .map((s) => {
      const ours = results.get(s.id)?.median ?? null;
      const ratio = ours === null || psiOps === null ? null : ours / psiOps;
      return {
        what: `${s.what.split(':')[0]} ÷ @openmined/psi.js, per element`,
        value: ratio,
        unit: '×',
        baseline: `psi.js: ${formatNumber(psiOps)} ops/s`,
        goal: `≥ ${PSI_GOAL} × psi.js`,
        met: ratio === null ? null : ratio >= PSI_GOAL,
      };
    });
}

/** VOPRF against mode 0x00, each ratio between two subjects of this run. */
function voprfRows(results) {
  const get = (id) => results.get(id)?.median ?? null;
  const pair = (what, id, baseId, baseWhat) => {
    const value = get(id);
    const base = get(baseId);
    if (value === null || base === null) return [];
    return [
      {
        what,
        value,
        unit: 'ops/s',
        ratio: value / base,
        baseline: `${baseWhat}: ${formatNumber(base)} ops/s`,
      },
    ];
  };
  const rows = [
    ...pair(
      'VOPRF evaluation + batched proof, WASM, per element',
      'voprf-wasm',
      'ours-wasm',
      'mode 0x00 BlindEvaluate, WASM',
    ),
    ...pair(
      'VOPRF evaluation + batched proof, native addon, per element (1,024 per request)',
      'voprf-native',
      'ours-native-1024',
      'mode 0x00 BlindEvaluate, native, 1,024 per call',
    ),
  ];
  const verify = get('client-verify');
  const unblind = get('client-unblind');
  if (verify !== null && unblind !== null) {
    rows.push({
      what: 'client: VerifyProof per 1,024-element batch (WASM)',
      value: (1024 / verify) * 1000,
      unit: 'ms',
      ratio: unblind / verify,
      baseline: `unblinding the same batch (mode 0x00 client work): ${formatNumber((1024 / unblind) * 1000)} ms`,
    });
  }
  return rows;
}

async function sodiumVersion() {
  try {
    const sodium = (await import('libsodium-wrappers-sumo')).default;
    await sodium.ready;
    return `${packageVersion('libsodium-wrappers-sumo')} (libsodium ${sodium.sodium_version_string()})`;
  } catch {
    return packageVersion('libsodium-wrappers-sumo') ?? 'unknown';
  }
}

function versions(subjects, native, sodium) {
  const addon = subjects.find((s) => s.id === 'ours-native-1024')?.version;
  const parts = [`libsodium-wrappers-sumo ${sodium}`];
  if (addon) parts.push(`native addon linked to libsodium ${addon}`);
  if (native?.version) parts.push(`native reference linked to libsodium ${native.version}`);
  return `Versions: ${parts.join('; ')}.`;
}

function notes({ subjects, results, baseline, native, sodium }) {
  const out = [
    `Single thread; each figure is the median of ${RUNS} rounds of ≥ ${MIN_MS / 1000} s per library, measured round-robin so drift hits all alike. 1,024 distinct blinded elements, cycled.`,
    `Ratios are against ${baseline.id === 'native' ? 'native libsodium' : 'our WASM path (native reference unavailable)'} measured in this run.`,
    `Run-to-run spread (max/min − 1): ${[...results]
      .map(([id, r]) => `${id} ${(r.spread * 100).toFixed(1)}%`)
      .join(', ')}.`,
    versions(subjects, native, sodium),
    'psi.js and voprf-ts P256 work on P-256, not ristretto255: same operation (one scalar multiplication of a client element), different group.',
    'VOPRF rows: per element, the evaluation plus its share of the batched proof (hashing d_i, one more scalar multiplication for the composite M; the three of the proof’s tail spread over 1,024). libsodium has no multi-scalar multiplication, so about 0.5 × mode 0x00 is the expectation; the client’s VerifyProof is two multiplications per element against one for unblinding.',
  ];
  for (const s of subjects) if (s.unavailable) out.push(`${s.what}: ${s.unavailable}.`);
  if (SMOKE) {
    out.push(
      smokeNote(
        `rounds of ${MIN_MS} ms; the C reference (bench/native-reference.c) and the peers' libraries (@noble/curves, @cloudflare/voprf-ts, @openmined/psi.js) skipped, so ratios are against our WASM path and the goals are not judged`,
      ),
    );
  }
  return out;
}

async function main() {
  progress('oprf: preparing 1,024 blinded elements and loading libraries');
  const fixture = await makeFixture();
  const sodium = await sodiumVersion();
  const subjects = await gatherSubjects(fixture);
  for (const s of subjects) if (s.unavailable) progress(`oprf: ${s.what}: ${s.unavailable}`);
  const addon = await importNativeAddon()
    .then((mod) => mod.loadNativeOprf?.())
    .catch(() => undefined);
  const voprfSubjects = await oursVoprf(fixture, addon);
  const runnable = subjects.filter((s) => s.measure);
  const results = await roundRobin([...runnable, ...voprfSubjects]);
  const native = subjects.find((s) => s.id === 'native' && s.measure);
  native?.cleanup();
  const baseline = native ?? runnable.find((s) => s.id === 'ours-wasm');
  emit({
    section: 'oprf',
    title: 'Server OPRF evaluations per second per core',
    rows: [
      ...subjectRows(subjects, results, baseline),
      ...(SMOKE ? [] : psiRows(subjects, results)),
      ...voprfRows(results),
    ],
    notes: notes({ subjects, results, baseline, native, sodium }),
  });
}

await main();
