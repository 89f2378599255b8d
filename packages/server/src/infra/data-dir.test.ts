/**
 * The list of secret files (data-dir.ts) is complete: a server that has started, served and
 * stopped leaves nothing in its data directory but the database files and listed secret files, so
 * a backup packing the list misses no key. Each secret file is owner-only (0600).
 */

import * as assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { testServer } from '../testing/index.js';
import { SECRET_FILES, SQLITE_FILES } from './data-dir.js';

describe('data directory', () => {
  it('holds only the database and the listed secret files, each 0600', async () => {
    const t = await testServer({ PARLEY_VERIFICATION_PER_NUMBER: '1' });
    await t.register('+14155550101');
    // A refused request, so the rate limits have something to keep.
    await t.call('POST', '/v1/verifications', { body: { phoneNumber: '+14155550101' } });
    const listed = new Set([...SQLITE_FILES, ...SECRET_FILES.map((f) => f.name)]);
    const check = () => {
      const files = readdirSync(t.config.dataDir);
      assert.deepEqual(
        files.filter((f) => !listed.has(f)),
        [],
        'a file in the data directory that infra/data-dir.ts does not list',
      );
      for (const file of files) {
        assert.equal(statSync(join(t.config.dataDir, file)).mode & 0o777, 0o600, file);
      }
      return files;
    };
    const running = check();
    for (const name of ['oprf-keys.json', 'link-key', 'directory-signing-key', 'admin-token']) {
      assert.ok(running.includes(name), `${name} exists once the server runs`);
    }
    await t.server.close();
    assert.ok(check().includes('rate-limits.json'), 'the limits are kept at shutdown');
  });
});
