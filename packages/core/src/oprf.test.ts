import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { before, describe, test } from 'node:test';
import { ristretto255, ristretto255_hasher, ristretto255_oprf } from '@noble/curves/ed25519.js';
import { ParleyError } from './errors.js';
import {
  ELEMENT_LENGTH,
  expandMessageXmd,
  loadOprf,
  OPRF_SUITE,
  type Oprf,
  OUTPUT_LENGTH,
  SCALAR_LENGTH,
} from './oprf.js';

interface Vectors {
  source: string;
  contextString: string;
  hashToGroupDST: string;
  seed: string;
  keyInfo: string;
  skSm: string;
  vectors: {
    Input: string;
    Blind: string;
    BlindedElement: string;
    EvaluationElement: string;
    Output: string;
  }[];
  expandMessageXmd: {
    DST: string;
    tests: { msg: string; lenInBytes: number; uniformBytes: string }[];
  };
  invalidElementEncodings: Record<string, string | string[]>;
}

// The JSON stays in src/ (tsc does not copy it); dist/oprf.test.js reads it from there.
const VECTORS: Vectors = JSON.parse(
  readFileSync(
    new URL('../src/test-vectors/rfc9497-ristretto255-sha512.json', import.meta.url),
    'utf8',
  ),
);

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const unhex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'hex'));
const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);

/** The group order L, little-endian (a non-canonical scalar). */
const ORDER_HEX = 'edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010';
const IDENTITY = new Uint8Array(ELEMENT_LENGTH);
const ORDER = 2n ** 252n + 27742317777372353535851937790883648493n;

/** noble ships oprf.evaluate at runtime but its .d.ts only declares it for POPRF. */
const nobleOprf = ristretto255_oprf.oprf as typeof ristretto255_oprf.oprf & {
  evaluate(secretKey: Uint8Array, input: Uint8Array): Uint8Array;
};

function assertInvalidElement(fn: () => unknown, label: string): void {
  assert.throws(
    fn,
    (error: unknown) => {
      assert.ok(error instanceof ParleyError, `${label}: expected a ParleyError, got ${error}`);
      assert.equal(error.code, 'INVALID_ELEMENT', label);
      const details = error.details as { reason?: unknown };
      assert.equal(typeof details.reason, 'string', label);
      return true;
    },
    label,
  );
}

let oprf: Oprf;
before(async () => {
  oprf = await loadOprf();
});

describe('RFC 9380 Appendix K.3: expand_message_xmd(SHA-512)', () => {
  test('every vector matches byte for byte', () => {
    const { DST, tests } = VECTORS.expandMessageXmd;
    assert.equal(tests.length, 10);
    for (const t of tests) {
      const out = expandMessageXmd(ascii(t.msg), ascii(DST), t.lenInBytes, oprf.sha512);
      assert.equal(hex(out), t.uniformBytes, `msg=${t.msg.slice(0, 8)} len=${t.lenInBytes}`);
    }
  });

  test('aborts on out-of-range len_in_bytes or DST longer than 255 bytes', () => {
    assert.throws(
      () => expandMessageXmd(ascii('x'), ascii('d'), 255 * 64 + 1, oprf.sha512),
      RangeError,
    );
    assert.throws(() => expandMessageXmd(ascii('x'), ascii('d'), 0, oprf.sha512), RangeError);
    assert.throws(
      () => expandMessageXmd(ascii('x'), new Uint8Array(256), 32, oprf.sha512),
      RangeError,
    );
  });
});

