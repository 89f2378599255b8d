/**
 * Linking a new device: the codes it shows so that a device already on the account can find and
 * approve it, and the sealed provisioning envelope the approver sends back through the server.
 * Runs in browsers (no node: imports).
 *
 * Flow (the server is only a relay; spec: POST /v1/links and friends):
 *
 *     new device                         server                         existing device
 *     newLinkKeys() → publicKey
 *     POST /v1/links { publicKey } ──→   handle (40 bits)
 *     shows linkQrPayload() or
 *     typedLinkCode()   ─────────────── camera or keyboard ──────────→  parse…(); GET /v1/links/:handle
 *                                                                       QR: the key itself;
 *                                                                       typed: typedCodeMatches()
 *                        ←── envelope ── POST …/approve ←────────────  sealProvisioning(payload, key)
 *     openProvisioning(envelope, keys)
 *
 * Why the typed code commits to the key with 80 bits. The QR code carries the whole key, but a
 * typed code only names the session, and the approver fetches the key from the server, which could
 * swap in its own. So the last 16 characters of the typed code are the first 80 bits of
 * SHA-256("parley link key v1\0" ‖ handle ‖ publicKey). To pass off its key a server needs one
 * whose commitment matches the one the person typed: a second preimage on 80 bits, about 2⁸⁰
 * hashes — and within the ten minutes the session lives, because every link uses fresh keys. The
 * handle is hashed in, so a key tried against one session is no good for another. 80 bits are 16
 * characters; with the 8 of the handle, 24 to type.
 *
 * What the sealed box does not do. crypto_box_seal encrypts to the new device's key with a
 * throwaway sender key: it keeps the envelope secret and intact, but says nothing about who sealed
 * it. A lying server can seal its own envelope to the new device, which then holds an identity
 * that its account's devices and its contacts do not recognise. That is detected (the identity key
 * does not match what the account and its contacts have pinned; safety numbers change), not
 * prevented: the envelope's contents must be checked against the account, never trusted because
 * they arrived.
 */

import { fromBase64Url, toBase64Url, utf8 } from './encoding.js';
import { loadSodium } from './sodium.js';

/** Crockford's base32 (https://www.crockford.com/base32.html): no I, L, O or U. */
export const CROCKFORD_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export const LINK_QR_PREFIX = 'parley-link:';
export const LINK_QR_VERSION = 1;
/** 8 characters, 40 bits: the lookup part of both codes. */
export const LINK_HANDLE_LENGTH = 8;
export const LINK_KEY_LENGTH = 32;
/** The key commitment in a typed code: 16 characters, 80 bits. */
export const LINK_COMMITMENT_LENGTH = 16;
/** Characters in a typed code, dashes aside. */
export const TYPED_LINK_CODE_LENGTH = LINK_HANDLE_LENGTH + LINK_COMMITMENT_LENGTH;

const COMMITMENT_LABEL = utf8('parley link key v1\0');
const COMMITMENT_BYTES = (LINK_COMMITMENT_LENGTH * 5) / 8;
const HANDLE_BYTES = (LINK_HANDLE_LENGTH * 5) / 8;
const HANDLE = /^[0-9A-HJKMNP-TV-Z]{8}$/;
/** Longest typed text looked at: 24 characters with room for any spacing a person adds. */
const MAX_TYPED_INPUT = 100;

export interface LinkKeys {
  /** X25519 (crypto_box) public key, 32 bytes. */
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

/** What the new device shows: the server's handle for its session and its public key. */
export interface LinkCode {
  handle: string;
  publicKey: Uint8Array;
}

export interface TypedLinkCode {
  handle: string;
  /** 16 Crockford characters, canonical (upper case, no substitutions). */
  commitment: string;
}

/** Encodes bytes whose bit length is a multiple of 5, most significant bit first. */
function crockfordEncode(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xfff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += CROCKFORD_ALPHABET[(buffer >>> bits) & 31];
    }
  }
  return out;
}

/** Decodes canonical characters whose bit length is a multiple of 8; undefined otherwise. */
function crockfordDecode(text: string): Uint8Array | undefined {
  if ((text.length * 5) % 8 !== 0) return undefined;
  const out = new Uint8Array((text.length * 5) / 8);
  let buffer = 0;
  let bits = 0;
  let next = 0;
  for (const char of text) {
    const value = CROCKFORD_ALPHABET.indexOf(char);
    if (value < 0) return undefined;
    buffer = ((buffer << 5) | value) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[next++] = (buffer >>> bits) & 0xff;
    }
  }
  return out;
}

function checkCode(code: LinkCode): void {
  if (typeof code?.handle !== 'string' || !HANDLE.test(code.handle)) {
    throw new RangeError(`a link handle is ${LINK_HANDLE_LENGTH} Crockford base32 characters`);
  }
  if (!(code.publicKey instanceof Uint8Array) || code.publicKey.length !== LINK_KEY_LENGTH) {
    throw new RangeError(`a link public key is ${LINK_KEY_LENGTH} bytes`);
  }
}

/** A fresh X25519 key pair for one link attempt (never reused). */
export async function newLinkKeys(): Promise<LinkKeys> {
  const sodium = await loadSodium();
  const { publicKey, privateKey } = sodium.crypto_box_keypair();
  return { publicKey, secretKey: privateKey };
}

/** A session handle: 40 random bits as 8 Crockford characters. The server issues these. */
export async function randomLinkHandle(): Promise<string> {
  const sodium = await loadSodium();
  return crockfordEncode(sodium.randombytes_buf(HANDLE_BYTES));
}

