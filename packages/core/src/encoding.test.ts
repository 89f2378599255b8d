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

describe('base64url canonical check', () => {
  it('accepts exactly the canonical spelling of every 1- and 2-byte tail', () => {
    for (let n = 1; n <= 3; n++) {
      for (let trial = 0; trial < 200; trial++) {
        const bytes = new Uint8Array(randomBytes(n + 30));
        const text = toBase64Url(bytes);
        const last = text.at(-1)!;
        for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_') {
          const variant = text.slice(0, -1) + c;
          const node = fromBase64Url(variant);
          const portable = portableFromBase64Url(variant);
          assert.deepEqual(node, portable, variant);
          if (c === last) assert.deepEqual(node, bytes);
        }
      }
    }
  });
});
