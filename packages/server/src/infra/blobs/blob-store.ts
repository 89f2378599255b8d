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
 * read), when it ends short of it, or when the connection breaks off in the middle (the client
 * resends the chunk; nothing of it is kept).
 */
export async function* exactly(
  body: AsyncIterable<Uint8Array>,
  length: number,
): AsyncGenerator<Uint8Array> {
  let seen = 0;
  const pieces = body[Symbol.asyncIterator]();
  for (;;) {
    let next: IteratorResult<Uint8Array>;
    try {
      next = await pieces.next();
    } catch (cause) {
      throw new ParleyError('ATTACHMENT_CHUNK_INVALID', {
        details: { problem: 'cut', expected: length, got: seen },
        cause,
      });
    }
    if (next.done) break;
    seen += next.value.byteLength;
    if (seen > length) throw lengthError(length, `more than ${length}`);
    yield next.value;
  }
  if (seen !== length) throw lengthError(length, seen);
}

function lengthError(expected: number, got: number | string): ParleyError {
  return new ParleyError('ATTACHMENT_CHUNK_INVALID', {
    details: { problem: 'length', expected, got },
  });
}
