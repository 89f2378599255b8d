/**
 * Faults, against real server processes and real services that the test itself breaks:
 * - a Redis outage and its return, with two nodes: messages sent meanwhile are stored, and reach
 *   the device on the other node once Redis is back (the nodes resync), once each, in order;
 * - a PostgreSQL restart: while it is down the node answers 503 / SERVICE_UNAVAILABLE, the SDK
 *   keeps the messages in its outbox and sends them again, and every one arrives once, in order.
 * Each runs its own Redis or PostgreSQL (testing/services.ts), never the shared ones. The node
 * - a full disk under SQLite (the data directory on a small tmpfs, mounted here: needs root):
 *   sends are refused as unavailable, nothing acknowledged is lost, and once space is freed the
 *   outbox goes out and every message arrives once, in order.
 * The node kill (SIGKILL) is in multinode.e2e.test.ts and messaging.e2e.test.ts. Under CI=true
 * missing services fail the run; elsewhere they skip.
 */

import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type ChatMessage, FileStore, nodeSocket, ParleyClient } from '@parley/client/node';
import {
  createPostgresDatabase,
  dropPostgresDatabases,
  POSTGRES_ADMIN_URL,
  postgresReachable,
} from '@parley/server/testing';
import { ServerProcess } from './harness/server-process.js';
import {
  PrivatePostgres,
  PrivateRedis,
  postgresInstalled,
  redisInstalled,
} from './harness/services.js';
import { reached, texts, until } from './harness/wait.js';

const missing = [
  ...(redisInstalled() ? [] : ['redis-server']),
  ...(postgresInstalled() ? [] : ['PostgreSQL binaries']),
  ...((await postgresReachable()) ? [] : [`PostgreSQL at ${POSTGRES_ADMIN_URL}`]),
];
if (missing.length > 0 && process.env.CI === 'true') {
  it('Redis and PostgreSQL are available (required under CI)', () => {
    assert.fail(`missing: ${missing.join(', ')}; .ci/run installs them`);
  });
}
const skip = missing.length > 0 ? `missing: ${missing.join(', ')}` : false;

interface Device {
  client: ParleyClient;
  inbox: ChatMessage[];
  errors: string[];
}

const readyz = async (node: ServerProcess) => (await fetch(new URL('/readyz', node.url))).status;

async function device(
  root: string,
  name: string,
  number: string,
  node: ServerProcess,
  codeFrom: ServerProcess[],
): Promise<Device> {
  const client = await ParleyClient.open({
    serverUrl: node.url,
    store: new FileStore(join(root, name)),
    socket: nodeSocket,
  });
  const { verificationId } = await client.requestCode(number);
  await client.register({
    verificationId,
    code: await Promise.any(codeFrom.map((n) => n.codeFor(verificationId))),
    discoverable: true,
    presence: 'nobody',
    deviceName: name,
  });
  const d: Device = { client, inbox: [], errors: [] };
  client.messenger.on('message', (m) => d.inbox.push(m));
  client.messenger.on('error', (e) => d.errors.push(`${e.code}: ${e.message}`));
  await client.messenger.start();
  return d;
}

/**
 * Alice (on `aliceOn`) and Bob (on `bobOn`) in a conversation, "before" already delivered; both
 * closed by `cleanup`.
 */
async function chatting(
  root: string,
  prefix: string,
  numbers: [string, string],
  [aliceOn, bobOn]: [ServerProcess, ServerProcess],
  cleanup: Array<() => unknown>,
) {
  const nodes = [...new Set([aliceOn, bobOn])];
  const alice = await device(root, `${prefix}-alice`, numbers[0], aliceOn, nodes);
  const bob = await device(root, `${prefix}-bob`, numbers[1], bobOn, nodes);
  cleanup.push(
    () => alice.client.close(),
    () => bob.client.close(),
  );
  const id = await converse(alice, bob);
  await alice.client.messenger.send(id, 'before');
  await until('bob to get "before"', () => texts(bob.inbox, id).length === 1);
  return { alice, bob, id };
}

/** A one-to-one conversation from `a` to `b`, open on both. */
async function converse(a: Device, b: Device): Promise<string> {
  const conversation = await a.client.messenger.createConversation([b.client.account!.accountId]);
  await until('the conversation to reach the other side', async () =>
    (await b.client.messenger.conversations()).some((c) => c.id === conversation.id),
  );
  return conversation.id;
}

