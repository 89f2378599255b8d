/*
 * Native ristretto255 group operations for the server's OPRF workers (issue 3).
 *
 * Why: libsodium compiled to WASM (libsodium-wrappers-sumo) spends ~80 us per scalar
 * multiplication; the same library built natively, with 64-bit limbs, about half that. The OPRF
 * protocol stays in @parley/core; this addon replaces only the per-element group operations of
 * BlindEvaluate, translate and HashToGroup, and applies exactly the same validation, with the same
 * reason strings, so both backends return byte-identical results and errors.
 *
 * Every function is synchronous: the callers are already worker threads, and a batch per call
 * amortises the N-API crossing over many elements. Nothing here is cryptography of our own; each
 * group operation is one libsodium call.
 */

#include <node_api.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define ELEMENT_BYTES crypto_core_ristretto255_BYTES
#define SCALAR_BYTES crypto_core_ristretto255_SCALARBYTES
#define HASH_BYTES crypto_core_ristretto255_HASHBYTES
#define FINGERPRINT_BYTES 8
#define TOKEN_BYTES 32
#define REKEYED_ENTRY_BYTES (ELEMENT_BYTES + FINGERPRINT_BYTES + TOKEN_BYTES)

/* An N-API call failed (out of memory, a pending exception): return to JS, which throws. */
#define NAPI_OK(call)         \
  do {                        \
    if ((call) != napi_ok) {  \
      return NULL;            \
    }                         \
  } while (0)

/* The bytes of a Uint8Array argument, or a pending TypeError (and -1) when it is not one. */
static int get_bytes(napi_env env, napi_value value, const char *name, uint8_t **data,
                     size_t *length) {
  bool is_typed_array = false;
  napi_typedarray_type type;
  napi_value buffer;
  size_t offset;
  char message[96];

  if (napi_is_typedarray(env, value, &is_typed_array) == napi_ok && is_typed_array &&
      napi_get_typedarray_info(env, value, &type, length, (void **)data, &buffer, &offset) ==
          napi_ok &&
      type == napi_uint8_array) {
    return 0;
  }
  snprintf(message, sizeof message, "%s must be a Uint8Array", name);
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
  return -1;
}

/* A fresh Uint8Array: its ArrayBuffer is transferable, so the worker posts it without a copy. */
static napi_value new_bytes(napi_env env, size_t length, uint8_t **data) {
  napi_value buffer, array;
  NAPI_OK(napi_create_arraybuffer(env, length, (void **)data, &buffer));
  NAPI_OK(napi_create_typedarray(env, napi_uint8_array, length, buffer, 0, &array));
  return array;
}

/*
 * The worker turns this into ParleyError('INVALID_ELEMENT', {details: {index, reason}}); index is
 * relative to the batch because only the worker knows the batch's offset in the request.
 */
static void throw_invalid_element(napi_env env, size_t index, const char *reason) {
  napi_value code, message, error, index_value, reason_value;
  char text[128];

  snprintf(text, sizeof text, "invalid element at index %zu: %s", index, reason);
  if (napi_create_string_utf8(env, "INVALID_ELEMENT", NAPI_AUTO_LENGTH, &code) != napi_ok ||
      napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &message) != napi_ok ||
      napi_create_error(env, code, message, &error) != napi_ok ||
      napi_create_double(env, (double)index, &index_value) != napi_ok ||
      napi_set_named_property(env, error, "index", index_value) != napi_ok ||
      napi_create_string_utf8(env, reason, NAPI_AUTO_LENGTH, &reason_value) != napi_ok ||
      napi_set_named_property(env, error, "reason", reason_value) != napi_ok) {
    return; /* an exception is already pending */
  }
  napi_throw(env, error);
}

/*
 * scalar·E for `count` packed elements, each result written at out + i·stride. Each element must
 * pass RFC 9497 DeserializeElement: a canonical ristretto255 encoding that is not the identity.
 * Returns -1 with an INVALID_ELEMENT error pending (index within the batch) on the first bad one.
 */
