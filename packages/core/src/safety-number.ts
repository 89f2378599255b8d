/**
 * Safety numbers: what two people compare, read aloud or scanned, to know that the identity key
 * each app holds for the other is the key the other really has. Modelled on Signal's numeric
 * fingerprint (libsignal `NumericFingerprintGenerator`, rust/protocol/src/fingerprint.rs), whose
 * test vectors safety-number.test.ts reproduces. Runs in browsers (no node: imports).
 *
 * Per party, with `key` its identity key and `id` its stable identifier (libsignal
 * `Fingerprint::get_fingerprint`, 5200 iterations):
 *
 *     h₁ = SHA-512(version (2 bytes BE) ‖ key ‖ id ‖ key)
 *     hᵢ = SHA-512(hᵢ₋₁ ‖ key)                              for i = 2 … 5200
 *
 * The party's half of the display is the first 30 bytes of h₅₂₀₀ read as six 5-byte big-endian
 * integers, each mod 100000 and zero-padded to 5 digits: 30 digits. The safety number is the two
 * halves with the lower first, so both sides compute the same 60 digits. Each half carries about
 * 99.7 bits (10³⁰); the 5200 rounds make every guess cost about 2¹² hashes, so finding a key (or
 * an id) whose half matches a given one takes about 2¹¹² SHA-512 computations.
 *
 * Parley's stable id is the account id (UTF-8), the key is the raw 32-byte Ed25519 identity key,
 * and the version is 0. Signal hashes its 33-byte key (0x05 type prefix ‖ Curve25519 key) and its
 * phone number or service id; only the test vectors use that form.
 *
 * The scannable form (what a QR code encodes), version 1, 65 bytes:
 *
 *     0x01 ‖ fingerprint of the lower party (32) ‖ fingerprint of the higher party (32)
 *
 * where a party's fingerprint is the first 32 bytes of its h₅₂₀₀ and "lower" is the party whose
 * 30-digit half comes first in the digits (byte order of the fingerprints breaks a tie). Both
 * devices encode the same bytes, unlike Signal's protobuf, which each side writes local-first and
 * compares crosswise. The cost of that symmetry: a device that scans its own code reports a
 * match, so the screen must ask for the other person's code.
 */

import { utf8 } from './encoding.js';
import { loadSodium } from './sodium.js';

/** SHA-512 rounds per party (libsignal's `iterations`, fixed across clients). */
export const SAFETY_NUMBER_ITERATIONS = 5200;
/** The version hashed into every party's fingerprint (libsignal's is 0 too). */
export const SAFETY_NUMBER_VERSION = 0;
/** The first byte of `SafetyNumber.scannable`. */
export const SAFETY_NUMBER_SCANNABLE_VERSION = 1;
/** 0x01 ‖ 32 ‖ 32. */
export const SAFETY_NUMBER_SCANNABLE_LENGTH = 65;
const IDENTITY_KEY_LENGTH = 32;

const HALF_DIGITS = 30;
const FINGERPRINT_BYTES = 32;

export interface SafetyNumberParty {
  accountId: string;
  /** The account's Ed25519 identity public key (32 bytes). */
  identityKey: Uint8Array;
}

export interface SafetyNumber {
  /** 60 decimal digits: the lower party's 30, then the other's. */
  digits: string;
  /** `digits` as 12 groups of 5, the way they are shown. */
  groups: string[];
  /** What a QR code encodes (SAFETY_NUMBER_SCANNABLE_LENGTH bytes; format in the module comment). */
  scannable: Uint8Array;
}

/** What scanning the other device's code found. */
export type ScannedSafetyNumber =
  /** Both devices hold the same keys for the same two accounts. */
  | 'match'
  /** Different keys or accounts, or not a Parley safety number code at all. */
  | 'mismatch'
  /** A Parley code of another scannable version: neither a match nor evidence of one. */
  | 'unsupported-version';

/** The form libsignal's vectors need; Parley's own calls use `PARLEY_FORM`. */
export interface FingerprintForm {
  /** Hashed as 2 bytes big-endian before the key. */
  version: number;
  /** Bytes hashed before the key wherever the key is hashed (Signal: 0x05, the key type). */
  keyPrefix: Uint8Array;
}

export interface FingerprintParty {
  stableId: Uint8Array;
  identityKey: Uint8Array;
}

const PARLEY_FORM: FingerprintForm = {
  version: SAFETY_NUMBER_VERSION,
  keyPrefix: new Uint8Array(),
};

/**
 * One party's h₅₂₀₀ (64 bytes). Not on the package barrel: exported for the libsignal vectors.
 */