describe('faults', { skip, timeout: 300_000 }, () => {
  const root = mkdtempSync(join(tmpdir(), 'parley-faults-'));
  const cleanup: Array<() => Promise<unknown> | unknown> = [];
  after(async () => {
    for (const step of cleanup.reverse()) await step();
  });

  it('Redis goes down and comes back: nothing stored meanwhile is lost or doubled', async () => {
    const redis = await PrivateRedis.start();
    cleanup.push(() => redis.kill());
    const env = {
      PARLEY_DATABASE_URL: await createPostgresDatabase(),
      PARLEY_REDIS_URL: redis.url,
      PARLEY_REDIS_PREFIX: `faults-${randomBytes(4).toString('hex')}:`,
      PARLEY_WEB_DIR: 'off',
      PARLEY_LOG_LEVEL: 'warn',
      PARLEY_OPRF_WORKERS: '1',
    };
    cleanup.push(() => dropPostgresDatabases());
    const a = await ServerProcess.start(env);
    cleanup.push(() => a.stop());
    const b = await ServerProcess.startPeer(a, env);
    cleanup.push(() => b.stop());
    const { alice, bob, id } = await chatting(
      root,
      'r',
      ['+14155550611', '+14155550622'],
      [a, b],
      cleanup,
    );

    await redis.kill();
    await until(
      'both nodes to report not ready',
      async () => (await readyz(a)) === 503 && (await readyz(b)) === 503,
    );
    const during = ['during 1', 'during 2', 'during 3'];
    // Stored in PostgreSQL and acknowledged, though no node can tell the other ('stored' at least:
    // a status only moves on, stored → delivered → read, and it is not ours to time).
    for (const text of during) {
      const m = await alice.client.messenger.send(id, text);
      assert.ok(reached(m.status, 'stored'), m.status);
    }
    await redis.start();
    await until(
      'both nodes ready again',
      async () => (await readyz(a)) === 200 && (await readyz(b)) === 200,
    );
    await until(
      'bob to get what was sent during the outage',
      () => texts(bob.inbox, id).length >= 4,
    );
    await alice.client.messenger.send(id, 'after');
    await until('bob to get "after"', () => texts(bob.inbox, id).length >= 5);
    await new Promise((r) => setTimeout(r, 300)); // room for a duplicate
    assert.deepEqual(texts(bob.inbox, id), ['before', ...during, 'after']);
    assert.deepEqual([...alice.errors, ...bob.errors], []);
  });

  it('PostgreSQL restarts: sends wait in the outbox and arrive once, in order', async () => {
    const pg = await PrivatePostgres.start();
    cleanup.push(() => pg.stop());
    const node = await ServerProcess.start({
      PARLEY_DATABASE_URL: pg.url(),
      PARLEY_WEB_DIR: 'off',
      PARLEY_LOG_LEVEL: 'error',
      PARLEY_OPRF_WORKERS: '1',
    });
    cleanup.push(() => node.stop());
    const { alice, bob, id } = await chatting(
      root,
      'p',
      ['+14155550711', '+14155550722'],
      [node, node],
      cleanup,
    );

    await pg.stop();
    assert.equal(await readyz(node), 503, 'not ready while the database is down');
    const answer = await fetch(new URL('/v1/account', node.url), {
      headers: { authorization: `Bearer ${alice.client.account!.credential}` },
    });
    assert.equal(answer.status, 503);
    assert.equal(((await answer.json()) as { code: string }).code, 'SERVICE_UNAVAILABLE');
    assert.ok(Number(answer.headers.get('retry-after')) >= 1, 'with Retry-After');
    // Sent while the database is down: each send is refused as unavailable, kept, and resent.
    const during = ['during 1', 'during 2'];
    const sending = during.map((text) => alice.client.messenger.send(id, text));
    await new Promise((r) => setTimeout(r, 1_500));
    await pg.start();
    const sent = await Promise.all(sending);
    // Stored at least: Bob is on the same node, and his receipts may already have come back.
    assert.ok(
      sent.every((m) => reached(m.status, 'stored')),
      sent.map((m) => m.status).join(),
    );
    await until('bob to get everything', () => texts(bob.inbox, id).length >= 3, 60_000);
    assert.equal(await readyz(node), 200);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(texts(bob.inbox, id), ['before', ...during]);
    assert.deepEqual(alice.errors, []);
    assert.ok(node.exitCode === null, 'the node kept running');
  });

  it('the disk fills up under SQLite: refused as unavailable, nothing lost, recovers', {
    skip:
      process.getuid?.() !== 0 && process.env.CI !== 'true' ? 'mounting a tmpfs needs root' : false,
  }, async () => {
    const mount = mkdtempSync(join(tmpdir(), 'parley-full-'));
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', mount]);
    assert.equal(mounted.status, 0, `mount a tmpfs: ${mounted.stderr}`);
    cleanup.push(() => spawnSync('umount', ['-l', mount]));
    const node = await ServerProcess.start(
      { PARLEY_WEB_DIR: 'off', PARLEY_LOG_LEVEL: 'warn', PARLEY_OPRF_WORKERS: '1' },
      mount,
    );
    cleanup.push(() => node.stop());
    const { alice, bob, id } = await chatting(
      root,
      'd',
      ['+14155550811', '+14155550822'],
      [node, node],
      cleanup,
    );

    // Fill the file system to the last few kilobytes.
    const filler = join(mount, 'filler');
    const { bavail, bsize } = statfsSync(mount);
    writeFileSync(filler, Buffer.alloc(Math.max(0, bavail * bsize - 8 * 1024)));
    bob.client.messenger.stop(); // so Bob's acknowledgements do not free anything meanwhile
    const during = Array.from({ length: 12 }, (_, i) => `during ${i + 1} ${'x'.repeat(2000)}`);
    const sending = Promise.allSettled(during.map((text) => alice.client.messenger.send(id, text)));
    // Some may fit in the last kilobytes; the rest are refused and wait in the outbox.
    await until('a send to be refused for lack of space', () =>
      /storage unavailable|SQLITE_FULL|disk is full/i.test(node.output),
    );
    assert.equal(node.exitCode, null, 'the node keeps running');
    rmSync(filler);
    const sent = await sending;
    assert.ok(
      sent.every((r) => r.status === 'fulfilled' && reached(r.value.status, 'stored')),
      `every send stored in the end:\n${JSON.stringify(sent)}\n${node.output}`,
    );
    await bob.client.messenger.start();
    await until('bob to get everything', () => texts(bob.inbox, id).length >= 13, 60_000);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(texts(bob.inbox, id), ['before', ...during]);
    assert.deepEqual(alice.errors, []);
  });
});
