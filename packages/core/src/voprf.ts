/**
 * RFC 9497 VOPRF (https://www.rfc-editor.org/rfc/rfc9497), suite ristretto255-SHA512, mode 0x01:
 * the OPRF of ./oprf.ts plus batched DLEQ proofs (§2.2) that every evaluated element was computed
 * under the key whose public key `pkS = skS·G` the client holds.
 *
 *     client                                   server (holds skS, publishes pkS)
 *     blind, blindedElement = Blind(input)
 *                      ---- blindedElements ---->
 *                          evaluatedElements, proof = BlindEvaluate(skS, pkS, blindedElements)
 *                      <--- evaluatedElements, proof ---
 *     outputs = Finalize(inputs, blinds, evaluatedElements, blindedElements, pkS, proof)
 *
 * The proof is the RFC's own construction, used twice in Parley (docs/design.md, "Verifiable
 * evaluation"): `GenerateProof(k, A, B, C, D)` shows `log_A(B) = log_C[i](D[i])` for every i at
 * once. Evaluation uses `A = G, B = pkS`; translation after a key rotation uses `A = pk_old,
 * B = pk_new` with `k = k_new/k_old`. The composites (§2.2.1 ComputeComposites) can be computed in
 * slices (`compositeSlice`) and summed, so the server's worker pool splits a batch across cores and
 * proves once.
 *
 * Caveat: libsodium's ristretto255 API has no multi-scalar multiplication, so each composite costs
 * one full scalar multiplication per element (the server ~1 extra per element, the verifier ~2).
 */

type Sodium = typeof import('libsodium-wrappers-sumo')['default'];
let sodium: Sodium;

import { concatBytes as concat } from './encoding.js';
import { ParleyError } from './errors.js';
import { ELEMENT_LENGTH, expandMessageXmd, type Oprf, SCALAR_LENGTH } from './oprf.js';

export const VOPRF_MODE = 0x01;
/** Proof = SerializeScalar(c) || SerializeScalar(s) (§2.2.1). */
export const PROOF_LENGTH = 2 * SCALAR_LENGTH;

const encoder = new TextEncoder();

const i2osp2 = (n: number): Uint8Array => Uint8Array.of(n >>> 8, n & 0xff);
/** I2OSP(len(x), 2) || x: every transcript field is length-prefixed. */
const lp = (x: Uint8Array): Uint8Array => concat(i2osp2(x.length), x);

/** contextString = "OPRFV1-" || I2OSP(0x01, 1) || "-ristretto255-SHA512" (§3.1). */
export const VOPRF_CONTEXT_STRING = concat(
  encoder.encode('OPRFV1-'),
  Uint8Array.of(VOPRF_MODE),
  encoder.encode('-ristretto255-SHA512'),
);
const COMPOSITE = encoder.encode('Composite');
const CHALLENGE = encoder.encode('Challenge');
const FINALIZE = encoder.encode('Finalize');
/** The ristretto255 generator G (RFC 9496 §4.4), serialized. */
export const RISTRETTO255_GENERATOR = Uint8Array.from([
  0xe2, 0xf2, 0xae, 0x0a, 0x6a, 0xbc, 0x4e, 0x71, 0xa8, 0x84, 0xa9, 0x61, 0xc5, 0x00, 0x51, 0x5f,
  0x58, 0xe3, 0x0b, 0x6a, 0xa5, 0x82, 0xdd, 0x8d, 0xb6, 0xa6, 0x59, 0x45, 0xe0, 0x8d, 0x2d, 0x76,
]);
/** Composite indices are I2OSP(i, 2): a batch holds at most 2^16 elements. */
export const MAX_PROOF_BATCH = 0x10000;

/** The proof verification failed: the server did not use the key it published. */
function proofInvalid(reason: string): ParleyError {
  return new ParleyError('OPRF_PROOF_INVALID', { details: { reason } });
}

/** A slice of the composites: Σ d_i·C[i] (and, for the verifier, Σ d_i·D[i]) over some i. */
export interface CompositeSlice {
  m: Uint8Array;
  z?: Uint8Array;
}

