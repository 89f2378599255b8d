/**
 * What the blind directory is keyed by. For a phone number x and the server's OPRF key k, the
 * client ends discovery holding N = k·HashToGroup(x) (the element RFC 9497's Finalize hashes) and
 * the server holds the same N for each account, computed once while the number was in memory at
 * verification. From N both derive, under the key id:
 *   - a 64-bit filter fingerprint, published in the membership filter;
 *   - a 256-bit lookup token, sent only for filter matches, to resolve them to an account.
 * Separate domain tags keep the published fingerprint from revealing any bits of the token.
 *
 * Why N and not the RFC's Finalize output: Finalize also hashes x, which the server never keeps,
 * so it could not recompute outputs under a new key. N is key-homomorphic — (k'/k)·N is N under
 * k' — which lets the operator rotate the key without anyone verifying again (docs/design.md).
 */

import { concatBytes, utf8 } from './encoding.js';

/** Length in bytes of a filter fingerprint (64 bits: the filter's FPR bound needs them). */
export const FINGERPRINT_BYTES = 8;
/** Length in bytes of a lookup token. */
export const TOKEN_BYTES = 32;

const FINGERPRINT_TAG = utf8('parley/directory/fingerprint/v1');
const TOKEN_TAG = utf8('parley/directory/token/v1');

type Sha512 = (data: Uint8Array) => Uint8Array;

function prefix(tag: Uint8Array, keyId: string): Uint8Array {
  const id = utf8(keyId);
  return concatBytes(tag, new Uint8Array([id.length]), id);
}

function derive(sha512: Sha512, tag: Uint8Array, keyId: string, element: Uint8Array): Uint8Array {
  return sha512(concatBytes(prefix(tag, keyId), element));
}

/**
 * What the fingerprint and the token hash before the element under `keyId` (tag ‖ len(id) ‖ id):
 * SHA-512(prefix ‖ N) cut to FINGERPRINT_BYTES and TOKEN_BYTES is directoryFingerprint and
 * directoryToken. For batch implementations (key rotation) that hash the prefix once.
 */
export function directoryHashPrefixes(keyId: string): {
  fingerprint: Uint8Array;
  token: Uint8Array;
} {
  return { fingerprint: prefix(FINGERPRINT_TAG, keyId), token: prefix(TOKEN_TAG, keyId) };
}

export function directoryFingerprint(
  sha512: Sha512,
  keyId: string,
  element: Uint8Array,
): Uint8Array {
  return derive(sha512, FINGERPRINT_TAG, keyId, element).slice(0, FINGERPRINT_BYTES);
}

export function directoryToken(sha512: Sha512, keyId: string, element: Uint8Array): Uint8Array {
  return derive(sha512, TOKEN_TAG, keyId, element).slice(0, TOKEN_BYTES);
}

/** The OPRF input for a phone number: its E.164 string as UTF-8 (docs/design.md, Discovery). */
export function phoneNumberInput(e164: string): Uint8Array {
  return utf8(e164);
}