export async function partyFingerprint(
  party: FingerprintParty,
  form: FingerprintForm,
): Promise<Uint8Array> {
  const sodium = await loadSodium();
  const { version, keyPrefix } = form;
  if (!Number.isInteger(version) || version < 0 || version > 0xffff) {
    throw new RangeError('fingerprint version must fit in 2 bytes');
  }
  const key = new Uint8Array(keyPrefix.length + party.identityKey.length);
  key.set(keyPrefix, 0);
  key.set(party.identityKey, keyPrefix.length);
  const first = new Uint8Array(2 + key.length + party.stableId.length + key.length);
  first.set([version >>> 8, version & 0xff], 0);
  first.set(key, 2);
  first.set(party.stableId, 2 + key.length);
  first.set(key, 2 + key.length + party.stableId.length);
  let hash = sodium.crypto_hash_sha512(first);
  // hᵢ = SHA-512(hᵢ₋₁ ‖ key): the key stays at the end of one buffer, the hash is rewritten.
  const block = new Uint8Array(hash.length + key.length);
  block.set(key, hash.length);
  for (let round = 2; round <= SAFETY_NUMBER_ITERATIONS; round++) {
    block.set(hash, 0);
    hash = sodium.crypto_hash_sha512(block);
  }
  return hash;
}

/** A party's 30 digits: six 5-byte big-endian chunks of the hash, each mod 100000. */
function displayHalf(hash: Uint8Array): string {
  let digits = '';
  for (let offset = 0; offset < HALF_DIGITS; offset += 5) {
    // 40 bits fit a double exactly; no BigInt needed.
    let chunk = 0;
    for (let i = offset; i < offset + 5; i++) chunk = chunk * 256 + hash[i]!;
    digits += String(chunk % 100000).padStart(5, '0');
  }
  return digits;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/**
 * The safety number of two parties in a given form. Not on the package barrel: exported for the
 * libsignal vectors; Parley calls `safetyNumber`.
 */
export async function numericFingerprint(
  local: FingerprintParty,
  remote: FingerprintParty,
  form: FingerprintForm,
): Promise<SafetyNumber> {
  const sides = [];
  for (const party of [local, remote]) {
    const hash = await partyFingerprint(party, form);
    sides.push({ half: displayHalf(hash), fingerprint: hash.slice(0, FINGERPRINT_BYTES) });
  }
  // Lower first, by the digits (libsignal's rule), so both devices agree on the order.
  sides.sort((a, b) =>
    a.half !== b.half ? (a.half < b.half ? -1 : 1) : compareBytes(a.fingerprint, b.fingerprint),
  );
  const [low, high] = sides as [(typeof sides)[0], (typeof sides)[0]];
  const digits = low.half + high.half;
  const scannable = new Uint8Array(SAFETY_NUMBER_SCANNABLE_LENGTH);
  scannable[0] = SAFETY_NUMBER_SCANNABLE_VERSION;
  scannable.set(low.fingerprint, 1);
  scannable.set(high.fingerprint, 1 + FINGERPRINT_BYTES);
  return { digits, groups: digits.match(/\d{5}/g)!, scannable };
}

function parleyParty(party: SafetyNumberParty, which: string): FingerprintParty {
  if (typeof party?.accountId !== 'string' || party.accountId.length === 0) {
    throw new TypeError(`${which}.accountId must be a non-empty string`);
  }
  if (!(party.identityKey instanceof Uint8Array)) {
    throw new TypeError(`${which}.identityKey must be a Uint8Array`);
  }
  if (party.identityKey.length !== IDENTITY_KEY_LENGTH) {
    throw new RangeError(`${which}.identityKey must be ${IDENTITY_KEY_LENGTH} bytes`);
  }
  return { stableId: utf8(party.accountId), identityKey: party.identityKey };
}

/**
 * The safety number of the local account and a remote one; both sides compute the same value.
 *
 * @example
 *   const { groups, scannable } = await safetyNumber(
 *     { accountId: me.accountId, identityKey: me.identityKey },
 *     { accountId: them.accountId, identityKey: pinnedKeyForThem },
 *   );
 *   show(groups.join(' ')); showQr(scannable);
 */
export async function safetyNumber(
  local: SafetyNumberParty,
  remote: SafetyNumberParty,
): Promise<SafetyNumber> {
  return numericFingerprint(
    parleyParty(local, 'local'),
    parleyParty(remote, 'remote'),
    PARLEY_FORM,
  );
}

/**
 * Compares what the camera read from the other device's screen with this device's own view of
 * the two accounts. `scanned` is untrusted: anything that is not our format is a mismatch, never
 * a throw; the comparison itself is constant-time.
 */
export async function compareScannedSafetyNumber(
  local: SafetyNumberParty,
  remote: SafetyNumberParty,
  scanned: Uint8Array,
): Promise<ScannedSafetyNumber> {
  const { scannable } = await safetyNumber(local, remote);
  if (!(scanned instanceof Uint8Array) || scanned.length === 0) return 'mismatch';
  if (scanned[0] !== SAFETY_NUMBER_SCANNABLE_VERSION) return 'unsupported-version';
  if (scanned.length !== SAFETY_NUMBER_SCANNABLE_LENGTH) return 'mismatch';
  const sodium = await loadSodium();
  return sodium.memcmp(scanned, scannable) ? 'match' : 'mismatch';
}
