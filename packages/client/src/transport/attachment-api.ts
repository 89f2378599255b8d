/**
 * The attachment endpoints as the SDK calls them: create an upload, send its chunks (resuming
 * from what the server says it holds), complete it; download the ciphertext as it streams in;
 * confirm the fetch. Bytes only: encryption is the caller's (messaging/attachments.ts).
 */

import { AttachmentUpload, ParleyError, type AttachmentUpload as Upload } from '@parley/core';
import { Type } from '@sinclair/typebox';
import type { ApiClient } from './api.js';

/** Bytes done and bytes in all, after each chunk. */
export type Progress = (done: number, total: number) => void;

/** Times one chunk is tried before the upload gives up (it can be resumed later). */
const CHUNK_ATTEMPTS = 3;

const Fetched = Type.Object({ id: Type.String(), deleted: Type.Boolean() });

export class AttachmentApi {
  constructor(private readonly api: ApiClient) {}

  /**
   * Uploads `ciphertext` for the conversation `groupId`: the server's chunks in order, skipping
   * those it already holds when `resume` names an earlier upload of the same bytes. Resolves with
   * the blob's id once the server has every chunk.
   */
  async upload(
    groupId: string,
    ciphertext: Uint8Array,
    options: { resume?: string; onProgress?: Progress } = {},
  ): Promise<string> {
    const upload = options.resume
      ? await this.status(options.resume)
      : await this.create(groupId, ciphertext.byteLength);
    if (upload.size !== ciphertext.byteLength) {
      throw new ParleyError('INVALID_RESPONSE', { details: { problem: 'size', id: upload.id } });
    }
    const have = new Set(upload.received);
    const total = ciphertext.byteLength;
    let done = 0;
    for (let index = 0; index < upload.chunkCount; index++) {
      const chunk = ciphertext.subarray(index * upload.chunkBytes, (index + 1) * upload.chunkBytes);
      if (!have.has(index)) await this.putChunk(upload.id, index, chunk);
      done += chunk.byteLength;
      options.onProgress?.(done, total);
    }
    await this.api.request('POST', `/v1/attachments/${upload.id}/complete`, AttachmentUpload);
    return upload.id;
  }

  /** Which chunks of an earlier upload the server holds. */
  status(id: string): Promise<Upload> {
    return this.api.request('GET', `/v1/attachments/${enc(id)}/upload`, AttachmentUpload);
  }

  /**
   * The ciphertext of blob `id`, read as it streams in. Stops reading (and refuses) once more
   * than `expected` bytes arrive: a server cannot make the client hold more than it was told.
   */
  async download(id: string, expected: number, onProgress?: Progress): Promise<Uint8Array> {
    const response = await this.api.bytes('GET', `/v1/attachments/${enc(id)}`);
    const out = new Uint8Array(expected);
    let at = 0;
    if (response.body) {
      const reader = response.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (at + value.byteLength > expected) {
          await reader.cancel();
          throw new ParleyError('ATTACHMENT_CORRUPT', { details: { reason: 'length' } });
        }
        out.set(value, at);
        at += value.byteLength;
        onProgress?.(at, expected);
      }
    }
    if (at !== expected) {
      throw new ParleyError('ATTACHMENT_CORRUPT', { details: { reason: 'length' } });
    }
    return out;
  }

  /** This device has the attachment; the server deletes it once every recipient said so. */
  async fetched(id: string): Promise<boolean> {
    const answer = await this.api.request<{ deleted: boolean }>(
      'POST',
      `/v1/attachments/${enc(id)}/fetched`,
      Fetched,
    );
    return answer.deleted;
  }

  private async create(groupId: string, size: number): Promise<Upload> {
    await this.api.recordUpload('attachment-ciphertext', 'POST /v1/attachments', size);
    return this.api.request('POST', '/v1/attachments', AttachmentUpload, {
      kind: 'attachment-ciphertext',
      items: 0,
      json: { groupId, size },
    });
  }

  /** A chunk, tried again after a network failure or a 5xx (the server keeps nothing partial). */
  private async putChunk(id: string, index: number, chunk: Uint8Array): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.api.bytes('PUT', `/v1/attachments/${enc(id)}/chunks/${index}`, chunk);
        return;
      } catch (error) {
        const retry =
          error instanceof ParleyError &&
          (error.code === 'NETWORK_ERROR' || error.status >= 500) &&
          attempt < CHUNK_ATTEMPTS;
        if (!retry) throw error;
        await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
      }
    }
  }
}

const enc = encodeURIComponent;
