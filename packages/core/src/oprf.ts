/**
 * RFC 9497 OPRF (https://www.rfc-editor.org/rfc/rfc9497), suite ristretto255-SHA512 (§4.1), mode
 * 0x00 (base OPRF: no proofs), on libsodium. Runs in Node and in browsers (no node: imports).
 *
 * Flow (RFC 9497 §3.3.1):
 *
 *     client                                   server (holds skS)
 *     blind, blindedElement = Blind(input)
 *                      ---- blindedElement ---->
 *                                              evaluatedElement = BlindEvaluate(skS, blindedElement)
 *                      <--- evaluatedElement ---
 *     output = Finalize(input, blind, evaluatedElement)
 *
 * and `Evaluate(skS, input)` (§3.3.1) lets the key holder compute the same output directly.
 * Output = SHA-512(I2OSP(len(input), 2) || input || I2OSP(32, 2) || skS * HashToGroup(input) ||
 * "Finalize"). HashToGroup is RFC 9380's hash_to_ristretto255: expand_message_xmd(SHA-512) to 64
 * bytes, then the RFC 9496 §4.3.4 one-way map (libsodium's crypto_core_ristretto255_from_hash).
 *
 * Scalars are 32-byte little-endian integers modulo the group order L; elements are 32-byte
 * canonical ristretto255 encodings. Every element and scalar handed in is validated; failures throw
 * `ParleyError('INVALID_ELEMENT')` with `details.reason`.
 */

type Sodium = typeof import('libsodium-wrappers-sumo')['default'];
/**
 * libsodium (~1 MB with its WASM) is imported on first use, so a web page that never runs discovery
 * never downloads it. Everything below that touches it runs after loadOprf has set it.
 */
let sodium: Sodium;

import { ParleyError } from './errors.js';

export const OPRF_SUITE = 'ristretto255-SHA512';
export const ELEMENT_LENGTH = 32;
export const SCALAR_LENGTH = 32;
export const OUTPUT_LENGTH = 64;

export interface Oprf {
  /** HashToGroup(input), serialized. */
  hashToGroup(input: Uint8Array): Uint8Array;
  /** Blind(input); `blind` fixes the blind scalar (test vectors), otherwise it is random. */
  blind(input: Uint8Array, blind?: Uint8Array): { blind: Uint8Array; blindedElement: Uint8Array };
  blindEvaluate(secretKey: Uint8Array, blindedElement: Uint8Array): Uint8Array;
  /** blind^-1 * evaluatedElement, serialized: the "unblindedElement" Finalize hashes. */
  unblind(blind: Uint8Array, evaluatedElement: Uint8Array): Uint8Array;
  /** unblind() for many elements at once, with a single scalar inversion. */
  unblindAll(blinds: Uint8Array[], evaluatedElements: Uint8Array[]): Uint8Array[];
  /** Finalize(input, blind, evaluatedElement): 64 bytes. */
  finalize(input: Uint8Array, blind: Uint8Array, evaluatedElement: Uint8Array): Uint8Array;
  /** The Finalize hash given the already unblinded element. */
  finalizeUnblinded(input: Uint8Array, unblindedElement: Uint8Array): Uint8Array;
  /** Evaluate(skS, input): the non-interactive, server-side output; 64 bytes. */
  evaluate(secretKey: Uint8Array, input: Uint8Array): Uint8Array;
  deriveKeyPair(
    seed: Uint8Array,
    info: Uint8Array,
  ): { secretKey: Uint8Array; publicKey: Uint8Array };
  /** A random non-zero scalar. */
  generateSecretKey(): Uint8Array;
  /** scalar * element; validates both first. */
  scalarMult(scalar: Uint8Array, element: Uint8Array): Uint8Array;
  scalarInvert(scalar: Uint8Array): Uint8Array;
  scalarMul(a: Uint8Array, b: Uint8Array): Uint8Array;
  /** Validates a serialized element (RFC 9497 §4.1 DeserializeElement); returns a copy. */
  deserializeElement(bytes: Uint8Array): Uint8Array;
  sha512(data: Uint8Array): Uint8Array;
}

