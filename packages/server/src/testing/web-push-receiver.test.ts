/**
 * The test push service's own checks, so that a push it accepts proves something: the RFC 8291
 * decryptor reproduces Appendix A of the RFC byte for byte and refuses a tampered body, and the
 * RFC 8292 VAPID check refuses a wrong signature, audience, expiry or a missing contact.
 */

import * as assert from 'node:assert/strict';
import { createPrivateKey, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { newVapidKey } from '../push/vapid-key.js';
import { decryptAes128gcm } from './rfc8291-decrypt.js';
import { verifyVapid } from './vapid-jwt.js';

const vector = JSON.parse(
  readFileSync(
    new URL('../../src/testing/test-vectors/rfc8291-appendix-a.json', import.meta.url),
    'utf8',
  ),
) as Record<string, string>;
const b = (text: string) => Buffer.from(text, 'base64url');

describe('RFC 8291 decryption (the test-side receiver)', () => {
  const receiver = {
    privateKey: b(vector.uaPrivate!),
    publicKey: b(vector.uaPublic!),
    authSecret: b(vector.authSecret!),
  };

  it('decrypts the Appendix A message to its plaintext, byte for byte', () => {
    const body = b(vector.body!);
    // The body is the header (salt, rs = 4096, keyid = the sender's public key) and the record.
    assert.deepEqual(body.subarray(0, 86), b(vector.header!));
    assert.deepEqual(body.subarray(86), b(vector.ciphertext!));
    assert.deepEqual(body.subarray(0, 16), b(vector.salt!));
    assert.deepEqual(body.subarray(21, 86), b(vector.asPublic!));
    const plaintext = decryptAes128gcm(body, receiver);
    assert.deepEqual(plaintext, Buffer.from(vector.plaintext!, 'utf8'));
  });

  it('refuses a body with any byte changed, or the wrong auth secret', () => {
    const body = b(vector.body!);
    for (const at of [0, 20, 40, 90, body.length - 1]) {
      const tampered = Buffer.from(body);
      tampered[at] = tampered[at]! ^ 0x01;
      assert.throws(() => decryptAes128gcm(tampered, receiver), `byte ${at}`);
    }
    assert.throws(() => decryptAes128gcm(body, { ...receiver, authSecret: Buffer.alloc(16, 1) }));
  });
});

describe('RFC 8292 VAPID check (the test-side push service)', () => {
  const key = newVapidKey();
  const origin = 'https://push.example.net';
  const jwk = () => {
    const point = b(key.publicKey);
    return createPrivateKey({
      key: {
        kty: 'EC',
        crv: 'P-256',
        d: key.privateKey,
        x: point.subarray(1, 33).toString('base64url'),
        y: point.subarray(33).toString('base64url'),
      },
      format: 'jwk',
    });
  };
  const header = (claims: Record<string, unknown>, k = key.publicKey) => {
    const head = Buffer.from(JSON.stringify({ typ: 'JWT', alg: 'ES256' })).toString('base64url');
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
    const sig = sign('sha256', Buffer.from(`${head}.${body}`), {
      key: jwk(),
      dsaEncoding: 'ieee-p1363',
    }).toString('base64url');
    return `vapid t=${head}.${body}.${sig}, k=${k}`;
  };
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const good = { aud: origin, exp, sub: 'mailto:ops@example.org' };

  it('accepts a valid header and returns the key', () => {
    assert.equal(verifyVapid(header(good), origin).publicKey, key.publicKey);
  });

  it('refuses another key, audience, a passed or far expiry, no contact, no header', () => {
    const other = newVapidKey();
    assert.throws(() => verifyVapid(header(good, other.publicKey), origin), /signature/);
    assert.throws(() => verifyVapid(header({ ...good, aud: 'https://x.example' }), origin), /aud/);
    assert.throws(() => verifyVapid(header({ ...good, exp: exp - 7200 }), origin), /exp/);
    assert.throws(() => verifyVapid(header({ ...good, exp: exp + 48 * 3600 }), origin), /24/);
    assert.throws(() => verifyVapid(header({ aud: origin, exp }), origin), /sub/);
    assert.throws(() => verifyVapid(undefined, origin), /vapid/);
    assert.throws(() => verifyVapid(`WebPush ${header(good).slice(6)}`, origin), /vapid/);
  });
});