export interface Voprf {
  /** HashToGroup with the mode 0x01 DST. */
  hashToGroup(input: Uint8Array): Uint8Array;
  /** Blind(input) (§3.3.2); `blind` fixes the blind scalar (test vectors). */
  blind(input: Uint8Array, blind?: Uint8Array): { blind: Uint8Array; blindedElement: Uint8Array };
  /** BlindEvaluate (§3.3.2): skS·C[i] for all i plus one batched proof. */
  blindEvaluate(
    secretKey: Uint8Array,
    publicKey: Uint8Array,
    blindedElements: Uint8Array[],
    r?: Uint8Array,
  ): { evaluatedElements: Uint8Array[]; proof: Uint8Array };
  /** Finalize (§3.3.2): verifies the proof (throws OPRF_PROOF_INVALID), then 64-byte outputs. */
  finalize(
    inputs: Uint8Array[],
    blinds: Uint8Array[],
    evaluatedElements: Uint8Array[],
    blindedElements: Uint8Array[],
    publicKey: Uint8Array,
    proof: Uint8Array,
  ): Uint8Array[];
  deriveKeyPair(
    seed: Uint8Array,
    info: Uint8Array,
  ): { secretKey: Uint8Array; publicKey: Uint8Array };
  /** pkS = skS·G. */
  publicKey(secretKey: Uint8Array): Uint8Array;
  /** GenerateProof(k, A, B, C, D) (§2.2.1); `r` fixes the nonce (test vectors). */
  generateProof(
    k: Uint8Array,
    a: Uint8Array,
    b: Uint8Array,
    c: Uint8Array[],
    d: Uint8Array[],
    r?: Uint8Array,
  ): Uint8Array;
  /** VerifyProof(A, B, C, D, proof) (§2.2.2); false for any malformed input or mismatch. */
  verifyProof(
    a: Uint8Array,
    b: Uint8Array,
    c: Uint8Array[],
    d: Uint8Array[],
    proof: Uint8Array,
  ): boolean;
  /** seed = Hash(I2OSP(len(Bm), 2) || Bm || I2OSP(len(seedDST), 2) || seedDST). */
  compositeSeed(b: Uint8Array): Uint8Array;
  /** d_i = HashToScalar(seed, i, C[i], D[i], "Composite") for i = offset, offset + 1, … */
  compositeWeights(
    seed: Uint8Array,
    c: Uint8Array[],
    d: Uint8Array[],
    offset: number,
  ): Uint8Array[];
  /** Σ w_i·E_i; the identity (32 zero bytes) for an empty list. */
  weightedSum(weights: Uint8Array[], elements: Uint8Array[]): Uint8Array;
  /** The composites of C[offset…] (and D[offset…] with `withZ`). */
  compositeSlice(
    seed: Uint8Array,
    c: Uint8Array[],
    d: Uint8Array[],
    offset: number,
    withZ: boolean,
  ): CompositeSlice;
  /** GenerateProof's tail from the summed composite M: Z = k·M, nonce, challenge, s. */
  proveComposite(
    k: Uint8Array,
    a: Uint8Array,
    b: Uint8Array,
    m: Uint8Array,
    r?: Uint8Array,
  ): Uint8Array;
  /** Adds serialized elements (the identity allowed): sums the slices' composites. */
  addElements(elements: Uint8Array[]): Uint8Array;
}

/**
 * The VOPRF on top of an already loaded OPRF (its element and scalar validation, its random
 * scalars). `randomScalar` feeds the proof nonces; tests pass the RFC's `r`.
 */
