import * as assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import { describe, it } from 'node:test';
import { concatBytes, utf8 } from './encoding.js';
import { credentialDevice, loadIdentityCrypto, parseCertificate } from './identity.js';

const fields = {
  accountId: 'acct1234abcd',
  deviceId: 'dev_5678-efgh',
  deviceKey: new Uint8Array(32).fill(7),
  createdAt: Date.UTC(2026, 11, 7, 16, 0, 0),
};

/** Node's own Ed25519, an implementation independent of libsodium. */
function nodeVerifies(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) {
  const key = createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey).toString('base64url') },
    format: 'jwk',
  });
  return verify(null, message, key, signature);
}

describe('device certificates', () => {
  it('round-trips every field and verifies under the identity key', async () => {
    const crypto = await loadIdentityCrypto();
    const keys = crypto.newIdentityKeys();
    const bytes = crypto.issueCertificate(keys, fields);
    const cert = crypto.verifyCertificate(bytes);
    assert.ok(cert);
    assert.equal(cert.accountId, fields.accountId);
    assert.equal(cert.deviceId, fields.deviceId);
    assert.deepEqual(cert.deviceKey, fields.deviceKey);
    assert.deepEqual(cert.identityKey, keys.publicKey);
    assert.equal(cert.createdAt, fields.createdAt);
    assert.deepEqual(cert.bytes, bytes);
    assert.deepEqual(credentialDevice(bytes), {
      accountId: fields.accountId,
      deviceId: fields.deviceId,
    });
  });

  it('signs exactly the domain-separated body, as an independent Ed25519 checks', async () => {
    const crypto = await loadIdentityCrypto();
    const keys = crypto.newIdentityKeys();
    const bytes = crypto.issueCertificate(keys, fields);
    const body = bytes.subarray(0, bytes.length - 64);
    const signature = bytes.subarray(bytes.length - 64);
    const context = utf8('parley device certificate v1\0');
    assert.equal(nodeVerifies(keys.publicKey, concatBytes(context, body), signature), true);
    assert.equal(nodeVerifies(keys.publicKey, body, signature), false, 'no context, no signature');
  });

  it('refuses any changed byte, another identity key, and a wrong length', async () => {
    const crypto = await loadIdentityCrypto();
    const keys = crypto.newIdentityKeys();
    const bytes = crypto.issueCertificate(keys, fields);
    for (let i = 0; i < bytes.length; i++) {
      const changed = bytes.slice();
      changed[i] = changed[i]! ^ 0x01;
      assert.equal(crypto.verifyCertificate(changed), undefined, `byte ${i} changed`);
    }
    // Another key's signature over the same fields, with this key's bytes swapped in.
    const other = crypto.issueCertificate(crypto.newIdentityKeys(), fields);
    const spliced = concatBytes(
      other.subarray(0, other.length - 64 - 8 - 32),
      keys.publicKey,
      other.subarray(other.length - 64 - 8),
    );
    assert.equal(crypto.verifyCertificate(spliced), undefined);
    assert.equal(crypto.verifyCertificate(bytes.subarray(0, bytes.length - 1)), undefined);
    assert.equal(crypto.verifyCertificate(concatBytes(bytes, Uint8Array.of(0))), undefined);
  });

  it('parses nothing that is not a certificate, never throwing', () => {
    const bad = [
      new Uint8Array(0),
      utf8('acct1234abcd/dev_5678-efgh'),
      Uint8Array.of(0x50, 0x44, 0x43, 0x02, 0),
      Uint8Array.of(0x50, 0x44, 0x43, 0x01, 200, 1, 2),
      concatBytes(Uint8Array.of(0x50, 0x44, 0x43, 0x01, 8), utf8('has/slash'), new Uint8Array(200)),
    ];
    for (const bytes of bad) assert.equal(parseCertificate(bytes), undefined);
    for (let i = 0; i < 200; i++) {
      const random = crypto.getRandomValues(new Uint8Array(i * 3));
      assert.equal(parseCertificate(random), undefined);
    }
  });

  it('refuses to issue a certificate with ids or keys of the wrong shape', async () => {
    const crypto = await loadIdentityCrypto();
    const keys = crypto.newIdentityKeys();
    assert.throws(() => crypto.issueCertificate(keys, { ...fields, accountId: 'a/b' }), RangeError);
    assert.throws(
      () => crypto.issueCertificate(keys, { ...fields, deviceKey: new Uint8Array(31) }),
      RangeError,
    );
    assert.throws(() => crypto.issueCertificate(keys, { ...fields, createdAt: -1 }), RangeError);
  });
});
