/**
 * The PostgreSQL blob store: the shared cases (testing/blob-store-cases.ts) on a fresh database
 * at 127.0.0.1:5432 (skipped without it, failed under CI).
 */

import * as assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';
import { blobStoreCases } from '../../testing/blob-store-cases.js';
import {
  createPostgresDatabase,
  dropPostgresDatabases,
  POSTGRES_ADMIN_URL,
  postgresReachable,
} from '../../testing/test-databases.js';
import { type Db, openDatabase } from '../db/database.js';
import { PostgresBlobStore } from './postgres-store.js';

const reachable = await postgresReachable();

describe('PostgreSQL blob store', {
  skip: !reachable && process.env.CI !== 'true' ? `no PostgreSQL at ${POSTGRES_ADMIN_URL}` : false,
}, () => {
  let db: Db;
  let store: PostgresBlobStore;

  before(async () => {
    assert.ok(
      reachable,
      `PostgreSQL is not reachable at ${POSTGRES_ADMIN_URL} (required under CI)`,
    );
    db = await openDatabase({ kind: 'postgres', url: await createPostgresDatabase() });
    store = new PostgresBlobStore(db);
  });
  after(async () => {
    await db?.destroy();
    await dropPostgresDatabases();
  });

  blobStoreCases(
    () => store,
    async (id) =>
      (await db.selectFrom('blob_chunks').select('idx').where('blob_id', '=', id).execute()).length,
  );
});
