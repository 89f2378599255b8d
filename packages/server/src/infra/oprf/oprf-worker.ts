/**
 * Worker thread for OPRF group operations. The event loop never does scalar multiplications: a
 * large discovery batch would stall every other client (docs/design.md, Server: "the event loop
 * only moves buffers"). Elements travel packed, 32 bytes each, in one transferable buffer.
 *
 * The pool picks the backend (workerData): `native` multiplies whole batches in the
 * @parley/oprf-native addon (system libsodium), `wasm` element by element in @parley/core's
 * libsodium WASM. Scalar arithmetic (translate's factor) and scalar checks stay in WASM either way.
 */

import { createHash, hash } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import {
  directoryHashPrefixes,
  expandMessageXmd,
  FINGERPRINT_BYTES,
  HASH_TO_GROUP_DST,
  loadOprf,
  loadVoprf,
  ParleyError,
  RISTRETTO255_GENERATOR,
  TOKEN_BYTES,
} from '@parley/core';
import { loadNativeOprf, type NativeInvalidElementError } from '@parley/oprf-native';
import {
  REKEYED_ENTRY,
  type WorkerInit,
  type WorkerRequest,
  type WorkerResponse,
} from './oprf-pool.js';

const oprf = await loadOprf();
const voprf = await loadVoprf(oprf);
const keys = new Map<string, Uint8Array>();
const port = parentPort!;
const { backend } = (workerData ?? { backend: 'wasm' }) as WorkerInit;
const native = backend === 'native' ? loadNativeOprf() : undefined;
// The pool loaded the addon before choosing `native`, so this only fails if the build vanished.
if (backend === 'native' && !native) throw new Error('the native OPRF addon does not load');

/** Keys (and translate factors) whose scalar check passed; they are never mutated. */
const checkedScalars = new WeakSet<Uint8Array>();

function key(id: string): Uint8Array {
  const k = keys.get(id);
  if (!k) throw new Error(`OPRF key ${id} is not loaded in the worker`);
  return k;
}

/** The error the WASM path throws for an element-level failure. */
function invalidElement(index: number | undefined, reason: string): ParleyError {
  return new ParleyError('INVALID_ELEMENT', {
    details: index === undefined ? { reason } : { index, reason },
  });
}

function isNativeInvalidElement(error: unknown): error is NativeInvalidElementError {
  return error instanceof Error && (error as { code?: unknown }).code === 'INVALID_ELEMENT';
}

/** The WASM path checks the scalar (canonical, non-zero) per element; here once per key. */
function checkScalar(scalar: Uint8Array, index: number | undefined): void {
  if (checkedScalars.has(scalar)) return;
  try {
    oprf.scalarInvert(scalar); // throws INVALID_ELEMENT with the `scalar: …` reason
  } catch (error) {
    if (error instanceof ParleyError) {
      throw invalidElement(index, (error.details as { reason: string }).reason);
    }
    throw error;
  }
  checkedScalars.add(scalar);
}

/** One native call for the whole batch; the error names the element's index in the request. */
function nativeMultiplyAll(scalar: Uint8Array, packed: Uint8Array, offset: number): Uint8Array {
  if (packed.length === 0) return new Uint8Array(0);
  checkScalar(scalar, offset);
  const whole = packed.length - (packed.length % 32);
  let out: Uint8Array;
  try {
    out = native!.scalarmultBatch(scalar, packed.subarray(0, whole));
  } catch (error) {
    if (isNativeInvalidElement(error)) throw invalidElement(offset + error.index, error.reason);
    throw error;
  }
  // As in the WASM loop, a trailing partial element fails only after the whole ones passed.
  if (whole !== packed.length) {
    throw invalidElement(offset + whole / 32, 'element: an element must be 32 bytes');
  }
  return out;
}

/** k·HashToGroup(input) natively: expand_message_xmd here, the one-way map in libsodium. */
function nativeHashAndEvaluate(scalar: Uint8Array, input: Uint8Array): Uint8Array {
  if (input.length > 0xffff) throw new RangeError('input must be at most 65535 bytes');
  const sha512 = (data: Uint8Array): Uint8Array => createHash('sha512').update(data).digest();
  const element = native!.fromHash(expandMessageXmd(input, HASH_TO_GROUP_DST, 64, sha512));
  if (element.every((byte) => byte === 0)) {
    throw invalidElement(undefined, 'InvalidInputError: input hashes to the identity');
  }
  checkScalar(scalar, undefined);
  try {
    return native!.scalarmultBatch(scalar, element);
  } catch (error) {
    if (isNativeInvalidElement(error)) throw invalidElement(undefined, error.reason);
    throw error;
  }
}