static int multiply_all(napi_env env, const uint8_t *scalar, const uint8_t *packed, size_t count,
                        uint8_t *out, size_t stride) {
  for (size_t i = 0; i < count; i++) {
    const uint8_t *element = packed + i * ELEMENT_BYTES;
    /* is_valid_point accepts the all-zero identity encoding, so it is refused first. */
    if (sodium_is_zero(element, ELEMENT_BYTES)) {
      throw_invalid_element(env, i, "element: element is the identity");
      return -1;
    }
    /* crypto_scalarmult_ristretto255 decodes the element with the same check as
     * crypto_core_ristretto255_is_valid_point and fails on a bad encoding or an identity result,
     * so the valid case decodes once; is_valid_point only tells the two failures apart. */
    if (crypto_scalarmult_ristretto255(out + i * stride, scalar, element) != 0) {
      throw_invalid_element(env, i,
                            crypto_core_ristretto255_is_valid_point(element)
                                ? "scalar multiplication failed"
                                : "element: not a canonical ristretto255 encoding");
      return -1;
    }
  }
  return 0;
}

/*
 * scalarmultBatch(scalar: Uint8Array(32), packed: Uint8Array(n*32)): Uint8Array(n*32)
 *
 * The caller has already checked the scalar (canonical, non-zero). Each element must pass RFC 9497
 * DeserializeElement: a canonical ristretto255 encoding that is not the identity.
 */
static napi_value scalarmult_batch(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  uint8_t *scalar, *packed, *out;
  size_t scalar_length, packed_length;
  napi_value result;

  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "scalarmultBatch(scalar, packed)");
    return NULL;
  }
  if (get_bytes(env, argv[0], "scalar", &scalar, &scalar_length) != 0 ||
      get_bytes(env, argv[1], "packed", &packed, &packed_length) != 0) {
    return NULL;
  }
  if (scalar_length != SCALAR_BYTES || packed_length % ELEMENT_BYTES != 0) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE",
                           "scalar must be 32 bytes and packed a multiple of 32 bytes");
    return NULL;
  }
  /* ArrayBuffer contents live outside the V8 heap and never move, so the input pointers stay
   * valid across this allocation even if it triggers a garbage collection. */
  result = new_bytes(env, packed_length, &out);
  if (result == NULL) {
    return NULL;
  }

  if (multiply_all(env, scalar, packed, packed_length / ELEMENT_BYTES, out, ELEMENT_BYTES) != 0) {
    return NULL;
  }
  return result;
}

/*
 * rekeyBatch(scalar, packed, fingerprintPrefix, tokenPrefix): Uint8Array(n*72)
 *
 * Key rotation's per-account work in one call: each element multiplied by the scalar (checked
 * as in scalarmultBatch), then its directory fingerprint and token derived from the result as
 * @parley/core's directoryFingerprint/directoryToken do: SHA-512(prefix || element) cut to 8 and
 * 32 bytes, the prefixes being directoryHashPrefixes(keyId). Each entry is element (32) ||
 * fingerprint (8) || token (32). The prefixes are hashed once per call; each element then costs
 * a copy of the hash state and one final block.
 */
static napi_value rekey_batch(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  uint8_t *scalar, *packed, *fp_prefix, *token_prefix, *out;
  size_t scalar_length, packed_length, fp_prefix_length, token_prefix_length, count;
  crypto_hash_sha512_state fp_base, token_base, state;
  uint8_t digest[crypto_hash_sha512_BYTES];
  napi_value result;

  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS",
                          "rekeyBatch(scalar, packed, fingerprintPrefix, tokenPrefix)");
    return NULL;
  }
  if (get_bytes(env, argv[0], "scalar", &scalar, &scalar_length) != 0 ||
      get_bytes(env, argv[1], "packed", &packed, &packed_length) != 0 ||
      get_bytes(env, argv[2], "fingerprintPrefix", &fp_prefix, &fp_prefix_length) != 0 ||
      get_bytes(env, argv[3], "tokenPrefix", &token_prefix, &token_prefix_length) != 0) {
    return NULL;
  }
  if (scalar_length != SCALAR_BYTES || packed_length % ELEMENT_BYTES != 0) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE",
                           "scalar must be 32 bytes and packed a multiple of 32 bytes");
    return NULL;
  }
  count = packed_length / ELEMENT_BYTES;
  result = new_bytes(env, count * REKEYED_ENTRY_BYTES, &out);
  if (result == NULL) {
    return NULL;
  }
  if (multiply_all(env, scalar, packed, count, out, REKEYED_ENTRY_BYTES) != 0) {
    return NULL;
  }
  crypto_hash_sha512_init(&fp_base);
  crypto_hash_sha512_update(&fp_base, fp_prefix, fp_prefix_length);
  crypto_hash_sha512_init(&token_base);
  crypto_hash_sha512_update(&token_base, token_prefix, token_prefix_length);
  for (size_t i = 0; i < count; i++) {
    uint8_t *entry = out + i * REKEYED_ENTRY_BYTES;
    state = fp_base;
    crypto_hash_sha512_update(&state, entry, ELEMENT_BYTES);
    crypto_hash_sha512_final(&state, digest);
    memcpy(entry + ELEMENT_BYTES, digest, FINGERPRINT_BYTES);
    state = token_base;
    crypto_hash_sha512_update(&state, entry, ELEMENT_BYTES);
    crypto_hash_sha512_final(&state, digest);
    memcpy(entry + ELEMENT_BYTES + FINGERPRINT_BYTES, digest, TOKEN_BYTES);
  }
  sodium_memzero(&state, sizeof state);
  sodium_memzero(digest, sizeof digest);
  return result;
}

