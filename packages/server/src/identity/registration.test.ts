/**
 * Registering a number that already has an account. Without a registration lock (or once it has
 * lapsed) it starts a new identity on the same account id: every old device signed out as
 * DELETE /v1/devices does, the identity key replaced, the settings the new answers. With the lock
 * on and the account active, it is refused without the PIN (the same code may be sent again with
 * it), wrong PINs are counted, and ten refuse every guess until the lock would lapse. Runs on
 * SQLite here and on PostgreSQL in the storage suite.
 */

import * as assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CLOSE_CODES,
  loadIdentityCrypto,
  REGISTRATION_LOCK_ATTEMPTS,
  REGISTRATION_LOCK_DAYS,
  toBase64Url,
} from '@parley/core';
import { deviceSocket, testServer } from '../testing/index.js';

const DAY = 24 * 3_600_000;

describe('registering a number that has an account', () => {
  let t: Awaited<ReturnType<typeof testServer>>;
  let now = Date.now();
  before(async () => {
    // Each case asks for a few codes for one number.
    t = await testServer(
      {
        PARLEY_VERIFICATION_PER_NUMBER: '20',
        PARLEY_VERIFICATION_PER_IP: '1000',
        PARLEY_VERIFICATION_PER_PREFIX: '1000',
      },
      { clock: () => now },
    );
  });
  after(() => t.server.close());

  const newKey = async () => toBase64Url((await loadIdentityCrypto()).newIdentityKeys().publicKey);
  const status = async (credential: string) =>
    (await t.call('GET', '/v1/account', { token: credential })).status;
  const setLock = (credential: string, pin: string) =>
    t.call('PUT', '/v1/account/registration-lock', { token: credential, body: { pin } });

  it('without a lock: a new identity on the same account, nothing of the old one left', async () => {
    const { db, groups, keyPackages, mailbox } = t.server.services;
    const alice = await t.register('+14155550701', false, 'contacts');
    const alice2 = await t.link(alice, 'laptop');
    const bob = await t.register('+14155550702');
    const groupId = 'R'.repeat(22);
    await groups.commit(alice, groupId, {
      epoch: 0,
      commit: 'AAAA',
      welcome: 'AAAA',
      add: [alice2, bob].map((d, i) => ({ deviceId: d.deviceId, keyPackageId: `kp-${i}` })),
      remove: [],
    });
    await keyPackages.upload(alice, {
      keyPackages: [{ id: 'kp-alice-01', keyPackage: await (await t.certify(alice)).keyPackage() }],
    });
    await mailbox.store(bob, { t: 'send', id: 'M'.repeat(22), groupId, epoch: 1, payload: 'AQID' });
    const socket = await deviceSocket(t.server.url, alice2.credential);
    await socket.waitFor((f) => f.t === 'ready');

    const identityKey = await newKey();
    const again = await t.registerRaw('+14155550701', {
      identityKey,
      discoverable: true,
      presence: 'nobody',
    });
    assert.equal(again.status, 201);
    assert.equal(again.json.accountId, alice.accountId, 'the same account id');
    assert.equal(again.json.existingAccount, true);

    // The old devices are signed out: credentials refused, sockets closed.
    assert.equal(await socket.closed, CLOSE_CODES.deviceRemoved);
    assert.equal(await status(alice.credential), 401);
    assert.equal(await status(alice2.credential), 401);
    const old = [alice.deviceId, alice2.deviceId];
    for (const table of ['queue', 'key_packages', 'group_members'] as const) {
      const rows = await db
        .selectFrom(table)
        .select('device_id')
        .where('device_id', 'in', old)
        .execute();
      assert.equal(rows.length, 0, `nothing of the old devices in ${table}`);
    }
    const devices = await db.selectFrom('devices').select('id').where('id', 'in', old).execute();
    assert.deepEqual(devices, []);
    // Bob, who stays in the conversation, is told each old device went.
    const told = await db
      .selectFrom('queue')
      .select('sender_device')
      .where('device_id', '=', bob.deviceId)
      .where('kind', '=', 'removed')
      .execute();
    assert.deepEqual(told.map((r) => r.sender_device).sort(), [...old].sort());

    // The new device holds the account alone, under the new key and the new answers.
    const account = await t.call('GET', '/v1/account', {
      token: again.json.credential as string,
    });
    assert.equal(account.json.identityKey, identityKey);
    assert.equal(account.json.discoverable, true);
    assert.equal(account.json.presence, 'nobody');
    assert.deepEqual(
      (account.json.devices as Array<{ deviceId: string }>).map((d) => d.deviceId),
      [again.json.deviceId],
    );
  });

  it('with the lock on: refused without the PIN, then the same code with it', async () => {
    const alice = await t.register('+14155550711');
    assert.equal((await setLock(alice.credential, '4321')).status, 204);
    const account = await t.call('GET', '/v1/account', { token: alice.credential });
    assert.equal(account.json.registrationLock, true);

    const refused = await t.registerRaw('+14155550711', { identityKey: await newKey() });
    assert.equal(refused.status, 423);
    assert.equal(refused.json.code, 'REGISTRATION_LOCKED');
    const details = refused.json.details as { attemptsLeft: number; unlocksAt: string };
    assert.equal(details.attemptsLeft, REGISTRATION_LOCK_ATTEMPTS);
    assert.ok(Date.parse(details.unlocksAt) > now + (REGISTRATION_LOCK_DAYS - 1) * DAY);
    assert.equal(await status(alice.credential), 200, 'nothing changed');

    // The verification was kept: the same code, now with the PIN.
    const body = { ...refused.body, registrationLockPin: '4321' };
    const passed = await t.call('POST', '/v1/accounts', { body });
    assert.equal(passed.status, 201);
    assert.equal(passed.json.accountId, alice.accountId);
    assert.equal(await status(alice.credential), 401, 'a new identity all the same');
    const after = await t.call('GET', '/v1/account', { token: passed.json.credential as string });
    assert.equal(after.json.registrationLock, false, 'the lock went with the old identity');
    const reused = await t.call('POST', '/v1/accounts', { body });
    assert.equal(reused.json.code, 'VERIFICATION_NOT_FOUND', 'the code is spent now');
  });

  it('wrong PINs count down; after ten even the right one is refused until unlocksAt', async () => {
    const alice = await t.register('+14155550721');
    await setLock(alice.credential, 'correct horse');
    const first = await t.registerRaw('+14155550721', {
      identityKey: await newKey(),
      registrationLockPin: 'wrong 0',
    });
    assert.equal(first.json.code, 'REGISTRATION_LOCKED');
    assert.equal((first.json.details as { attemptsLeft: number }).attemptsLeft, 9);
    // The refused verification is kept: later guesses reuse it.
    let last = first;
    for (let i = 1; i < REGISTRATION_LOCK_ATTEMPTS; i++) {
      last = {
        ...(await t.call('POST', '/v1/accounts', {
          body: { ...first.body, registrationLockPin: `wrong ${i}` },
        })),
        body: first.body,
      };
    }
    assert.equal(last.status, 429);
    assert.equal(last.json.code, 'REGISTRATION_LOCK_ATTEMPTS_EXCEEDED');
    assert.ok(Number(last.headers.get('retry-after')) > 0);
    const right = await t.registerRaw('+14155550721', {
      identityKey: await newKey(),
      registrationLockPin: 'correct horse',
    });
    assert.equal(right.status, 429);
    assert.equal(right.json.code, 'REGISTRATION_LOCK_ATTEMPTS_EXCEEDED');
    assert.deepEqual(right.json.details, {
      attemptsLeft: 0,
      unlocksAt: (last.json.details as { unlocksAt: string }).unlocksAt,
    });
    assert.equal(await status(alice.credential), 200, 'the account is untouched');
  });

  it('lapses once no device was active for the lock period; activity keeps it', async () => {
    const alice = await t.register('+14155550731');
    await setLock(alice.credential, '2468');
    // Active on day 6: the lock holds on day 8.
    now += 6 * DAY;
    assert.equal(await status(alice.credential), 200);
    now += 2 * DAY;
    const held = await t.registerRaw('+14155550731', { identityKey: await newKey() });
    assert.equal(held.json.code, 'REGISTRATION_LOCKED');
    // Eight days without the device: an SMS code alone registers a new identity.
    now += REGISTRATION_LOCK_DAYS * DAY + 1;
    const lapsed = await t.registerRaw('+14155550731', { identityKey: await newKey() });
    assert.equal(lapsed.status, 201);
    assert.equal(lapsed.json.accountId, alice.accountId);
    assert.equal(await status(alice.credential), 401);
  });

  it('a lock removed with DELETE no longer asks for the PIN', async () => {
    const alice = await t.register('+14155550741');
    await setLock(alice.credential, '1357');
    const removed = await t.call('DELETE', '/v1/account/registration-lock', {
      token: alice.credential,
    });
    assert.equal(removed.status, 204);
    const again = await t.registerRaw('+14155550741', { identityKey: await newKey() });
    assert.equal(again.status, 201);
  });

  it('refuses a PIN shorter than 4 or longer than 64 characters', async () => {
    const alice = await t.register('+14155550751');
    for (const pin of ['123', 'x'.repeat(65)]) {
      const refused = await setLock(alice.credential, pin);
      assert.equal(refused.status, 400);
      assert.equal(refused.json.code, 'VALIDATION_FAILED');
    }
  });

  it('keeps no PIN: the verifier is a salted scrypt hash', async () => {
    const alice = await t.register('+14155550761');
    const bob = await t.register('+14155550762');
    await setLock(alice.credential, '9999');
    await setLock(bob.credential, '9999');
    const rows = await t.server.services.db
      .selectFrom('accounts')
      .select('registration_lock')
      .where('id', 'in', [alice.accountId, bob.accountId])
      .execute();
    const [a, b] = rows.map((r) => r.registration_lock ?? '');
    assert.match(a!, /^scrypt\$/);
    assert.ok(!a!.includes('9999'));
    assert.notEqual(a, b, 'a random salt each');
  });
});
