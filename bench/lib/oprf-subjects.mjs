// The libraries bench/oprf.mjs compares, one factory each. A factory returns a subject
// `{ id, what, measure(minMs) => ops/s }` or, when the library cannot run here, `{ id, what,
// unavailable: reason }` so the report says why instead of leaving the row out.
// Every subject does one server-side BlindEvaluate per operation: deserialize (validate) the
// client's blinded element, multiply it by the key, serialize the result — as the library does it.

import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { opsPerSecond, packageVersion, reason } from './measure.mjs';

const run = promisify(execFile);
const repo = new URL('../../', import.meta.url);
const encoder = new TextEncoder();

/** Test inputs: 1,024 numbers, blinded by our own client code. */
export async function makeFixture(count = 1024) {
  const { loadOprf } = await import('@parley/core');
  const oprf = await loadOprf();
  const key = oprf.generateSecretKey();
  const inputs = Array.from({ length: count }, (_, i) => encoder.encode(`+1415555${1000 + i}`));
  const elements = inputs.map((input) => oprf.blind(input).blindedElement);
  const packed = new Uint8Array(count * 32);
  for (const [i, e] of elements.entries()) packed.set(e, i * 32);
  return { oprf, key, inputs, elements, packed };
}

function cycle(list) {
  let i = 0;
  return () => list[i++ % list.length];
}

