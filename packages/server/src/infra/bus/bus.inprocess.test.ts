import * as assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { busCases } from '../../testing/bus-cases.js';
import { InProcessBus, type MemorySessions } from './in-process.js';

describe('in-process bus', () => {
  // Two "nodes" in one process share the process-level instance.
  const bus = new InProcessBus();
  after(() => bus.close());
  busCases(() => ({ a: bus, b: bus }));

  it('drops expired sessions from memory within 30 s, even if nobody asks for them', async (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] });
    let now = 0;
    const own = new InProcessBus(() => now);
    const sessions = own.sessions as MemorySessions;
    await sessions.create('a', 'sealed', 1_000);
    await sessions.create('b', 'sealed', 60_000);
    now = 2_000;
    assert.equal(sessions.held, 2);
    t.mock.timers.tick(30_000);
    assert.equal(sessions.held, 1, 'the expired one is gone, the live one stays');
    await own.close();
  });
});