const encoder = new TextEncoder();

/** contextString = "OPRFV1-" || I2OSP(mode, 1) || "-" || identifier (RFC 9497 §3.1). */
const CONTEXT_STRING = concat(
  encoder.encode('OPRFV1-'),
  Uint8Array.of(0x00),
  encoder.encode('-' + OPRF_SUITE),
);
/** RFC 9497 §4.1 HashToGroup's DST: "HashToGroup-" || contextString (mode 0x00). */
export const HASH_TO_GROUP_DST = concat(encoder.encode('HashToGroup-'), CONTEXT_STRING);
const HASH_TO_SCALAR_DST = concat(encoder.encode('HashToScalar-'), CONTEXT_STRING);
const DERIVE_KEY_PAIR_DST = concat(encoder.encode('DeriveKeyPair'), CONTEXT_STRING);
const FINALIZE_LABEL = encoder.encode('Finalize');
/** The group order L = 2^252 + 27742317777372353535851937790883648493, little-endian. */
const ORDER = Uint8Array.from([
  0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
]);
/** SHA-512: b_in_bytes = 64, s_in_bytes (block size) = 128. */
const SHA512_OUT = 64;
const SHA512_BLOCK = 128;

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** I2OSP(n, 2) (RFC 8017 §4.1). */
function i2osp2(n: number): Uint8Array {
  return Uint8Array.of(n >>> 8, n & 0xff);
}

/**
 * expand_message_xmd (RFC 9380 §5.3.1) over SHA-512. Exported for the RFC 9380 Appendix K.3 test;
 * `sha512` is passed in so the function carries no hidden dependency on libsodium being ready.
 */
export function expandMessageXmd(
  msg: Uint8Array,
  dst: Uint8Array,
  lenInBytes: number,
  sha512: (data: Uint8Array) => Uint8Array,
): Uint8Array {
  // 1. ell = ceil(len_in_bytes / b_in_bytes)
  // 2. ABORT if ell > 255 or len_in_bytes > 65535 or len(DST) > 255
  const ell = Math.ceil(lenInBytes / SHA512_OUT);
  if (!Number.isInteger(lenInBytes) || lenInBytes < 1 || ell > 255 || lenInBytes > 65535) {
    throw new RangeError(`expand_message_xmd: len_in_bytes ${lenInBytes} out of range`);
  }
  if (dst.length > 255) throw new RangeError('expand_message_xmd: DST longer than 255 bytes');
  // 3. DST_prime = DST || I2OSP(len(DST), 1)
  const dstPrime = concat(dst, Uint8Array.of(dst.length));
  // 4-6. msg_prime = Z_pad || msg || I2OSP(len_in_bytes, 2) || I2OSP(0, 1) || DST_prime
  const msgPrime = concat(
    new Uint8Array(SHA512_BLOCK),
    msg,
    i2osp2(lenInBytes),
    Uint8Array.of(0),
    dstPrime,
  );
  // 7. b_0 = H(msg_prime); 8. b_1 = H(b_0 || I2OSP(1, 1) || DST_prime)
  const b0 = sha512(msgPrime);
  const out = new Uint8Array(ell * SHA512_OUT);
  let bi = sha512(concat(b0, Uint8Array.of(1), dstPrime));
  out.set(bi, 0);
  // 9-10. b_i = H(strxor(b_0, b_(i - 1)) || I2OSP(i, 1) || DST_prime) for i in (2, ..., ell)
  for (let i = 2; i <= ell; i++) {
    const xored = new Uint8Array(SHA512_OUT);
    for (let j = 0; j < SHA512_OUT; j++) xored[j] = b0[j]! ^ bi[j]!;
    bi = sha512(concat(xored, Uint8Array.of(i), dstPrime));
    out.set(bi, (i - 1) * SHA512_OUT);
  }
  // 11-12. uniform_bytes = b_1 || ... || b_ell, truncated to len_in_bytes
  return out.subarray(0, lenInBytes);
}