function same(a, b) {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

export function oursWasm({ oprf, key, elements }) {
  const next = cycle(elements);
  return {
    id: 'ours-wasm',
    what: 'ours, WASM: @parley/core loadOprf().blindEvaluate (libsodium-wrappers-sumo)',
    measure: (minMs) => opsPerSecond(() => oprf.blindEvaluate(key, next()), { minMs }),
  };
}

/** The native addon is being written alongside; find it by package name, then by folder. */
export async function importNativeAddon() {
  try {
    return await import('@parley/oprf-native');
  } catch (error) {
    if (error?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
  }
  const dir = new URL('packages/oprf-native/', repo);
  const manifest = new URL('package.json', dir);
  if (!existsSync(manifest)) {
    throw new Error('no package @parley/oprf-native (packages/oprf-native does not exist)');
  }
  const pkg = JSON.parse(readFileSync(manifest, 'utf8'));
  const root = pkg.exports?.['.'] ?? pkg.exports;
  const entry =
    (typeof root === 'string' ? root : (root?.import ?? root?.default)) ?? pkg.main ?? 'index.js';
  return import(new URL(entry, dir).href);
}

/** Two subjects: a realistic batch (one call per 1,024 elements) and one element per call. */
export async function oursNative({ oprf, key, elements, packed }) {
  const what = (n) => `ours, native addon: @parley/oprf-native scalarmultBatch, ${n} per call`;
  const unavailable = (why) => [
    { id: 'ours-native-1024', what: what('1,024'), unavailable: why },
    { id: 'ours-native-1', what: what(1), unavailable: why },
  ];
  let mod;
  let native;
  try {
    mod = await importNativeAddon();
    if (typeof mod.loadNativeOprf !== 'function') return unavailable('no loadNativeOprf export');
    native = await mod.loadNativeOprf();
  } catch (error) {
    return unavailable(`native addon unavailable: ${reason(error)}`);
  }
  if (!native) {
    const why = mod.nativeOprfUnavailableReason?.() ?? 'loadNativeOprf() returned undefined';
    return unavailable(`native addon unavailable: ${why}`);
  }
  const batch = (k, data) => native.scalarmultBatch(k, data);
  const first = await batch(key, packed.subarray(0, 32));
  if (!same(first, oprf.blindEvaluate(key, elements[0]))) {
    return unavailable('native addon gives a different result from the WASM path (not measured)');
  }
  const singles = elements.map((e) => e.slice());
  const next = cycle(singles);
  return [
    {
      id: 'ours-native-1024',
      what: what('1,024'),
      version: native.sodiumVersion,
      measure: (minMs) => opsPerSecond(() => batch(key, packed), { minMs, opsPerCall: 1024 }),
    },
    {
      id: 'ours-native-1',
      what: what(1),
      measure: (minMs) => opsPerSecond(() => batch(key, next()), { minMs }),
    },
  ];
}

export async function noble({ oprf, key, elements }) {
  const version = packageVersion('@noble/curves');
  const base = { id: 'noble', what: `@noble/curves ${version ?? ''} ristretto255_oprf` };
  let ristretto255_oprf;
  try {
    ({ ristretto255_oprf } = await import('@noble/curves/ed25519.js'));
  } catch (error) {
    return { ...base, unavailable: `@noble/curves unavailable: ${reason(error)}` };
  }
  const { blindEvaluate } = ristretto255_oprf.oprf;
  if (!same(blindEvaluate(key, elements[0]), oprf.blindEvaluate(key, elements[0]))) {
    return { ...base, unavailable: 'noble disagrees with ours on BlindEvaluate (not measured)' };
  }
  const next = cycle(elements);
  return { ...base, measure: (minMs) => opsPerSecond(() => blindEvaluate(key, next()), { minMs }) };
}

/**
 * @cloudflare/voprf-ts: its default backend (sjcl) has only the NIST curves; ristretto255 needs its
 * optional @noble/curves provider. Per operation: EvaluationRequest.deserialize, blindEvaluate,
 * Evaluation.serialize, one element per request (its API evaluates batches with Promise.all).
 */
export async function voprf({ ristretto }) {
  const version = packageVersion('@cloudflare/voprf-ts');
  const id = ristretto ? 'voprf-ristretto255' : 'voprf-p256';
  const what = ristretto
    ? `@cloudflare/voprf-ts ${version ?? ''} OPRF ristretto255-SHA512 (its @noble/curves provider)`
    : `@cloudflare/voprf-ts ${version ?? ''} OPRF P256-SHA256 (its default sjcl provider)`;
  let lib;
  let crypto = [];
  try {
    lib = await import('@cloudflare/voprf-ts');
    if (ristretto) crypto = [(await import('@cloudflare/voprf-ts/crypto-noble')).CryptoNoble];
  } catch (error) {
    return { id, what, unavailable: `@cloudflare/voprf-ts unavailable: ${reason(error)}` };
  }
  const { Oprf, OPRFClient, OPRFServer, EvaluationRequest, randomPrivateKey } = lib;
  const suite = ristretto ? Oprf.Suite.RISTRETTO255_SHA512 : Oprf.Suite.P256_SHA256;
  const server = new OPRFServer(suite, await randomPrivateKey(suite, ...crypto), ...crypto);
  const client = new OPRFClient(suite, ...crypto);
  const requests = [];
  for (let i = 0; i < 64; i++) {
    const [, request] = await client.blind([encoder.encode(`+1415555${1000 + i}`)]);
    requests.push(request.serialize());
  }
  const next = cycle(requests);
  const once = async () => {
    const request = EvaluationRequest.deserialize(suite, next(), ...crypto);
    return (await server.blindEvaluate(request)).serialize();
  };
  return { id, what, measure: (minMs) => opsPerSecond(once, { minMs }) };
}

/**
 * @openmined/psi.js (ECDH-PSI on P-256, WASM): the server's per-element work is processRequest,
 * which re-encrypts each of the client's encrypted elements with the server key. One operation =
 * one element of a 1,024-element request, including the request's deserialization and the
 * response's serialization.
 */
export async function psi() {
  const version = packageVersion('@openmined/psi.js');
  const base = {
    id: 'psi.js',
    what: `@openmined/psi.js ${version ?? ''} processRequest / element`,
  };
  let PSI;
  try {
    PSI = (await import('@openmined/psi.js')).default;
  } catch (error) {
    return { ...base, unavailable: `@openmined/psi.js unavailable: ${reason(error)}` };
  }
  const lib = await PSI();
  const server = lib.server.createWithNewKey(true);
  const client = lib.client.createWithNewKey(true);
  const n = 1024;
  const inputs = Array.from({ length: n }, (_, i) => `+1415555${1000 + i}`);
  const request = client.createRequest(inputs).serializeBinary();
  const once = () =>
    server.processRequest(lib.request.deserializeBinary(request)).serializeBinary();
  return { ...base, measure: (minMs) => opsPerSecond(once, { minMs, opsPerCall: n }) };
}

/** Compiles bench/native-reference.c against the system libsodium; says why when it cannot. */
export async function nativeReference() {
  const base = { id: 'native', what: 'native libsodium (C, -O2), crypto_scalarmult_ristretto255' };
  const source = fileURLToPath(new URL('../native-reference.c', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'parley-bench-'));
  const binary = join(dir, 'native-reference');
  try {
    await run('cc', [source, '-O2', '-o', binary, '-lsodium']);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    // Only the compiler's own output: the command line itself names -lsodium.
    const text = String(error.stderr ?? '').trim() || error.message;
    let why = `native reference unavailable: compiling failed: ${text.split('\n')[0]}`;
    if (error.code === 'ENOENT') why = 'native reference unavailable: no C compiler (cc)';
    else if (/sodium\.h|cannot find -lsodium/.test(text)) {
      why = 'native reference unavailable: no libsodium-dev';
    }
    return { ...base, unavailable: why };
  }
  let version;
  const measure = async (minMs) => {
    const { stdout } = await run(binary, [String(minMs)]);
    const result = JSON.parse(stdout.trim());
    version = result.libsodium;
    return result.opsPerSecond;
  };
  return {
    ...base,
    measure,
    get version() {
      return version;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * RFC 9497 VOPRF (mode 0x01) as the server's workers do it, per 1,024-element request: the
 * evaluations, the batched proof's composite M = Σ d_i·C_i (the d_i hashed in JS, one more scalar
 * multiplication per element) and the proof's tail (Z = k·M, nonce, challenge) — and, for the
 * client, VerifyProof over the batch against the mode 0x00 client's own work (unblinding the
 * batch). Ops are elements. `native` is loadNativeOprf()'s addon, or undefined.
 */
export async function oursVoprf({ oprf, key, elements, packed }, native) {
  const { loadVoprf, RISTRETTO255_GENERATOR: G } = await import('@parley/core');
  const voprf = await loadVoprf(oprf);
  const pk = voprf.publicKey(key);
  const seed = voprf.compositeSeed(pk);
  const n = elements.length;
  const split = (bytes) => Array.from({ length: n }, (_, i) => bytes.subarray(i * 32, i * 32 + 32));
  const wasmProve = () => {
    const d = elements.map((e) => oprf.blindEvaluate(key, e));
    const m = voprf.weightedSum(voprf.compositeWeights(seed, elements, d, 0), elements);
    return { d, proof: voprf.proveComposite(key, G, pk, m) };
  };
  const nativeProve = () => {
    const evaluated = native.scalarmultBatch(key, packed);
    const weights = voprf.compositeWeights(seed, elements, split(evaluated), 0);
    const packedWeights = new Uint8Array(n * 32);
    for (const [i, w] of weights.entries()) packedWeights.set(w, i * 32);
    const m = native.weightedSum(packedWeights, packed);
    return { d: split(evaluated), proof: voprf.proveComposite(key, G, pk, m) };
  };
  const { d, proof } = wasmProve();
  if (!voprf.verifyProof(G, pk, elements, d, proof)) throw new Error('VOPRF proof does not verify');
  const blinds = elements.map(() => oprf.generateSecretKey());
  const subjects = [
    {
      id: 'voprf-wasm',
      what: 'ours, WASM: VOPRF BlindEvaluate with its share of one batched proof, 1,024 per request',
      measure: (minMs) => opsPerSecond(wasmProve, { minMs, opsPerCall: n }),
    },
    {
      id: 'client-verify',
      what: 'client: VerifyProof of a 1,024-element batch (WASM)',
      measure: (minMs) =>
        opsPerSecond(() => voprf.verifyProof(G, pk, elements, d, proof), { minMs, opsPerCall: n }),
    },
    {
      id: 'client-unblind',
      what: 'client: unblinding a 1,024-element batch (WASM, mode 0x00 work)',
      measure: (minMs) => opsPerSecond(() => oprf.unblindAll(blinds, d), { minMs, opsPerCall: n }),
    },
  ];
  if (native?.weightedSum) {
    const check = nativeProve();
    if (!voprf.verifyProof(G, pk, elements, check.d, check.proof)) {
      throw new Error('native VOPRF proof does not verify');
    }
    subjects.push({
      id: 'voprf-native',
      what: 'ours, native addon: VOPRF BlindEvaluate with its share of one batched proof, 1,024 per request',
      measure: (minMs) => opsPerSecond(nativeProve, { minMs, opsPerCall: n }),
    });
  }
  return subjects;
}