describe('RFC 9497 Appendix A.1.1: ristretto255-SHA512, OPRF mode', () => {
  test('constants and contextString', () => {
    assert.equal(OPRF_SUITE, 'ristretto255-SHA512');
    assert.equal(ELEMENT_LENGTH, 32);
    assert.equal(SCALAR_LENGTH, 32);
    assert.equal(OUTPUT_LENGTH, 64);
    assert.equal(hex(ascii('OPRFV1-\x00-ristretto255-SHA512')), VECTORS.contextString);
    assert.equal(hex(ascii('HashToGroup-')) + VECTORS.contextString, VECTORS.hashToGroupDST);
    assert.ok(Object.isFrozen(oprf));
  });

  test('DeriveKeyPair(Seed, KeyInfo) gives skSm', () => {
    const { secretKey, publicKey } = oprf.deriveKeyPair(
      unhex(VECTORS.seed),
      unhex(VECTORS.keyInfo),
    );
    assert.equal(hex(secretKey), VECTORS.skSm);
    const noble = nobleOprf.deriveKeyPair(unhex(VECTORS.seed), unhex(VECTORS.keyInfo));
    assert.equal(hex(publicKey), hex(noble.publicKey));
  });

  VECTORS.vectors.forEach((v, i) => {
    test(`Test Vector ${i + 1}, Batch Size 1: Blind, BlindEvaluate, Finalize, Evaluate`, () => {
      const skSm = unhex(VECTORS.skSm);
      const input = unhex(v.Input);
      const blinded = oprf.blind(input, unhex(v.Blind));
      assert.equal(hex(blinded.blind), v.Blind);
      assert.equal(hex(blinded.blindedElement), v.BlindedElement);
      const evaluated = oprf.blindEvaluate(skSm, blinded.blindedElement);
      assert.equal(hex(evaluated), v.EvaluationElement);
      const output = oprf.finalize(input, unhex(v.Blind), unhex(v.EvaluationElement));
      assert.equal(hex(output), v.Output);
      assert.equal(output.length, OUTPUT_LENGTH);
      assert.equal(hex(oprf.evaluate(skSm, input)), v.Output);
      const unblinded = oprf.unblind(unhex(v.Blind), evaluated);
      assert.equal(hex(unblinded), hex(oprf.scalarMult(skSm, oprf.hashToGroup(input))));
      assert.equal(hex(oprf.finalizeUnblinded(input, unblinded)), v.Output);
    });
  });

  test('Blind uses the injected RandomScalar', async () => {
    const v = VECTORS.vectors[0]!;
    const seeded = await loadOprf({ randomScalar: () => unhex(v.Blind) });
    assert.equal(hex(seeded.blind(unhex(v.Input)).blindedElement), v.BlindedElement);
    assert.equal(hex(seeded.generateSecretKey()), v.Blind);
  });
});

describe('cross-check against @noble/curves ristretto255_oprf', () => {
  const HASH_TO_GROUP_DST = ascii('HashToGroup-OPRFV1-\x00-ristretto255-SHA512');

  test('1,000 random inputs: Evaluate, both blinded flows, HashToGroup', () => {
    for (let i = 0; i < 1000; i++) {
      const secretKey = oprf.generateSecretKey();
      const input = new Uint8Array(randomBytes(i % 97));
      const expected = oprf.evaluate(secretKey, input);
      assert.equal(hex(nobleOprf.evaluate(secretKey, input)), hex(expected), `evaluate #${i}`);

      const point = ristretto255_hasher.hashToCurve(input, { DST: HASH_TO_GROUP_DST });
      assert.equal(hex(oprf.hashToGroup(input)), hex(point.toBytes()), `hashToGroup #${i}`);

      // noble client, our server.
      const nb = nobleOprf.blind(input);
      const ours = oprf.blindEvaluate(secretKey, nb.blinded);
      assert.equal(
        hex(nobleOprf.finalize(input, nb.blind, ours)),
        hex(expected),
        `noble client #${i}`,
      );

      // our client, noble server.
      const b = oprf.blind(input);
      const theirs = nobleOprf.blindEvaluate(secretKey, b.blindedElement);
      assert.equal(hex(oprf.finalize(input, b.blind, theirs)), hex(expected), `our client #${i}`);
    }
  });

  test('DeriveKeyPair on 100 random seeds and infos', () => {
    for (let i = 0; i < 100; i++) {
      const seed = new Uint8Array(randomBytes(32));
      const info = new Uint8Array(randomBytes(i));
      const ours = oprf.deriveKeyPair(seed, info);
      const noble = nobleOprf.deriveKeyPair(seed, info);
      assert.equal(hex(ours.secretKey), hex(noble.secretKey));
      assert.equal(hex(ours.publicKey), hex(noble.publicKey));
    }
  });
});

