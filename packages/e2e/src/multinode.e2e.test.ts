/**
 * Two real `parley serve` processes on one PostgreSQL and one Redis, behind nginx running the
 * documented example configuration (docs/deploy/nginx-parley.conf): people registered on
 * different nodes find each other and chat; then one node is killed with SIGKILL in the middle of
 * a conversation, its devices reconnect through nginx to the other node, and every message
 * arrives once, in order. Afterwards neither PostgreSQL nor Redis holds a phone number.
 * Needs PostgreSQL (127.0.0.1:5432), Redis (127.0.0.1:6379) and Debian's nginx: under CI=true a
 * missing one fails the run (.ci/run provides all three); elsewhere the suite skips, saying why.
 */

import * as assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type ChatMessage, FileStore, nodeSocket, ParleyClient } from '@parley/client/node';
import {
  createPostgresDatabase,
  deleteRedisKeys,
  dropPostgresDatabases,
  dumpPostgresDatabase,
  dumpRedisKeys,
  POSTGRES_ADMIN_URL,
  postgresReachable,
  REDIS_TEST_URL,
  redisReachable,
} from '@parley/server/testing';
import { ServerProcess } from './harness/server-process.js';
import { freePort } from './harness/services.js';
import { eventually, texts, until } from './harness/wait.js';

const NGINX = '/usr/sbin/nginx';
const EXAMPLE = fileURLToPath(new URL('../../../docs/deploy/nginx-parley.conf', import.meta.url));
const NUMBERS = {
  alice: '+14155550211',
  bob: '+14155550222',
  carol: '+14155550233',
  dave: '+14155550244',
};

const missing = [
  ...((await postgresReachable()) ? [] : [`PostgreSQL at ${POSTGRES_ADMIN_URL}`]),
  ...((await redisReachable()) ? [] : [`Redis at ${REDIS_TEST_URL}`]),
  ...(existsSync(NGINX) ? [] : [`nginx at ${NGINX} (Debian package nginx)`]),
];

if (missing.length > 0 && process.env.CI === 'true') {
  it('PostgreSQL, Redis and nginx are available (required under CI)', () => {
    assert.fail(`missing: ${missing.join(', ')}; .ci/run should provide them`);
  });
}

