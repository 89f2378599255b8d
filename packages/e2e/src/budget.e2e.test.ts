/**
 * The discovery budget against a real server process: a client that tries to evaluate more than
 * its leaky bucket allows is stopped with 429 DISCOVERY_BUDGET_EXHAUSTED, told how much is left
 * and when to retry, and nothing it was refused is evaluated.
 */

import * as assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MemoryStore, ParleyClient, ParleyError } from '@parley/client';
import { ServerProcess } from './harness/server-process.js';

function numbers(count: number, offset: number): string[] {
  return Array.from({ length: count }, (_, i) => `+1212${String(2000000 + offset + i)}`);
}

describe('discovery budget (real server process)', () => {
  let server: ServerProcess;
  let client: ParleyClient;
  let store: MemoryStore;

  before(async () => {
    // 50 evaluations at once, draining at 3,600 per hour (one per second).
    server = await ServerProcess.start({
      PARLEY_DISCOVERY_BUDGET: '50',
      PARLEY_DISCOVERY_REFILL_PER_HOUR: '3600',
    });
    store = new MemoryStore();
    client = await ParleyClient.open({ serverUrl: server.url, store });
    const { verificationId } = await client.requestCode('+14152223399');
    await client.register({
      verificationId,
      code: await server.codeFor(verificationId),
      discoverable: true,
      presence: 'nobody',
      deviceName: 'scraper',
    });
    await client.consent.grant();
  });
  after(() => server?.stop());

  it('allows evaluations within the budget and reports what is left', async () => {
    for (const n of numbers(40, 0)) await client.contacts.add('c', n);
    const { report } = await client.discover();
    assert.equal(report.stats.evaluated, 40);
    assert.ok(report.budget!.remaining >= 10 && report.budget!.remaining <= 11);
    assert.equal(report.budget!.capacity, 50);
  });

  it('stops a client that asks for more, with the budget left and when to retry', async () => {
    for (const n of numbers(30, 100)) await client.contacts.add('c', n);
    const cached = await store.get<{ elements: Record<string, string> }>('discoveryCache');
    const error = await client.discover().then(
      () => assert.fail('the budget should have stopped this run'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ParleyError);
    assert.equal(error.code, 'DISCOVERY_BUDGET_EXHAUSTED');
    assert.equal(error.status, 429);
    const details = error.details as { remaining: number; capacity: number; requested: number };
    assert.equal(details.requested, 30);
    assert.ok(details.remaining >= 10 && details.remaining < 30);
    // 30 wanted, `remaining` free (about 10, more the longer the machine took to get here): the
    // rest drains at one evaluation per second. `remaining` is rounded down, so within a second.
    const wait = (details.requested - details.remaining) * 1000;
    assert.ok(
      error.retryAfterMs! > wait - 1000 && error.retryAfterMs! <= wait,
      `retry after ${error.retryAfterMs} ms with ${details.remaining} left`,
    );
    const after = await store.get<{ elements: Record<string, string> }>('discoveryCache');
    assert.deepEqual(Object.keys(after!.elements).length, Object.keys(cached!.elements).length);
  });

  it('says so plainly when one batch is larger than the whole budget', async () => {
    for (const n of numbers(60, 200)) await client.contacts.add('c', n);
    await assert.rejects(client.discover(), (e: unknown) => {
      assert.ok(e instanceof ParleyError);
      assert.equal(e.code, 'DISCOVERY_BUDGET_EXHAUSTED');
      assert.match(e.message, /exceeds the budget capacity of 50/);
      return true;
    });
  });
});
