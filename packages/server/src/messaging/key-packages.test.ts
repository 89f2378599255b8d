/**
 * KeyPackages: the stock limit, the claim limit, and what an upload must be — a KeyPackage whose
 * basic credential is the uploading device's stored certificate, whose leaf key is the key that
 * certificate certifies. Runs on SQLite here and on PostgreSQL in the storage suite.
 */

import * as assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { deviceIdentity, MESSAGING_LIMITS } from '@parley/core';
import {
  certificateFor,
  certifiedKeyPackage,
  mlsKeyPackage,
  testServer,
} from '../testing/index.js';
import { KeyPackages } from './key-packages.js';

describe('KeyPackages', () => {
  let t: Awaited<ReturnType<typeof testServer>>;
  before(async () => {
    t = await testServer();
  });
  after(async () => t.server.close());

  /** Uploads one KeyPackage over HTTP; the answer. */
  const upload = (credential: string, keyPackage: string) =>
    t.call('POST', '/v1/keys/packages', {
      token: credential,
      body: { keyPackages: [{ id: 'kp-upload-1', keyPackage }] },
    });

  it('keeps at most the stock limit, and refuses more with a typed error', async () => {
    const r = await t.register('+14155550211');
    const device = { accountId: r.accountId, deviceId: r.deviceId };
    const one = await (await t.certify(r)).keyPackage();
    const { keyPackages } = t.server.services;
    const per = MESSAGING_LIMITS.keyPackagesPerUpload;
    // The same bytes under distinct ids: the server counts packages, not their contents.
    for (let n = 0; n < MESSAGING_LIMITS.keyPackageStock; n += per) {
      const batch = Array.from({ length: per }, (_, i) => ({
        id: `kp-${String(n + i).padStart(6, '0')}`,
        keyPackage: one,
      }));
      await keyPackages.upload(device, { keyPackages: batch });
    }
    assert.equal((await keyPackages.stock(device.deviceId)).oneTime, 200);
    await assert.rejects(
      keyPackages.upload(device, { keyPackages: [{ id: 'kp-overflow', keyPackage: one }] }),
      { code: 'KEY_PACKAGE_STOCK_FULL' },
    );
    assert.equal((await keyPackages.stock(device.deviceId)).oneTime, 200, 'nothing was added');
  });

  it('a device without a certificate gets CERTIFICATE_REQUIRED', async () => {
    const r = await t.register('+14155550214');
    const made = await certificateFor(r, r.identity); // made, never sent
    const refused = await upload(r.credential, await made.keyPackage());
    assert.equal(refused.status, 409);
    assert.equal(refused.json.code, 'CERTIFICATE_REQUIRED');
  });

  it('refuses the old "account/device" credential', async () => {
    const r = await t.register('+14155550212');
    await t.certify(r);
    const refused = await upload(r.credential, await mlsKeyPackage(deviceIdentity(r)));
    assert.equal(refused.status, 400);
    assert.equal(refused.json.code, 'KEY_PACKAGE_INVALID');
    assert.deepEqual(refused.json.details, {
      id: 'kp-upload-1',
      reason: "the credential must be this device's certificate",
    });
  });

  it("refuses another device's certificate, even of the same account", async () => {
    const r = await t.register('+14155550215');
    const linked = await t.link(r);
    await t.certify(r);
    const other = await t.certify(linked);
    const refused = await upload(r.credential, await other.keyPackage());
    assert.equal(refused.json.code, 'KEY_PACKAGE_INVALID');
    assert.equal(
      (refused.json.details as { reason: string }).reason,
      "the credential must be this device's certificate",
    );
    assert.equal((await upload(linked.credential, await other.keyPackage())).status, 200);
  });

  it("refuses a leaf signed by another key than the certificate's", async () => {
    const r = await t.register('+14155550216');
    const mine = await t.certify(r);
    const stranger = await certificateFor(r, r.identity);
    // The right certificate as the credential, but the leaf key of another pair.
    const forged = await certifiedKeyPackage(mine.certificate, stranger.signatureKeyPair);
    const refused = await upload(r.credential, forged);
    assert.equal(refused.json.code, 'KEY_PACKAGE_INVALID');
    assert.equal(
      (refused.json.details as { reason: string }).reason,
      "the leaf signature key must be the certificate's device key",
    );
    const accepted = await upload(r.credential, await mine.keyPackage());
    assert.equal(accepted.status, 200);
    assert.equal(accepted.json.oneTime, 1);
  });

  it('limits claims per account, with a time to retry', async () => {
    const r = await t.register('+14155550213');
    const { db, hub } = t.server.services;
    const keyPackages = new KeyPackages(db, hub, t.server.services.allowList, { claimsPerHour: 2 });
    // An account with no KeyPackages: each claim fails, and still counts.
    for (let i = 0; i < 2; i++) {
      await assert.rejects(keyPackages.claim(r, ['nosuchaccount1']), { code: 'ACCOUNT_NOT_FOUND' });
    }
    await assert.rejects(keyPackages.claim(r, ['nosuchaccount1']), (e: unknown) => {
      const error = e as { code: string; retryAfterMs: number };
      return error.code === 'RATE_LIMITED' && error.retryAfterMs > 0;
    });
  });
});
