/**
 * Sending and fetching attachments end to end encrypted. Sending: the file is encrypted on this
 * device under a fresh key (core/attachment-crypto.ts, libsodium's secretstream), the ciphertext
 * uploaded chunk by chunk (resuming after a cut), and an `attachment` envelope carrying the id,
 * key, digest, size, name, type, caption and thumbnail goes in the MLS message. Fetching: the
 * ciphertext is downloaded, checked against the length and digest the sender named (a server that
 * serves other, cut or reordered bytes gets ATTACHMENT_CORRUPT and nothing is returned),
 * decrypted, and the fetch confirmed so the server can delete it once every recipient has it.
 */

import {
  type AttachmentEnvelope,
  attachmentCiphertextLength,
  decryptAttachment,
  encryptAttachment,
  fromBase64Url,
  ParleyError,
  toBase64Url,
} from '@parley/core';
import type { AttachmentApi, Progress } from '../transport/attachment-api.js';
import type { AttachmentInfo, ChatMessage } from './model.js';

export type { Progress } from '../transport/attachment-api.js';

export interface SendFileOptions {
  /** The file name the recipients see (never sent to the server). */
  name: string;
  /** Its MIME type, e.g. `image/jpeg` ('' when unknown). */
  type?: string;
  caption?: string;
  /** A small JPEG the sender's device made (images), base64. */
  thumbnail?: string;
  /** Upload progress in ciphertext bytes. */
  onProgress?: Progress;
}

/** The history fields of an attachment message. */
export function attachmentFields(
  envelope: AttachmentEnvelope,
): Pick<ChatMessage, 'kind' | 'text' | 'sentAt' | 'attachment' | 'expiresIn'> {
  const { v: _v, type: _type, sentAt, expiresIn, ...info } = envelope;
  return {
    kind: 'attachment',
    text: envelope.caption,
    sentAt,
    attachment: info,
    ...(expiresIn ? { expiresIn } : {}),
  };
}

export class AttachmentTransfer {
  constructor(private readonly api: AttachmentApi) {}

  /** Encrypts and uploads `bytes` for the conversation; the envelope to send in MLS. */
  async upload(
    conversationId: string,
    bytes: Uint8Array,
    options: SendFileOptions,
  ): Promise<AttachmentEnvelope> {
    const { ciphertext, secret } = await encryptAttachment(bytes);
    const id = await this.api.upload(conversationId, ciphertext, {
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    return {
      v: 1,
      type: 'attachment',
      id,
      key: toBase64Url(secret.key),
      digest: toBase64Url(secret.digest),
      size: secret.size,
      contentType: options.type ?? '',
      name: options.name,
      caption: options.caption ?? '',
      sentAt: new Date().toISOString(),
      ...(options.thumbnail ? { thumbnail: options.thumbnail } : {}),
    };
  }

  /**
   * Downloads, checks and decrypts an attachment; confirms the fetch unless `confirm` is false
   * (the sender's own copy, or a second look at one already confirmed).
   */
  async download(
    info: AttachmentInfo,
    options: { onProgress?: Progress; confirm?: boolean } = {},
  ): Promise<Uint8Array> {
    const key = fromBase64Url(info.key);
    const digest = fromBase64Url(info.digest);
    if (key?.byteLength !== 32 || digest?.byteLength !== 32) {
      throw new ParleyError('ATTACHMENT_CORRUPT', { details: { reason: 'descriptor' } });
    }
    const ciphertext = await this.api.download(
      info.id,
      attachmentCiphertextLength(info.size),
      options.onProgress,
    );
    const plaintext = await decryptAttachment(ciphertext, { key, digest, size: info.size });
    if (options.confirm !== false) await this.api.fetched(info.id);
    return plaintext;
  }
}
