/**
 * `npm run load` in small: many devices on real WebSockets sending at once through a real server.
 * Every message answered "stored" arrives exactly once, and the report's figures add up.
 */

import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';

interface LoadReport {
  sent: number;
  stored: number;
  delivered: number;
  deliveredPerSecond: number;
  latencyMs: { p50: number; p95: number; p99: number };
  errors: Record<string, number>;
  unanswered: number;
  lost: number;
  duplicates: number;
  server: { cpuSeconds: number; cpuSecondsPer1000Delivered: number; peakRssMiB: number };
}

const script = new URL('../../../scripts/load.mjs', import.meta.url).href;

describe('load generator', { timeout: 120_000 }, () => {
  it('40 devices at 400 msg/s for 2 s: nothing lost, nothing doubled', async () => {
    const { runLoad } = (await import(script)) as {
      runLoad: (o: { devices: number; rate: number; duration: number }) => Promise<LoadReport>;
    };
    const r = await runLoad({ devices: 40, rate: 400, duration: 2 });
    assert.ok(r.sent >= 700, `sent ${r.sent}`);
    assert.deepEqual(r.errors, {});
    assert.equal(r.unanswered, 0);
    assert.equal(r.stored, r.sent);
    assert.equal(r.delivered, r.sent);
    assert.equal(r.lost, 0);
    assert.equal(r.duplicates, 0);
    assert.ok(r.latencyMs.p50 <= r.latencyMs.p95 && r.latencyMs.p95 <= r.latencyMs.p99);
    assert.ok(r.server.cpuSeconds > 0 && r.server.peakRssMiB > 10);
  });
});
