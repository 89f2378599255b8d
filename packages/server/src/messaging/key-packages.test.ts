import * as assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { deviceIdentity, MESSAGING_LIMITS } from '@parley/core';
import { mlsKeyPackage, testServer } from '../testing/index.js';
import { KeyPackages } from './key-packages.js';

describe('KeyPackages', () => {
  let t: Awaited<ReturnType<typeof testServer>>;
  before(async () => {
    t = await testServer();
  });
  after(async () => t.server.close());

  it('keeps at most the stock limit, and refuses more with a typed error', async () => {
    const r = await t.register('+14155550211');
    const device = { accountId: r.accountId, deviceId: r.deviceId };
    const one = await mlsKeyPackage(deviceIdentity(device));
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

  it('refuses a KeyPackage naming another device', async () => {
    const r = await t.register('+14155550212');
    const other = await mlsKeyPackage('someoneelse/otherdevice');
    await assert.rejects(
      t.server.services.keyPackages.upload(r, {
        keyPackages: [{ id: 'kp-foreign', keyPackage: other }],
      }),
      (e: unknown) => {
        const error = e as { code: string; details: { reason: string } };
        return (
          error.code === 'KEY_PACKAGE_INVALID' &&
          error.details.reason === 'the credential must name this device'
        );
      },
    );
  });

  it('limits claims per account, with a time to retry', async () => {
    const r = await t.register('+14155550213');
    const { db, hub } = t.server.services;
    const keyPackages = new KeyPackages(db, hub, { claimsPerHour: 2 });
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
