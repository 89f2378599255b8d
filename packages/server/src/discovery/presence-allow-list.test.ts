/**
 * The presence allow-list: who sees an account online is whom its own client put on its list —
 * resolving a number grants nothing — and the same list decides whose KeyPackage claims take a
 * one-time package (a stranger gets the last-resort one and changes nothing). Runs on SQLite here
 * and on PostgreSQL in the storage suite.
 */

import * as assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MESSAGING_LIMITS, type ServerFrame } from '@parley/core';
import { deviceSocket, type TestDevice, testServer } from '../testing/index.js';

describe('the presence allow-list', () => {
  let t: Awaited<ReturnType<typeof testServer>>;
  before(async () => {
    t = await testServer();
  });
  after(async () => t.server.close());

  const change = (owner: TestDevice, body: { add?: string[]; remove?: string[] }) =>
    t.call('POST', '/v1/presence/allow-list', { token: owner.credential, body });

  /** What `viewer`'s socket is told about `subject` after subscribing (online or not). */
  const watch = async (viewer: TestDevice, subject: TestDevice) => {
    const s = await deviceSocket(t.server.url, viewer.credential);
    await s.waitFor((f) => f.t === 'ready');
    s.ws.send(JSON.stringify({ t: 'presence', accountIds: [subject.accountId] }));
    return s;
  };
  const isOnline = (f: ServerFrame, subject: TestDevice) =>
    f.t === 'presence' && f.accountId === subject.accountId && f.online;

  it('shows presence only to accounts on the owner’s list, only when set to contacts', async () => {
    const alice = await t.register('+14155550401', true, 'contacts');
    const bob = await t.register('+14155550402');
    const stranger = await t.register('+14155550403');
    const { allowList, links } = t.server.services;
    // The stranger resolved Alice's number: a contact link, and nothing more.
    await links.record(stranger.accountId, [alice.accountId]);
    assert.deepEqual(await allowList.visibleTo(stranger.accountId, [alice.accountId]), []);
    assert.deepEqual(await allowList.visibleTo(bob.accountId, [alice.accountId]), []);
    const added = await change(alice, { add: [bob.accountId, 'nosuchaccount1', alice.accountId] });
    assert.equal(added.status, 200);
    assert.deepEqual(added.json, { size: 1 }, 'only existing accounts other than the owner');
    assert.deepEqual(await allowList.visibleTo(bob.accountId, [alice.accountId]), [
      alice.accountId,
    ]);
    assert.deepEqual(await allowList.visibleTo(stranger.accountId, [alice.accountId]), []);
    // The list is one-way: Bob did not put Alice on his.
    assert.deepEqual(await allowList.visibleTo(alice.accountId, [bob.accountId]), []);
    await t.call('PATCH', '/v1/account', { token: alice.credential, body: { presence: 'nobody' } });
    assert.deepEqual(await allowList.visibleTo(bob.accountId, [alice.accountId]), []);
  });

  it('stops a watcher taken off the list at once, and only that one', async () => {
    const alice = await t.register('+14155550411', true, 'contacts');
    const bob = await t.register('+14155550412');
    const carol = await t.register('+14155550413');
    await change(alice, { add: [bob.accountId, carol.accountId] });
    const a = await deviceSocket(t.server.url, alice.credential);
    await a.waitFor((f) => f.t === 'ready');
    const b = await watch(bob, alice);
    const c = await watch(carol, alice);
    try {
      await b.waitFor((f) => isOnline(f, alice));
      await c.waitFor((f) => isOnline(f, alice));
      assert.deepEqual((await change(alice, { remove: [bob.accountId] })).json, { size: 1 });
      await b.waitFor((f) => f.t === 'presence' && f.accountId === alice.accountId && !f.online);
      // Carol still watches: Alice leaving is news to her, and only to her.
      a.ws.close();
      await c.waitFor((f) => f.t === 'presence' && f.accountId === alice.accountId && !f.online);
      const toBob = b.frames.filter((f) => f.t === 'presence');
      assert.equal(toBob.length, 2, `Bob is told once he is off, then nothing: ${toBob.length}`);
    } finally {
      for (const s of [a, b, c]) s.ws.close();
    }
  });

  it('holds at most the limit, refusing a change that would pass it', async () => {
    const owner = await t.register('+14155550421');
    const others = [await t.register('+14155550422'), await t.register('+14155550423')];
    const { db } = t.server.services;
    // Fill the list to the limit with rows of accounts that no longer matter.
    const fill = Array.from({ length: MESSAGING_LIMITS.allowListMax - 1 }, (_, i) => ({
      digest: Buffer.from(`filler-${i}`),
      owner_id: owner.accountId,
      created_at: 0,
    }));
    for (let i = 0; i < fill.length; i += 500) {
      await db
        .insertInto('presence_allow')
        .values(fill.slice(i, i + 500))
        .execute();
    }
    const refused = await change(owner, { add: others.map((o) => o.accountId) });
    assert.equal(refused.status, 409);
    assert.equal(refused.json.code, 'PRESENCE_ALLOW_LIST_FULL');
    const one = await change(owner, { add: [others[0]!.accountId] });
    assert.deepEqual(one.json, { size: MESSAGING_LIMITS.allowListMax });
  });

  it('gives a stranger the last-resort KeyPackage only; its owner and its list get one-time ones', async () => {
    const alice = await t.register('+14155550431');
    const bob = await t.register('+14155550432');
    const spy = await t.register('+14155550433');
    const certified = await t.certify(alice);
    const upload = await t.call('POST', '/v1/keys/packages', {
      token: alice.credential,
      body: {
        keyPackages: [
          { id: 'one-time-1', keyPackage: await certified.keyPackage() },
          { id: 'one-time-2', keyPackage: await certified.keyPackage() },
        ],
        lastResort: { id: 'last-resort', keyPackage: await certified.keyPackage() },
      },
    });
    assert.equal(upload.status, 200);
    const claim = async (by: TestDevice) => {
      const r = await t.call('POST', '/v1/keys/claim', {
        token: by.credential,
        body: { accountIds: [alice.accountId] },
      });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      return (r.json.keyPackages as Array<{ keyPackageId: string }>).map((k) => k.keyPackageId);
    };
    const stock = () => t.server.services.keyPackages.stock(alice.deviceId);
    for (let i = 0; i < 5; i++) assert.deepEqual(await claim(spy), ['last-resort']);
    assert.equal((await stock()).oneTime, 2, 'the spy drained nothing');
    assert.deepEqual(await claim(bob), ['last-resort'], 'Bob is not on the list yet');
    await change(alice, { add: [bob.accountId] });
    assert.deepEqual(await claim(bob), ['one-time-1']);
    // Her own new device (a linked one) takes a one-time package too.
    const second = await t.link(alice);
    assert.deepEqual(await claim(second), ['one-time-2']);
    assert.deepEqual(await claim(spy), ['last-resort']);
  });
});
