/**
 * A single node's rate limits survive a restart (issue 17): `parley serve` on SQLite with the
 * in-process bus, stopped and started again on the same data directory, still refuses a number
 * that had used up its codes; the limiter's key is kept in an owner-only file, not drawn anew.
 */

import * as assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ServerProcess } from './harness/server-process.js';

const ENV = { PARLEY_WEB_DIR: 'off', PARLEY_VERIFICATION_PER_NUMBER: '2' };

describe('rate limits across a restart', { timeout: 60_000 }, () => {
  let server: ServerProcess | undefined;
  after(() => server?.stop());

  async function ask(phoneNumber: string) {
    const response = await fetch(new URL('/v1/verifications', server!.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ phoneNumber }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  it('a number refused before a restart is still refused after it', async () => {
    const number = '+14155550142';
    server = await ServerProcess.start(ENV);
    const dataDir = server.dataDir;
    assert.equal((await ask(number)).status, 201);
    assert.equal((await ask(number)).status, 201);
    const refused = await ask(number);
    assert.equal(refused.status, 429);
    assert.equal(refused.body.code, 'VERIFICATION_RATE_LIMITED');
    const keyPath = join(dataDir, 'limiter-key');
    const key = readFileSync(keyPath, 'utf8');
    await server.stop();

    server = await ServerProcess.start(ENV, dataDir);
    const again = await ask(number);
    assert.equal(again.status, 429, JSON.stringify(again.body));
    assert.equal(again.body.code, 'VERIFICATION_RATE_LIMITED');
    // The CLI says how long, as a person would (issue 17: not "retry in 1193 s").
    const cli = await server.cli([
      'register',
      number,
      '--discoverable',
      'no',
      '--presence',
      'nobody',
      '--state',
      join(dataDir, 'cli-state'),
    ]);
    assert.equal(cli.code, 1, cli.stderr);
    assert.match(cli.stderr, /VERIFICATION_RATE_LIMITED: .*\(try again in about \d+ minutes\)/);
    // Another number is not held back by it.
    assert.equal((await ask('+14155550143')).status, 201);

    assert.equal(readFileSync(keyPath, 'utf8'), key, 'the limiter key is kept, not drawn anew');
    assert.equal(statSync(keyPath).mode & 0o777, 0o600);
    const statePath = join(dataDir, 'rate-limits.json');
    assert.equal(statSync(statePath).mode & 0o777, 0o600);
    const state = readFileSync(statePath, 'utf8');
    assert.ok(!state.includes('127.0.0.1') && !state.includes('4155550142'), 'keys are HMACs');
  });
});
