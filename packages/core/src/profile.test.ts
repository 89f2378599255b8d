/**
 * Profiles: libsodium's XChaCha20-Poly1305 against draft-irtf-cfrg-xchacha's worked example, a
 * sealed profile read back, and every way a served ciphertext can be wrong (another account,
 * another version, another key, tampered, oversized) refused with a typed error.
 */

import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ParleyError } from './errors.js';
import {
  newProfileKey,
  normalizeProfileName,
  openProfile,
  PROFILE_CIPHERTEXT_BYTES,
  sealProfile,
} from './profile.js';
import { loadSodium } from './sodium.js';

const vector = JSON.parse(
  readFileSync(
    new URL(
      '../src/test-vectors/xchacha20poly1305-draft-irtf-cfrg-xchacha-a31.json',
      import.meta.url,
    ),
    'utf8',
  ),
) as Record<string, string>;
const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));

const refused = (code: string) => (error: unknown) =>
  error instanceof ParleyError && error.code === code;

describe('profiles', () => {
  it('libsodium’s XChaCha20-Poly1305 matches the draft’s worked example (A.3.1)', async () => {
    const sodium = await loadSodium();
    const sealed = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
      hex(vector.plaintext!),
      hex(vector.aad!),
      null,
      hex(vector.nonce!),
      hex(vector.key!),
    );
    assert.equal(Buffer.from(sealed).toString('hex'), vector.ciphertext! + vector.tag!);
  });

  it('seals to one fixed size whatever the name, and opens back', async () => {
    const key = await newProfileKey();
    const short = await sealProfile(key, 'acct-a', 1, { name: 'Al' });
    const long = await sealProfile(key, 'acct-a', 2, { name: '👩‍🚀'.repeat(12) });
    assert.equal(short.length, PROFILE_CIPHERTEXT_BYTES);
    assert.equal(long.length, PROFILE_CIPHERTEXT_BYTES);
    assert.deepEqual(await openProfile(key, 'acct-a', 1, short), { name: 'Al' });
    assert.deepEqual(await openProfile(key, 'acct-a', 2, long), { name: '👩‍🚀'.repeat(12) });
  });

  it('refuses a ciphertext served for another account, version or key, or tampered', async () => {
    const key = await newProfileKey();
    const sealed = await sealProfile(key, 'acct-a', 3, { name: 'Ada' });
    await assert.rejects(openProfile(key, 'acct-b', 3, sealed), refused('PROFILE_UNREADABLE'));
    await assert.rejects(openProfile(key, 'acct-a', 4, sealed), refused('PROFILE_UNREADABLE'));
    await assert.rejects(
      openProfile(await newProfileKey(), 'acct-a', 3, sealed),
      refused('PROFILE_UNREADABLE'),
    );
    const tampered = sealed.slice();
    tampered[40] = tampered[40]! ^ 1;
    await assert.rejects(openProfile(key, 'acct-a', 3, tampered), refused('PROFILE_UNREADABLE'));
    await assert.rejects(
      openProfile(key, 'acct-a', 3, sealed.subarray(0, 100)),
      refused('PROFILE_UNREADABLE'),
    );
  });

  it('refuses an oversized ciphertext before decrypting it', async () => {
    const key = await newProfileKey();
    const huge = new Uint8Array(PROFILE_CIPHERTEXT_BYTES + 1);
    await assert.rejects(openProfile(key, 'acct-a', 1, huge), refused('PROFILE_TOO_LARGE'));
  });

  it('takes a name of 1 to 64 characters without control characters', () => {
    assert.equal(normalizeProfileName('  Ada Lovelace '), 'Ada Lovelace');
    for (const bad of ['', '   ', 'a'.repeat(65), 'line\nbreak', 'tab\there', 'x\u2028y']) {
      assert.throws(() => normalizeProfileName(bad), refused('PROFILE_NAME_INVALID'));
    }
  });
});
