/**
 * The SQLite database and its -wal and -shm files are readable by the operator only, like the
 * key files beside them, and so is the data directory, even one that existed before (issue 17).
 */

import * as assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { openDatabase } from './database.js';

const mode = (path: string) => statSync(path).mode & 0o777;

describe('SQLite file modes', () => {
  it('creates parley.sqlite, -wal and -shm 0600 in a 0700 directory', async () => {
    const previous = process.umask(0o022);
    try {
      const dataDir = mkdtempSync(join(tmpdir(), 'parley-modes-'));
      chmodSync(dataDir, 0o755);
      const db = await openDatabase({ kind: 'sqlite', dataDir });
      try {
        await sql`select 1`.execute(db);
        const path = join(dataDir, 'parley.sqlite');
        assert.equal(mode(dataDir), 0o700);
        assert.equal(mode(path), 0o600);
        for (const file of [`${path}-wal`, `${path}-shm`]) {
          assert.ok(existsSync(file), `${file} exists (WAL mode)`);
          assert.equal(mode(file), 0o600, file);
        }
      } finally {
        await db.destroy();
      }
    } finally {
      process.umask(previous);
    }
  });
});