describe('RFC 9497 §3.3 / §4.1 DeserializeElement: rejection', () => {
  const sk = () => oprf.generateSecretKey();
  const blind = () => oprf.generateSecretKey();
  const input = ascii('+14155550123');
  const badEncodings = Object.entries(VECTORS.invalidElementEncodings)
    .filter((entry): entry is [string, string[]] => Array.isArray(entry[1]))
    .flatMap(([kind, list]) => list.map((h) => ({ kind, bytes: unhex(h) })));
  const cases: { name: string; bytes: Uint8Array }[] = [
    { name: 'identity', bytes: IDENTITY },
    { name: 'empty', bytes: new Uint8Array(0) },
    { name: '31 bytes', bytes: new Uint8Array(31).fill(1) },
    { name: '33 bytes', bytes: new Uint8Array(33).fill(1) },
    { name: '64 bytes', bytes: new Uint8Array(64).fill(1) },
    { name: '32 bytes of 0xff', bytes: new Uint8Array(32).fill(0xff) },
    ...badEncodings.map(({ kind, bytes }) => ({
      name: `RFC 9496 A.2 ${kind} ${hex(bytes)}`,
      bytes,
    })),
  ];

  test('the RFC 9496 invalid encodings are rejected by noble too (sanity check of the vectors)', () => {
    assert.equal(badEncodings.length, 29);
    for (const { bytes } of badEncodings) {
      assert.throws(() => ristretto255.Point.fromBytes(bytes), hex(bytes));
    }
  });

  for (const c of cases) {
    test(`rejects ${c.name}`, () => {
      assertInvalidElement(() => oprf.blindEvaluate(sk(), c.bytes), 'blindEvaluate');
      assertInvalidElement(() => oprf.unblind(blind(), c.bytes), 'unblind');
      assertInvalidElement(() => oprf.finalize(input, blind(), c.bytes), 'finalize');
      assertInvalidElement(() => oprf.finalizeUnblinded(input, c.bytes), 'finalizeUnblinded');
      assertInvalidElement(() => oprf.scalarMult(sk(), c.bytes), 'scalarMult');
      assertInvalidElement(() => oprf.deserializeElement(c.bytes), 'deserializeElement');
    });
  }

  test('libsodium alone accepts the identity encoding, which is why it is checked explicitly', async () => {
    const { default: sodium } = await import('libsodium-wrappers-sumo');
    await sodium.ready;
    assert.equal(sodium.crypto_core_ristretto255_is_valid_point(IDENTITY), true);
  });

  test('accepts and copies a valid element', () => {
    const element = oprf.hashToGroup(input);
    const copy = oprf.deserializeElement(element);
    assert.deepEqual(copy, element);
    assert.notEqual(copy, element);
  });

  test('rejects zero, non-canonical and wrong-length scalars for keys and blinds', () => {
    const element = oprf.hashToGroup(input);
    const badScalars = [
      new Uint8Array(32),
      unhex(ORDER_HEX),
      new Uint8Array(32).fill(0xff),
      new Uint8Array(31).fill(1),
      new Uint8Array(33).fill(1),
    ];
    for (const s of badScalars) {
      const label = hex(s);
      assertInvalidElement(() => oprf.blindEvaluate(s, element), `blindEvaluate ${label}`);
      assertInvalidElement(() => oprf.evaluate(s, input), `evaluate ${label}`);
      assertInvalidElement(() => oprf.blind(input, s), `blind ${label}`);
      assertInvalidElement(() => oprf.unblind(s, element), `unblind ${label}`);
      assertInvalidElement(() => oprf.scalarMult(s, element), `scalarMult ${label}`);
      assertInvalidElement(() => oprf.scalarInvert(s), `scalarInvert ${label}`);
      assertInvalidElement(() => oprf.scalarMul(s, oprf.generateSecretKey()), `scalarMul ${label}`);
    }
  });

  test('a RandomScalar that only yields zero is refused', async () => {
    const broken = await loadOprf({ randomScalar: () => new Uint8Array(32) });
    assert.throws(() => broken.generateSecretKey());
    assert.throws(() => broken.blind(input));
  });

  test('inputs and key info longer than 65535 bytes are refused', () => {
    const long = new Uint8Array(65536);
    assert.throws(() => oprf.blind(long), RangeError);
    assert.throws(() => oprf.evaluate(oprf.generateSecretKey(), long), RangeError);
    assert.throws(() => oprf.deriveKeyPair(new Uint8Array(32), long), RangeError);
    assert.throws(() => oprf.deriveKeyPair(new Uint8Array(31), new Uint8Array(0)), RangeError);
  });
});

