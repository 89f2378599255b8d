import * as assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadOprf, type Oprf } from '@parley/core';
import { loadNativeOprf, nativeOprfUnavailableReason } from '@parley/oprf-native';
import { OprfPool } from './oprf-pool.js';

const nativeMissing = loadNativeOprf()
  ? undefined
  : `native OPRF not built: ${nativeOprfUnavailableReason()}`;

for (const backend of ['wasm', 'native'] as const) {
  // Under CI (which installs libsodium-dev) nothing skips: the native pool then fails to start.
  const skip = backend === 'native' && !process.env.CI ? (nativeMissing ?? false) : false;
  describe(`OPRF worker pool (${backend})`, { skip }, () => {
    let pool: OprfPool;
    let oprf: Oprf;
    const key = new Uint8Array(32);

    before(async () => {
      oprf = await loadOprf();
      key.set(oprf.generateSecretKey());
      pool = new OprfPool(2, { backend });
      await pool.setKeys({ k1: key });
    });
    after(() => pool?.close());

    it(`runs on ${backend}`, () => {
      assert.equal(pool.backend, backend);
    });

    it('evaluates a batch split across workers, in order, as the RFC does', async () => {
      const inputs = Array.from({ length: 300 }, (_, i) =>
        new TextEncoder().encode(`+1415222${i}`),
      );
      const blinds = inputs.map((x) => oprf.blind(x));
      const packed = new Uint8Array(inputs.length * 32);
      blinds.forEach((b, i) => {
        packed.set(b.blindedElement, i * 32);
      });
      const evaluated = await pool.evaluate('k1', packed);
      inputs.forEach((x, i) => {
        const output = oprf.finalize(x, blinds[i]!.blind, evaluated.subarray(i * 32, i * 32 + 32));
        assert.deepEqual(output, oprf.evaluate(key, x));
      });
    });

    it('names the index of an invalid element in a large batch', async () => {
      const packed = new Uint8Array(200 * 32);
      for (let i = 0; i < 200; i++) packed.set(oprf.hashToGroup(new Uint8Array([i])), i * 32);
      packed.fill(0, 150 * 32, 151 * 32); // the identity
      await assert.rejects(pool.evaluate('k1', packed), (e: unknown) => {
        const error = e as { code: string; details: { index: number } };
        return error.code === 'INVALID_ELEMENT' && error.details.index === 150;
      });
    });

    it('an unknown key fails the call, and the pool keeps working', async () => {
      await assert.rejects(pool.evaluate('nope', oprf.hashToGroup(new Uint8Array([1]))), {
        code: 'INTERNAL',
      });
      const ok = await pool.hashAndEvaluate('k1', new Uint8Array([1]));
      assert.deepEqual(ok, oprf.scalarMult(key, oprf.hashToGroup(new Uint8Array([1]))));
    });
  });
}
