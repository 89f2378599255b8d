// RFC 9497 VOPRF (mode 0x01, ristretto255-SHA512): the Appendix A.1.2 vectors byte for byte
// (batched proof included), and a cross-check against @noble/curves' independent implementation.
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { before, describe, test } from 'node:test';
import { ristretto255_oprf } from '@noble/curves/ed25519.js';
import { ParleyError } from './errors.js';
import { loadOprf, type Oprf } from './oprf.js';
import { loadVoprf, PROOF_LENGTH, RISTRETTO255_GENERATOR, type Voprf } from './voprf.js';

interface Vectors {
  source: string;
  hashToGroupDST: string;
  seed: string;
  keyInfo: string;
  skSm: string;
  pkSm: string;
  vectors: {
    Batch: number;
    Input: string;
    Blind: string;
    BlindedElement: string;
    EvaluationElement: string;
    Output: string;
    Proof: { proof: string; r: string };
  }[];
}

// The JSON stays in src/ (tsc does not copy it); dist/voprf.test.js reads it from there.
const VECTORS: Vectors = JSON.parse(
  readFileSync(
    new URL('../src/test-vectors/rfc9497-ristretto255-sha512-voprf.json', import.meta.url),
    'utf8',
  ),
);

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const unhex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'hex'));
const list = (field: string): Uint8Array[] => field.split(',').map(unhex);

let oprf: Oprf;
let voprf: Voprf;

before(async () => {
  oprf = await loadOprf();
  voprf = await loadVoprf(oprf);
});

describe('RFC 9497 A.1.2 (ristretto255-SHA512, VOPRF mode)', () => {
  test('DeriveKeyPair gives skSm and pkSm', () => {
    const { secretKey, publicKey } = voprf.deriveKeyPair(
      unhex(VECTORS.seed),
      unhex(VECTORS.keyInfo),
    );
    assert.equal(hex(secretKey), VECTORS.skSm);
    assert.equal(hex(publicKey), VECTORS.pkSm);
    assert.equal(hex(voprf.publicKey(secretKey)), VECTORS.pkSm);
    // RFC 9496 §4.4's generator, as the constant proofs use: 1·G.
    assert.equal(
      hex(voprf.publicKey(Uint8Array.from({ length: 32 }, (_, i) => +(i === 0)))),
      hex(RISTRETTO255_GENERATOR),
    );
  });

  for (const [n, v] of VECTORS.vectors.entries()) {
    test(`vector ${n + 1} (batch of ${v.Batch}): Blind, BlindEvaluate + proof, Finalize`, () => {
      const sk = unhex(VECTORS.skSm);
      const pk = unhex(VECTORS.pkSm);
      const inputs = list(v.Input);
      const blinds = list(v.Blind);
      const blinded = inputs.map((input, i) => voprf.blind(input, blinds[i]).blindedElement);
      assert.deepEqual(blinded.map(hex), v.BlindedElement.split(','));
      const { evaluatedElements, proof } = voprf.blindEvaluate(sk, pk, blinded, unhex(v.Proof.r));
      assert.deepEqual(evaluatedElements.map(hex), v.EvaluationElement.split(','));
      assert.equal(hex(proof), v.Proof.proof);
      const outputs = voprf.finalize(inputs, blinds, evaluatedElements, blinded, pk, proof);
      assert.deepEqual(outputs.map(hex), v.Output.split(','));
    });
  }

  test('the batched proof verifies, and fails for any change of key, element, order or proof', () => {
    const v = VECTORS.vectors.find((x) => x.Batch === 2)!;
    const pk = unhex(VECTORS.pkSm);
    const c = list(v.BlindedElement);
    const d = list(v.EvaluationElement);
    const proof = unhex(v.Proof.proof);
    const g = RISTRETTO255_GENERATOR;
    assert.equal(voprf.verifyProof(g, pk, c, d, proof), true);
    const otherPk = voprf.publicKey(oprf.generateSecretKey());
    assert.equal(voprf.verifyProof(g, otherPk, c, d, proof), false);
    assert.equal(voprf.verifyProof(g, pk, c, [d[0]!, c[1]!], proof), false);
    assert.equal(voprf.verifyProof(g, pk, [c[1]!, c[0]!], [d[1]!, d[0]!], proof), false);
    assert.equal(voprf.verifyProof(g, pk, c.slice(0, 1), d.slice(0, 1), proof), false);
    const flipped = proof.slice();
    flipped[40]! ^= 1;
    assert.equal(voprf.verifyProof(g, pk, c, d, flipped), false);
    assert.equal(voprf.verifyProof(g, pk, c, d, proof.subarray(0, 63)), false);
    assert.equal(voprf.verifyProof(g, pk, c, d, new Uint8Array(64).fill(0xff)), false);
    assert.equal(voprf.verifyProof(g, pk, c, [d[0]!, new Uint8Array(32)], proof), false);
  });

  test('Finalize refuses a proof for another key with OPRF_PROOF_INVALID', () => {
    const v = VECTORS.vectors[0]!;
    const otherSk = oprf.generateSecretKey();
    const inputs = list(v.Input);
    const b = voprf.blind(inputs[0]!);
    // The server evaluates under another key and proves that key, not the published one.
    const bad = voprf.blindEvaluate(otherSk, voprf.publicKey(otherSk), [b.blindedElement]);
    assert.throws(
      () =>
        voprf.finalize(
          inputs,
          [b.blind],
          bad.evaluatedElements,
          [b.blindedElement],
          unhex(VECTORS.pkSm),
          bad.proof,
        ),
      (e: unknown) => e instanceof ParleyError && e.code === 'OPRF_PROOF_INVALID',
    );
  });

  test('composites computed in slices and summed give the same proof (the worker pool splits)', () => {
    const sk = oprf.generateSecretKey();
    const pk = voprf.publicKey(sk);
    const c = Array.from({ length: 10 }, () => oprf.hashToGroup(randomBytes(8)));
    const d = c.map((e) => oprf.blindEvaluate(sk, e));
    const seed = voprf.compositeSeed(pk);
    const shares = [
      voprf.compositeSlice(seed, c.slice(0, 3), d.slice(0, 3), 0, false).m,
      voprf.compositeSlice(seed, c.slice(3), d.slice(3), 3, false).m,
    ];
    const r = oprf.generateSecretKey();
    const whole = voprf.generateProof(sk, RISTRETTO255_GENERATOR, pk, c, d, r);
    const split = voprf.proveComposite(
      sk,
      RISTRETTO255_GENERATOR,
      pk,
      voprf.addElements(shares),
      r,
    );
    assert.equal(hex(split), hex(whole));
    assert.equal(split.length, PROOF_LENGTH);
  });

  test('the translate proof: log_pkOld(pkNew) = log_C(D) with generator pk_old', () => {
    const kOld = oprf.generateSecretKey();
    const kNew = oprf.generateSecretKey();
    const pkOld = voprf.publicKey(kOld);
    const pkNew = voprf.publicKey(kNew);
    const factor = oprf.scalarMul(kNew, oprf.scalarInvert(kOld));
    const c = Array.from({ length: 5 }, () => oprf.hashToGroup(randomBytes(8)));
    const d = c.map((e) => oprf.scalarMult(factor, e));
    const proof = voprf.generateProof(factor, pkOld, pkNew, c, d);
    assert.equal(voprf.verifyProof(pkOld, pkNew, c, d, proof), true);
    // A third key k'' re-keying one element, proved for its own factor, does not pass.
    const kEvil = oprf.generateSecretKey();
    const evil = oprf.scalarMul(kEvil, oprf.scalarInvert(kOld));
    const d2 = c.map((e) => oprf.scalarMult(evil, e));
    const proof2 = voprf.generateProof(evil, pkOld, voprf.publicKey(kEvil), c, d2);
    assert.equal(voprf.verifyProof(pkOld, pkNew, c, d2, proof2), false);
  });
});