/** nginx in the foreground with the example site configuration, its ports replaced by ours. */
async function startNginx(nodes: string[]): Promise<{ url: string; process: ChildProcess }> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-nginx-'));
  // Worker processes run as an unprivileged user when nginx starts as root.
  chmodSync(dir, 0o777);
  const port = await freePort();
  let site = readFileSync(EXAMPLE, 'utf8');
  const ports = [...site.matchAll(/server 127\.0\.0\.1:(\d+)/g)].map((m) => m[1]!);
  assert.equal(ports.length, 2, 'the example names two nodes');
  nodes.forEach((node, i) => {
    site = site.replace(`127.0.0.1:${ports[i]}`, new URL(node).host);
  });
  assert.match(site, /listen 8080;/);
  site = site.replace('listen 8080;', `listen 127.0.0.1:${port};`);
  writeFileSync(join(dir, 'parley.conf'), site);
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  include ${dir}/parley.conf;
}
`,
  );
  let output = '';
  const child = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited:\n${output}`);
    try {
      if ((await fetch(new URL('/healthz', url))).ok) break;
    } catch {}
    if (i > 200) throw new Error(`nginx did not answer:\n${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url, process: child };
}

interface Device {
  client: ParleyClient;
  inbox: ChatMessage[];
  errors: string[];
}

describe('two nodes on one PostgreSQL and one Redis, behind nginx', {
  skip: missing.length > 0 ? `missing: ${missing.join(', ')}` : false,
  timeout: 300_000,
}, () => {
  const root = mkdtempSync(join(tmpdir(), 'parley-multinode-'));
  const prefix = `parley-multinode-${randomBytes(6).toString('hex')}:`;
  let databaseUrl: string;
  let a: ServerProcess;
  let b: ServerProcess;
  let nginx: { url: string; process: ChildProcess };
  const devices: Device[] = [];

  /** The code printed by whichever node handled the verification. */
  const codeFor = (verificationId: string) =>
    Promise.any([a, b].map((node) => node.codeFor(verificationId)));

  async function register(name: string, number: string, serverUrl: string): Promise<Device> {
    const client = await ParleyClient.open({
      serverUrl,
      store: new FileStore(join(root, name)),
      socket: nodeSocket,
    });
    const { verificationId } = await client.requestCode(number);
    await client.register({
      verificationId,
      code: await codeFor(verificationId),
      discoverable: true,
      presence: 'contacts',
      deviceName: name,
    });
    const device: Device = { client, inbox: [], errors: [] };
    client.messenger.on('message', (m) => device.inbox.push(m));
    client.messenger.on('error', (e) => device.errors.push(`${e.code}: ${e.message}`));
    await client.messenger.start();
    devices.push(device);
    return device;
  }

  async function connectionsOn(node: ServerProcess): Promise<number> {
    const response = await fetch(new URL('/metrics', node.url), {
      headers: { authorization: `Bearer ${node.adminToken()}` },
    });
    const text = await response.text();
    const match = /^parley_websocket_connections(?:\{[^}]*\})? (\d+)/m.exec(text);
    assert.ok(match, 'the connection gauge is exported');
    return Number(match[1]);
  }

  before(async () => {
    databaseUrl = await createPostgresDatabase();
    const env = {
      PARLEY_DATABASE_URL: databaseUrl,
      PARLEY_REDIS_URL: REDIS_TEST_URL,
      PARLEY_REDIS_PREFIX: prefix,
      PARLEY_TRUST_PROXY: '127.0.0.1',
      PARLEY_WEB_DIR: 'off',
      PARLEY_LOG_LEVEL: 'warn',
      PARLEY_OPRF_WORKERS: '1',
    };
    a = await ServerProcess.start(env);
    // The second node shares the first one's secrets, as docs/operations.md tells operators.
    b = await ServerProcess.startPeer(a, env);
    nginx = await startNginx([a.url, b.url]);
  });

  after(async () => {
    for (const d of devices) d.client.close();
    nginx?.process.kill('SIGTERM');
    await Promise.all([a?.stop(), b?.stop()]);
    await dropPostgresDatabases();
    assert.equal(await deleteRedisKeys(prefix), 0);
  });

  it('people on different nodes discover each other and chat', async () => {
    const alice = await register('alice', NUMBERS.alice, a.url);
    const bob = await register('bob', NUMBERS.bob, b.url);
    // Each finds the other through the directory, blinded, on their own node.
    const found = await alice.client.lookupNumber(NUMBERS.bob);
    assert.equal(found.status, 'on-parley');
    assert.equal(found.accountId, bob.client.account!.accountId);
    assert.equal(
      (await bob.client.lookupNumber(NUMBERS.alice)).accountId,
      alice.client.account!.accountId,
    );
    const conversation = await alice.client.messenger.createConversation([found.accountId!]);
    for (const text of ['hello from node A', 'still A']) {
      await alice.client.messenger.send(conversation.id, text);
    }
    await until('bob (node B) to get both', () => texts(bob.inbox, conversation.id).length >= 2);
    await bob.client.messenger.send(conversation.id, 'hello from node B');
    await until('alice (node A) to get the reply', () =>
      texts(alice.inbox, conversation.id).includes('hello from node B'),
    );
    assert.deepEqual(texts(bob.inbox, conversation.id), ['hello from node A', 'still A']);
    assert.deepEqual(texts(alice.inbox, conversation.id), ['hello from node B']);
    assert.deepEqual([...alice.errors, ...bob.errors], []);
  });

  it('a node killed mid-conversation: its devices move to the other, nothing lost or doubled', async () => {
    // Alice's and Bob's sockets are on A and B already: what Carol and Dave add is theirs.
    const [aliceAndBobOnA, aliceAndBobOnB] = [await connectionsOn(a), await connectionsOn(b)];
    const carol = await register('carol', NUMBERS.carol, nginx.url);
    const dave = await register('dave', NUMBERS.dave, nginx.url);
    const found = await carol.client.lookupNumber(NUMBERS.dave);
    const conversation = await carol.client.messenger.createConversation([found.accountId!]);
    await until('dave to join', async () =>
      (await dave.client.messenger.conversations()).some((c) => c.id === conversation.id),
    );
    // The node holding at least one of the two sockets is the one to kill.
    const onA = (await connectionsOn(a)) - aliceAndBobOnA;
    const onB = (await connectionsOn(b)) - aliceAndBobOnB;
    assert.ok(onA + onB >= 2, `both devices are connected (A ${onA}, B ${onB})`);
    const [victim, survivor] = onA > 0 ? [a, b] : [b, a];
    const sent: string[] = [];
    for (let i = 1; i <= 60; i++) {
      const text = `m${i}`;
      if (i === 21) await victim.stop('SIGKILL');
      await carol.client.messenger.send(conversation.id, text);
      sent.push(text);
    }
    await until(
      'dave to get all 60',
      () => texts(dave.inbox, conversation.id).length >= 60,
      60_000,
    );
    await new Promise((r) => setTimeout(r, 500)); // room for a duplicate to show up
    assert.deepEqual(texts(dave.inbox, conversation.id), sent);
    // Carol and Dave, and whichever of Alice and Bob was on the survivor already. The gauge follows
    // the sockets as the survivor notices them, so it is polled.
    await eventually('the connections on the survivor', () => connectionsOn(survivor), 3);
    assert.deepEqual([...carol.errors, ...dave.errors], []);
  });

  it('neither PostgreSQL nor Redis holds a phone number', async () => {
    const rows = await dumpPostgresDatabase(databaseUrl);
    const keys = await dumpRedisKeys(prefix);
    assert.ok(rows.length > 0 && keys.length > 0, 'there is something to look at');
    for (const number of Object.values(NUMBERS)) {
      for (const form of [number, number.slice(1), number.slice(2)]) {
        assert.deepEqual(
          rows.filter((r) => r.includes(form)),
          [],
          `PostgreSQL holds ${form}`,
        );
        assert.deepEqual(
          keys.filter((k) => k.includes(form)),
          [],
          `Redis holds ${form}`,
        );
      }
    }
  });
});
