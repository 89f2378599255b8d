import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rerunnable } from './rerun.js';

/** A promise and the function that settles it. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

describe('Rerunnable', () => {
  it('runs one pass at a time and one more pass for any number of asks meanwhile', async () => {
    const gates = [gate(), gate()];
    let passes = 0;
    let concurrent = 0;
    let maxConcurrent = 0;
    const r = new Rerunnable(async () => {
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      await gates[passes++]?.promise;
      concurrent--;
    });
    const first = r.run();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(r.running, true);
    const asks = [r.run(), r.run(), r.run()];
    assert.equal(r.rerunAsked, true);
    gates[0]!.open();
    gates[1]!.open();
    await Promise.all([first, ...asks]);
    assert.equal(passes, 2);
    assert.equal(maxConcurrent, 1);
    assert.equal(r.running, false);
  });

  it('runs again when asked after a pass ended', async () => {
    let passes = 0;
    const r = new Rerunnable(async () => {
      passes++;
    });
    await r.run();
    await r.run();
    assert.equal(passes, 2);
  });

  it('rejects with the pass error and runs again on the next ask', async () => {
    let fail = true;
    let passes = 0;
    const r = new Rerunnable(async () => {
      passes++;
      if (fail) throw new Error('boom');
    });
    await assert.rejects(r.run(), /boom/);
    assert.equal(r.running, false);
    fail = false;
    await r.run();
    assert.equal(passes, 2);
  });
});
