/**
 * Where attachment ciphertext lives: opaque bytes under a random id, written and read chunk by
 * chunk so no request or response holds a whole file. Two implementations: files under the data
 * directory (the SQLite deployment, one node) and PostgreSQL rows (every node of a cluster reads
 * them). The database the server runs on picks the store (server.ts; docs/design.md).
 */

import { ParleyError } from '@parley/core';

export interface BlobStore {
  readonly kind: 'files' | 'postgres';
  /**
   * Stores chunk `index` of blob `id` from `body`, which must hold exactly `length` bytes
   * (ATTACHMENT_CHUNK_INVALID otherwise, and nothing is kept). A chunk written again replaces the
   * earlier one: a client resuming after a cut resends the chunk it was sending.
   */
  put(id: string, index: number, body: AsyncIterable<Uint8Array>, length: number): Promise<void>;
  /** Chunks 0 … count-1 of blob `id`, in order, each as it is read. */
  read(id: string, count: number): AsyncIterable<Uint8Array>;
  /** Every chunk of blob `id`; nothing when there is none. */
  remove(id: string): Promise<void>;
}

/**
 * Yields `body` as it arrives, refusing it as soon as it passes `length` bytes (the rest is not
 * read) or when it ends short of it.
 */
export async function* exactly(
  body: AsyncIterable<Uint8Array>,
  length: number,
): AsyncGenerator<Uint8Array> {
  let seen = 0;
  for await (const piece of body) {
    seen += piece.byteLength;
    if (seen > length) throw lengthError(length, `more than ${length}`);
    yield piece;
  }
  if (seen !== length) throw lengthError(length, seen);
}

function lengthError(expected: number, got: number | string): ParleyError {
  return new ParleyError('ATTACHMENT_CHUNK_INVALID', {
    details: { problem: 'length', expected, got },
  });
}