describe('scalar arithmetic for key rotation', () => {
  test("k' * k^-1 * (k * P) == k' * P", () => {
    for (let i = 0; i < 50; i++) {
      const k = oprf.generateSecretKey();
      const kNext = oprf.generateSecretKey();
      const p = oprf.hashToGroup(new Uint8Array(randomBytes(16)));
      const kp = oprf.scalarMult(k, p);
      const delta = oprf.scalarMul(kNext, oprf.scalarInvert(k));
      assert.equal(hex(oprf.scalarMult(delta, kp)), hex(oprf.scalarMult(kNext, p)));
    }
  });

  test('k * k^-1 == 1', () => {
    const k = oprf.generateSecretKey();
    const one = new Uint8Array(32);
    one[0] = 1;
    assert.deepEqual(oprf.scalarMul(k, oprf.scalarInvert(k)), one);
  });

  test('generateSecretKey gives distinct canonical non-zero scalars', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const k = oprf.generateSecretKey();
      assert.equal(k.length, SCALAR_LENGTH);
      assert.ok(k.some((b) => b !== 0));
      assert.ok(BigInt('0x' + hex(k.slice().reverse())) < ORDER, 'canonical');
      seen.add(hex(k));
    }
    assert.equal(seen.size, 100);
  });
});

describe('batch unblinding and pooled randomness', () => {
  test('unblindAll equals unblind element by element (one inversion for the batch)', () => {
    const key = oprf.generateSecretKey();
    const inputs = Array.from({ length: 300 }, (_, i) => new TextEncoder().encode(`+1415${i}`));
    const blinded = inputs.map((x) => oprf.blind(x));
    const evaluated = blinded.map((b) => oprf.blindEvaluate(key, b.blindedElement));
    const all = oprf.unblindAll(
      blinded.map((b) => b.blind),
      evaluated,
    );
    blinded.forEach((b, i) => {
      assert.deepEqual(all[i], oprf.unblind(b.blind, evaluated[i]!));
      assert.deepEqual(oprf.finalizeUnblinded(inputs[i]!, all[i]!), oprf.evaluate(key, inputs[i]!));
    });
    assert.deepEqual(oprf.unblindAll([], []), []);
    assert.throws(() => oprf.unblindAll([blinded[0]!.blind], []), RangeError);
    assert.throws(
      () => oprf.unblindAll([blinded[0]!.blind], [new Uint8Array(32)]),
      (e: unknown) => e instanceof ParleyError && e.code === 'INVALID_ELEMENT',
    );
  });

  test('pooled random scalars are canonical, non-zero and distinct across pool refills', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const s = oprf.generateSecretKey();
      assert.equal(s.length, 32);
      assert.ok(s[31]! < 0x10, 'reduced modulo L (top bits clear)');
      assert.ok(s.some((b) => b !== 0));
      seen.add(Buffer.from(s).toString('hex'));
    }
    assert.equal(seen.size, 1000);
  });
});