/**
 * The QR code's text: `parley-link:1:<handle>:<base64url public key>`.
 *
 * @example linkQrPayload({ handle: '7K3M9Q2D', publicKey }) // 'parley-link:1:7K3M9Q2D:q0…'
 */
export function linkQrPayload(code: LinkCode): string {
  checkCode(code);
  return `${LINK_QR_PREFIX}${LINK_QR_VERSION}:${code.handle}:${toBase64Url(code.publicKey)}`;
}

/**
 * Reads a scanned QR code; undefined for anything not exactly our format (the camera reads
 * whatever it is pointed at): exact prefix, version 1, a canonical handle, a canonical base64url
 * key of 32 bytes.
 */
export function parseLinkQrPayload(text: string): LinkCode | undefined {
  if (typeof text !== 'string' || !text.startsWith(LINK_QR_PREFIX)) return undefined;
  const parts = text.slice(LINK_QR_PREFIX.length).split(':');
  if (parts.length !== 3) return undefined;
  const [version, handle, key] = parts as [string, string, string];
  if (version !== String(LINK_QR_VERSION) || !HANDLE.test(handle)) return undefined;
  const publicKey = fromBase64Url(key);
  if (publicKey?.length !== LINK_KEY_LENGTH) return undefined;
  return { handle, publicKey };
}

/** Binds the key to its session's handle, so one guessed key cannot serve every open session. */
async function commitment(handle: string, publicKey: Uint8Array): Promise<Uint8Array> {
  const sodium = await loadSodium();
  const handleBytes = utf8(handle);
  const input = new Uint8Array(COMMITMENT_LABEL.length + handleBytes.length + publicKey.length);
  input.set(COMMITMENT_LABEL, 0);
  input.set(handleBytes, COMMITMENT_LABEL.length);
  input.set(publicKey, COMMITMENT_LABEL.length + handleBytes.length);
  return sodium.crypto_hash_sha256(input).slice(0, COMMITMENT_BYTES);
}

/**
 * The code to type when no camera is at hand: 24 Crockford characters in six groups of four,
 * the handle then the key commitment (why 80 bits: the module comment).
 *
 * @example await typedLinkCode({ handle: '7K3M9Q2D', publicKey }) // '7K3M-9Q2D-…-…-…-…'
 */
export async function typedLinkCode(code: LinkCode): Promise<string> {
  checkCode(code);
  const chars = code.handle + crockfordEncode(await commitment(code.handle, code.publicKey));
  return chars.match(/.{4}/g)!.join('-');
}

/**
 * Reads a typed code as people type it: any case, spaces and dashes anywhere, and Crockford's
 * substitutions (I and L read as 1, O as 0). Undefined unless exactly 24 code characters remain.
 */
export function parseTypedLinkCode(text: string): TypedLinkCode | undefined {
  if (typeof text !== 'string' || text.length > MAX_TYPED_INPUT) return undefined;
  const chars = text.replace(/[\s-]/g, '').toUpperCase().replace(/[IL]/g, '1').replace(/O/g, '0');
  if (chars.length !== TYPED_LINK_CODE_LENGTH) return undefined;
  for (const char of chars) if (!CROCKFORD_ALPHABET.includes(char)) return undefined;
  return {
    handle: chars.slice(0, LINK_HANDLE_LENGTH),
    commitment: chars.slice(LINK_HANDLE_LENGTH),
  };
}

/**
 * Whether the key the server returned for the typed handle is the key the new device committed
 * to. Compared in constant time; false (never a throw) for a malformed commitment or key.
 */
export async function typedCodeMatches(
  parsed: TypedLinkCode,
  publicKey: Uint8Array,
): Promise<boolean> {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== LINK_KEY_LENGTH) return false;
  const typed =
    typeof parsed?.commitment === 'string' && parsed.commitment.length === LINK_COMMITMENT_LENGTH
      ? crockfordDecode(parsed.commitment)
      : undefined;
  if (!typed) return false;
  const sodium = await loadSodium();
  return sodium.memcmp(typed, await commitment(parsed.handle, publicKey));
}

/**
 * Seals the provisioning payload to the new device's link key (libsodium sealed box: an
 * ephemeral X25519 key, XSalsa20-Poly1305). Anyone can seal: see the module comment.
 */
export async function sealProvisioning(
  payload: Uint8Array,
  recipientPublicKey: Uint8Array,
): Promise<Uint8Array> {
  if (!(payload instanceof Uint8Array)) throw new TypeError('payload must be a Uint8Array');
  if (
    !(recipientPublicKey instanceof Uint8Array) ||
    recipientPublicKey.length !== LINK_KEY_LENGTH
  ) {
    throw new RangeError(`a link public key is ${LINK_KEY_LENGTH} bytes`);
  }
  const sodium = await loadSodium();
  return sodium.crypto_box_seal(payload, recipientPublicKey);
}

/**
 * Opens an envelope sealed to `keys.publicKey`; undefined if it was not, if it was altered, or if
 * any input is malformed. It proves secrecy and integrity, not who sealed it.
 */
export async function openProvisioning(
  sealed: Uint8Array,
  keys: LinkKeys,
): Promise<Uint8Array | undefined> {
  const sodium = await loadSodium();
  if (
    !(sealed instanceof Uint8Array) ||
    sealed.length < sodium.crypto_box_SEALBYTES ||
    !(keys?.publicKey instanceof Uint8Array) ||
    keys.publicKey.length !== LINK_KEY_LENGTH ||
    !(keys.secretKey instanceof Uint8Array) ||
    keys.secretKey.length !== sodium.crypto_box_SECRETKEYBYTES
  ) {
    return undefined;
  }
  try {
    return sodium.crypto_box_seal_open(sealed, keys.publicKey, keys.secretKey);
  } catch {
    return undefined;
  }
}
