/**
 * The cases every blob store must pass (infra/blobs/blob-store.ts), run by file-store.test.ts
 * and postgres-store.test.ts: chunks read back in order, a chunk written again replaces the
 * first, a chunk of the wrong length (short, long, or cut off) keeps nothing, removal.
 */

import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { it } from 'node:test';
import type { BlobStore } from '../infra/blobs/blob-store.js';

async function* pieces(...parts: Uint8Array[]) {
  for (const part of parts) yield part;
}

async function* cutOff(part: Uint8Array) {
  yield part;
  throw new Error('the connection was reset');
}

export async function readAll(store: BlobStore, id: string, count: number): Promise<Buffer> {
  const out: Uint8Array[] = [];
  for await (const piece of store.read(id, count)) out.push(piece);
  return Buffer.concat(out);
}

const newId = () => randomBytes(16).toString('base64url');

/** `held(id)`: how many chunks of `id` the store keeps, as its storage shows. */
export function blobStoreCases(
  store: () => BlobStore,
  held: (id: string) => Promise<number>,
): void {
  it('streams chunks in and reads them back in order; a rewrite replaces a chunk', async () => {
    const id = newId();
    const [a, b, c] = [randomBytes(1000), randomBytes(500), randomBytes(1000)];
    await store().put(id, 1, pieces(b.subarray(0, 200), b.subarray(200)), 500);
    await store().put(id, 0, pieces(c), 1000);
    await store().put(id, 0, pieces(a), 1000);
    assert.deepEqual(await readAll(store(), id, 2), Buffer.concat([a, b]));
    assert.equal(await held(id), 2);
  });

  it('keeps nothing of a chunk that is short, long or cut off', async () => {
    const id = newId();
    for (const body of [pieces(randomBytes(10)), pieces(randomBytes(12)), cutOff(randomBytes(5))]) {
      await assert.rejects(store().put(id, 0, body, 11), { code: 'ATTACHMENT_CHUNK_INVALID' });
    }
    assert.equal(await held(id), 0);
  });

  it('removes every chunk of a blob, and only of that blob', async () => {
    const [gone, kept] = [newId(), newId()];
    for (const id of [gone, kept]) {
      await store().put(id, 0, pieces(randomBytes(3)), 3);
      await store().put(id, 1, pieces(randomBytes(3)), 3);
    }
    await store().remove(gone);
    await store().remove(newId()); // nothing there: no error
    assert.equal(await held(gone), 0);
    assert.equal(await held(kept), 2);
  });
}