/** Multiplies every packed element by `scalar`; validation failures name the element's index. */
function multiplyAll(scalar: Uint8Array, packed: Uint8Array, offset: number): Uint8Array {
  if (native) return nativeMultiplyAll(scalar, packed, offset);
  const out = new Uint8Array(packed.length);
  for (let i = 0; i * 32 < packed.length; i++) {
    const element = packed.subarray(i * 32, i * 32 + 32);
    try {
      out.set(oprf.scalarMult(scalar, element), i * 32);
    } catch (error) {
      if (error instanceof ParleyError) {
        throw new ParleyError('INVALID_ELEMENT', {
          details: { index: offset + i, ...(error.details as object) },
        });
      }
      throw error;
    }
  }
  return out;
}

/** Translate factors per key pair, until the keys change: a re-keying sends many chunks. */
const factors = new Map<string, Uint8Array>();

/** (k_to · k_from⁻¹)·(r·k_from·P) = r·k_to·P: re-keys a blinded element without learning P. */
function translateFactor(fromKeyId: string, toKeyId: string): Uint8Array {
  const id = `${fromKeyId}\n${toKeyId}`;
  let factor = factors.get(id);
  if (!factor) {
    factor = oprf.scalarMul(key(toKeyId), oprf.scalarInvert(key(fromKeyId)));
    factors.set(id, factor);
  }
  return factor;
}

/** pkS = k·G per key id, and the composite seed of proofs with B = pkS, until the keys change. */
const publicKeys = new Map<string, { publicKey: Uint8Array; seed: Uint8Array }>();

function publicKey(keyId: string): { publicKey: Uint8Array; seed: Uint8Array } {
  let entry = publicKeys.get(keyId);
  if (!entry) {
    const pk = voprf.publicKey(key(keyId));
    entry = { publicKey: pk, seed: voprf.compositeSeed(pk) };
    publicKeys.set(keyId, entry);
  }
  return entry;
}

const split = (packed: Uint8Array): Uint8Array[] =>
  Array.from({ length: packed.length / 32 }, (_, i) => packed.subarray(i * 32, i * 32 + 32));

/**
 * This chunk's share of a batched proof's composite, Σ d_i·C_i over its elements, with the d_i
 * of their positions in the whole request (RFC 9497 §2.2.1 ComputeComposites, index i).
 */
function compositeShare(
  seed: Uint8Array,
  blinded: Uint8Array,
  evaluated: Uint8Array,
  offset: number,
): Uint8Array {
  const c = split(blinded);
  const weights = voprf.compositeWeights(seed, c, split(evaluated), offset);
  if (native) {
    const packedWeights = new Uint8Array(weights.length * 32);
    for (const [i, w] of weights.entries()) packedWeights.set(w, i * 32);
    return native.weightedSum(packedWeights, blinded);
  }
  return voprf.weightedSum(weights, c);
}

/** The elements, followed by their composite share when the request asked for a proof. */
function withShare(
  evaluated: Uint8Array,
  blinded: Uint8Array,
  seedKeyId: string,
  offset: number,
  prove: boolean | undefined,
): Uint8Array {
  if (!prove) return evaluated;
  const out = new Uint8Array(evaluated.length + 32);
  out.set(evaluated);
  out.set(compositeShare(publicKey(seedKeyId).seed, blinded, evaluated, offset), evaluated.length);
  return out;
}

/**
 * GenerateProof's tail over the summed shares. Evaluation: k = skS, A = G, B = pkS. Translation:
 * k = k_to/k_from, A = pk_from, B = pk_to (the same DLEQ with another generator).
 */
function prove(fromKeyId: string | null, toKeyId: string, shares: Uint8Array): Uint8Array {
  const m = voprf.addElements(split(shares));
  const b = publicKey(toKeyId).publicKey;
  if (fromKeyId === null) {
    return voprf.proveComposite(key(toKeyId), RISTRETTO255_GENERATOR, b, m);
  }
  const a = publicKey(fromKeyId).publicKey;
  return voprf.proveComposite(translateFactor(fromKeyId, toKeyId), a, b, m);
}

