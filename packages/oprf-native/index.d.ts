/** The native addon (build/Release/oprf_native.node), system libsodium underneath. */
export interface NativeOprf {
  /**
   * scalar·E for every packed 32-byte element, in one call. The scalar must already be checked
   * (canonical, non-zero). Throws an Error with `code: 'INVALID_ELEMENT'`, the failing element's
   * `index` within `packed` and a `reason` (the same strings as @parley/core's WASM checks) for
   * the identity, a non-canonical encoding, or an identity result.
   */
  scalarmultBatch(scalar: Uint8Array, packed: Uint8Array): Uint8Array;
  /**
   * Key rotation's batch: each element multiplied by `scalar` (checked, and failing, as in
   * scalarmultBatch), then SHA-512(fingerprintPrefix ‖ result) cut to 8 bytes and
   * SHA-512(tokenPrefix ‖ result) cut to 32: with @parley/core's directoryHashPrefixes(keyId),
   * the directory fingerprint and token. 72 bytes per element: element ‖ fingerprint ‖ token.
   */
  rekeyBatch(
    scalar: Uint8Array,
    packed: Uint8Array,
    fingerprintPrefix: Uint8Array,
    tokenPrefix: Uint8Array,
  ): Uint8Array;
  /**
   * Σ scalars[i]·packed[i] (32 bytes each, elements already validated): the composite of an RFC
   * 9497 batched DLEQ proof. One scalar multiplication per element (libsodium has no
   * multi-scalar multiplication). May return the identity (32 zero bytes).
   */
  weightedSum(scalars: Uint8Array, packed: Uint8Array): Uint8Array;
  /** crypto_core_ristretto255_from_hash: 64 uniform bytes to an element (HashToGroup's map). */
  fromHash(uniform: Uint8Array): Uint8Array;
  /** The linked libsodium's version string. */
  readonly sodiumVersion: string;
}

/** The error scalarmultBatch throws for a bad element. */
export interface NativeInvalidElementError extends Error {
  code: 'INVALID_ELEMENT';
  index: number;
  reason: string;
}

/** The addon, or undefined when it was not built or cannot load; never throws. */
export function loadNativeOprf(): NativeOprf | undefined;

/** Why loadNativeOprf() returns undefined (the loader's message), or undefined when it loads. */
export function nativeOprfUnavailableReason(): string | undefined;
