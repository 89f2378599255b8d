/**
 * Wake-ups with two nodes of one cluster (one PostgreSQL, one bus): a device connected to one
 * node is not woken for a message stored through the other; a burst of messages stored through
 * both at once wakes it once (the claim is one conditional UPDATE, no lock); and each entry is
 * considered by the node that stored it only, so with the window passing between messages every
 * message gives exactly one wake-up, never one per node. Needs the PostgreSQL at 127.0.0.1:5432
 * (skipped without it, failed under CI); SQLite is one node and has no peers.
 */

import * as assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DeviceRef } from '@parley/core';
import { InProcessBus } from '../infra/bus/in-process.js';
import { deviceSocket, TestPushService, type TestServer, testCluster } from '../testing/index.js';
import {
  createPostgresDatabase,
  dropPostgresDatabases,
  POSTGRES_ADMIN_URL,
  postgresReachable,
} from '../testing/test-databases.js';

const reachable = await postgresReachable();
const WINDOW_SECONDS = 60;

describe('push wake-ups with two nodes', {
  skip: !reachable && process.env.CI !== 'true' ? `no PostgreSQL at ${POSTGRES_ADMIN_URL}` : false,
}, () => {
  let a: TestServer;
  let b: TestServer;
  let service: TestPushService;
  const bus = new InProcessBus();
  let now = Date.now();
  let groups = 0;

  before(async () => {
    assert.ok(
      reachable,
      `PostgreSQL is not reachable at ${POSTGRES_ADMIN_URL} (required under CI)`,
    );
    service = await TestPushService.start();
    [a, b] = await testCluster(
      await createPostgresDatabase(),
      {
        PARLEY_PUSH_ALLOW_HTTP_LOOPBACK: 'true',
        PARLEY_PUSH_COALESCE_SECONDS: String(WINDOW_SECONDS),
      },
      { clock: () => now, bus, push: { backoffMs: 20 } },
    );
    assert.equal(
      a.server.services.vapidKey.publicKey,
      b.server.services.vapidKey.publicKey,
      'the nodes share one VAPID key',
    );
  });
  after(async () => {
    await Promise.all([a?.server.close(), b?.server.close()]);
    await bus.close();
    await service?.close();
    await dropPostgresDatabases();
  });

  const ref = (d: DeviceRef) => ({ accountId: d.accountId, deviceId: d.deviceId });
  const idle = () => Promise.all([a.server.services.push.idle(), b.server.services.push.idle()]);

  async function pair(numbers: [string, string]) {
    const sender = ref(await a.register(numbers[0]));
    const recipientDevice = await b.register(numbers[1]);
    const recipient = ref(recipientDevice);
    const groupId = String.fromCharCode(80 + groups++).repeat(22);
    await a.server.services.groups.commit(sender, groupId, {
      epoch: 0,
      commit: 'AAAA',
      welcome: 'AAAA',
      add: [{ deviceId: recipient.deviceId, keyPackageId: `kp-${groupId}` }],
      remove: [],
    });
    await idle();
    const subscription = service.subscribe();
    const stored = await b.call('PUT', '/v1/device/push-subscription', {
      token: recipientDevice.credential,
      body: { endpoint: subscription.endpoint, keys: subscription.keys },
    });
    assert.equal(stored.status, 204);
    let n = 0;
    const send = (node: TestServer) => {
      n += 1;
      return node.server.services.mailbox.store(sender, {
        t: 'send',
        id: `${groupId.slice(0, 4)}${String(n).padStart(18, '0')}`,
        groupId,
        epoch: 1,
        payload: Buffer.from(`m${n}`).toString('base64url'),
      });
    };
    return { recipientDevice, subscription, send };
  }

  it('does not wake a device connected to the other node', async () => {
    const { recipientDevice, subscription, send } = await pair(['+14155550801', '+14155550802']);
    const socket = await deviceSocket(b.server.url, recipientDevice.credential);
    await socket.waitFor((f) => f.t === 'ready');
    await send(a);
    await socket.waitFor((f) => f.t === 'deliver' && f.kind === 'application');
    await idle();
    assert.equal(service.received.filter((p) => p.id === subscription.id).length, 0);
    socket.ws.close();
    await socket.closed;
  });

  it('wakes once for a burst stored through both nodes at once', async () => {
    const { subscription, send } = await pair(['+14155550811', '+14155550812']);
    await Promise.all(Array.from({ length: 40 }, (_, i) => send(i % 2 === 0 ? a : b)));
    await idle();
    assert.equal(service.received.filter((p) => p.id === subscription.id).length, 1);
  });

  it('pushes once per entry, never once per node', async () => {
    const { subscription, send } = await pair(['+14155550821', '+14155550822']);
    for (let i = 0; i < 6; i++) {
      now += (WINDOW_SECONDS + 1) * 1000;
      await send(i % 2 === 0 ? a : b);
      await idle();
    }
    assert.equal(service.received.filter((p) => p.id === subscription.id).length, 6);
    assert.deepEqual(service.rejected, []);
  });
});
