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

/** Chunks sent at once. */
const CHUNKS_IN_FLIGHT = 3;
/** Times an upload resumes after a transient failure before it gives up. */
const RESUME_ROUNDS = 5;

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
    let upload = options.resume
      ? await this.status(options.resume)
      : await this.create(groupId, ciphertext.byteLength);
    if (upload.size !== ciphertext.byteLength) {
      throw new ParleyError('INVALID_RESPONSE', { details: { problem: 'size', id: upload.id } });
    }
    // Progress never goes back when a resumed round counts the chunks already there again.
    let best = 0;
    const progress: Progress = (done, total) => {
      if (done <= best) return;
      best = done;
      options.onProgress?.(done, total);
    };
    // A cut connection or a struggling server: ask what arrived and send the rest.
    for (let round = 1; ; round++) {
      try {
        await this.sendMissing(upload, ciphertext, progress);
        break;
      } catch (error) {
        if (!transient(error) || round >= RESUME_ROUNDS) throw error;
        await new Promise((resolve) => setTimeout(resolve, 500 * round));
        upload = await this.status(upload.id);
      }
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
        let read: ReadableStreamReadResult<Uint8Array>;
        try {
          read = await reader.read();
        } catch (cause) {
          // The connection broke off mid-download: nothing was confirmed, fetch again.
          throw new ParleyError('NETWORK_ERROR', { cause, details: { id, received: at } });
        }
        const { done, value } = read;
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

  /**
   * The chunks the server does not hold yet, CHUNKS_IN_FLIGHT at a time (so one chunk's round
   * trip overlaps the next one's transfer); the first failure stops the rest.
   */
  private async sendMissing(upload: Upload, ciphertext: Uint8Array, onProgress?: Progress) {
    const have = new Set(upload.received);
    const chunkOf = (i: number) =>
      ciphertext.subarray(i * upload.chunkBytes, (i + 1) * upload.chunkBytes);
    let done = 0;
    for (const i of have) done += chunkOf(i).byteLength;
    const queue = [...Array(upload.chunkCount).keys()].filter((i) => !have.has(i));
    let failed = false;
    const worker = async () => {
      for (let i = queue.shift(); i !== undefined && !failed; i = queue.shift()) {
        const chunk = chunkOf(i);
        try {
          await this.api.bytes('PUT', `/v1/attachments/${enc(upload.id)}/chunks/${i}`, chunk);
        } catch (error) {
          failed = true;
          throw error;
        }
        done += chunk.byteLength;
        onProgress?.(done, ciphertext.byteLength);
      }
    };
    const workers = Array.from({ length: CHUNKS_IN_FLIGHT }, worker);
    const results = await Promise.allSettled(workers);
    const failure = results.find((r) => r.status === 'rejected');
    if (failure) throw (failure as PromiseRejectedResult).reason;
    onProgress?.(ciphertext.byteLength, ciphertext.byteLength);
  }
}

/** Worth resuming after: the network, or the server failing (it keeps no partial chunk). */
function transient(error: unknown): boolean {
  return error instanceof ParleyError && (error.code === 'NETWORK_ERROR' || error.status >= 500);
}

const enc = encodeURIComponent;
