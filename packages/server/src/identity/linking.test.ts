/**
 * The linking relay: a session from the new device, looked up and approved by a device of the
 * account, its result collected once; expired, unknown and already approved sessions are
 * LINK_NOT_FOUND, and expired rows are deleted. Runs on SQLite here and on PostgreSQL in the
 * storage suite.
 */

import * as assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { LINK_TTL_MS, toBase64Url } from '@parley/core';
import { deviceSocket, testServer } from '../testing/index.js';

describe('linking a device', () => {
  let t: Awaited<ReturnType<typeof testServer>>;
  let now = Date.now();
  before(async () => {
    t = await testServer({}, { clock: () => now });
  });
  after(() => t.server.close());

  const start = async (deviceName = 'new laptop') => {
    const secret = randomBytes(32).toString('base64url');
    const publicKey = toBase64Url(randomBytes(32));
    const r = await t.call('POST', '/v1/links', {
      body: {
        publicKey,
        deviceName,
        credentialHash: createHash('sha256').update(secret).digest('base64url'),
      },
    });
    assert.equal(r.status, 201);
    return {
      ...(r.json as { linkId: string; handle: string; expiresAt: string }),
      secret,
      publicKey,
    };
  };
  const envelope = toBase64Url(new TextEncoder().encode('sealed for the new device'));
  const rows = () => t.server.services.db.selectFrom('link_sessions').selectAll().execute();

  it('pending, shown, approved, collected once; the new device signs in', async () => {
    const alice = await t.register('+14155550801');
    const phone = await deviceSocket(t.server.url, alice.credential);
    await phone.waitFor((f) => f.t === 'ready');
    const tablet = await t.link(alice, 'tablet');
    const tabletSocket = await deviceSocket(t.server.url, tablet.credential);
    await tabletSocket.waitFor((f) => f.t === 'ready');

    const link = await start();
    assert.match(link.handle, /^[0-9A-HJKMNP-TV-Z]{8}$/);
    assert.match(link.linkId, /^[A-Za-z0-9_-]{22}$/);
    assert.equal(Date.parse(link.expiresAt), now + LINK_TTL_MS);
    const pending = await t.call('GET', `/v1/links/${link.linkId}/result`);
    assert.deepEqual(pending.json, { status: 'pending' });

    const shown = await t.call('GET', `/v1/links/${link.handle}`, { token: alice.credential });
    assert.deepEqual(shown.json, {
      publicKey: link.publicKey,
      deviceName: 'new laptop',
      createdAt: new Date(now).toISOString(),
      expiresAt: link.expiresAt,
    });

    const approved = await t.call('POST', `/v1/links/${link.handle}/approve`, {
      token: alice.credential,
      body: { envelope },
    });
    assert.equal(approved.status, 200);
    const deviceId = approved.json.deviceId as string;
    assert.equal(approved.json.accountId, alice.accountId);
    // The account's other device hears of it (a hint, over the socket).
    await tabletSocket.waitFor((f) => f.t === 'devices-changed');

    const result = await t.call('GET', `/v1/links/${link.linkId}/result`);
    assert.deepEqual(result.json, {
      status: 'approved',
      accountId: alice.accountId,
      deviceId,
      envelope,
    });
    const again = await t.call('GET', `/v1/links/${link.linkId}/result`);
    assert.equal(again.status, 404);
    assert.equal(again.json.code, 'LINK_NOT_FOUND');

    const credential = `${deviceId}.${link.secret}`;
    const account = await t.call('GET', '/v1/account', { token: credential });
    assert.equal(account.status, 200);
    const linked = (account.json.devices as Array<Record<string, unknown>>).find(
      (d) => d.deviceId === deviceId,
    );
    assert.equal(linked?.name, 'new laptop');
    assert.equal(linked?.certificate, undefined, 'no certificate until the device sends it');
    assert.deepEqual(await rows(), [], 'nothing of the session is kept');
    phone.ws.close();
    tabletSocket.ws.close();
  });

  it('a session is approved once; then its handle is not found', async () => {
    const alice = await t.register('+14155550802');
    const link = await start();
    const approve = () =>
      t.call('POST', `/v1/links/${link.handle}/approve`, {
        token: alice.credential,
        body: { envelope },
      });
    assert.equal((await approve()).status, 200);
    const twice = await approve();
    assert.equal(twice.status, 404);
    assert.equal(twice.json.code, 'LINK_NOT_FOUND');
    const shown = await t.call('GET', `/v1/links/${link.handle}`, { token: alice.credential });
    assert.equal(shown.json.code, 'LINK_NOT_FOUND');
    const devices = await t.call('GET', '/v1/account', { token: alice.credential });
    assert.equal((devices.json.devices as unknown[]).length, 2, 'one device was added');
    await t.call('GET', `/v1/links/${link.linkId}/result`);
  });

  it('an expired session is refused everywhere and deleted', async () => {
    const alice = await t.register('+14155550803');
    const shown = await start();
    const approved = await start();
    const polled = await start();
    now += LINK_TTL_MS;
    const look = await t.call('GET', `/v1/links/${shown.handle}`, { token: alice.credential });
    assert.equal(look.json.code, 'LINK_NOT_FOUND');
    const approve = await t.call('POST', `/v1/links/${approved.handle}/approve`, {
      token: alice.credential,
      body: { envelope },
    });
    assert.equal(approve.json.code, 'LINK_NOT_FOUND');
    const poll = await t.call('GET', `/v1/links/${polled.linkId}/result`);
    assert.equal(poll.json.code, 'LINK_NOT_FOUND');
    assert.deepEqual(await rows(), []);
    const devices = await t.call('GET', '/v1/account', { token: alice.credential });
    assert.equal((devices.json.devices as unknown[]).length, 1, 'no device was added');
  });

  it('the sweep deletes expired sessions, approved or not, and leaves live ones', async () => {
    const alice = await t.register('+14155550804');
    await start();
    const approved = await start();
    await t.call('POST', `/v1/links/${approved.handle}/approve`, {
      token: alice.credential,
      body: { envelope },
    });
    now += LINK_TTL_MS;
    assert.equal(await t.server.services.linking.sweep(), 2);
    const live = await start();
    assert.equal(await t.server.services.linking.sweep(), 0);
    assert.deepEqual(
      (await rows()).map((r) => r.id),
      [live.linkId],
    );
    await t.call('GET', `/v1/links/${live.linkId}/result`);
    now += LINK_TTL_MS;
    await t.server.services.linking.sweep();
  });

  it('an unknown or malformed handle, and an unknown link id', async () => {
    const alice = await t.register('+14155550805');
    const unknown = await t.call('GET', '/v1/links/ZZZZZZZZ', { token: alice.credential });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.code, 'LINK_NOT_FOUND');
    const malformed = await t.call('GET', '/v1/links/ILOU0000', { token: alice.credential });
    assert.equal(malformed.status, 400);
    assert.equal(malformed.json.code, 'VALIDATION_FAILED');
    const noResult = await t.call('GET', `/v1/links/${'A'.repeat(22)}/result`);
    assert.equal(noResult.json.code, 'LINK_NOT_FOUND');
    const anonymous = await t.call('GET', '/v1/links/ZZZZZZZZ');
    assert.equal(anonymous.status, 401, 'looking a handle up takes a device');
  });
});

describe('linking: limits', () => {
  it('POST /v1/links is limited per address, like verification requests', async () => {
    const t = await testServer({ PARLEY_VERIFICATION_PER_IP: '2' });
    try {
      const body = {
        publicKey: toBase64Url(new Uint8Array(32)),
        deviceName: 'x',
        credentialHash: toBase64Url(new Uint8Array(32)),
      };
      assert.equal((await t.call('POST', '/v1/links', { body })).status, 201);
      assert.equal((await t.call('POST', '/v1/links', { body })).status, 201);
      const limited = await t.call('POST', '/v1/links', { body });
      assert.equal(limited.status, 429);
      assert.equal(limited.json.code, 'RATE_LIMITED');
      assert.ok(Number(limited.headers.get('retry-after')) > 0);
    } finally {
      await t.server.close();
    }
  });
});
