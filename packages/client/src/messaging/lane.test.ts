import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Exclusive, Lane } from './lane.js';

/** One lock shared by several lanes, as a Web Lock is by tabs: a promise chain. */
function sharedLock(): Exclusive {
  let tail: Promise<unknown> = Promise.resolve();
  return (work) => {
    const run = tail.then(work);
    tail = run.catch(() => {});
    return run;
  };
}

const fail = (error: unknown) => assert.fail(String(error));
const tick = () => new Promise((r) => setTimeout(r, 1));

describe('lane', () => {
  it('runs the tasks of two lanes sharing a lock one at a time, dropping caches on each', async () => {
    const lock = sharedLock();
    const log: string[] = [];
    const lanes = ['a', 'b'].map(
      (name) => [name, new Lane(fail, lock, () => log.push(`${name}: acquire`))] as const,
    );
    const runs = [1, 2].flatMap((n) =>
      lanes.map(([name, lane]) =>
        lane.run(async () => {
          log.push(`${name}${n}: start`);
          await tick();
          log.push(`${name}${n}: end`);
        }),
      ),
    );
    await Promise.all(runs);
    // Every start is preceded by its own lane's acquire and followed by its own end.
    assert.equal(log.length, 12);
    for (let i = 0; i < log.length; i += 3) {
      const name = log[i]!.slice(0, 1);
      assert.deepEqual(
        [log[i], log[i + 1]!.slice(0, 1), log[i + 2]!.endsWith('end')],
        [`${name}: acquire`, name, true],
      );
      assert.equal(log[i + 1]!.replace('start', 'end'), log[i + 2]);
    }
  });

  it('runs without a lock where none is given', async () => {
    const lane = new Lane(fail);
    assert.equal(await lane.run(async () => 42), 42);
  });
});
