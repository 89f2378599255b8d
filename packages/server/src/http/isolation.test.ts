/**
 * Isolation: a registered device that is not a member of a conversation, and another account,
 * can read or change nothing of it through any endpoint or frame type — not its messages, not its
 * membership, not another device's queue, not presence against its owner's setting. Runs on SQLite
 * here and on PostgreSQL in the storage suite (storage.postgres.test.ts).
 */

import * as assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DeliverFrame, ServerFrame } from '@parley/core';
import { deviceSocket, testServer } from '../testing/index.js';

type Server = Awaited<ReturnType<typeof testServer>>;
type Registered = Awaited<ReturnType<Server['register']>>;

describe('isolation between accounts and devices', () => {
  let t: Server;
  let alice: Registered;
  let bob: Registered;
  let mallory: Registered;
  const groupId = 'G'.repeat(22);

  before(async () => {
    t = await testServer();
    alice = await t.register('+14155550931', true, 'contacts');
    bob = await t.register('+14155550932', true, 'nobody');
    mallory = await t.register('+14155550933', true, 'contacts');
    // Alice and Bob's conversation; Mallory is registered but not in it.
    // Made through the service: the HTTP route wants real MLS (the e2e tests send that).
    const made = await t.server.services.groups.commit(alice, groupId, {
      epoch: 0,
      commit: 'AAAA',
      welcome: 'AAAA',
      add: [{ deviceId: bob.deviceId, keyPackageId: 'kp-bob' }],
      remove: [],
    });
    assert.equal(made.epoch, 1);
  });
  after(() => t.server.close());

  it('HTTP: no route gives a non-member the conversation or a say in it', async () => {
    const asMallory = { token: mallory.credential };
    const read = await t.call('GET', `/v1/groups/${groupId}`, asMallory);
    const commit = await t.call('POST', `/v1/groups/${groupId}/commits`, {
      ...asMallory,
      body: { epoch: 1, commit: 'AAAA', add: [], remove: [bob.deviceId] },
    });
    const leave = await t.call('POST', `/v1/groups/${groupId}/leave`, asMallory);
    for (const answer of [read, commit, leave]) {
      assert.equal(answer.status, 403, JSON.stringify(answer.json));
      assert.equal(answer.json.code, 'NOT_GROUP_MEMBER');
      assert.ok(!JSON.stringify(answer.json).includes(bob.deviceId), 'names no member');
    }
    // The group is as it was.
    const asAlice = await t.call('GET', `/v1/groups/${groupId}`, { token: alice.credential });
    assert.equal(asAlice.json.epoch, 1);
    assert.equal((asAlice.json.members as unknown[]).length, 2);
  });

  it('HTTP: the account and KeyPackage routes answer about the caller only', async () => {
    const mine = await t.call('GET', '/v1/account', { token: mallory.credential });
    assert.equal(mine.json.accountId, mallory.accountId);
    assert.ok(!JSON.stringify(mine.json).includes(alice.accountId));
    const stock = await t.call('GET', '/v1/keys/packages', { token: mallory.credential });
    assert.equal(stock.status, 200);
    assert.equal((stock.json as { oneTime: number }).oneTime, 0, 'its own (empty) stock');
    // A credential of one device with another device's id spliced in is refused.
    const forged = `${bob.deviceId}.${mallory.credential.split('.')[1]}`;
    const refused = await t.call('GET', '/v1/account', { token: forged });
    assert.equal(refused.status, 401);
  });

  it('frames: a non-member cannot send, signal, or acknowledge away another device’s queue', async () => {
    const b = await deviceSocket(t.server.url, bob.credential);
    const m = await deviceSocket(t.server.url, mallory.credential);
    const a = await deviceSocket(t.server.url, alice.credential);
    try {
      for (const s of [a, b, m]) await s.waitFor((f) => f.t === 'ready');
      const errors = (frames: ServerFrame[]) =>
        frames.filter((f): f is Extract<ServerFrame, { t: 'error' }> => f.t === 'error');
      m.ws.send(
        JSON.stringify({ t: 'send', id: 'M'.repeat(22), groupId, epoch: 1, payload: 'AQID' }),
      );
      m.ws.send(JSON.stringify({ t: 'signal', groupId, payload: 'AQID' }));
      await m.waitFor(() => errors(m.frames).length >= 2);
      assert.deepEqual(
        errors(m.frames).map((e) => e.code),
        ['NOT_GROUP_MEMBER', 'NOT_GROUP_MEMBER'],
      );
      // Alice writes to Bob; Mallory acknowledges every seq she can guess: nothing of Bob's goes.
      a.ws.send(
        JSON.stringify({ t: 'send', id: 'A'.repeat(22), groupId, epoch: 1, payload: 'AQID' }),
      );
      await a.waitFor((f) => f.t === 'stored');
      const delivered = (await b.waitFor(
        (f) => f.t === 'deliver' && f.kind === 'application',
      )) as DeliverFrame;
      const depth = await t.server.services.mailbox.depth(bob.deviceId);
      assert.ok(depth >= 1);
      m.ws.send(
        JSON.stringify({
          t: 'ack',
          seqs: Array.from({ length: 64 }, (_, i) => Math.max(1, delivered.seq - 32 + i)),
        }),
      );
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(
        await t.server.services.mailbox.depth(bob.deviceId),
        depth,
        'Bob’s queue intact',
      );
      assert.ok(!m.frames.some((f) => f.t === 'deliver'), 'Mallory received nothing');
      assert.ok(!m.frames.some((f) => f.t === 'signal'), 'not even a signal');
    } finally {
      for (const s of [a, b, m]) s.ws.close();
    }
  });

  it('presence: only as its owner allows', async () => {
    const m = await deviceSocket(t.server.url, mallory.credential);
    const b = await deviceSocket(t.server.url, bob.credential);
    const a = await deviceSocket(t.server.url, alice.credential);
    try {
      for (const s of [a, b, m]) await s.waitFor((f) => f.t === 'ready');
      // Bob shows nobody; Alice shows her contacts, and Mallory is not one (no link).
      m.ws.send(JSON.stringify({ t: 'presence', accountIds: [bob.accountId, alice.accountId] }));
      await new Promise((r) => setTimeout(r, 300));
      const told = m.frames.filter((f) => f.t === 'presence');
      assert.ok(
        told.every((f) => f.t === 'presence' && !f.online),
        `no one is shown online to Mallory: ${JSON.stringify(told)}`,
      );
    } finally {
      for (const s of [a, b, m]) s.ws.close();
    }
  });
});
