/**
 * The ciphertext format of attachments: each file is encrypted under a fresh 32-byte key with
 * libsodium's crypto_secretstream_xchacha20poly1305 (XChaCha20-Poly1305 over a stream of
 * segments, each authenticated with its place in the stream; the last one carries TAG_FINAL), so
 * a server that reorders, drops, repeats or cuts segments is caught, not only one that flips bits.
 *
 *   ciphertext = header (24 bytes) ‖ segment₀ ‖ … ‖ segmentₙ₋₁
 *   segmentᵢ   = push(plaintext[i·S … (i+1)·S), tag)   S = 64 KiB; 17 bytes longer than its input
 *   tag        = TAG_MESSAGE for every segment but the last, TAG_FINAL for the last
 *
 * An empty file is one empty final segment. The key, the SHA-256 of the ciphertext and the
 * plaintext size travel inside the MLS message (attachment-envelope.ts); the server stores the
 * ciphertext only. A reader checks the length and the digest before it decrypts anything, then
 * requires every tag in its place: any difference is ATTACHMENT_CORRUPT and nothing is returned.
 */

import { ParleyError } from './errors.js';
import { loadSodium, type Sodium } from './sodium.js';

/** Plaintext bytes per secretstream segment. */
export const ATTACHMENT_SEGMENT_BYTES = 64 * 1024;
const HEADER_BYTES = 24;
const A_BYTES = 17;
/** crypto_secretstream_xchacha20poly1305_TAG_MESSAGE and _TAG_FINAL (libsodium's constants). */
const TAG_MESSAGE = 0;
const TAG_FINAL = 3;

/** What the recipient needs to fetch and open an attachment. */
export interface AttachmentSecret {
  /** The secretstream key, 32 bytes. */
  key: Uint8Array;
  /** SHA-256 of the whole ciphertext, 32 bytes. */
  digest: Uint8Array;
  /** Plaintext bytes. */
  size: number;
}

/** Segments a plaintext of `size` bytes is cut into (at least one). */
function segmentsFor(size: number): number {
  return Math.max(1, Math.ceil(size / ATTACHMENT_SEGMENT_BYTES));
}

/** The ciphertext's exact length for a plaintext of `size` bytes. */
export function attachmentCiphertextLength(size: number): number {
  return HEADER_BYTES + segmentsFor(size) * A_BYTES + size;
}

/**
 * Encrypts `plaintext` under a fresh key (or `key`, for test vectors). Returns the ciphertext
 * and what the recipient needs to open it.
 */
export async function encryptAttachment(
  plaintext: Uint8Array,
  key?: Uint8Array,
): Promise<{ ciphertext: Uint8Array; secret: AttachmentSecret }> {
  const sodium = await loadSodium();
  const k = key ?? sodium.crypto_secretstream_xchacha20poly1305_keygen();
  const { state, header } = sodium.crypto_secretstream_xchacha20poly1305_init_push(k);
  const ciphertext = new Uint8Array(attachmentCiphertextLength(plaintext.byteLength));
  ciphertext.set(header, 0);
  let at = HEADER_BYTES;
  const count = segmentsFor(plaintext.byteLength);
  for (let i = 0; i < count; i++) {
    const piece = plaintext.subarray(
      i * ATTACHMENT_SEGMENT_BYTES,
      (i + 1) * ATTACHMENT_SEGMENT_BYTES,
    );
    const sealed = sodium.crypto_secretstream_xchacha20poly1305_push(
      state,
      piece,
      null,
      i === count - 1 ? TAG_FINAL : TAG_MESSAGE,
    );
    ciphertext.set(sealed, at);
    at += sealed.byteLength;
  }
  return {
    ciphertext,
    secret: { key: k, digest: sha256(sodium, ciphertext), size: plaintext.byteLength },
  };
}

/**
 * Opens a ciphertext made by encryptAttachment. Throws ATTACHMENT_CORRUPT (details.reason
 * `length`, `digest` or `segment`) unless it is exactly the ciphertext the sender described.
 */
export async function decryptAttachment(
  ciphertext: Uint8Array,
  secret: AttachmentSecret,
): Promise<Uint8Array> {
  const sodium = await loadSodium();
  if (ciphertext.byteLength !== attachmentCiphertextLength(secret.size)) {
    throw corrupt('length');
  }
  if (!sodium.memcmp(sha256(sodium, ciphertext), secret.digest)) throw corrupt('digest');
  return openSegments(sodium, ciphertext, secret.key, secret.size);
}

/**
 * The secretstream layer alone (no length or digest check): what a reader does once the bytes
 * are the sender's. Exported for the tests that attack it directly.
 */
export async function openAttachmentStream(
  ciphertext: Uint8Array,
  key: Uint8Array,
  size: number,
): Promise<Uint8Array> {
  return openSegments(await loadSodium(), ciphertext, key, size);
}

function openSegments(
  sodium: Sodium,
  ciphertext: Uint8Array,
  key: Uint8Array,
  size: number,
): Uint8Array {
  if (ciphertext.byteLength < HEADER_BYTES + A_BYTES) throw corrupt('length');
  let state: ReturnType<Sodium['crypto_secretstream_xchacha20poly1305_init_pull']>;
  try {
    state = sodium.crypto_secretstream_xchacha20poly1305_init_pull(
      ciphertext.subarray(0, HEADER_BYTES),
      key,
    );
  } catch (cause) {
    throw corrupt('segment', cause);
  }
  const plaintext = new Uint8Array(size);
  let written = 0;
  let at = HEADER_BYTES;
  for (;;) {
    const sealed = ciphertext.subarray(at, at + ATTACHMENT_SEGMENT_BYTES + A_BYTES);
    let opened: { message: Uint8Array; tag: number } | false;
    try {
      opened = sodium.crypto_secretstream_xchacha20poly1305_pull(state, sealed, null);
    } catch (cause) {
      throw corrupt('segment', cause);
    }
    if (!opened || written + opened.message.byteLength > size) throw corrupt('segment');
    plaintext.set(opened.message, written);
    written += opened.message.byteLength;
    at += sealed.byteLength;
    const last = at >= ciphertext.byteLength;
    // A final tag before the end (bytes appended), or the end without one (a cut stream).
    if ((opened.tag === TAG_FINAL) !== last || (!last && opened.tag !== TAG_MESSAGE)) {
      throw corrupt('segment');
    }
    if (last) break;
  }
  if (written !== size) throw corrupt('length');
  return plaintext;
}

function sha256(sodium: Sodium, bytes: Uint8Array): Uint8Array {
  return sodium.crypto_hash_sha256(bytes);
}

function corrupt(reason: 'length' | 'digest' | 'segment', cause?: unknown): ParleyError {
  return new ParleyError('ATTACHMENT_CORRUPT', { details: { reason }, cause });
}