export async function loadVoprf(
  oprf: Oprf,
  options: {
    randomScalar?: () => Uint8Array;
    /**
     * The contextString every hash is domain-separated by (§3.1); default VOPRF_CONTEXT_STRING.
     * Another one gives the same construction in a separate domain, whose proofs no evaluation
     * under the default context can stand in for (rotation-statement.ts).
     */
    contextString?: Uint8Array;
  } = {},
) {
  const loaded = await import('libsodium-wrappers-sumo');
  await loaded.default.ready;
  sodium = loaded.default;
  const sha512 = oprf.sha512;
  const randomScalar = options.randomScalar ?? (() => oprf.generateSecretKey());
  const IDENTITY = new Uint8Array(ELEMENT_LENGTH);
  const context = options.contextString ?? VOPRF_CONTEXT_STRING;
  const HASH_TO_GROUP_DST = concat(encoder.encode('HashToGroup-'), context);
  const HASH_TO_SCALAR_DST = concat(encoder.encode('HashToScalar-'), context);
  const DERIVE_KEY_PAIR_DST = concat(encoder.encode('DeriveKeyPair'), context);
  const SEED_DST = concat(encoder.encode('Seed-'), context);

  const hashToScalar = (input: Uint8Array, dst = HASH_TO_SCALAR_DST): Uint8Array =>
    sodium.crypto_core_ristretto255_scalar_reduce(expandMessageXmd(input, dst, 64, sha512));

  function hashToGroup(input: Uint8Array): Uint8Array {
    if (input.length > 0xffff) throw new RangeError('input must be at most 65535 bytes');
    const element = sodium.crypto_core_ristretto255_from_hash(
      expandMessageXmd(input, HASH_TO_GROUP_DST, 64, sha512),
    );
    if (sodium.is_zero(element))
      throw new ParleyError('INVALID_ELEMENT', {
        details: { reason: 'InvalidInputError: input hashes to the identity' },
      });
    return element;
  }

  /** Scalar multiplication where a zero scalar (or identity result) gives the identity. */
  function mulOrIdentity(scalar: Uint8Array, element: Uint8Array): Uint8Array {
    if (sodium.is_zero(scalar) || sodium.is_zero(element)) return IDENTITY.slice();
    try {
      return sodium.crypto_scalarmult_ristretto255(scalar, element);
    } catch {
      return IDENTITY.slice();
    }
  }

  function addElements(elements: Uint8Array[]): Uint8Array {
    let sum: Uint8Array = IDENTITY.slice();
    for (const e of elements) sum = sodium.crypto_core_ristretto255_add(sum, e);
    return sum;
  }

  function compositeSeed(b: Uint8Array): Uint8Array {
    return sha512(concat(lp(b), lp(SEED_DST)));
  }

  function compositeWeights(
    seed: Uint8Array,
    c: Uint8Array[],
    d: Uint8Array[],
    offset: number,
  ): Uint8Array[] {
    if (c.length !== d.length) throw new RangeError('C and D must have the same length');
    if (offset + c.length > MAX_PROOF_BATCH)
      throw new RangeError('a proof covers at most 2^16 elements');
    const seedPart = lp(seed);
    return c.map((ci, j) =>
      hashToScalar(concat(seedPart, i2osp2(offset + j), lp(ci), lp(d[j]!), COMPOSITE)),
    );
  }

  function weightedSum(weights: Uint8Array[], elements: Uint8Array[]): Uint8Array {
    let sum: Uint8Array = IDENTITY.slice();
    for (let i = 0; i < weights.length; i++) {
      sum = sodium.crypto_core_ristretto255_add(sum, mulOrIdentity(weights[i]!, elements[i]!));
    }
    return sum;
  }

  function compositeSlice(
    seed: Uint8Array,
    c: Uint8Array[],
    d: Uint8Array[],
    offset: number,
    withZ: boolean,
  ): CompositeSlice {
    const weights = compositeWeights(seed, c, d, offset);
    const m = weightedSum(weights, c);
    return withZ ? { m, z: weightedSum(weights, d) } : { m };
  }

  /** c = HashToScalar(Bm, M, Z, t2, t3, "Challenge") (§2.2.1). */
  function challenge(
    b: Uint8Array,
    m: Uint8Array,
    z: Uint8Array,
    t2: Uint8Array,
    t3: Uint8Array,
  ): Uint8Array {
    return hashToScalar(concat(lp(b), lp(m), lp(z), lp(t2), lp(t3), CHALLENGE));
  }

  function proveComposite(
    k: Uint8Array,
    a: Uint8Array,
    b: Uint8Array,
    m: Uint8Array,
    r: Uint8Array = randomScalar(),
  ): Uint8Array {
    // ComputeCompositesFast: Z = k·M, as the prover knows k.
    const z = mulOrIdentity(k, m);
    const t2 = mulOrIdentity(r, a);
    const t3 = mulOrIdentity(r, m);
    const c = challenge(b, m, z, t2, t3);
    // s = r - c·k
    const s = sodium.crypto_core_ristretto255_scalar_sub(
      r,
      sodium.crypto_core_ristretto255_scalar_mul(c, k),
    );
    return concat(c, s);
  }

  function checkBatch(c: Uint8Array[], d: Uint8Array[]): void {
    if (c.length !== d.length || c.length === 0 || c.length > MAX_PROOF_BATCH) {
      throw new RangeError('a proof covers 1 to 2^16 pairs (C[i], D[i])');
    }
  }

  function generateProof(
    k: Uint8Array,
    a: Uint8Array,
    b: Uint8Array,
    c: Uint8Array[],
    d: Uint8Array[],
    r?: Uint8Array,
  ): Uint8Array {
    checkBatch(c, d);
    const { m } = compositeSlice(compositeSeed(b), c, d, 0, false);
    return proveComposite(k, a, b, m, r);
  }

  /** DeserializeScalar (§4.1): 32 bytes, below the group order (a zero s is legal). */
  const isCanonical = (s: Uint8Array): boolean =>
    s.length === SCALAR_LENGTH &&
    sodium.compare(
      sodium.crypto_core_ristretto255_scalar_reduce(concat(s, new Uint8Array(32))),
      s,
    ) === 0;

  function verifyProof(
    a: Uint8Array,
    b: Uint8Array,
    c: Uint8Array[],
    d: Uint8Array[],
    proof: Uint8Array,
  ): boolean {
    if (!(proof instanceof Uint8Array) || proof.length !== PROOF_LENGTH) return false;
    if (c.length !== d.length || c.length === 0 || c.length > MAX_PROOF_BATCH) return false;
    try {
      // §3.3: every element received MUST be a valid, non-identity element.
      for (const e of [a, b, ...c, ...d]) oprf.deserializeElement(e);
    } catch {
      return false;
    }
    const pc = proof.subarray(0, SCALAR_LENGTH);
    const ps = proof.subarray(SCALAR_LENGTH);
    if (!isCanonical(pc) || !isCanonical(ps)) return false;
    const { m, z } = compositeSlice(compositeSeed(b), c, d, 0, true);
    // t2 = s·A + c·B; t3 = s·M + c·Z
    const t2 = sodium.crypto_core_ristretto255_add(mulOrIdentity(ps, a), mulOrIdentity(pc, b));
    const t3 = sodium.crypto_core_ristretto255_add(mulOrIdentity(ps, m), mulOrIdentity(pc, z!));
    const expected = challenge(b, m, z!, t2, t3);
    return sodium.memcmp(expected, pc);
  }

  const voprf: Voprf = {
    hashToGroup,
    blind(input, blind) {
      const r = blind === undefined ? randomScalar() : oprf.scalarMul(blind, ONE);
      return { blind: r, blindedElement: oprf.scalarMult(r, hashToGroup(input)) };
    },
    blindEvaluate(secretKey, publicKey, blindedElements, r) {
      const evaluatedElements = blindedElements.map((e) => oprf.blindEvaluate(secretKey, e));
      const g = RISTRETTO255_GENERATOR;
      const proof = generateProof(secretKey, g, publicKey, blindedElements, evaluatedElements, r);
      return { evaluatedElements, proof };
    },
    finalize(inputs, blinds, evaluatedElements, blindedElements, publicKey, proof) {
      const g = RISTRETTO255_GENERATOR;
      // "if VerifyProof(G.Generator(), pkS, blindedElements, evaluatedElements, proof) == false:
      //    raise VerifyError"
      if (!verifyProof(g, publicKey, blindedElements, evaluatedElements, proof)) {
        throw proofInvalid('the evaluation proof does not verify against the public key');
      }
      const unblinded = oprf.unblindAll(blinds, evaluatedElements);
      return inputs.map((input, i) => sha512(concat(lp(input), lp(unblinded[i]!), FINALIZE)));
    },
    deriveKeyPair(seed, info) {
      if (seed.length !== 32) throw new RangeError('seed must be 32 bytes');
      const deriveInput = concat(seed, lp(info), Uint8Array.of(0));
      for (let counter = 0; counter <= 255; counter++) {
        deriveInput[deriveInput.length - 1] = counter;
        const secretKey = hashToScalar(deriveInput, DERIVE_KEY_PAIR_DST);
        if (!sodium.is_zero(secretKey)) {
          return { secretKey, publicKey: sodium.crypto_scalarmult_ristretto255_base(secretKey) };
        }
      }
      throw new Error('DeriveKeyPairError');
    },
    publicKey(secretKey) {
      oprf.scalarInvert(secretKey); // validates: canonical, non-zero
      return sodium.crypto_scalarmult_ristretto255_base(secretKey);
    },
    generateProof,
    verifyProof,
    compositeSeed,
    compositeWeights,
    weightedSum,
    compositeSlice,
    proveComposite,
    addElements,
  };
  return Object.freeze(voprf);
}

/** The scalar 1 (validates a fixed blind through scalarMul, which checks both factors). */
const ONE = Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 1 : 0));
