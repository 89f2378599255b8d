/**
 * A server on a Redis of its own (a private redis-server on a free port, started and killed
 * here): ready while Redis answers, 503 while it is down, ready again when it is back, and alive
 * throughout. A Redis that is not there at start stops the start. Needs the redis-server binary:
 * fails without it under CI=true, skips elsewhere.
 */

import * as assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../../config/config.js';
import { startServer } from '../../server.js';
import { testServer } from '../../testing/index.js';

const hasRedis = spawnSync('redis-server', ['--version']).status === 0;

if (!hasRedis && process.env.CI === 'true') {
  it('redis-server is installed (required under CI)', () => {
    assert.fail('redis-server is missing; .ci/run installs it');
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function startRedis(port: number): ChildProcess {
  return spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
}

async function stopRedis(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

describe('readiness on Redis', { skip: hasRedis ? false : 'no redis-server binary' }, () => {
  const children: ChildProcess[] = [];
  after(async () => {
    for (const child of children) await stopRedis(child);
  });

  it('/readyz follows Redis: 503 while it is down, ready again when it is back', async () => {
    const port = await freePort();
    let redis = startRedis(port);
    children.push(redis);
    const url = `redis://127.0.0.1:${port}`;
    let server: Awaited<ReturnType<typeof testServer>> | undefined;
    for (let i = 0; !server; i++) {
      try {
        server = await testServer({ PARLEY_REDIS_URL: url });
      } catch (error) {
        if (i > 50) throw error; // redis-server still starting
        await sleep(100);
      }
    }
    try {
      assert.equal((await server.call('GET', '/readyz')).status, 200);
      await stopRedis(redis);
      const down = await server.call('GET', '/readyz');
      assert.equal(down.status, 503);
      assert.equal(down.json.message, 'Redis unavailable');
      // Requests that need the bus fail, but the server stays up.
      const refused = await server.call('POST', '/v1/verifications', {
        body: { phoneNumber: '+14155550142' },
      });
      assert.equal(refused.status, 503);
      assert.equal(refused.json.code, 'SERVICE_UNAVAILABLE');
      assert.equal((await server.call('GET', '/healthz')).status, 200);
      redis = startRedis(port);
      children.push(redis);
      for (let i = 0; (await server.call('GET', '/readyz')).status !== 200; i++) {
        assert.ok(i < 100, 'not ready again within 20 s of Redis coming back');
        await sleep(200);
      }
    } finally {
      await server.server.close();
    }
  });

  it('an unreachable Redis at start stops the server with a message naming it', async () => {
    const port = await freePort();
    const config = loadConfig({
      PARLEY_PORT: '0',
      PARLEY_DATA_DIR: mkdtempSync(join(tmpdir(), 'parley-redis-down-')),
      PARLEY_LOG_LEVEL: 'silent',
      PARLEY_OPRF_WORKERS: '1',
      PARLEY_REDIS_URL: `redis://:pw@127.0.0.1:${port}`,
    });
    await assert.rejects(startServer(config), (e: unknown) => {
      assert.ok(e instanceof Error);
      assert.match(e.message, new RegExp(`Redis at 127\\.0\\.0\\.1:${port} .*not reachable`));
      assert.doesNotMatch(e.message, /pw/);
      return true;
    });
  });
});
