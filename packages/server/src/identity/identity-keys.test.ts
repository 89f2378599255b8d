/**
 * Identity keys and device certificates on the server: GET /v1/account shows them, a device's
 * certificate must name it, carry its account's key and verify (and never changes), an account
 * made before identity keys may set one once, and any device may look an account's key up (a
 * hint: clients trust on first use). Runs on SQLite here and on PostgreSQL in the storage suite.
 */

import * as assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fromBase64Url, loadIdentityCrypto, toBase64Url } from '@parley/core';
import { certificateFor, testServer } from '../testing/index.js';

describe('identity keys and device certificates', () => {
  let t: Awaited<ReturnType<typeof testServer>>;
  before(async () => {
    t = await testServer();
  });
  after(() => t.server.close());

  const put = (credential: string, certificate: Uint8Array) =>
    t.call('PUT', '/v1/device/certificate', {
      token: credential,
      body: { certificate: toBase64Url(certificate) },
    });
  const reason = (r: { json: Record<string, unknown> }) =>
    (r.json.details as { reason: string }).reason;

  it('GET /v1/account shows the identity key, the lock, and each certificate once sent', async () => {
    const a = await t.register('+14155550601');
    const before = await t.call('GET', '/v1/account', { token: a.credential });
    assert.equal(before.json.identityKey, toBase64Url(a.identity.publicKey));
    assert.equal(before.json.registrationLock, false);
    const [device] = before.json.devices as Array<Record<string, unknown>>;
    assert.equal(device?.certificate, undefined, 'no certificate yet');

    const { certificate } = await t.certify(a);
    const after = await t.call('GET', '/v1/account', { token: a.credential });
    const [certified] = after.json.devices as Array<Record<string, unknown>>;
    assert.equal(certified?.certificate, toBase64Url(certificate));
  });

  it('refuses a certificate for another account or device, or under another key', async () => {
    const a = await t.register('+14155550602');
    const b = await t.register('+14155550603');
    const crypto = await loadIdentityCrypto();
    const cases: Array<[string, Uint8Array, string]> = [
      [
        'another account',
        (await certificateFor({ accountId: b.accountId, deviceId: a.deviceId }, a.identity))
          .certificate,
        'it must name this account and this device',
      ],
      [
        'another device',
        (await certificateFor(b, a.identity)).certificate,
        'it must name this account and this device',
      ],
      [
        'another identity key',
        (await certificateFor(a, crypto.newIdentityKeys())).certificate,
        "it must carry the account's identity key",
      ],
    ];
    for (const [name, certificate, why] of cases) {
      const refused = await put(a.credential, certificate);
      assert.equal(refused.status, 400, name);
      assert.equal(refused.json.code, 'CERTIFICATE_INVALID', name);
      assert.equal(reason(refused), why, name);
    }
  });

  it('refuses a certificate whose signature does not verify, and one that is no certificate', async () => {
    const a = await t.register('+14155550604');
    const { certificate } = await certificateFor(a, a.identity);
    const tampered = certificate.slice();
    tampered[tampered.length - 1]! ^= 1;
    const bad = await put(a.credential, tampered);
    assert.equal(bad.json.code, 'CERTIFICATE_INVALID');
    assert.equal(reason(bad), 'not a certificate signed by the identity key it carries');
    const junk = await put(a.credential, new Uint8Array(40));
    assert.equal(junk.json.code, 'CERTIFICATE_INVALID');
    assert.equal((await put(a.credential, certificate)).status, 204, 'the real one is taken');
  });

  it('keeps the first certificate: the same again is fine, another is refused', async () => {
    const a = await t.register('+14155550605');
    const first = await t.certify(a);
    assert.equal((await put(a.credential, first.certificate)).status, 204, 'idempotent');
    const second = await certificateFor(a, a.identity);
    const refused = await put(a.credential, second.certificate);
    assert.equal(refused.json.code, 'CERTIFICATE_INVALID');
    assert.equal(reason(refused), 'this device already has another certificate');
    const account = await t.call('GET', '/v1/account', { token: a.credential });
    const [device] = account.json.devices as Array<Record<string, unknown>>;
    assert.equal(device?.certificate, toBase64Url(first.certificate));
  });

  it('an account made before identity keys sets its key once; others get IDENTITY_EXISTS', async () => {
    const a = await t.register('+14155550606');
    const crypto = await loadIdentityCrypto();
    const other = toBase64Url(crypto.newIdentityKeys().publicKey);
    const exists = await t.call('PUT', '/v1/account/identity', {
      token: a.credential,
      body: { identityKey: other },
    });
    assert.equal(exists.status, 409);
    assert.equal(exists.json.code, 'IDENTITY_EXISTS');

    // As an account from before this change: no key.
    const { db } = t.server.services;
    await db
      .updateTable('accounts')
      .set({ identity_key: null })
      .where('id', '=', a.accountId)
      .execute();
    const account = await t.call('GET', '/v1/account', { token: a.credential });
    assert.equal(account.json.identityKey, undefined);
    const refused = await put(a.credential, (await certificateFor(a, a.identity)).certificate);
    assert.equal(
      reason(refused),
      'the account has no identity key yet: PUT /v1/account/identity first',
    );
    const set = await t.call('PUT', '/v1/account/identity', {
      token: a.credential,
      body: { identityKey: other },
    });
    assert.equal(set.status, 204);
    const again = await t.call('PUT', '/v1/account/identity', {
      token: a.credential,
      body: { identityKey: toBase64Url(a.identity.publicKey) },
    });
    assert.equal(again.json.code, 'IDENTITY_EXISTS');
    const looked = await t.call('GET', `/v1/accounts/${a.accountId}/identity`, {
      token: a.credential,
    });
    assert.deepEqual(looked.json, { accountId: a.accountId, identityKey: other });
  });

  it("any device looks up an account's identity key; an unknown account is 404", async () => {
    const a = await t.register('+14155550607');
    const b = await t.register('+14155550608');
    const looked = await t.call('GET', `/v1/accounts/${a.accountId}/identity`, {
      token: b.credential,
    });
    assert.equal(looked.status, 200);
    assert.deepEqual(fromBase64Url(looked.json.identityKey as string), a.identity.publicKey);
    const unknown = await t.call('GET', '/v1/accounts/nosuchaccount0/identity', {
      token: b.credential,
    });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.code, 'ACCOUNT_NOT_FOUND');
    const anonymous = await t.call('GET', `/v1/accounts/${a.accountId}/identity`);
    assert.equal(anonymous.status, 401);
  });
});
