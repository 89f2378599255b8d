import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  fromBase64Url,
  portableFromBase64Url,
  portableToBase64Url,
  toBase64Url,
} from './encoding.js';

describe('base64url (RFC 4648 §5)', () => {
  it('round-trips every length, and the Node and browser paths agree', () => {
    for (let n = 0; n < 70; n++) {
      const bytes = new Uint8Array(randomBytes(n));
      const text = toBase64Url(bytes);
      assert.match(text, /^[A-Za-z0-9_-]*$/);
      assert.equal(portableToBase64Url(bytes), text);
      assert.deepEqual(fromBase64Url(text), bytes);
      assert.deepEqual(portableFromBase64Url(text), bytes);
    }
  });

  it('encodes a view without the rest of its buffer', () => {
    const whole = new Uint8Array([1, 2, 3, 4, 5, 6]);
    assert.equal(toBase64Url(whole.subarray(2, 4)), toBase64Url(new Uint8Array([3, 4])));
  });

  it('rejects non-base64url and non-canonical text', () => {
    for (const decode of [fromBase64Url, portableFromBase64Url]) {
      for (const bad of ['a', 'ab+c', 'ab/c', 'ab=', 'A===']) {
        assert.equal(decode(bad), undefined, bad);
      }
      assert.deepEqual(decode('AQ'), new Uint8Array([1]));
      assert.equal(decode('AR'), undefined, 'stray low bits');
    }
  });
});
