import * as assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it, type TestContext } from 'node:test';
import {
  directoryFingerprint,
  directoryToken,
  expandMessageXmd,
  loadOprf,
  loadVoprf,
  type Oprf,
  ParleyError,
} from '@parley/core';
import {
  loadNativeOprf,
  type NativeInvalidElementError,
  type NativeOprf,
  nativeOprfUnavailableReason,
} from '@parley/oprf-native';
import { adminTokenPath } from '../../server.js';
import { testServer } from '../../testing/index.js';
import { OprfPool, resolveOprfBackend } from './oprf-pool.js';

interface Vectors {
  hashToGroupDST: string;
  skSm: string;
  vectors: { Input: string; Blind: string; BlindedElement: string; EvaluationElement: string }[];
  invalidElementEncodings: Record<string, string | string[]>;
}

// The JSON stays in core's src/ (tsc does not copy it); read it from there.
const VECTORS: Vectors = JSON.parse(
  readFileSync(
    new URL('../../../../core/src/test-vectors/rfc9497-ristretto255-sha512.json', import.meta.url),
    'utf8',
  ),
);
const unhex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'hex'));
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const randomInputs = (count: number): Uint8Array[] =>
  Array.from({ length: count }, (_, i) => randomBytes(1 + (i % 40)));
const BAD_ENCODINGS = Object.values(VECTORS.invalidElementEncodings)
  .filter((list): list is string[] => Array.isArray(list))
  .flat()
  .map(unhex);

const native = loadNativeOprf();
const UNAVAILABLE = `native OPRF not built: ${nativeOprfUnavailableReason()} (needs a C compiler and libsodium-dev, then \`npm rebuild @parley/oprf-native\`)`;

/** The addon, or a skip outside CI; under CI (which installs libsodium-dev) its absence fails. */
function requireNative(t: TestContext): NativeOprf | undefined {
  if (native) return native;
  if (process.env.CI) assert.fail(`${UNAVAILABLE}; CI must build it`);
  t.skip(UNAVAILABLE);
  return undefined;
}

function pack(elements: Uint8Array[]): Uint8Array {
  const packed = new Uint8Array(elements.length * 32);
  elements.forEach((e, i) => {
    packed.set(e, i * 32);
  });
  return packed;
}

/** The reason @parley/core's WASM checks give for an element. */
function wasmReason(oprf: Oprf, key: Uint8Array, element: Uint8Array): string {
  try {
    oprf.scalarMult(key, element);
  } catch (error) {
    assert.ok(error instanceof ParleyError);
    return (error.details as { reason: string }).reason;
  }
  throw new Error('the WASM path accepted the element');
}

