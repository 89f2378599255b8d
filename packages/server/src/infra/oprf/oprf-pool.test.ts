import * as assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadOprf, loadVoprf, type Oprf, RISTRETTO255_GENERATOR, type Voprf } from '@parley/core';
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
    let voprf: Voprf;
    const key = new Uint8Array(32);
    const key2 = new Uint8Array(32);

    before(async () => {
      oprf = await loadOprf();
      voprf = await loadVoprf(oprf);
      key.set(oprf.generateSecretKey());
      key2.set(oprf.generateSecretKey());
      pool = new OprfPool(2, { backend });
      await pool.setKeys({ k1: key, k2: key2 });
    });

    const split = (packed: Uint8Array): Uint8Array[] =>
      Array.from({ length: packed.length / 32 }, (_, i) => packed.subarray(i * 32, i * 32 + 32));

    it('VOPRF: a batch split across workers carries one proof that verifies against pkS', async () => {
      const blinded = Array.from({ length: 300 }, (_, i) =>
        oprf.blind(new TextEncoder().encode(`+1415333${i}`)),
      );
      const c = blinded.map((b) => b.blindedElement);
      const packed = new Uint8Array(c.length * 32);
      c.forEach((e, i) => {
        packed.set(e, i * 32);
      });
      const { elements, proof } = await pool.evaluateWithProof('k1', packed);
      assert.deepEqual(elements, await pool.evaluate('k1', packed));
      const d = split(elements);
      const pk = voprf.publicKey(key);
      assert.equal(voprf.verifyProof(RISTRETTO255_GENERATOR, pk, c, d, proof), true);
      assert.equal(
        voprf.verifyProof(RISTRETTO255_GENERATOR, voprf.publicKey(key2), c, d, proof),
        false,
      );
    });

    it('translate: the proof is for k2/k1 against pk1 and pk2', async () => {
      const c = Array.from({ length: 200 }, (_, i) => oprf.hashToGroup(new Uint8Array([i, 7])));
      const packed = new Uint8Array(c.length * 32);
      c.forEach((e, i) => {
        packed.set(e, i * 32);
      });
      const { elements, proof } = await pool.translateWithProof('k1', 'k2', packed);
      assert.deepEqual(elements, await pool.translate('k1', 'k2', packed));
      const pk1 = voprf.publicKey(key);
      const pk2 = voprf.publicKey(key2);
      assert.equal(voprf.verifyProof(pk1, pk2, c, split(elements), proof), true);
      assert.equal(
        voprf.verifyProof(RISTRETTO255_GENERATOR, pk2, c, split(elements), proof),
        false,
      );
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
