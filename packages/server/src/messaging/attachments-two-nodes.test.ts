/**
 * Attachments in a cluster: a blob uploaded through one node (its chunks split between both, as
 * a client whose connection moved would send them) is fetched whole through the other, and the
 * fetch confirmed there deletes it for both. Needs the PostgreSQL at 127.0.0.1:5432 (skipped
 * without it, failed under CI); SQLite is one node and has no peers.
 */

import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { attachmentCalls, chunkOf, conversation } from '../testing/attachments.js';
import { type TestServer, testCluster } from '../testing/index.js';
import {
  createPostgresDatabase,
  dropPostgresDatabases,
  POSTGRES_ADMIN_URL,
  postgresReachable,
} from '../testing/test-databases.js';

const reachable = await postgresReachable();

describe('attachments across two nodes', {
  skip: !reachable && process.env.CI !== 'true' ? `no PostgreSQL at ${POSTGRES_ADMIN_URL}` : false,
}, () => {
  let a: TestServer;
  let b: TestServer;

  before(async () => {
    assert.ok(
      reachable,
      `PostgreSQL is not reachable at ${POSTGRES_ADMIN_URL} (required under CI)`,
    );
    [a, b] = await testCluster(await createPostgresDatabase());
  });
  after(async () => {
    await Promise.all([a?.server.close(), b?.server.close()]);
    await dropPostgresDatabases();
  });

  it('serves through one node a blob uploaded through the other', async () => {
    const alice = await a.register('+14155550711');
    const bob = await b.register('+14155550712');
    const groupId = 'N'.repeat(22);
    await conversation(a, groupId, [alice, bob]);
    const viaA = attachmentCalls(a.server.url);
    const viaB = attachmentCalls(b.server.url);
    const bytes = randomBytes(2 * 1024 * 1024 + 77);
    const created = await viaA.create(alice, groupId, bytes.byteLength);
    const id = created.json.id as string;
    assert.equal((await viaA.put(alice, id, 0, chunkOf(bytes, 0))).status, 200);
    assert.equal((await viaB.put(alice, id, 1, chunkOf(bytes, 1))).status, 200);
    assert.deepEqual((await viaB.status(alice, id)).json.received, [0, 1]);
    assert.equal((await viaA.put(alice, id, 2, chunkOf(bytes, 2))).status, 200);
    assert.equal((await viaB.complete(alice, id)).status, 200);
    const got = await viaB.get(bob, id);
    assert.equal(got.status, 200);
    assert.ok(got.bytes && Buffer.from(got.bytes).equals(bytes), 'the same bytes through node B');
    assert.deepEqual((await viaB.fetched(bob, id)).json, { id, deleted: true });
    assert.equal((await viaA.get(bob, id)).json.code, 'ATTACHMENT_NOT_FOUND');
  });
});