describe('native OPRF addon', () => {
  let oprf: Oprf;
  before(async () => {
    oprf = await loadOprf();
  });

  it('matches RFC 9497 A.1.1 BlindEvaluate byte for byte, in one batch', (t) => {
    const n = requireNative(t);
    if (!n) return;
    const skS = unhex(VECTORS.skSm);
    const blinded = pack(VECTORS.vectors.map((v) => unhex(v.BlindedElement)));
    const evaluated = n.scalarmultBatch(skS, blinded);
    assert.equal(VECTORS.vectors.length, 2);
    VECTORS.vectors.forEach((v, i) => {
      assert.equal(hex(evaluated.subarray(i * 32, i * 32 + 32)), v.EvaluationElement);
    });
  });

  it('fromHash of expand_message_xmd is HashToGroup: the RFC 9497 A.1.1 blinded elements', (t) => {
    const n = requireNative(t);
    if (!n) return;
    const dst = unhex(VECTORS.hashToGroupDST);
    const inputs = [...VECTORS.vectors.map((v) => unhex(v.Input)), ...randomInputs(200)];
    for (const input of inputs) {
      const element = n.fromHash(expandMessageXmd(input, dst, 64, oprf.sha512));
      assert.deepEqual(element, oprf.hashToGroup(input));
    }
    for (const v of VECTORS.vectors) {
      const element = n.fromHash(expandMessageXmd(unhex(v.Input), dst, 64, oprf.sha512));
      assert.equal(hex(n.scalarmultBatch(unhex(v.Blind), element)), v.BlindedElement);
    }
  });

  it('agrees with the WASM path on 1,000 random elements', (t) => {
    const n = requireNative(t);
    if (!n) return;
    const key = oprf.generateSecretKey();
    const elements = randomInputs(1000).map((x) => oprf.hashToGroup(x));
    const out = n.scalarmultBatch(key, pack(elements));
    elements.forEach((e, i) => {
      assert.deepEqual(out.subarray(i * 32, i * 32 + 32), oprf.scalarMult(key, e), `element ${i}`);
    });
  });

  it('rejects the identity and every RFC 9496 invalid encoding, naming the index and reason', (t) => {
    const n = requireNative(t);
    if (!n) return;
    const key = oprf.generateSecretKey();
    const good = Array.from({ length: 40 }, (_, i) => oprf.hashToGroup(Uint8Array.of(i)));
    const bad = [new Uint8Array(32), new Uint8Array(32).fill(0xff), ...BAD_ENCODINGS];
    assert.equal(bad.length, 31);
    bad.forEach((element, k) => {
      const index = (k * 7) % good.length;
      const batch = good.slice();
      batch[index] = element;
      assert.throws(
        () => n.scalarmultBatch(key, pack(batch)),
        (e: unknown) => {
          const error = e as NativeInvalidElementError;
          assert.equal(error.code, 'INVALID_ELEMENT');
          assert.equal(error.index, index);
          assert.equal(error.reason, wasmReason(oprf, key, element));
          return true;
        },
      );
    });
  });

  it('weightedSum is the WASM composite Σ d_i·C_i (a batched proof’s M), the identity when empty', async (t) => {
    const n = requireNative(t);
    if (!n) return;
    const voprf = await loadVoprf(oprf);
    const elements = randomInputs(50).map((x) => oprf.hashToGroup(x));
    const weights = elements.map(() => oprf.generateSecretKey());
    assert.equal(
      hex(n.weightedSum(pack(weights), pack(elements))),
      hex(voprf.weightedSum(weights, elements)),
    );
    assert.equal(hex(n.weightedSum(new Uint8Array(0), new Uint8Array(0))), hex(new Uint8Array(32)));
    assert.throws(() => n.weightedSum(new Uint8Array(32), new Uint8Array(64)), RangeError);
  });

  it('refuses malformed arguments with a TypeError or RangeError', (t) => {
    const n = requireNative(t);
    if (!n) return;
    const key = oprf.generateSecretKey();
    assert.throws(() => n.scalarmultBatch(key, new Uint8Array(33)), RangeError);
    assert.throws(() => n.scalarmultBatch(new Uint8Array(31), new Uint8Array(32)), RangeError);
    assert.throws(() => n.scalarmultBatch(key, [1, 2] as unknown as Uint8Array), TypeError);
    assert.throws(() => n.fromHash(new Uint8Array(63)), RangeError);
    assert.deepEqual(n.scalarmultBatch(key, new Uint8Array(0)), new Uint8Array(0));
  });
});

