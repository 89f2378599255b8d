// The OPRF key rotation statement (rotation-statement.ts): signed by the old key with RFC 9497's
// evaluation and DLEQ proof in a context string of its own, cross-checked against @noble/curves'
// independent VOPRF built with the same identifier; a tampered statement, another key, and the
// discovery endpoint's own evaluation of the statement (the oracle anyone can call) all fail.
import * as assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { createOPRF } from '@noble/curves/abstract/oprf.js';
import { ristretto255, ristretto255_hasher } from '@noble/curves/ed25519.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { loadOprf, type Oprf } from './oprf.js';
import {
  loadRotationSigner,
  ROTATION_CONTEXT_STRING,
  ROTATION_SIGNATURE_LENGTH,
  ROTATION_SUITE_ID,
  type RotationSigner,
  type RotationStatement,
  rotationStatementBytes,
} from './rotation-statement.js';
import { loadVoprf, RISTRETTO255_GENERATOR, type Voprf } from './voprf.js';

/** @noble/curves' VOPRF in the rotation's context: contextString "OPRFV1-\x01-<identifier>". */
const noble = createOPRF({
  name: ROTATION_SUITE_ID,
  Point: ristretto255.Point,
  hash: sha512,
  hashToGroup: ristretto255_hasher.hashToCurve,
  hashToScalar: ristretto255_hasher.hashToScalar,
}).voprf;
const DST = new Uint8Array([
  ...new TextEncoder().encode('HashToGroup-'),
  ...ROTATION_CONTEXT_STRING,
]);

let oprf: Oprf;
let voprf: Voprf;
let signer: RotationSigner;
let oldKey: Uint8Array;
let statement: RotationStatement;

before(async () => {
  oprf = await loadOprf();
  voprf = await loadVoprf(oprf);
  signer = await loadRotationSigner(oprf);
  oldKey = oprf.generateSecretKey();
  statement = {
    oldKeyId: '0a1b2c3d4e',
    oldPublicKey: voprf.publicKey(oldKey),
    newKeyId: '5f6a7b8c9d',
    newPublicKey: voprf.publicKey(oprf.generateSecretKey()),
    rotatedAt: 1_796_000_000_000,
  };
});

describe('rotation statement', () => {
  test('the bytes: context, both key ids and public keys, the time', () => {
    const bytes = rotationStatementBytes(statement);
    const text = new TextDecoder().decode(bytes.subarray(0, 28));
    assert.equal(text, 'parley oprf key rotation v1\0');
    // 28 + (1 + 10 + 32) · 2 + 8
    assert.equal(bytes.length, 122);
    assert.deepEqual(bytes.subarray(29, 39), new TextEncoder().encode(statement.oldKeyId));
    assert.deepEqual(bytes.subarray(39, 71), statement.oldPublicKey);
    assert.deepEqual(bytes.subarray(82, 114), statement.newPublicKey);
    assert.equal(Buffer.from(bytes.subarray(114)).readBigUInt64BE(), 1_796_000_000_000n);
  });

  test('signed by the old key, it verifies; @noble/curves checks the same signature', () => {
    const signature = signer.sign(oldKey, statement);
    assert.equal(signature.length, ROTATION_SIGNATURE_LENGTH);
    assert.ok(signer.verify(statement, signature));
    // Independently: T = HashToGroup(statement) in the rotation's DST, Z = k_old·T, and the
    // proof verifies in noble's VOPRF of the same identifier (finalize throws if it does not).
    const t = ristretto255_hasher.hashToCurve(rotationStatementBytes(statement), { DST }).toBytes();
    const z = signature.subarray(0, 32);
    assert.deepEqual(z, oprf.scalarMult(oldKey, t));
    const one = new Uint8Array(32);
    one[0] = 1;
    assert.doesNotThrow(() =>
      noble.finalizeBatch(
        [{ input: new Uint8Array(1), blind: one, evaluated: z, blinded: t }],
        statement.oldPublicKey,
        signature.subarray(32),
      ),
    );
  });

  test('a signature @noble/curves makes with the old key verifies here', () => {
    const t = ristretto255_hasher.hashToCurve(rotationStatementBytes(statement), { DST }).toBytes();
    const { evaluated, proof } = noble.blindEvaluate(oldKey, statement.oldPublicKey, t);
    assert.ok(signer.verify(statement, new Uint8Array([...evaluated, ...proof])));
  });

  test('the same nonce gives the same signature (deterministic given r)', () => {
    const r = oprf.generateSecretKey();
    assert.deepEqual(signer.sign(oldKey, statement, r), signer.sign(oldKey, statement, r));
  });

  test('a statement changed in any field no longer verifies', () => {
    const signature = signer.sign(oldKey, statement);
    const other = voprf.publicKey(oprf.generateSecretKey());
    const tampered: RotationStatement[] = [
      { ...statement, newPublicKey: other },
      { ...statement, newKeyId: 'ffffffffff' },
      { ...statement, oldKeyId: 'eeeeeeeeee' },
      { ...statement, rotatedAt: statement.rotatedAt + 1 },
    ];
    for (const s of tampered) assert.equal(signer.verify(s, signature), false);
    const flipped = signature.slice();
    flipped[40]! ^= 1;
    assert.equal(signer.verify(statement, flipped), false);
    assert.equal(signer.verify(statement, signature.subarray(0, 95)), false);
  });

  test('another key cannot sign for the old one', () => {
    const evil = oprf.generateSecretKey();
    assert.throws(() => signer.sign(evil, statement), RangeError);
    // A statement naming the evil key as the old one verifies only against that key.
    const claimed = { ...statement, oldPublicKey: voprf.publicKey(evil) };
    const forged = signer.sign(evil, claimed);
    assert.ok(signer.verify(claimed, forged));
    assert.equal(signer.verify(statement, forged), false);
  });

  test('the evaluate endpoint’s answer for T (a discovery-context evaluation and proof) is no signature', () => {
    // What any client gets by sending T as a "blinded element": k_old·T with a valid DLEQ proof
    // for pk_old, in the discovery context. The rotation context's hashes refuse it.
    const t = ristretto255_hasher.hashToCurve(rotationStatementBytes(statement), { DST }).toBytes();
    const answer = voprf.blindEvaluate(oldKey, statement.oldPublicKey, [t]);
    assert.ok(
      voprf.verifyProof(
        RISTRETTO255_GENERATOR,
        statement.oldPublicKey,
        [t],
        answer.evaluatedElements,
        answer.proof,
      ),
      'a valid proof in the discovery context',
    );
    const signature = new Uint8Array([...answer.evaluatedElements[0]!, ...answer.proof]);
    assert.equal(signer.verify(statement, signature), false);
  });

  test('the same key id twice, or an invalid new public key, is refused', () => {
    const same = { ...statement, newKeyId: statement.oldKeyId };
    assert.equal(signer.verify(same, signer.sign(oldKey, same)), false);
    const invalid = { ...statement, newPublicKey: new Uint8Array(32) };
    assert.equal(signer.verify(invalid, signer.sign(oldKey, invalid)), false);
  });
});
