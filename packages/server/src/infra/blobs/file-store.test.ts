/**
 * The file blob store on its own: chunks read back in order, a chunk written again replaces the
 * first, a wrong length keeps nothing, files readable by the operator only (even under umask
 * 022), an id that could name another path refused.
 */

import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FileBlobStore } from './file-store.js';

async function* pieces(...parts: Uint8Array[]) {
  for (const part of parts) yield part;
}

async function readAll(store: FileBlobStore, id: string, count: number): Promise<Buffer> {
  const out: Uint8Array[] = [];
  for await (const piece of store.read(id, count)) out.push(piece);
  return Buffer.concat(out);
}

describe('file blob store', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'parley-blobs-')), 'attachments');
  const store = new FileBlobStore(dir);
  const id = 'B'.repeat(22);

  it('streams chunks in and reads them back in order; a rewrite replaces a chunk', async () => {
    const [a, b, c] = [randomBytes(1000), randomBytes(500), randomBytes(1000)];
    await store.put(id, 1, pieces(b.subarray(0, 200), b.subarray(200)), 500);
    await store.put(id, 0, pieces(c), 1000);
    await store.put(id, 0, pieces(a), 1000);
    assert.deepEqual(await readAll(store, id, 2), Buffer.concat([a, b]));
  });

  it('keeps nothing of a chunk of the wrong length', async () => {
    const other = 'C'.repeat(22);
    await assert.rejects(store.put(other, 0, pieces(randomBytes(10)), 11), {
      code: 'ATTACHMENT_CHUNK_INVALID',
    });
    await assert.rejects(store.put(other, 0, pieces(randomBytes(12)), 11), {
      code: 'ATTACHMENT_CHUNK_INVALID',
    });
    assert.deepEqual(readdirSync(join(dir, other)), []);
  });

  it('writes files 0600 in folders 0700, whatever the umask', async () => {
    const previous = process.umask(0o022);
    try {
      const fresh = 'D'.repeat(22);
      await store.put(fresh, 0, pieces(randomBytes(5)), 5);
      assert.equal(statSync(join(dir, fresh)).mode & 0o777, 0o700);
      assert.equal(statSync(join(dir, fresh, '0')).mode & 0o777, 0o600);
    } finally {
      process.umask(previous);
    }
  });

  it('removes a blob, and refuses an id that is not base64url', async () => {
    await store.remove(id);
    assert.ok(!readdirSync(dir).includes(id));
    await assert.rejects(store.put('../escape', 0, pieces(randomBytes(1)), 1));
  });
});
