import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type DeviceCertificate, type IdentityKeyPair, loadIdentityCrypto } from '@parley/core';
import { MemoryStore } from '../store/store.js';
import { Trust } from './trust.js';

const crypto = await loadIdentityCrypto();
const key = (fill: number) => new Uint8Array(32).fill(fill);

function cert(
  identity: IdentityKeyPair,
  accountId: string,
  deviceId: string,
  deviceKey: Uint8Array,
) {
  return crypto.verifyCertificate(
    crypto.issueCertificate(identity, { accountId, deviceId, deviceKey, createdAt: 1 }),
  )!;
}

function setup() {
  const me = crypto.newIdentityKeys();
  const trust = new Trust(new MemoryStore(), async () => ({
    accountId: 'account-me',
    identityKey: me.publicKey,
  }));
  return { me, trust };
}

const ids = (certs: DeviceCertificate[]) => certs.map((c) => c.deviceId);

describe('trust on first use', () => {
  it('pins the first key, accepts its new devices, and refuses a known device with another key', async () => {
    const { trust } = setup();
    const alice = crypto.newIdentityKeys();
    const first = await trust.admit([cert(alice, 'account-alice', 'device-a1', key(1))]);
    assert.deepEqual(ids(first.accepted), ['device-a1']);
    assert.deepEqual(first.changed, []);
    const second = await trust.admit([
      cert(alice, 'account-alice', 'device-a1', key(1)),
      cert(alice, 'account-alice', 'device-a2', key(2)),
    ]);
    assert.deepEqual(ids(second.accepted), ['device-a1', 'device-a2']);
    // The same device id with another device key: forged, even under the right identity key.
    const swapped = await trust.admit([cert(alice, 'account-alice', 'device-a1', key(9))]);
    assert.deepEqual(ids(swapped.accepted), []);
    assert.equal(swapped.refused[0]?.reason, 'forged-device');
  });

  it('takes a new identity with new devices as a change, refuses old devices under it', async () => {
    const { trust } = setup();
    const alice = crypto.newIdentityKeys();
    const operator = crypto.newIdentityKeys();
    await trust.admit([cert(alice, 'account-alice', 'device-a1', key(1))]);
    // An operator's key for Alice's own device id: refused, the pin stays.
    const underOldName = await trust.admit([cert(operator, 'account-alice', 'device-a1', key(1))]);
    assert.equal(underOldName.refused.length, 1);
    assert.deepEqual(await trust.identityKey('account-alice'), alice.publicKey);
    // A new device under a new key: a new identity, accepted and reported as changed.
    const fresh = await trust.admit([cert(operator, 'account-alice', 'device-new', key(3))]);
    assert.deepEqual(fresh.changed, ['account-alice']);
    assert.deepEqual(await trust.identityKey('account-alice'), operator.publicKey);
    // The old key cannot come back.
    const back = await trust.admit([cert(alice, 'account-alice', 'device-a9', key(4))]);
    assert.equal(back.refused.length, 1);
  });

  it('refuses an account shown under two identity keys at once', async () => {
    const { trust } = setup();
    const alice = crypto.newIdentityKeys();
    const other = crypto.newIdentityKeys();
    const verdict = await trust.admit([
      cert(alice, 'account-alice', 'device-a1', key(1)),
      cert(other, 'account-alice', 'device-x1', key(2)),
    ]);
    assert.equal(verdict.accepted.length, 0);
    assert.equal(verdict.refused.length, 2);
    assert.equal(await trust.pin('account-alice'), undefined);
  });

  it('accepts this account’s devices only under its own key', async () => {
    const { me, trust } = setup();
    const mine = await trust.admit([cert(me, 'account-me', 'device-m2', key(1))]);
    assert.equal(mine.accepted.length, 1);
    const forged = await trust.admit([
      cert(crypto.newIdentityKeys(), 'account-me', 'device-m3', key(2)),
    ]);
    assert.equal(forged.refused[0]?.reason, 'not-own-identity');
  });

  it('blocks a verified contact whose key changed until accepted or verified again', async () => {
    const { trust } = setup();
    const alice = crypto.newIdentityKeys();
    await trust.admit([cert(alice, 'account-alice', 'device-a1', key(1))]);
    await trust.setVerified('account-alice', true);
    assert.deepEqual(await trust.blocked(['account-alice']), []);
    await trust.admit([cert(crypto.newIdentityKeys(), 'account-alice', 'device-a2', key(2))]);
    assert.deepEqual(await trust.blocked(['account-alice', 'account-bob']), ['account-alice']);
    assert.equal((await trust.pin('account-alice'))?.verified, false);
    await trust.accept('account-alice');
    assert.deepEqual(await trust.blocked(['account-alice']), []);
  });

  it('does not block an unverified contact whose key changed', async () => {
    const { trust } = setup();
    await trust.admit([cert(crypto.newIdentityKeys(), 'account-bob', 'device-b1', key(1))]);
    const verdict = await trust.admit([
      cert(crypto.newIdentityKeys(), 'account-bob', 'device-b2', key(2)),
    ]);
    assert.deepEqual(verdict.changed, ['account-bob']);
    assert.deepEqual(await trust.blocked(['account-bob']), []);
  });
});