/*
 * weightedSum(scalars: Uint8Array(n*32), packed: Uint8Array(n*32)): Uint8Array(32)
 *
 * Σ s_i·E_i: the composite M = Σ d_i·C[i] of an RFC 9497 batched DLEQ proof (§2.2.1
 * ComputeComposites), over elements the caller already validated (the blinded elements it just
 * multiplied). libsodium has no multi-scalar multiplication, so this is one full scalar
 * multiplication and one addition per element. A term that is the identity (a zero weight,
 * probability ~2^-252) adds nothing. The result may be the identity (32 zero bytes).
 */
static napi_value weighted_sum(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  uint8_t *scalars, *packed, *out;
  size_t scalars_length, packed_length;
  uint8_t term[ELEMENT_BYTES];
  uint8_t sum[ELEMENT_BYTES] = {0};
  napi_value result;

  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "weightedSum(scalars, packed)");
    return NULL;
  }
  if (get_bytes(env, argv[0], "scalars", &scalars, &scalars_length) != 0 ||
      get_bytes(env, argv[1], "packed", &packed, &packed_length) != 0) {
    return NULL;
  }
  if (packed_length % ELEMENT_BYTES != 0 ||
      scalars_length / SCALAR_BYTES != packed_length / ELEMENT_BYTES ||
      scalars_length % SCALAR_BYTES != 0) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE",
                           "scalars and packed must hold the same number of 32-byte values");
    return NULL;
  }
  for (size_t i = 0; i < packed_length / ELEMENT_BYTES; i++) {
    /* Fails on an identity result (or an invalid element): that term contributes nothing. */
    if (crypto_scalarmult_ristretto255(term, scalars + i * SCALAR_BYTES,
                                       packed + i * ELEMENT_BYTES) != 0) {
      continue;
    }
    crypto_core_ristretto255_add(sum, sum, term);
  }
  result = new_bytes(env, ELEMENT_BYTES, &out);
  if (result == NULL) {
    return NULL;
  }
  memcpy(out, sum, ELEMENT_BYTES);
  return result;
}

/* fromHash(uniform: Uint8Array(64)): Uint8Array(32), the RFC 9496 one-way map of HashToGroup. */
static napi_value from_hash(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  uint8_t *uniform, *out;
  size_t uniform_length;
  napi_value result;

  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "fromHash(uniform)");
    return NULL;
  }
  if (get_bytes(env, argv[0], "uniform", &uniform, &uniform_length) != 0) {
    return NULL;
  }
  if (uniform_length != HASH_BYTES) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "uniform must be 64 bytes");
    return NULL;
  }
  result = new_bytes(env, ELEMENT_BYTES, &out);
  if (result == NULL) {
    return NULL;
  }
  crypto_core_ristretto255_from_hash(out, uniform);
  return result;
}

/* Called once per JS environment (main thread and each worker); sodium_init is idempotent and
 * thread-safe, and picks the fastest implementations for this CPU. */
NAPI_MODULE_INIT() {
  napi_value version;
  napi_property_descriptor properties[] = {
      {"scalarmultBatch", NULL, scalarmult_batch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"fromHash", NULL, from_hash, NULL, NULL, NULL, napi_enumerable, NULL},
      {"rekeyBatch", NULL, rekey_batch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"weightedSum", NULL, weighted_sum, NULL, NULL, NULL, napi_enumerable, NULL},
  };

  if (sodium_init() < 0) {
    napi_throw_error(env, NULL, "sodium_init() failed");
    return NULL;
  }
  NAPI_OK(napi_define_properties(env, exports, sizeof properties / sizeof properties[0],
                                 properties));
  NAPI_OK(napi_create_string_utf8(env, sodium_version_string(), NAPI_AUTO_LENGTH, &version));
  NAPI_OK(napi_set_named_property(env, exports, "sodiumVersion", version));
  return exports;
}
