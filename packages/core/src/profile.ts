/**
 * Profiles: the name a person chooses, encrypted under their profile key so the server stores
 * only ciphertext. The key (32 random bytes) is the account's; its devices share it, and they
 * give it to the people they message inside MLS (a `profile` envelope, envelope.ts). Whoever
 * holds it fetches the ciphertext from the server and opens it here.
 *
 * Sealed form (always PROFILE_CIPHERTEXT_BYTES long, so its length tells nothing of the name):
 *
 *   nonce (24 bytes) ‖ XChaCha20-Poly1305(key, nonce, padded plaintext, associated data)
 *   padded plaintext = length (2 bytes, big-endian) ‖ UTF-8 JSON {"name": …} ‖ zero bytes
 *   associated data  = "parley profile v1" ‖ 0x00 ‖ account id ‖ 0x00 ‖ version (8 bytes)
 *
 * The associated data binds a ciphertext to its account and version: a server that serves one
 * account's profile as another's, or an old version under a new number, fails to open
 * (PROFILE_UNREADABLE). It can still serve an older version under its own number (the reader
 * keeps the highest version it has read, so that is refused too) or withhold an update.
 *
 * @example
 * const key = await newProfileKey();
 * const sealed = await sealProfile(key, accountId, 1, { name: 'Ada' });
 * const profile = await openProfile(key, accountId, 1, sealed); // { name: 'Ada' }
 */

import { concatBytes, u64, utf8 } from './encoding.js';
import { ParleyError } from './errors.js';
import { loadSodium } from './sodium.js';

export const PROFILE_KEY_BYTES = 32;
/** Characters (code points) a profile name has at most. */
export const PROFILE_NAME_MAX = 64;
/** The padded plaintext: room for the longest name in 4-byte characters and JSON around it. */
const PADDED_BYTES = 512;
const NONCE_BYTES = 24;
const TAG_BYTES = 16;
/** Every sealed profile has exactly this length. */
export const PROFILE_CIPHERTEXT_BYTES = NONCE_BYTES + PADDED_BYTES + TAG_BYTES;
const LABEL = utf8('parley profile v1');

export interface Profile {
  name: string;
}

/**
 * The name as it is stored: NFC, trimmed, 1 to PROFILE_NAME_MAX characters, no control
 * characters or line breaks. Anything else is PROFILE_NAME_INVALID.
 */
export function normalizeProfileName(raw: string): string {
  const name = raw.normalize('NFC').trim();
  const length = [...name].length;
  if (length === 0 || length > PROFILE_NAME_MAX || /[\p{Cc}\u2028\u2029]/u.test(name)) {
    throw new ParleyError('PROFILE_NAME_INVALID', { details: { length } });
  }
  return name;
}

export async function newProfileKey(): Promise<Uint8Array> {
  return (await loadSodium()).randombytes_buf(PROFILE_KEY_BYTES);
}

function associatedData(accountId: string, version: number): Uint8Array {
  return concatBytes(LABEL, Uint8Array.of(0), utf8(accountId), Uint8Array.of(0), u64(version));
}

export async function sealProfile(
  key: Uint8Array,
  accountId: string,
  version: number,
  profile: Profile,
): Promise<Uint8Array> {
  const sodium = await loadSodium();
  const json = utf8(JSON.stringify({ name: normalizeProfileName(profile.name) }));
  const padded = new Uint8Array(PADDED_BYTES);
  new DataView(padded.buffer).setUint16(0, json.length);
  padded.set(json, 2);
  const nonce = sodium.randombytes_buf(NONCE_BYTES);
  const sealed = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
    padded,
    associatedData(accountId, version),
    null,
    nonce,
    key,
  );
  return concatBytes(nonce, sealed);
}

/**
 * Opens what the server served for this account and version. PROFILE_TOO_LARGE when it is not
 * the size every profile has, PROFILE_UNREADABLE when it does not decrypt under this key, account
 * and version, or its content is not a valid profile.
 */
export async function openProfile(
  key: Uint8Array,
  accountId: string,
  version: number,
  sealed: Uint8Array,
): Promise<Profile> {
  if (sealed.length > PROFILE_CIPHERTEXT_BYTES) {
    throw new ParleyError('PROFILE_TOO_LARGE', {
      details: { accountId, bytes: sealed.length, max: PROFILE_CIPHERTEXT_BYTES },
    });
  }
  const unreadable = (why: string) =>
    new ParleyError('PROFILE_UNREADABLE', { details: { accountId, version, why } });
  if (sealed.length !== PROFILE_CIPHERTEXT_BYTES || key.length !== PROFILE_KEY_BYTES) {
    throw unreadable('size');
  }
  const sodium = await loadSodium();
  let padded: Uint8Array;
  try {
    padded = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
      null,
      sealed.subarray(NONCE_BYTES),
      associatedData(accountId, version),
      sealed.subarray(0, NONCE_BYTES),
      key,
    );
  } catch {
    throw unreadable('decrypt');
  }
  const length = new DataView(padded.buffer, padded.byteOffset).getUint16(0);
  if (length > PADDED_BYTES - 2) throw unreadable('length');
  try {
    const value: unknown = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(padded.subarray(2, 2 + length)),
    );
    const name = (value as { name?: unknown } | null)?.name;
    if (typeof name !== 'string') throw unreadable('content');
    return { name: normalizeProfileName(name) };
  } catch {
    throw unreadable('content');
  }
}