function invalid(reason: string): ParleyError {
  return new ParleyError('INVALID_ELEMENT', { details: { reason } });
}

/** s < L, in constant time (the same borrow walk as libsodium's sc25519_is_canonical). */
function isCanonicalScalar(s: Uint8Array): boolean {
  let c = 0;
  let n = 1;
  for (let i = 31; i >= 0; i--) {
    c |= ((s[i]! - ORDER[i]!) >> 8) & n;
    n &= ((s[i]! ^ ORDER[i]!) - 1) >> 8;
  }
  return c !== 0;
}

/**
 * RFC 9497 §4.1 DeserializeScalar: "reject if the length is not Ns or the value is not in
 * [0, G.Order() - 1]"; keys and blinds MUST additionally be non-zero (§2.1 RandomScalar, §3.2).
 */
function checkScalar(scalar: Uint8Array, what: string): Uint8Array {
  if (!(scalar instanceof Uint8Array) || scalar.length !== SCALAR_LENGTH) {
    throw invalid(`${what}: a scalar must be ${SCALAR_LENGTH} bytes`);
  }
  if (!isCanonicalScalar(scalar))
    throw invalid(`${what}: scalar is not reduced modulo the group order`);
  if (sodium.is_zero(scalar)) throw invalid(`${what}: scalar is zero`);
  return scalar;
}

/**
 * RFC 9497 §4.1 DeserializeElement for ristretto255: "Use the 'Decode' function from RFC 9496
 * [...] Additionally, this function validates that the resulting element is not the group
 * identity element." §3.3: applications "MUST reject" the identity received from the peer.
 */
function checkElement(bytes: Uint8Array, what: string): Uint8Array {
  if (!(bytes instanceof Uint8Array) || bytes.length !== ELEMENT_LENGTH) {
    throw invalid(`${what}: an element must be ${ELEMENT_LENGTH} bytes`);
  }
  // libsodium's is_valid_point accepts the all-zero identity encoding, so test it first.
  if (sodium.is_zero(bytes)) throw invalid(`${what}: element is the identity`);
  if (!sodium.crypto_core_ristretto255_is_valid_point(bytes)) {
    throw invalid(`${what}: not a canonical ristretto255 encoding`);
  }
  return bytes;
}

/** PrivateInput/KeyInfo are length-prefixed with I2OSP(len, 2), so they "MUST" be < 2^16 bytes. */
function checkInput(input: Uint8Array, what: string): Uint8Array {
  if (!(input instanceof Uint8Array)) throw new TypeError(`${what} must be a Uint8Array`);
  if (input.length > 0xffff) throw new RangeError(`${what} must be at most 65535 bytes`);
  return input;
}

/** libsodium's scalarmult also refuses an identity result; with validated inputs it cannot occur. */
function mult(scalar: Uint8Array, element: Uint8Array): Uint8Array {
  try {
    return sodium.crypto_scalarmult_ristretto255(scalar, element);
  } catch (cause) {
    throw new ParleyError('INVALID_ELEMENT', {
      details: { reason: 'scalar multiplication failed' },
      cause,
    });
  }
}

/**
 * Random scalars drawn 256 at a time: one getRandomValues call for 64 bytes each, reduced modulo L
 * (a 512-bit wide reduction, bias < 2^-250, as RFC 9496's from-uniform-bytes does). libsodium.js's
 * scalar_random makes a JS round trip for its randomness on every call, which is most of the cost
 * of blinding a thousand numbers.
 */
function pooledRandomScalars(): () => Uint8Array {
  const batch = 256;
  let pool = new Uint8Array(0);
  let next = 0;
  return () => {
    if (next >= pool.length) {
      pool = new Uint8Array(64 * batch);
      globalThis.crypto.getRandomValues(pool);
      next = 0;
    }
    const wide = pool.subarray(next, next + 64);
    next += 64;
    const scalar = sodium.crypto_core_ristretto255_scalar_reduce(wide);
    wide.fill(0);
    return scalar;
  };
}

