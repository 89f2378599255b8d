/**
 * The `attachment` envelope (envelope.ts): a file, photo or voice note sent end to end
 * encrypted. The ciphertext is on the server under `id`; everything needed to fetch, check and
 * open it — the key, the ciphertext's digest, the sizes, the name and type the server never
 * sees — travels here, inside the MLS message.
 *
 *   { v: 1, type: 'attachment', id, key, digest, size, contentType, name, caption, sentAt,
 *     thumbnail?, expiresIn? }
 *
 * `key` and `digest` are base64url of 32 bytes; `size` the plaintext's bytes; `thumbnail` a small
 * base64 JPEG the sender's device made (at most ATTACHMENT_THUMBNAIL_MAX characters), absent for
 * other files.
 */

import { expiresInField } from './disappearing.js';
import { base64UrlLength } from './encoding.js';

/** Longest base64 thumbnail an envelope may carry (the MLS message holds at most 64 KiB). */
export const ATTACHMENT_THUMBNAIL_MAX = 32 * 1024;
/** Longest file name, content type and caption kept from an envelope. */
export const ATTACHMENT_NAME_MAX = 255;
export const ATTACHMENT_TYPE_MAX = 127;
export const ATTACHMENT_CAPTION_MAX = 4096;

export interface AttachmentEnvelope {
  v: 1;
  type: 'attachment';
  /** The blob's id on the server. */
  id: string;
  /** base64url of the 32-byte secretstream key. */
  key: string;
  /** base64url of SHA-256 of the ciphertext. */
  digest: string;
  /** Plaintext bytes. */
  size: number;
  contentType: string;
  name: string;
  caption: string;
  sentAt: string;
  /** base64 of a small JPEG, for images. */
  thumbnail?: string;
  /** Seconds each device keeps it after reading it (sent under a disappearing-message timer). */
  expiresIn?: number;
}

const ID = /^[A-Za-z0-9_-]{22}$/;
const B64URL_32 = new RegExp(`^[A-Za-z0-9_-]{${base64UrlLength(32)}}$`);
const B64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** The attachment envelope in `record`, or undefined when a field is missing or out of shape. */
export function readAttachmentEnvelope(
  record: Record<string, unknown>,
): AttachmentEnvelope | undefined {
  const { id, key, digest, size, contentType, name, caption, sentAt, thumbnail, expiresIn } =
    record;
  if (
    typeof id !== 'string' ||
    !ID.test(id) ||
    typeof key !== 'string' ||
    !B64URL_32.test(key) ||
    typeof digest !== 'string' ||
    !B64URL_32.test(digest) ||
    !Number.isSafeInteger(size) ||
    (size as number) < 0 ||
    typeof contentType !== 'string' ||
    typeof name !== 'string'
  ) {
    return undefined;
  }
  if (
    thumbnail !== undefined &&
    (typeof thumbnail !== 'string' ||
      thumbnail.length > ATTACHMENT_THUMBNAIL_MAX ||
      !B64.test(thumbnail))
  ) {
    return undefined;
  }
  return {
    v: 1,
    type: 'attachment',
    id,
    key,
    digest,
    size: size as number,
    contentType: contentType.slice(0, ATTACHMENT_TYPE_MAX),
    name: name.slice(0, ATTACHMENT_NAME_MAX),
    caption: typeof caption === 'string' ? caption.slice(0, ATTACHMENT_CAPTION_MAX) : '',
    sentAt: typeof sentAt === 'string' ? sentAt : '',
    ...(thumbnail !== undefined ? { thumbnail: thumbnail as string } : {}),
    ...expiresInField(expiresIn),
  };
}
