/**
 * Web Push wake-ups, against the local push service of testing/push-service.ts (which checks the
 * VAPID JWT and decrypts every body with code of its own): the VAPID key and its file, storing a
 * subscription (and the typed errors for a bad one), exactly one wake-up per coalescing window
 * for a device that is offline and none for a connected one, nothing in a push that names the
 * sender, the account, the number or the text, subscriptions dropped on 404/410 and no push
 * after, and retries on 429 (after its Retry-After) and 5xx. Runs on SQLite here and on
 * PostgreSQL in storage.postgres.test.ts.
 */

import * as assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { type DeviceRef, PUSH_TOPIC, PUSH_WAKE_PAYLOAD } from '@parley/core';
import { deviceSocket, TestPushService, type TestServer, testServer } from '../testing/index.js';
import { checkEndpoint } from './subscriptions.js';
import { vapidKeyPath } from './vapid-key.js';

const WINDOW_SECONDS = 60;

describe('push wake-ups', () => {
  let t: TestServer;
  let service: TestPushService;
  /** The server's clock: the coalescing window passes when the test moves it. */
  let now = Date.now();
  let groupCount = 0;

  before(async () => {
    service = await TestPushService.start();
    t = await testServer(
      {
        PARLEY_PUSH_ALLOW_HTTP_LOOPBACK: 'true',
        PARLEY_PUSH_COALESCE_SECONDS: String(WINDOW_SECONDS),
        PARLEY_PUSH_TTL_SECONDS: '3600',
        PARLEY_PUSH_URGENCY: 'high',
      },
      { clock: () => now, push: { backoffMs: 20 } },
    );
  });
  after(async () => {
    await t?.server.close();
    await service?.close();
  });

  const ref = (d: DeviceRef) => ({ accountId: d.accountId, deviceId: d.deviceId });

  /** A sender and a recipient in a group of their own; the recipient subscribed to `service`. */
  async function pair(numbers: [string, string]) {
    const senderDevice = await t.register(numbers[0]);
    const recipientDevice = await t.register(numbers[1]);
    const sender = ref(senderDevice);
    const recipient = ref(recipientDevice);
    const groupId = String.fromCharCode(65 + groupCount++).repeat(22);
    await t.server.services.groups.commit(sender, groupId, {
      epoch: 0,
      commit: 'AAAA',
      welcome: 'AAAA',
      add: [{ deviceId: recipient.deviceId, keyPackageId: `kp-${groupId}` }],
      remove: [],
    });
    await t.server.services.push.idle();
    const subscription = service.subscribe();
    const stored = await t.call('PUT', '/v1/device/push-subscription', {
      token: recipientDevice.credential,
      body: { endpoint: subscription.endpoint, keys: subscription.keys },
    });
    assert.equal(stored.status, 204, JSON.stringify(stored.json));
    let n = 0;
    const send = async (text = `hello ${n}`) => {
      n += 1;
      await t.server.services.mailbox.store(sender, {
        t: 'send',
        id: `${groupId.slice(0, 4)}${String(n).padStart(18, '0')}`,
        groupId,
        epoch: 1,
        payload: Buffer.from(text).toString('base64url'),
      });
      // Every wake-up decided for what was stored has been sent (or refused) by now.
      await t.server.services.push.idle();
    };
    return { senderDevice, recipientDevice, sender, recipient, subscription, send };
  }

  it('creates the VAPID key once, owner-only, and serves its public half', async () => {
    const path = vapidKeyPath(t.config.dataDir);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const stored = readFileSync(path, 'utf8').trim();
    assert.match(stored, /^[A-Za-z0-9_-]{43}$/);
    const answer = await t.call('GET', '/v1/push/vapid-key');
    assert.equal(answer.status, 200);
    const publicKey = answer.json.publicKey as string;
    assert.equal(Buffer.from(publicKey, 'base64url').length, 65);
    assert.equal(publicKey, t.server.services.vapidKey.publicKey);
    // A second server on the same data directory keeps the key (subscriptions stay valid).
    const again = await testServer({ PARLEY_DATA_DIR: t.config.dataDir, PARLEY_WEB_DIR: 'off' });
    try {
      assert.equal(again.server.services.vapidKey.publicKey, publicKey);
    } finally {
      await again.server.close();
    }
  });

  it('refuses a bad subscription with a typed error, and needs a credential', async () => {
    const device = await t.register('+14155550701');
    const good = service.subscribe();
    const put = (body: unknown, token: string | null = device.credential) =>
      t.call('PUT', '/v1/device/push-subscription', { token: token ?? undefined, body });
    const cases: Array<[unknown, string]> = [
      [{ endpoint: 'http://push.example.com/x', keys: good.keys }, 'PUSH_ENDPOINT_INVALID'],
      [{ endpoint: 'https://10.0.0.1/x', keys: good.keys }, 'PUSH_ENDPOINT_INVALID'],
      [{ endpoint: 'https://u:p@push.example.com/x', keys: good.keys }, 'PUSH_ENDPOINT_INVALID'],
      [{ endpoint: 'not a url', keys: good.keys }, 'PUSH_ENDPOINT_INVALID'],
      [{ endpoint: good.endpoint, keys: { ...good.keys, auth: 'AAAA' } }, 'PUSH_KEYS_INVALID'],
      [
        // 65 bytes starting 0x04, but not a point of the curve.
        { endpoint: good.endpoint, keys: { ...good.keys, p256dh: `BA${'A'.repeat(85)}` } },
        'PUSH_KEYS_INVALID',
      ],
      [
        { endpoint: good.endpoint, keys: { ...good.keys, p256dh: good.keys.auth } },
        'PUSH_KEYS_INVALID',
      ],
      [{ endpoint: good.endpoint }, 'VALIDATION_FAILED'],
    ];
    for (const [body, code] of cases) {
      const answer = await put(body);
      assert.equal(answer.status, 400, JSON.stringify(body));
      assert.equal(answer.json.code, code, JSON.stringify(body));
    }
    assert.equal((await put({ endpoint: good.endpoint, keys: good.keys }, null)).status, 401);
    assert.equal((await put({ endpoint: good.endpoint, keys: good.keys })).status, 204);
    const stored = await t.server.services.push.subscriptions.get(device.deviceId);
    assert.equal(stored?.endpoint, good.endpoint);
    const removed = await t.call('DELETE', '/v1/device/push-subscription', {
      token: device.credential,
    });
    assert.equal(removed.status, 204);
    assert.equal(await t.server.services.push.subscriptions.get(device.deviceId), undefined);
  });

  it('accepts https push hosts, and http to loopback only when the operator allows it', () => {
    assert.equal(
      checkEndpoint('https://fcm.googleapis.com/fcm/send/abc', false),
      'https://fcm.googleapis.com/fcm/send/abc',
    );
    assert.throws(() => checkEndpoint('http://127.0.0.1:9/push/x', false), {
      code: 'PUSH_ENDPOINT_INVALID',
    });
    assert.throws(() => checkEndpoint('https://localhost/push/x', false), {
      code: 'PUSH_ENDPOINT_INVALID',
    });
    assert.equal(checkEndpoint('http://127.0.0.1:9/push/x', true), 'http://127.0.0.1:9/push/x');
    assert.throws(() => checkEndpoint('http://192.168.1.2/push/x', true), {
      code: 'PUSH_ENDPOINT_INVALID',
    });
  });

  it('wakes an offline device once per coalescing window, with nothing about who or what', async () => {
    const { senderDevice, recipientDevice, subscription, send } = await pair([
      '+14155550711',
      '+14155550712',
    ]);
    const secretText = 'meet me at the watermelon stand';
    for (let i = 0; i < 5; i++) await send(secretText);
    assert.equal(service.deliveredTo(subscription.id).length, 1, 'one wake-up for five messages');
    const [push] = service.deliveredTo(subscription.id);
    assert.equal(push!.plaintext, PUSH_WAKE_PAYLOAD);
    assert.equal(push!.vapidKey, t.server.services.vapidKey.publicKey);
    assert.equal(push!.headers.ttl, '3600');
    assert.equal(push!.headers.urgency, 'high');
    assert.equal(push!.headers.topic, PUSH_TOPIC);
    // Nothing in the request names the sender, the recipient, their numbers or the text.
    const visible = JSON.stringify(push!.headers) + push!.body.toString('latin1') + push!.plaintext;
    for (const secret of [
      senderDevice.accountId,
      senderDevice.deviceId,
      recipientDevice.accountId,
      recipientDevice.deviceId,
      '14155550711',
      '14155550712',
      secretText,
      Buffer.from(secretText).toString('base64url'),
      'watermelon',
    ]) {
      assert.ok(!visible.includes(secret), `the push shows ${secret}`);
    }
    // The window passes: the next message wakes the device again, once.
    now += (WINDOW_SECONDS + 1) * 1000;
    await send();
    await send();
    assert.equal(service.deliveredTo(subscription.id).length, 2);
    assert.deepEqual(service.rejected, [], 'every push passed the VAPID and RFC 8291 checks');
  });

  it('does not wake a connected device; after it has been connected, the next message wakes it at once', async () => {
    const { recipientDevice, subscription, send } = await pair(['+14155550721', '+14155550722']);
    await send();
    assert.equal(service.deliveredTo(subscription.id).length, 1);
    const socket = await deviceSocket(t.server.url, recipientDevice.credential);
    await socket.waitFor((f) => f.t === 'ready');
    await send('while connected');
    await socket.waitFor((f) => f.t === 'deliver' && f.kind === 'application' && f.seq > 2);
    assert.equal(service.deliveredTo(subscription.id).length, 1, 'no wake-up while connected');
    socket.ws.close();
    await socket.closed;
    const hub = t.server.services.hub;
    for (let i = 0; (await hub.unconnected([recipientDevice.deviceId])).length === 0; i++) {
      assert.ok(i < 200, 'the socket was never detached');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    // Within the window still, but the device has read its queue since the last wake-up.
    await send('after it left');
    assert.equal(service.deliveredTo(subscription.id).length, 2);
  });

  for (const status of [410, 404]) {
    it(`drops a subscription its push service answers ${status}, and pushes to it no more`, async () => {
      const { recipient, subscription, send } = await pair(
        status === 410 ? ['+14155550731', '+14155550732'] : ['+14155550733', '+14155550734'],
      );
      service.script(subscription.id, { status });
      await send();
      assert.equal(service.received.filter((p) => p.id === subscription.id).length, 1);
      assert.equal(await t.server.services.push.subscriptions.get(recipient.deviceId), undefined);
      now += (WINDOW_SECONDS + 1) * 1000;
      await send();
      assert.equal(
        service.received.filter((p) => p.id === subscription.id).length,
        1,
        `nothing after ${status}`,
      );
    });
  }

  it('retries after 429 (waiting out its Retry-After) and after 5xx', async () => {
    const { recipient, subscription, send } = await pair(['+14155550741', '+14155550742']);
    const before = Date.now();
    service.script(subscription.id, { status: 429, retryAfter: '1' }, { status: 503 });
    await send();
    const tries = service.received.filter((p) => p.id === subscription.id);
    assert.deepEqual(
      tries.map((p) => p.status),
      [429, 503, 201],
    );
    assert.ok(Date.now() - before >= 1000, 'the retry waited for Retry-After');
    assert.ok(await t.server.services.push.subscriptions.get(recipient.deviceId), 'kept');
    // A push service that keeps failing is given up on after the configured attempts.
    now += (WINDOW_SECONDS + 1) * 1000;
    service.script(
      subscription.id,
      ...Array.from({ length: t.config.push.attempts }, () => ({ status: 500 })),
    );
    const failed = t.server.services.push.stats.failed;
    await send();
    assert.equal(t.server.services.push.stats.failed, failed + 1);
    assert.equal(service.deliveredTo(subscription.id).length, 1);
  });
});