export async function loadOprf(options: { randomScalar?: () => Uint8Array } = {}): Promise<Oprf> {
  const loaded = await import('libsodium-wrappers-sumo');
  await loaded.default.ready;
  sodium = loaded.default;
  const sha512 = (data: Uint8Array): Uint8Array => sodium.crypto_hash_sha512(data);
  const nextRandom = options.randomScalar ?? pooledRandomScalars();

  /** RFC 9497 §2.1 RandomScalar: uniformly random, non-zero. */
  function randomScalar(): Uint8Array {
    for (let attempt = 0; attempt < 16; attempt++) {
      const s = nextRandom();
      if (s.length !== SCALAR_LENGTH || !isCanonicalScalar(s)) {
        throw new RangeError('randomScalar must return a canonical 32-byte scalar');
      }
      if (!sodium.is_zero(s)) return s;
    }
    throw new Error('randomScalar returned zero repeatedly');
  }

  /** HashToGroup (RFC 9497 §4.1): hash_to_ristretto255 with DST "HashToGroup-" || contextString. */
  function hashToGroup(input: Uint8Array): Uint8Array {
    const uniform = expandMessageXmd(checkInput(input, 'input'), HASH_TO_GROUP_DST, 64, sha512);
    const element = sodium.crypto_core_ristretto255_from_hash(uniform);
    // Blind/Evaluate: "if inputElement == G.Identity(): raise InvalidInputError".
    if (sodium.is_zero(element)) throw invalid('InvalidInputError: input hashes to the identity');
    return element;
  }

  /**
   * HashToScalar (RFC 9497 §4.1): 64 bytes of expand_message_xmd with DST "HashToScalar-" ||
   * contextString (DeriveKeyPair overrides the DST), read little-endian, reduced modulo L.
   */
  function hashToScalar(input: Uint8Array, dst: Uint8Array = HASH_TO_SCALAR_DST): Uint8Array {
    return sodium.crypto_core_ristretto255_scalar_reduce(expandMessageXmd(input, dst, 64, sha512));
  }

  /** hashInput = I2OSP(len(input), 2) || input || I2OSP(len(element), 2) || element || "Finalize". */
  function finalizeHash(input: Uint8Array, element: Uint8Array): Uint8Array {
    return sha512(
      concat(i2osp2(input.length), input, i2osp2(element.length), element, FINALIZE_LABEL),
    );
  }

  /**
   * unblind() for a batch, with one scalar inversion for all (Montgomery's trick: invert the
   * product, then peel each inverse off with two multiplications) instead of one per element.
   */
  function unblindAll(blinds: Uint8Array[], evaluatedElements: Uint8Array[]): Uint8Array[] {
    if (blinds.length !== evaluatedElements.length) {
      throw new RangeError('unblindAll needs one blind per evaluated element');
    }
    const n = blinds.length;
    if (n === 0) return [];
    const prefix: Uint8Array[] = new Array(n);
    prefix[0] = checkScalar(blinds[0]!, 'blind');
    for (let i = 1; i < n; i++) {
      prefix[i] = sodium.crypto_core_ristretto255_scalar_mul(
        prefix[i - 1]!,
        checkScalar(blinds[i]!, 'blind'),
      );
    }
    let inverse = sodium.crypto_core_ristretto255_scalar_invert(prefix[n - 1]!);
    const out: Uint8Array[] = new Array(n);
    for (let i = n - 1; i >= 0; i--) {
      // inverse = (b_0 ⋯ b_i)⁻¹, so b_i⁻¹ = inverse · (b_0 ⋯ b_{i-1}).
      const blindInverse =
        i === 0 ? inverse : sodium.crypto_core_ristretto255_scalar_mul(inverse, prefix[i - 1]!);
      out[i] = mult(blindInverse, checkElement(evaluatedElements[i]!, 'evaluatedElement'));
      if (i > 0) inverse = sodium.crypto_core_ristretto255_scalar_mul(inverse, blinds[i]!);
    }
    return out;
  }

  function unblind(blind: Uint8Array, evaluatedElement: Uint8Array): Uint8Array {
    checkElement(evaluatedElement, 'evaluatedElement');
    // Finalize: N = G.ScalarInverse(blind) * evaluatedElement
    const inverse = sodium.crypto_core_ristretto255_scalar_invert(checkScalar(blind, 'blind'));
    return mult(inverse, evaluatedElement);
  }

  function finalizeUnblinded(input: Uint8Array, unblindedElement: Uint8Array): Uint8Array {
    checkInput(input, 'input');
    return finalizeHash(input, checkElement(unblindedElement, 'unblindedElement'));
  }

  const oprf: Oprf = {
    hashToGroup,
    blind(input, blind) {
      // Blind (§3.3.1): blind = G.RandomScalar(); blindedElement = blind * G.HashToGroup(input)
      const r = (blind === undefined ? randomScalar() : checkScalar(blind, 'blind')).slice();
      const inputElement = hashToGroup(input);
      return { blind: r, blindedElement: mult(r, inputElement) };
    },
    blindEvaluate(secretKey, blindedElement) {
      // BlindEvaluate (§3.3.1): evaluatedElement = skS * blindedElement, after the server
      // deserializes (and so validates) blindedElement.
      checkScalar(secretKey, 'secretKey');
      return mult(secretKey, checkElement(blindedElement, 'blindedElement'));
    },
    unblind,
    unblindAll,
    finalize(input, blind, evaluatedElement) {
      return finalizeUnblinded(input, unblind(blind, evaluatedElement));
    },
    finalizeUnblinded,
    evaluate(secretKey, input) {
      // Evaluate (§3.3.1): issuedElement = skS * G.HashToGroup(input); same hash as Finalize.
      checkScalar(secretKey, 'secretKey');
      return finalizeHash(input, mult(secretKey, hashToGroup(input)));
    },
    deriveKeyPair(seed, info) {
      // DeriveKeyPair (§3.2.1); seed is Ns = 32 bytes.
      if (!(seed instanceof Uint8Array) || seed.length !== 32)
        throw new RangeError('seed must be 32 bytes');
      checkInput(info, 'info');
      // deriveInput = seed || I2OSP(len(info), 2) || info
      const deriveInput = concat(seed, i2osp2(info.length), info, Uint8Array.of(0));
      // while skS == 0: if counter > 255: raise DeriveKeyPairError
      for (let counter = 0; counter <= 255; counter++) {
        // skS = G.HashToScalar(deriveInput || I2OSP(counter, 1), DST = "DeriveKeyPair" || contextString)
        deriveInput[deriveInput.length - 1] = counter;
        const secretKey = hashToScalar(deriveInput, DERIVE_KEY_PAIR_DST);
        if (!sodium.is_zero(secretKey)) {
          return { secretKey, publicKey: sodium.crypto_scalarmult_ristretto255_base(secretKey) };
        }
      }
      throw new Error('DeriveKeyPairError');
    },
    generateSecretKey: randomScalar,
    scalarMult(scalar, element) {
      checkScalar(scalar, 'scalar');
      return mult(scalar, checkElement(element, 'element'));
    },
    scalarInvert(scalar) {
      return sodium.crypto_core_ristretto255_scalar_invert(checkScalar(scalar, 'scalar'));
    },
    scalarMul(a, b) {
      return sodium.crypto_core_ristretto255_scalar_mul(checkScalar(a, 'a'), checkScalar(b, 'b'));
    },
    deserializeElement(bytes) {
      return checkElement(bytes, 'element').slice();
    },
    sha512,
  };
  return Object.freeze(oprf);
}