describe('OPRF pool: the native and WASM backends agree', () => {
  let oprf: Oprf;
  let wasmPool: OprfPool;
  let nativePool: OprfPool | undefined;
  const keys: Record<string, Uint8Array> = {};

  before(async () => {
    oprf = await loadOprf();
    keys.k1 = oprf.generateSecretKey();
    keys.k2 = oprf.generateSecretKey();
    wasmPool = new OprfPool(1, { backend: 'wasm' });
    await wasmPool.setKeys(keys);
    if (native) {
      nativePool = new OprfPool(1, { backend: 'native' });
      await nativePool.setKeys(keys);
    }
  });
  after(async () => {
    await wasmPool.close();
    await nativePool?.close();
  });

  it('auto picks native when the addon loads; wasm forces WASM', (t) => {
    if (!requireNative(t)) return;
    assert.equal(resolveOprfBackend('auto'), 'native');
    assert.equal(resolveOprfBackend('native'), 'native');
    assert.equal(resolveOprfBackend('wasm'), 'wasm');
    assert.equal(wasmPool.backend, 'wasm');
    assert.equal(nativePool?.backend, 'native');
  });

  it('evaluate, translate and hashAndEvaluate give identical bytes', async (t) => {
    if (!requireNative(t)) return;
    const packed = pack(randomInputs(300).map((x) => oprf.blind(x).blindedElement));
    assert.deepEqual(
      await nativePool!.evaluate('k1', packed),
      await wasmPool.evaluate('k1', packed),
    );
    const evaluated = await wasmPool.evaluate('k1', packed);
    assert.deepEqual(
      await nativePool!.translate('k1', 'k2', evaluated),
      await wasmPool.translate('k1', 'k2', evaluated),
    );
    assert.deepEqual(
      await wasmPool.translate('k1', 'k2', evaluated),
      await wasmPool.evaluate('k2', packed),
    );
    for (const input of randomInputs(20)) {
      const expected = oprf.scalarMult(keys.k1!, oprf.hashToGroup(input));
      assert.deepEqual(await nativePool!.hashAndEvaluate('k1', input), expected);
    }
  });

  it('rekey gives identical entries on both: (k2/k1)·E, its fingerprint and token under k2', async (t) => {
    if (!requireNative(t)) return;
    // More than one 1,024-element chunk.
    const elements = randomInputs(1100).map((x) => oprf.scalarMult(keys.k1!, oprf.hashToGroup(x)));
    const native = await nativePool!.rekey('k1', 'k2', pack(elements));
    assert.deepEqual(native, await wasmPool.rekey('k1', 'k2', pack(elements)));
    const factor = oprf.scalarMul(keys.k2!, oprf.scalarInvert(keys.k1!));
    const sha512 = (d: Uint8Array) => new Uint8Array(createHash('sha512').update(d).digest());
    for (const [i, element] of elements.entries()) {
      const entry = native.subarray(i * 72, i * 72 + 72);
      const rekeyed = oprf.scalarMult(factor, element);
      assert.deepEqual(entry.subarray(0, 32), rekeyed);
      assert.deepEqual(entry.subarray(32, 40), directoryFingerprint(sha512, 'k2', rekeyed));
      assert.deepEqual(entry.subarray(40, 72), directoryToken(sha512, 'k2', rekeyed));
    }
  });

  it('an invalid element fails with the same ParleyError on both, index counted across chunks', async (t) => {
    if (!requireNative(t)) return;
    const good = randomInputs(200).map((x) => oprf.hashToGroup(x));
    for (const bad of [new Uint8Array(32), ...BAD_ENCODINGS.slice(0, 6)]) {
      const batch = good.slice();
      batch[170] = bad;
      const errors: unknown[] = [];
      for (const pool of [wasmPool, nativePool!]) {
        for (const run of [
          () => pool.evaluate('k1', pack(batch)),
          () => pool.translate('k1', 'k2', pack(batch)),
          () => pool.rekey('k1', 'k2', pack(batch)),
        ]) {
          errors.push(
            await run().then(
              () => assert.fail('accepted'),
              (e: unknown) => e,
            ),
          );
        }
      }
      for (const error of errors) {
        assert.ok(error instanceof ParleyError);
        assert.equal(error.code, 'INVALID_ELEMENT');
        assert.deepEqual(error.details, (errors[0] as ParleyError).details);
        assert.equal((error.details as { index: number }).index, 170);
      }
    }
  });
});

describe('PARLEY_OPRF_BACKEND', () => {
  for (const backend of ['wasm', 'native', 'auto'] as const) {
    it(`=${backend}: the server runs on it and admin stats say which`, async (t) => {
      if (backend !== 'wasm' && !requireNative(t)) return;
      const { server, config, call } = await testServer({ PARLEY_OPRF_BACKEND: backend });
      try {
        const token = readFileSync(adminTokenPath(config.dataDir), 'utf8').trim();
        const stats = await call('GET', '/v1/admin/stats', { token });
        assert.equal(stats.status, 200);
        assert.equal(stats.json.oprfBackend, backend === 'wasm' ? 'wasm' : 'native');
      } finally {
        await server.close();
      }
    });
  }
});