/** One-shot SHA-512 (Node ≥ 20.12), cheaper than a createHash object per call. */
const sha512 = (data: Uint8Array): Uint8Array => hash('sha512', data, 'buffer');

/**
 * Key rotation's per-account work, all of it off the event loop: each element re-keyed by
 * k_to/k_from, then its fingerprint and token under `toKeyId` derived. Packed REKEYED_ENTRY bytes
 * per element: element (32) ‖ fingerprint (8) ‖ token (32). Natively one call does it all (the
 * hashing too: ~1 µs per entry there against ~5–10 µs through node:crypto); in WASM the hashes
 * are one-shot SHA-512s over a scratch buffer holding the prefix.
 */
function rekeyEntries(fromKeyId: string, toKeyId: string, packed: Uint8Array, offset: number) {
  const factor = translateFactor(fromKeyId, toKeyId);
  const prefixes = hashPrefixes(toKeyId);
  if (native) {
    if (packed.length % 32 !== 0) {
      return nativeMultiplyAll(factor, packed, offset); // throws, naming the partial element
    }
    checkScalar(factor, offset);
    try {
      return native.rekeyBatch(factor, packed, prefixes.fingerprint, prefixes.token);
    } catch (error) {
      if (isNativeInvalidElement(error)) throw invalidElement(offset + error.index, error.reason);
      throw error;
    }
  }
  const elements = multiplyAll(factor, packed, offset);
  const count = elements.length / 32;
  const out = new Uint8Array(count * REKEYED_ENTRY);
  const fp = new Uint8Array(prefixes.fingerprint.length + 32);
  fp.set(prefixes.fingerprint);
  const token = new Uint8Array(prefixes.token.length + 32);
  token.set(prefixes.token);
  for (let i = 0; i < count; i++) {
    const element = elements.subarray(i * 32, i * 32 + 32);
    const at = i * REKEYED_ENTRY;
    out.set(element, at);
    fp.set(element, prefixes.fingerprint.length);
    token.set(element, prefixes.token.length);
    out.set(sha512(fp).subarray(0, FINGERPRINT_BYTES), at + 32);
    out.set(sha512(token).subarray(0, TOKEN_BYTES), at + 40);
  }
  return out;
}

/** directoryHashPrefixes per key id, until the keys change. */
const prefixCache = new Map<string, ReturnType<typeof directoryHashPrefixes>>();

function hashPrefixes(keyId: string): ReturnType<typeof directoryHashPrefixes> {
  let prefixes = prefixCache.get(keyId);
  if (!prefixes) {
    prefixes = directoryHashPrefixes(keyId);
    prefixCache.set(keyId, prefixes);
  }
  return prefixes;
}

function handle(req: WorkerRequest): Uint8Array {
  switch (req.op) {
    case 'keys':
      keys.clear();
      factors.clear();
      prefixCache.clear();
      publicKeys.clear();
      for (const [id, secret] of Object.entries(req.keys)) keys.set(id, secret);
      return new Uint8Array(0);
    case 'evaluate': {
      const evaluated = multiplyAll(key(req.keyId), req.data, req.offset);
      return withShare(evaluated, req.data, req.keyId, req.offset, req.prove);
    }
    case 'translate': {
      const factor = translateFactor(req.fromKeyId, req.toKeyId);
      const translated = multiplyAll(factor, req.data, req.offset);
      return withShare(translated, req.data, req.toKeyId, req.offset, req.prove);
    }
    case 'prove':
      return prove(req.fromKeyId, req.toKeyId, req.data);
    case 'rekey':
      return rekeyEntries(req.fromKeyId, req.toKeyId, req.data, req.offset);
    case 'hashAndEvaluate':
      if (native) return nativeHashAndEvaluate(key(req.keyId), req.data);
      return oprf.scalarMult(key(req.keyId), oprf.hashToGroup(req.data));
  }
}

port.on('message', (req: WorkerRequest) => {
  let res: WorkerResponse;
  try {
    const data = handle(req);
    res = { id: req.id, ok: true, data };
    port.postMessage(res, [data.buffer as ArrayBuffer]);
    return;
  } catch (error) {
    res =
      error instanceof ParleyError
        ? { id: req.id, ok: false, code: error.code, details: error.details }
        : { id: req.id, ok: false, code: 'INTERNAL', details: { message: String(error) } };
  }
  port.postMessage(res);
});
port.postMessage({ id: 0, ok: true, data: new Uint8Array(0) } satisfies WorkerResponse);
