/** Waits read as a person says them (issue 17: "Try again in 1193 s."). */

import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatWait } from './wait-time.js';

describe('formatWait', () => {
  it('says minutes, hours and days, rounded, never raw seconds above a minute', () => {
    assert.equal(formatWait(1_193_000), 'about 20 minutes');
    assert.equal(formatWait(61_000), 'about 1 minute');
    assert.equal(formatWait(89 * 60_000), 'about 89 minutes');
    assert.equal(formatWait(3 * 3_600_000 + 100_000), 'about 3 hours');
    assert.equal(formatWait(7 * 24 * 3_600_000), 'about 7 days');
  });

  it('counts seconds below a minute, rounded up, singular where it is one', () => {
    assert.equal(formatWait(45_200), '46 seconds');
    assert.equal(formatWait(1_000), '1 second');
    assert.equal(formatWait(0), '1 second');
    assert.equal(formatWait(Number.NaN), '1 second');
  });
});
