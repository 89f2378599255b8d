/**
 * The shared bus cases on a real Redis at 127.0.0.1:6379 (.ci/run starts one), as two nodes: two
 * separate connections. Each run uses its own random key prefix and deletes its keys afterwards.
 * Under CI=true an unreachable Redis fails the run; elsewhere these tests skip, saying why.
 */

import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { VerificationService } from '../../identity/verification.js';
import { busCases } from '../../testing/bus-cases.js';
import { InboxSmsProvider } from '../../testing/index.js';
import {
  deleteRedisKeys,
  dumpRedisKeys,
  REDIS_TEST_URL,
  redisReachable,
} from '../../testing/redis-testing.js';
import { RedisBus } from './redis.js';

const reachable = await redisReachable();
const ci = process.env.CI === 'true';

if (!reachable && ci) {
  it('Redis at 127.0.0.1:6379 is reachable (required under CI)', () => {
    assert.fail('Redis is not reachable at 127.0.0.1:6379; .ci/run should have started it');
  });
}

describe('Redis bus', { skip: reachable ? false : 'no Redis at 127.0.0.1:6379' }, () => {
  const prefix = `parley-test-${randomBytes(6).toString('hex')}:`;
  let a: RedisBus;
  let b: RedisBus;
  before(async () => {
    a = await RedisBus.open(REDIS_TEST_URL, prefix);
    b = await RedisBus.open(REDIS_TEST_URL, prefix);
  });
  after(async () => {
    await a?.close();
    await b?.close();
    const left = await deleteRedisKeys(prefix);
    assert.equal(left, 0);
  });
  busCases(() => ({ a, b }));

  it('keys carry the prefix, and a session key does not show the session id', async () => {
    await a.sessions.create('visible-id', 'x', 60_000);
    const { Redis } = await import('ioredis');
    const redis = new Redis(REDIS_TEST_URL);
    try {
      const keys = await redis.keys(`${prefix}*`);
      assert.ok(keys.length > 0);
      assert.ok(keys.every((k) => !k.includes('visible-id')));
      assert.equal((await redis.keys('*visible-id*')).length, 0);
    } finally {
      redis.disconnect();
    }
  });

  it('Redis holds no form of a phone number during a verification', async () => {
    const config = {
      codeTtlMs: 60_000,
      maxAttempts: 3,
      perNumber: 5,
      perNumberTotal: 60,
      perIp: 5,
      perPrefix: 50,
      windowMs: 60_000,
    };
    const service = new VerificationService(config, new InboxSmsProvider(), Date.now, {
      bus: a,
      limiterKey: randomBytes(32),
    });
    await service.start('+14155550123', '10.1.2.3');
    const dump = (await dumpRedisKeys(prefix)).join('\n');
    assert.match(dump, /session:/, 'the session is there');
    assert.match(dump, /10\.1\.2\.3/, 'the dump shows stored content (the IP bucket)');
    for (const form of ['4155550123', '415555', '5550123', 'KzE0MTU1NTUwMTIz']) {
      assert.ok(!dump.includes(form), `found ${form} in Redis`);
    }
  });

  it('an unreachable Redis is refused at open with an error naming the host', async () => {
    await assert.rejects(RedisBus.open('redis://user:secret@127.0.0.1:1', prefix), (e: unknown) => {
      assert.ok(e instanceof Error);
      assert.match(e.message, /127\.0\.0\.1:1 .*not reachable/);
      assert.doesNotMatch(e.message, /secret/);
      return true;
    });
  });
});
