/**
 * Profiles, blocks and spam reports on the server: a profile is stored as the sealed bytes its
 * owner sent, only ever with a higher version; a block refuses the blocked account's messages and
 * Commits in a conversation of the two, its KeyPackage claims and its invitations (BLOCKED), but
 * not its messages in a group of more; unblocking ends it; the database holds neither names nor who
 * blocks whom in clear. Runs on SQLite here and on PostgreSQL in the storage suite.
 */

import * as assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PROFILE_CIPHERTEXT_BYTES, toBase64Url } from '@parley/core';
import { testServer } from '../testing/index.js';

describe('profiles, blocks and reports (server)', () => {
  let t: Awaited<ReturnType<typeof testServer>>;
  const ref = (r: { accountId: string; deviceId: string }) => ({
    accountId: r.accountId,
    deviceId: r.deviceId,
  });
  const sealed = (fill: number) => toBase64Url(new Uint8Array(PROFILE_CIPHERTEXT_BYTES).fill(fill));

  before(async () => {
    t = await testServer();
  });
  after(async () => t.server.close());

  it('keeps the sealed profile as sent, and only a higher version replaces it', async () => {
    const alice = await t.register('+14155550601');
    const bob = await t.register('+14155550602');
    const put = (version: number, ciphertext: string) =>
      t.call('PUT', '/v1/profile', { token: alice.credential, body: { version, ciphertext } });
    assert.equal((await put(1, sealed(1))).status, 200);
    const read = await t.call('GET', `/v1/accounts/${alice.accountId}/profile`, {
      token: bob.credential,
    });
    assert.deepEqual(read.json, { accountId: alice.accountId, version: 1, ciphertext: sealed(1) });
    const stale = await put(1, sealed(2));
    assert.equal(stale.status, 409);
    assert.deepEqual(stale.json.code, 'PROFILE_VERSION_CONFLICT');
    assert.deepEqual(stale.json.details, { version: 1 });
    assert.equal((await put(2, sealed(2))).status, 200);
    const wrongSize = await put(3, toBase64Url(new Uint8Array(100)));
    assert.equal(wrongSize.status, 400);
    const none = await t.call('GET', `/v1/accounts/${bob.accountId}/profile`, {
      token: alice.credential,
    });
    assert.equal(none.json.code, 'PROFILE_NOT_FOUND');
  });

  it('refuses a blocked account’s messages, claims and invitations; unblock ends it', async () => {
    const bob = ref(await t.register('+14155550611'));
    const mallory = ref(await t.register('+14155550612'));
    const carol = ref(await t.register('+14155550613'));
    const { groups, mailbox } = t.server.services;
    const direct = 'D'.repeat(22);
    await groups.commit(mallory, direct, {
      epoch: 0,
      commit: 'AAAA',
      welcome: 'AAAA',
      add: [{ deviceId: bob.deviceId, keyPackageId: 'kp-d-0001' }],
      remove: [],
    });
    const send = (id: string, groupId: string, epoch: number) =>
      mailbox.store(mallory, { t: 'send', id: id.repeat(22), groupId, epoch, payload: 'AQID' });
    assert.deepEqual(await send('a', direct, 1), { duplicate: false });
    await t.server.services.blocks.block(bob.accountId, mallory.accountId);
    await assert.rejects(send('b', direct, 1), { code: 'BLOCKED' });
    // Nor a Commit in their conversation of two: refused for everyone, so the group cannot fork.
    await assert.rejects(
      groups.commit(mallory, direct, { epoch: 1, commit: 'AAAA', add: [], remove: [] }),
      { code: 'BLOCKED' },
    );
    // Bob may still write to Mallory: the block is one-way.
    assert.deepEqual(
      await mailbox.store(bob, {
        t: 'send',
        id: 'c'.repeat(22),
        groupId: direct,
        epoch: 1,
        payload: 'AQID',
      }),
      { duplicate: false },
    );
    await assert.rejects(t.server.services.keyPackages.claim(mallory, [bob.accountId]), {
      code: 'BLOCKED',
    });
    // An invitation into a group of Mallory's.
    const group = 'G'.repeat(22);
    await groups.commit(mallory, group, {
      epoch: 0,
      commit: 'AAAA',
      welcome: 'AAAA',
      add: [{ deviceId: carol.deviceId, keyPackageId: 'kp-g-0001' }],
      remove: [],
    });
    await assert.rejects(
      groups.commit(mallory, group, {
        epoch: 1,
        commit: 'AAAA',
        welcome: 'AAAA',
        add: [{ deviceId: bob.deviceId, keyPackageId: 'kp-g-0002' }],
        remove: [],
      }),
      { code: 'BLOCKED' },
    );
    // Carol adds Bob: a group of three, where Mallory's messages still go to everyone.
    await groups.commit(carol, group, {
      epoch: 1,
      commit: 'AAAA',
      welcome: 'AAAA',
      add: [{ deviceId: bob.deviceId, keyPackageId: 'kp-g-0003' }],
      remove: [],
    });
    assert.deepEqual(await send('d', group, 2), { duplicate: false });
    const bobQueue = await mailbox.pending(bob.deviceId, 0, 50);
    assert.ok(bobQueue.some((f) => f.id === 'd'.repeat(22)));
    assert.ok(!bobQueue.some((f) => f.id === 'b'.repeat(22)));

    await t.server.services.blocks.unblock(bob.accountId, mallory.accountId);
    assert.deepEqual(await send('e', direct, 1), { duplicate: false });
    // The table holds digests beside the blocker, never the blocked account's id.
    await t.server.services.blocks.block(bob.accountId, mallory.accountId);
    const rows = await t.server.services.db.selectFrom('blocks').selectAll().execute();
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.blocker_id, bob.accountId);
    assert.ok(!Buffer.from(rows[0]!.digest).toString('latin1').includes(mallory.accountId));
  });

  it('a spam report keeps the account and the time, texts only when attached', async () => {
    const reporter = await t.register('+14155550621');
    const spammer = await t.register('+14155550622');
    const report = (body: unknown) =>
      t.call('POST', '/v1/reports', { token: reporter.credential, body });
    assert.equal((await report({ accountId: spammer.accountId })).status, 204);
    assert.equal(
      (await report({ accountId: spammer.accountId, messages: ['buy now'] })).status,
      204,
    );
    const reports = await t.server.services.blocks.reports();
    assert.deepEqual(
      reports.map((r) => [r.accountId, r.messages]),
      [
        [spammer.accountId, ['buy now']],
        [spammer.accountId, undefined],
      ],
    );
    const stored = await t.server.services.db.selectFrom('spam_reports').selectAll().execute();
    assert.ok(stored.every((r) => !JSON.stringify(r).includes(reporter.accountId)));
  });
});
