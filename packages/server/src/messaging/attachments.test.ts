/**
 * The attachment blob store over HTTP, on a real socket: a multi-chunk upload in any order and its
 * download, a cut upload resumed from what the server says it holds, the size limit and the
 * account quota as typed errors, downloads refused outside the conversation, the blob deleted
 * once every recipient device confirmed its fetch, and at the message TTL. Runs on SQLite (files
 * under the data directory) and, from storage.postgres.test.ts, on PostgreSQL (rows).
 */

import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { ATTACHMENT_LIMITS } from '@parley/core';
import { attachmentCalls, chunkOf, conversation } from '../testing/attachments.js';
import { type TestDevice, type TestServer, testServer } from '../testing/index.js';

const MiB = 1024 * 1024;
const CHUNK = ATTACHMENT_LIMITS.chunkBytes;

describe('attachments', () => {
  let t: TestServer;
  let api: ReturnType<typeof attachmentCalls>;
  let now = Date.now();
  let alice: TestDevice;
  let bob: TestDevice;
  let bobLaptop: TestDevice;
  let mallory: TestDevice;
  const groupId = 'A'.repeat(22);

  /** Whatever the blob store holds of attachment `id`, in either backend. */
  async function stored(id: string): Promise<number> {
    const store = t.server.services.attachments.store;
    if (store.kind === 'files') {
      const dir = `${t.config.attachments.dir}/${id}`;
      return existsSync(dir) ? readdirSync(dir).length : 0;
    }
    const rows = await t.server.services.db
      .selectFrom('blob_chunks')
      .select('idx')
      .where('blob_id', '=', id)
      .execute();
    return rows.length;
  }

  /** Polls `test` (the server finishes a cut request on its own time). */
  async function until(test: () => Promise<boolean>, what: string): Promise<void> {
    const end = Date.now() + 20_000;
    while (!(await test())) {
      if (Date.now() > end) assert.fail(`timed out waiting until ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async function upload(bytes: Uint8Array, order?: number[]): Promise<string> {
    const created = await api.create(alice, groupId, bytes.byteLength);
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const id = created.json.id as string;
    const count = created.json.chunkCount as number;
    for (const index of order ?? [...Array(count).keys()]) {
      const r = await api.put(alice, id, index, chunkOf(bytes, index));
      assert.equal(r.status, 200, JSON.stringify(r.json));
    }
    const done = await api.complete(alice, id);
    assert.equal(done.status, 200, JSON.stringify(done.json));
    return id;
  }

  before(async () => {
    t = await testServer(
      {
        PARLEY_ATTACHMENT_MAX_MB: '3',
        PARLEY_ATTACHMENT_QUOTA_MB: '8',
        PARLEY_MESSAGE_TTL_SECONDS: '3600',
      },
      { clock: () => now },
    );
    api = attachmentCalls(t.server.url);
    alice = await t.register('+14155550701');
    bob = await t.register('+14155550702');
    bobLaptop = await t.link(bob, 'laptop');
    mallory = await t.register('+14155550703');
    await conversation(t, groupId, [alice, bob, bobLaptop]);
  });
  after(async () => t.server.close());

  it('uploads a blob of several chunks in any order and serves the same bytes to a member', async () => {
    const bytes = randomBytes(2 * MiB + 12345);
    const id = await upload(bytes, [2, 0, 1]);
    const got = await api.get(bob, id);
    assert.equal(got.status, 200);
    assert.ok(got.bytes && Buffer.from(got.bytes).equals(bytes), 'the bytes come back unchanged');
    // The uploader's other conversations and any name or type: the server keeps none.
    const row = await t.server.services.db
      .selectFrom('attachments')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    assert.deepEqual(Object.keys(row).sort(), [
      'account_id',
      'chunk_bytes',
      'chunk_count',
      'completed_at',
      'created_at',
      'device_id',
      'expires_at',
      'group_id',
      'id',
      'recipients',
      'size',
    ]);
  });

  it('resumes a cut upload from the chunks the server holds, and refuses to complete before', async () => {
    const bytes = randomBytes(3 * MiB);
    const created = await api.create(alice, groupId, bytes.byteLength);
    const id = created.json.id as string;
    assert.equal(created.json.chunkCount, 3);
    await api.put(alice, id, 0, chunkOf(bytes, 0));
    // A chunk cut short is refused and not counted as received.
    const short = await api.put(alice, id, 1, chunkOf(bytes, 1).subarray(0, 1000));
    assert.equal(short.status, 400);
    assert.equal(short.json.code, 'ATTACHMENT_CHUNK_INVALID');
    const early = await api.complete(alice, id);
    assert.equal(early.status, 409);
    assert.equal(early.json.code, 'ATTACHMENT_INCOMPLETE');
    assert.deepEqual((early.json.details as { missing: number[] }).missing, [1, 2]);
    // The client starts again (a new process): it asks what arrived and sends the rest.
    const status = await api.status(alice, id);
    assert.deepEqual(status.json.received, [0]);
    assert.equal(status.json.complete, false);
    for (let i = 0; i < 3; i++) {
      if (!(status.json.received as number[]).includes(i)) {
        assert.equal((await api.put(alice, id, i, chunkOf(bytes, i))).status, 200);
      }
    }
    assert.equal((await api.complete(alice, id)).status, 200);
    const got = await api.get(bobLaptop, id);
    assert.ok(got.bytes && Buffer.from(got.bytes).equals(bytes));
    // Past its end, or another device's upload: refused.
    assert.equal(
      (await api.put(alice, id, 3, new Uint8Array(1))).json.code,
      'ATTACHMENT_CHUNK_INVALID',
    );
    assert.equal((await api.status(bob, id)).json.code, 'ATTACHMENT_NOT_FOUND');
  });

  it('keeps nothing of a chunk whose connection broke off, and the server goes on serving', async () => {
    const bytes = randomBytes(CHUNK + 100);
    const created = await api.create(alice, groupId, bytes.byteLength);
    const id = created.json.id as string;
    // Half a chunk, then the connection is cut.
    await new Promise<void>((resolve) => {
      const url = new URL(`/v1/attachments/${id}/chunks/0`, t.server.url);
      const request = httpRequest(url, {
        method: 'PUT',
        headers: {
          authorization: `Bearer ${alice.credential}`,
          'content-type': 'application/octet-stream',
          'content-length': String(CHUNK),
        },
      });
      request.on('error', () => resolve());
      request.write(chunkOf(bytes, 0).subarray(0, CHUNK / 2), () => {
        setTimeout(() => request.destroy(), 100);
      });
    });
    await until(async () => (await stored(id)) === 0, 'no partial chunk is kept');
    assert.deepEqual((await api.status(alice, id)).json.received, []);
    for (const i of [0, 1])
      assert.equal((await api.put(alice, id, i, chunkOf(bytes, i))).status, 200);
    assert.equal((await api.complete(alice, id)).status, 200);
    const got = await api.get(bob, id);
    assert.ok(got.bytes && Buffer.from(got.bytes).equals(bytes));
  });

  it('refuses a file over the size limit, and uploads past the account quota, with typed errors', async () => {
    const big = await api.create(alice, groupId, 3 * MiB + 1);
    assert.equal(big.status, 413);
    assert.equal(big.json.code, 'ATTACHMENT_TOO_LARGE');
    assert.deepEqual(big.json.details, { maxBytes: 3 * MiB });
    // Bob's account has 8 MiB: two of 3 MiB fit, a third does not.
    assert.equal((await api.create(bob, groupId, 3 * MiB)).status, 201);
    assert.equal((await api.create(bobLaptop, groupId, 3 * MiB)).status, 201);
    const over = await api.create(bob, groupId, 3 * MiB);
    assert.equal(over.status, 413);
    assert.equal(over.json.code, 'ATTACHMENT_QUOTA_EXCEEDED');
    assert.equal((await api.create(bob, groupId, 2 * MiB)).status, 201, 'what still fits is taken');
  });

  it('refuses devices outside the conversation', async () => {
    const id = await upload(randomBytes(1000));
    const got = await api.get(mallory, id);
    assert.equal(got.status, 403);
    assert.equal(got.json.code, 'NOT_GROUP_MEMBER');
    assert.equal((await api.fetched(mallory, id)).json.code, 'NOT_GROUP_MEMBER');
    assert.equal((await api.create(mallory, groupId, 10)).json.code, 'NOT_GROUP_MEMBER');
    assert.equal(
      (await api.put(mallory, id, 0, new Uint8Array(1000))).json.code,
      'ATTACHMENT_NOT_FOUND',
    );
    // Without a device credential: nothing.
    const anonymous = await fetch(new URL(`/v1/attachments/${id}`, t.server.url));
    assert.equal(anonymous.status, 401);
  });

  it('deletes the blob once every recipient device confirmed its fetch', async () => {
    const bytes = randomBytes(CHUNK + 10);
    const id = await upload(bytes);
    assert.equal(await stored(id), 2);
    assert.ok((await api.get(bob, id)).bytes);
    assert.deepEqual((await api.fetched(bob, id)).json, { id, deleted: false });
    // Bob's laptop has not fetched it yet: still there.
    assert.equal((await api.get(alice, id)).status, 200);
    assert.ok((await api.get(bobLaptop, id)).bytes);
    assert.deepEqual((await api.fetched(bobLaptop, id)).json, { id, deleted: true });
    assert.equal(await stored(id), 0, 'the bytes are gone from storage');
    const gone = await api.get(bob, id);
    assert.equal(gone.status, 404);
    assert.equal(gone.json.code, 'ATTACHMENT_NOT_FOUND');
  });

  it('an uploader deleting its account: its finished blobs stay for the recipients without naming it, its unfinished ones go', async () => {
    const carol = await t.register('+14155550704');
    const carolGroup = 'C'.repeat(22);
    await conversation(t, carolGroup, [carol, bob]);
    const finished = randomBytes(3000);
    const created = await api.create(carol, carolGroup, finished.byteLength);
    const id = created.json.id as string;
    await api.put(carol, id, 0, finished);
    await api.complete(carol, id);
    const unfinished = (await api.create(carol, carolGroup, 10)).json.id as string;
    await api.put(carol, unfinished, 0, new Uint8Array(10));
    assert.equal((await t.call('DELETE', '/v1/account', { token: carol.credential })).status, 204);
    const rows = await t.server.services.db.selectFrom('attachments').selectAll().execute();
    assert.ok(
      rows.every((r) => r.account_id !== carol.accountId && r.device_id !== carol.deviceId),
      'no attachment names the deleted account or its device',
    );
    await t.server.services.attachments.sweep();
    assert.equal(await stored(unfinished), 0);
    const got = await api.get(bob, id);
    assert.ok(got.bytes && Buffer.from(got.bytes).equals(finished), 'still there for Bob');
  });

  it('deletes blobs at the message TTL, fetched or not, and frees the quota', async () => {
    const id = await upload(randomBytes(5000));
    const unfinished = (await api.create(alice, groupId, 10)).json.id as string;
    await api.put(alice, unfinished, 0, new Uint8Array(10));
    now += 3600 * 1000 + 1;
    assert.equal((await api.get(bob, id)).json.code, 'ATTACHMENT_NOT_FOUND');
    assert.ok((await t.server.services.attachments.sweep()) >= 2);
    assert.equal(await stored(id), 0);
    assert.equal(await stored(unfinished), 0);
    // Every earlier upload expired with it: Bob's quota is whole again.
    assert.equal((await api.create(bob, groupId, 3 * MiB)).status, 201);
  });
});
