/**
 * Two real `parley serve` processes on one Redis (PARLEY_REDIS_URL): the verification limit is
 * one budget over both nodes, and a verification requested on node A is confirmed on node B.
 * Storage is still SQLite per node, so the account lands in B's database only; sharing it is the
 * PostgreSQL work. Needs Redis at 127.0.0.1:6379: fails without it under CI=true, skips elsewhere.
 */

import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  deleteRedisKeys,
  dumpRedisKeys,
  REDIS_TEST_URL,
  redisReachable,
} from '@parley/server/testing';
import { ServerProcess } from './harness/server-process.js';

const reachable = await redisReachable();

if (!reachable && process.env.CI === 'true') {
  it('Redis at 127.0.0.1:6379 is reachable (required under CI)', () => {
    assert.fail('Redis is not reachable at 127.0.0.1:6379; .ci/run should have started it');
  });
}

async function post(base: string, path: string, body: unknown) {
  const response = await fetch(new URL(path, base), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('two server processes on one Redis', {
  skip: reachable ? false : 'no Redis at 127.0.0.1:6379',
  timeout: 120_000,
}, () => {
  const prefix = `parley-e2e-${randomBytes(6).toString('hex')}:`;
  const env = {
    PARLEY_REDIS_URL: REDIS_TEST_URL,
    PARLEY_REDIS_PREFIX: prefix,
    PARLEY_VERIFICATION_PER_IP: '4',
    PARLEY_WEB_DIR: 'off',
  };
  let a: ServerProcess;
  let b: ServerProcess;
  before(async () => {
    [a, b] = await Promise.all([ServerProcess.start(env), ServerProcess.start(env)]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    assert.equal(await deleteRedisKeys(prefix), 0);
  });

  it('both nodes are ready while Redis answers', async () => {
    for (const node of [a, b]) {
      const response = await fetch(new URL('/readyz', node.url));
      assert.equal(response.status, 200);
    }
  });

  it('a verification requested on A is confirmed on B, once', async () => {
    const number = '+14155550191';
    const started = await post(a.url, '/v1/verifications', { phoneNumber: number });
    assert.equal(started.status, 201);
    const verificationId = String(started.body.verificationId);
    const code = await a.codeFor(verificationId);
    const register = {
      verificationId,
      code,
      discoverable: false,
      presence: 'nobody',
      deviceName: 'e2e',
      // A fresh identity key (32 bytes): the server stores and relays it, it vouches for nothing.
      identityKey: randomBytes(32).toString('base64url'),
    };
    const confirmed = await post(b.url, '/v1/accounts', register);
    assert.equal(confirmed.status, 201, JSON.stringify(confirmed.body));
    assert.ok(confirmed.body.accountId);
    const again = await post(a.url, '/v1/accounts', register);
    assert.equal(again.body.code, 'VERIFICATION_NOT_FOUND');
    const dump = (await dumpRedisKeys(prefix)).join('\n');
    assert.ok(!dump.includes('4155550191') && !dump.includes('5550191'), 'a number in Redis');
  });

  it('the per-IP verification limit is one budget over both nodes', async () => {
    // 4 per window from this IP: one was spent above, on A. Spread the rest over both nodes.
    const answers = [];
    for (const [node, n] of [
      [b, 2],
      [a, 3],
      [b, 4],
      [a, 5],
    ] as const) {
      answers.push(await post(node.url, '/v1/verifications', { phoneNumber: `+1415555020${n}` }));
    }
    assert.deepEqual(
      answers.map((r) => r.status),
      [201, 201, 201, 429],
    );
    assert.equal(answers[3]!.body.code, 'VERIFICATION_RATE_LIMITED');
    const onB = await post(b.url, '/v1/verifications', { phoneNumber: '+14155550209' });
    assert.equal(onB.status, 429, 'B refuses too: the budget is shared');
  });
});
