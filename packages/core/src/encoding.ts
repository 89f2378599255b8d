/**
 * base64url (RFC 4648 §5, no padding): how binary values (elements, tokens, fingerprints,
 * filters) travel in JSON. Node uses its native Buffer coder; browsers a portable atob/btoa one.
 */

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/**
 * Node's Buffer codes base64url natively, an order of magnitude faster than atob/btoa; the server
 * codes thousands of elements per discovery request on its event loop. Browsers use the fallback.
 */
interface NodeBuffer {
  from(
    buffer: ArrayBufferLike,
    byteOffset: number,
    length: number,
  ): { toString(e: string): string };
  from(text: string, encoding: string): Uint8Array;
}
const NodeBuffer = (globalThis as { Buffer?: NodeBuffer }).Buffer;

function nodeBase64Url(bytes: Uint8Array): string {
  return NodeBuffer!.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

export function toBase64Url(bytes: Uint8Array): string {
  return NodeBuffer ? nodeBase64Url(bytes) : portableToBase64Url(bytes);
}

/** The browser path of toBase64Url (exported so tests can hold both paths to one standard). */
export function portableToBase64Url(bytes: Uint8Array): string {
  let binary = '';
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    binary += String.fromCharCode(...bytes.subarray(i, i + chunk));
  }
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Decodes base64url; returns undefined for anything that is not canonical base64url. */
export function fromBase64Url(text: string): Uint8Array | undefined {
  if (!BASE64URL.test(text) || text.length % 4 === 1) return undefined;
  if (!NodeBuffer) return portableFromBase64Url(text);
  // Reject non-canonical encodings, so one value has exactly one spelling: the unused low bits
  // of a final partial group (4 bits after 2 characters, 2 after 3) must be zero.
  const spare = text.length % 4 === 2 ? 0b1111 : text.length % 4 === 3 ? 0b11 : 0;
  if (spare && ALPHABET.indexOf(text[text.length - 1]!) & spare) return undefined;
  // A plain Uint8Array copy, so callers never hold a view into Node's shared buffer pool.
  return new Uint8Array(NodeBuffer.from(text, 'base64url'));
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** The browser path of fromBase64Url. */
export function portableFromBase64Url(text: string): Uint8Array | undefined {
  if (!BASE64URL.test(text) || text.length % 4 === 1) return undefined;
  const padded =
    text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4);
  let binary: string;
  try {
    binary = atob(padded);
  } catch {
    return undefined;
  }
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  // Reject non-canonical encodings (stray low bits), so one value has exactly one spelling.
  if (portableToBase64Url(out) !== text) return undefined;
  return out;
}

/** base64url length of `n` bytes without padding. */
export function base64UrlLength(n: number): number {
  return Math.ceil((n * 4) / 3);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

const encoder = new TextEncoder();
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** A non-negative safe integer as 8 bytes, big-endian (signed statements). */
export function u64(value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`not a u64: ${value}`);
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(value));
  return out;
}

/** UTF-8 text prefixed by its length in one byte (signed statements' short fields). */
export function shortField(text: string): Uint8Array {
  const bytes = utf8(text);
  if (bytes.length > 255) throw new RangeError('a statement field is at most 255 bytes');
  return concatBytes(Uint8Array.of(bytes.length), bytes);
}