describe('cross-check against @noble/curves ristretto255_oprf.voprf', () => {
  const noble = ristretto255_oprf.voprf;

  test('noble server, our client: its batched proofs verify and the outputs agree', () => {
    const { secretKey, publicKey } = noble.generateKeyPair();
    const inputs = Array.from({ length: 7 }, () => randomBytes(12));
    const blinded = inputs.map((x) => voprf.blind(x));
    const c = blinded.map((b) => b.blindedElement);
    const { evaluated, proof } = noble.blindEvaluateBatch(secretKey, publicKey, c);
    const ours = voprf.finalize(
      inputs,
      blinded.map((b) => b.blind),
      evaluated,
      c,
      publicKey,
      proof,
    );
    const theirs = noble.finalizeBatch(
      inputs.map((input, i) => ({
        input,
        blind: blinded[i]!.blind,
        evaluated: evaluated[i]!,
        blinded: c[i]!,
      })),
      publicKey,
      proof,
    );
    assert.deepEqual(ours.map(hex), theirs.map(hex));
  });

  test('our server, noble client: our batched proofs verify in noble', () => {
    const secretKey = oprf.generateSecretKey();
    const publicKey = voprf.publicKey(secretKey);
    const inputs = Array.from({ length: 9 }, () => randomBytes(12));
    const blinded = inputs.map((x) => noble.blind(x));
    const c = blinded.map((b) => b.blinded);
    const { evaluatedElements, proof } = voprf.blindEvaluate(secretKey, publicKey, c);
    const outputs = noble.finalizeBatch(
      inputs.map((input, i) => ({
        input,
        blind: blinded[i]!.blind,
        evaluated: evaluatedElements[i]!,
        blinded: c[i]!,
      })),
      publicKey,
      proof,
    );
    assert.equal(outputs.length, inputs.length);
    // And noble refuses our proof against another key, as we do.
    const other = voprf.publicKey(oprf.generateSecretKey());
    assert.throws(() =>
      noble.finalizeBatch(
        inputs.map((input, i) => ({
          input,
          blind: blinded[i]!.blind,
          evaluated: evaluatedElements[i]!,
          blinded: c[i]!,
        })),
        other,
        proof,
      ),
    );
  });
});
