import * as assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openDatabase } from '../infra/db/database.js';
import { KeyStore } from '../infra/oprf/key-store.js';
import { testServer } from '../testing/index.js';
import { ConfigError, loadConfig } from './config.js';

describe('configuration', () => {
  it('has working defaults', () => {
    const config = loadConfig({}, 2);
    assert.equal(config.port, 8787);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.sms.provider, 'console');
    assert.equal(config.oprfWorkers, 2);
    assert.equal(config.oprfBackend, 'auto');
    assert.ok(config.dataDir.endsWith('/data'));
    assert.equal(config.messageTtlMs, 30 * 86_400_000, 'queued messages live 30 days');
    assert.equal(loadConfig({ PARLEY_MESSAGE_TTL_SECONDS: '60' }).messageTtlMs, 60_000);
    assert.equal(config.shutdownTimeoutMs, 10_000, 'a graceful shutdown gets 10 s');
    assert.equal(loadConfig({ PARLEY_SHUTDOWN_TIMEOUT_SECONDS: '3' }).shutdownTimeoutMs, 3_000);
  });

  it('serves the built web app unless told otherwise', () => {
    const web = loadConfig({}, 2).web;
    assert.ok(web !== 'off' && web.dir.endsWith('/apps/web/dist/') && !web.explicit);
    assert.equal(loadConfig({ PARLEY_WEB_DIR: 'off' }).web, 'off');
    const custom = loadConfig({ PARLEY_WEB_DIR: '/srv/parley-web' }).web;
    assert.deepEqual(custom, { dir: '/srv/parley-web', explicit: true });
  });

  const bad: [Record<string, string>, RegExp][] = [
    [{ PARLEY_PORT: 'eighty' }, /PARLEY_PORT must be an integer from 0 to 65535 \(got 'eighty'\)/],
    [{ PARLEY_PORT: '70000' }, /PARLEY_PORT/],
    [{ PARLEY_DISCOVERY_BUDGET: '-5' }, /PARLEY_DISCOVERY_BUDGET/],
    [{ PARLEY_LOG_LEVEL: 'loud' }, /PARLEY_LOG_LEVEL must be one of/],
    [{ PARLEY_SMS_PROVIDER: 'carrier-pigeon' }, /PARLEY_SMS_PROVIDER/],
    [{ PARLEY_SMS_PROVIDER: 'http' }, /PARLEY_SMS_HTTP_URL must be/],
    [{ PARLEY_SMS_PROVIDER: 'http', PARLEY_SMS_HTTP_URL: 'ftp://x' }, /PARLEY_SMS_HTTP_URL/],
    [{ PARLEY_PROT: '80' }, /Unknown setting PARLEY_PROT/],
    [{ PARLEY_HOST: 'a b' }, /PARLEY_HOST/],
    [{ PARLEY_MESSAGE_TTL_SECONDS: '0' }, /PARLEY_MESSAGE_TTL_SECONDS must be an integer from 1/],
    [
      { PARLEY_SHUTDOWN_TIMEOUT_SECONDS: '0' },
      /PARLEY_SHUTDOWN_TIMEOUT_SECONDS must be an integer from 1 to 600 \(got '0'\)/,
    ],
    [{ PARLEY_SHUTDOWN_TIMEOUT_SECONDS: 'soon' }, /PARLEY_SHUTDOWN_TIMEOUT_SECONDS/],
    [{ PARLEY_OPRF_BACKEND: 'gpu' }, /PARLEY_OPRF_BACKEND must be one of auto, native, wasm/],
    [{ PARLEY_REDIS_URL: 'localhost:6379' }, /PARLEY_REDIS_URL must be redis:\/\//],
    [{ PARLEY_REDIS_URL: 'http://127.0.0.1:6379' }, /PARLEY_REDIS_URL must be .*got http:/],
    [{ PARLEY_REDIS_PREFIX: 'p:' }, /PARLEY_REDIS_PREFIX needs PARLEY_REDIS_URL/],
    [
      { PARLEY_REDIS_URL: 'redis://127.0.0.1', PARLEY_REDIS_PREFIX: 'a b' },
      /PARLEY_REDIS_PREFIX must be 1 to 64/,
    ],
    [{ PARLEY_DATABASE_URL: 'mysql://db/parley' }, /PARLEY_DATABASE_URL must be postgres:\/\//],
    [{ PARLEY_DATABASE_URL: 'parley.sqlite' }, /PARLEY_DATABASE_URL must be .*got not a URL/],
    [{ PARLEY_TRUST_PROXY: 'nginx' }, /PARLEY_TRUST_PROXY must list .*got 'nginx'/],
    [{ PARLEY_TRUST_PROXY: '10.0.0.0/33' }, /PARLEY_TRUST_PROXY .*got '10.0.0.0\/33'/],
  ];
  for (const [env, message] of bad) {
    it(`refuses ${JSON.stringify(env)} with a clear message`, () => {
      assert.throws(
        () => loadConfig(env),
        (e: unknown) => e instanceof ConfigError && message.test(e.message),
      );
    });
  }

  it('accepts client settings in the same environment', () => {
    assert.doesNotThrow(() => loadConfig({ PARLEY_CLI_SERVER: 'http://x' }));
  });

  it('shares state in process unless PARLEY_REDIS_URL names a Redis', () => {
    assert.deepEqual(loadConfig({}).bus, { kind: 'in-process' });
    assert.deepEqual(loadConfig({ PARLEY_REDIS_URL: 'redis://:pw@10.0.0.7:6380/2' }).bus, {
      kind: 'redis',
      url: 'redis://:pw@10.0.0.7:6380/2',
      prefix: 'parley:',
    });
    const custom = loadConfig({ PARLEY_REDIS_URL: 'rediss://r', PARLEY_REDIS_PREFIX: 'eu1:' });
    assert.deepEqual(custom.bus, { kind: 'redis', url: 'rediss://r', prefix: 'eu1:' });
  });

  it('stores in SQLite under the data directory unless PARLEY_DATABASE_URL names a PostgreSQL', () => {
    assert.equal(loadConfig({}).storage.kind, 'sqlite');
    assert.deepEqual(
      loadConfig({ PARLEY_DATABASE_URL: 'postgresql://u:pw@db:5433/parley' }).storage,
      {
        kind: 'postgres',
        url: 'postgresql://u:pw@db:5433/parley',
      },
    );
    assert.throws(
      () => loadConfig({ PARLEY_DATABASE_URL: 'mysql://user:hunter2@db/x' }),
      (e: unknown) => e instanceof ConfigError && !e.message.includes('hunter2'),
    );
  });

  it('believes X-Forwarded-For only from the proxies PARLEY_TRUST_PROXY lists', () => {
    assert.deepEqual(loadConfig({}).trustProxy, []);
    assert.deepEqual(loadConfig({ PARLEY_TRUST_PROXY: '127.0.0.1, 10.0.0.0/8,::1' }).trustProxy, [
      '127.0.0.1',
      '10.0.0.0/8',
      '::1',
    ]);
  });

  it('never shows a Redis password in an error', () => {
    assert.throws(
      () => loadConfig({ PARLEY_REDIS_URL: 'http://user:hunter2@host:1' }),
      (e: unknown) => e instanceof ConfigError && !e.message.includes('hunter2'),
    );
  });
});

describe('OPRF keys from a file or the environment', () => {
  const secret = Buffer.alloc(32, 9).toString('base64');
  const keyJson = JSON.stringify({
    keys: [{ id: 'a1b2c3d4e5', secret, createdAt: '2026-11-01T00:00:00.000Z' }],
  });

  it('defaults to <data>/oprf-keys.json; PARLEY_OPRF_KEY_FILE or PARLEY_OPRF_KEYS, not both', () => {
    assert.deepEqual(loadConfig({ PARLEY_DATA_DIR: '/srv/parley' }).oprfKeys, {
      kind: 'file',
      path: '/srv/parley/oprf-keys.json',
    });
    assert.deepEqual(loadConfig({ PARLEY_OPRF_KEY_FILE: '/run/secrets/oprf' }).oprfKeys, {
      kind: 'file',
      path: '/run/secrets/oprf',
    });
    assert.equal(loadConfig({ PARLEY_OPRF_KEYS: keyJson }).oprfKeys.kind, 'env');
    assert.throws(
      () => loadConfig({ PARLEY_OPRF_KEY_FILE: '/x', PARLEY_OPRF_KEYS: keyJson }),
      (e: unknown) => e instanceof ConfigError && /not both/.test(e.message),
    );
  });

  it('refuses a key file others can read, and never quotes a key in an error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-keys-'));
    const path = join(dir, 'oprf-keys.json');
    writeFileSync(path, keyJson, { mode: 0o644 });
    chmodSync(path, 0o644);
    assert.throws(
      () => KeyStore.open({ kind: 'file', path }),
      (e: unknown) =>
        e instanceof ConfigError && /chmod 600/.test(e.message) && !e.message.includes(secret),
    );
    chmodSync(path, 0o600);
    assert.equal(KeyStore.open({ kind: 'file', path }).get('a1b2c3d4e5')?.secret, secret);
    const broken = `${keyJson.slice(0, -3)}`;
    assert.throws(
      () => KeyStore.open({ kind: 'env', json: broken }),
      (e: unknown) =>
        e instanceof ConfigError &&
        /PARLEY_OPRF_KEYS is not valid JSON/.test(e.message) &&
        !e.message.includes(secret.slice(0, 12)),
    );
    assert.throws(
      () => KeyStore.open({ kind: 'env', json: '{"keys":[]}' }),
      (e: unknown) => e instanceof ConfigError && /holds no key/.test(e.message),
    );
    // A key id that cannot name a table, a secret that is not 32 bytes: refused at start.
    for (const bad of [{ id: 'ABC' }, { secret: Buffer.alloc(16, 1).toString('base64') }]) {
      const json = JSON.stringify({ keys: [{ ...JSON.parse(keyJson).keys[0], ...bad }] });
      assert.throws(
        () => KeyStore.open({ kind: 'env', json }),
        (e: unknown) =>
          e instanceof ConfigError &&
          /malformed: expected .*10 hex digits/.test(e.message) &&
          !e.message.includes(secret),
      );
    }
  });

  it('an unreachable PostgreSQL stops the start with its host named, never its password', async () => {
    await assert.rejects(
      openDatabase({ kind: 'postgres', url: 'postgres://parley:hunter2@127.0.0.1:1/parley' }),
      (e: unknown) =>
        e instanceof Error &&
        /Cannot reach PostgreSQL at postgres:\/\/parley@127\.0\.0\.1:1\/parley/.test(e.message) &&
        /PARLEY_DATABASE_URL/.test(e.message) &&
        !e.message.includes('hunter2'),
    );
  });

  it('keys from the environment serve, and rotating them is refused with KEY_STORE_READ_ONLY', async () => {
    const t = await testServer({ PARLEY_OPRF_KEYS: keyJson });
    try {
      assert.equal(t.server.services.directory.currentKeyId, 'a1b2c3d4e5');
      const registered = await t.register('+14155550971');
      assert.ok(registered.accountId);
      const admin = readFileSync(join(t.config.dataDir, 'admin-token'), 'utf8').trim();
      const rotated = await t.call('POST', '/v1/admin/rotate-key', { token: admin });
      assert.equal(rotated.status, 409);
      assert.equal(rotated.json.code, 'KEY_STORE_READ_ONLY');
      assert.equal(
        existsSync(join(t.config.dataDir, 'oprf-keys.json')),
        false,
        'no key file written',
      );
    } finally {
      await t.server.close();
    }
  });
});
