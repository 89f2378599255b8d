/**
 * The storage suite on PostgreSQL: the server's test files that exercise storage (HTTP API,
 * directory and key rotation, deltas, account deletion, device queues and batched
 * acknowledgements, KeyPackages, metrics, isolation between accounts, signing devices out, identity
 * keys and certificates, registering a number again, linking devices, the presence allow-list,
 * attachments, profiles, blocks and reports, the HTTP and WebSocket fuzzing, and push
 * subscriptions and wake-ups) run here a second time, every test server on a fresh PostgreSQL
 * database at 127.0.0.1:5432 (.ci/run starts it). Same cases, both databases. Under CI=true an unreachable PostgreSQL fails the run;
 * elsewhere the suite skips, saying why.
 */

import * as assert from 'node:assert/strict';
import { after, it } from 'node:test';
import {
  dropPostgresDatabases,
  POSTGRES_ADMIN_URL,
  postgresReachable,
} from '../../testing/test-databases.js';

const reachable = await postgresReachable();

if (reachable) {
  process.env.PARLEY_TEST_STORAGE = 'postgres';
  after(() => dropPostgresDatabases());
  await import('../../http/app.test.js');
  await import('../../directory/directory.test.js');
  await import('../../directory/delta.test.js');
  await import('../../identity/account-deletion.test.js');
  await import('../../messaging/mailbox.test.js');
  await import('../../messaging/mailbox-acks.test.js');
  await import('../../messaging/key-packages.test.js');
  await import('../../discovery/presence-allow-list.test.js');
  await import('../../messaging/people.test.js');
  await import('../metrics/metrics.test.js');
  await import('../../http/isolation.test.js');
  await import('../../identity/devices.test.js');
  await import('../../identity/identity-keys.test.js');
  await import('../../identity/registration.test.js');
  await import('../../identity/linking.test.js');
  await import('../../http/http.fuzz.test.js');
  await import('../../realtime/socket.fuzz.test.js');
  await import('../../messaging/attachments.test.js');
  await import('../../push/push.test.js');
} else if (process.env.CI === 'true') {
  it('PostgreSQL is reachable (required under CI)', () => {
    assert.fail(`PostgreSQL is not reachable at ${POSTGRES_ADMIN_URL}; .ci/run should start it`);
  });
} else {
  it('the storage suite on PostgreSQL', {
    skip: `no PostgreSQL at ${POSTGRES_ADMIN_URL}`,
  }, () => {});
}
