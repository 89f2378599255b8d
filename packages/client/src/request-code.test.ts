/**
 * Sign-up reads the number in the country the person picked (issue 17): with the United States
 * picked, "12" is refused as too short for a US number, not for a missing country code, and no
 * request leaves the device.
 */

import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ParleyClient } from './client.js';
import { MemoryStore } from './store/store.js';

describe('requestCode with the picked region', () => {
  it('refuses "12" in the US as too short, before asking the server', async () => {
    let requests = 0;
    const client = await ParleyClient.open({
      serverUrl: 'http://parley.invalid',
      store: new MemoryStore(),
      fetch: async () => {
        requests++;
        throw new Error('no request expected');
      },
    });
    await assert.rejects(client.requestCode('12', 'US'), (error: Error & { details?: unknown }) => {
      assert.deepEqual(error.details, { reason: 'too_short' });
      assert.match(error.message, /too short for a phone number in the United States/);
      return true;
    });
    assert.equal(requests, 0);
  });
});
