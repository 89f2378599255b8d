/**
 * The file blob store: the shared cases (testing/blob-store-cases.ts), then what only files
 * have — modes readable by the operator only (even under umask 022), and no id that could name
 * a path outside its folder.
 */

import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { blobStoreCases } from '../../testing/blob-store-cases.js';
import { FileBlobStore } from './file-store.js';

async function* once(part: Uint8Array) {
  yield part;
}

describe('file blob store', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'parley-blobs-')), 'attachments');
  const store = new FileBlobStore(dir);
  blobStoreCases(
    () => store,
    async (id) => (existsSync(join(dir, id)) ? readdirSync(join(dir, id)).length : 0),
  );

  it('writes files 0600 in folders 0700, whatever the umask', async () => {
    const previous = process.umask(0o022);
    try {
      const id = 'D'.repeat(22);
      await store.put(id, 0, once(randomBytes(5)), 5);
      assert.equal(statSync(join(dir, id)).mode & 0o777, 0o700);
      assert.equal(statSync(join(dir, id, '0')).mode & 0o777, 0o600);
    } finally {
      process.umask(previous);
    }
  });

  it('refuses an id that is not base64url', async () => {
    await assert.rejects(store.put('../escape', 0, once(randomBytes(1)), 1));
    assert.ok(!existsSync(join(dir, '..', 'escape')));
  });
});
