/**
 * Signing devices out: one device, or every other one at once. A removed device's credential is
 * refused, its socket is closed (4411), its queue, KeyPackages and memberships are gone, and
 * nothing more is delivered to it; another account cannot remove anyone's device. Runs on SQLite
 * here and on PostgreSQL in the storage suite.
 */

import * as assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CLOSE_CODES } from '@parley/core';
import { deviceSocket, testServer } from '../testing/index.js';

type Server = Awaited<ReturnType<typeof testServer>>;
type Registered = Awaited<ReturnType<Server['register']>>;

describe('signing devices out', () => {
  let t: Server;
  let a1: Registered;
  let a2: Registered;
  let a3: Registered;
  let bob: Registered;
  const groupId = 'S'.repeat(22);

  before(async () => {
    t = await testServer();
    a1 = await t.register('+14155550951');
    a2 = await t.link(a1, 'second');
    a3 = await t.link(a1, 'third');
    bob = await t.register('+14155550952');
    assert.equal(a2.accountId, a1.accountId);
    await t.server.services.groups.commit(a1, groupId, {
      epoch: 0,
      commit: 'AAAA',
      welcome: 'AAAA',
      add: [a2, a3, bob].map((d, i) => ({ deviceId: d.deviceId, keyPackageId: `kp-${i}` })),
      remove: [],
    });
    await t.server.services.keyPackages.upload(a2, {
      keyPackages: [{ id: 'kp-a2-0001', keyPackage: await (await t.certify(a2)).keyPackage() }],
    });
  });
  after(() => t.server.close());

  const status = async (credential: string) =>
    (await t.call('GET', '/v1/account', { token: credential })).status;

  it('another account cannot sign out my device', async () => {
    const refused = await t.call('DELETE', `/v1/devices/${a2.deviceId}`, { token: bob.credential });
    assert.equal(refused.status, 404);
    assert.equal(refused.json.code, 'DEVICE_NOT_FOUND');
    assert.equal(await status(a2.credential), 200, 'still signed in');
  });

  it('one device: refused from then on, its socket closed, nothing more delivered to it', async () => {
    const socket = await deviceSocket(t.server.url, a2.credential);
    await socket.waitFor((f) => f.t === 'ready');
    const removed = await fetch(new URL(`/v1/devices/${a2.deviceId}`, t.server.url), {
      method: 'DELETE',
      headers: { authorization: `Bearer ${a1.credential}` },
    });
    assert.equal(removed.status, 204);
    assert.equal(await socket.closed, CLOSE_CODES.deviceRemoved);
    assert.equal(await status(a2.credential), 401);
    const { db, mailbox } = t.server.services;
    for (const table of ['queue', 'key_packages', 'group_members'] as const) {
      const rows = await db
        .selectFrom(table)
        .select('device_id')
        .where('device_id', '=', a2.deviceId)
        .execute();
      assert.equal(rows.length, 0, `nothing of it in ${table}`);
    }
    // The devices that stay are told which device went (the first of them commits its removal).
    const told = await db
      .selectFrom('queue')
      .select(['device_id', 'sender_device', 'group_id'])
      .where('kind', '=', 'removed')
      .execute();
    assert.deepEqual(
      told.map((r) => r.device_id).sort(),
      [a1.deviceId, a3.deviceId, bob.deviceId].sort(),
    );
    assert.ok(told.every((r) => r.sender_device === a2.deviceId && r.group_id === groupId));
    // Bob writes to the conversation: a1 and a3 get it, the removed device does not.
    await mailbox.store(bob, { t: 'send', id: 'B'.repeat(22), groupId, epoch: 1, payload: 'AQID' });
    const queued = await db
      .selectFrom('queue')
      .select('device_id')
      .where('message_id', '=', 'B'.repeat(22))
      .execute();
    assert.deepEqual(queued.map((q) => q.device_id).sort(), [a1.deviceId, a3.deviceId].sort());
    const account = await t.call('GET', '/v1/account', { token: a1.credential });
    assert.deepEqual(
      (account.json.devices as Array<{ deviceId: string }>).map((d) => d.deviceId).sort(),
      [a1.deviceId, a3.deviceId].sort(),
    );
  });

  it('every other device at once (a lost phone); then this device itself', async () => {
    const others = await t.call('DELETE', '/v1/devices', { token: a1.credential });
    assert.equal(others.status, 200);
    assert.deepEqual(others.json, { removed: 1 });
    assert.equal(await status(a3.credential), 401);
    assert.equal(await status(a1.credential), 200, 'the caller stays');
    const again = await t.call('DELETE', '/v1/devices', { token: a1.credential });
    assert.deepEqual(again.json, { removed: 0 });
    const self = await fetch(new URL(`/v1/devices/${a1.deviceId}`, t.server.url), {
      method: 'DELETE',
      headers: { authorization: `Bearer ${a1.credential}` },
    });
    assert.equal(self.status, 204);
    assert.equal(await status(a1.credential), 401);
    // The account stays: verifying the number again starts a new identity on it.
    const back = await t.register('+14155550951');
    assert.equal(back.accountId, a1.accountId);
  });
});
