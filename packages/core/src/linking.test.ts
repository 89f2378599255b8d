import * as assert from 'node:assert/strict';
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  CROCKFORD_ALPHABET,
  type LinkKeys,
  linkQrPayload,
  newLinkKeys,
  openProvisioning,
  parseLinkQrPayload,
  parseTypedLinkCode,
  randomLinkHandle,
  sealProvisioning,
  typedCodeMatches,
  typedLinkCode,
} from './linking.js';

const CROCKFORD = /^[0-9A-HJKMNP-TV-Z]+$/;
const HANDLE = '7K3M9Q2D';

/** Crockford base32 of bytes, via BigInt: independent of the module's bit loop. */
function crockford(bytes: Uint8Array): string {
  const bits = bytes.length * 8;
  let value = BigInt('0x' + Buffer.from(bytes).toString('hex'));
  let out = '';
  for (let i = 0; i < bits / 5; i++) {
    out = CROCKFORD_ALPHABET[Number(value & 31n)] + out;
    value >>= 5n;
  }
  return out;
}

/** The typed code written from its definition: handle ‖ 80 bits of SHA-256(label ‖ key). */
function expectedTypedCode(handle: string, publicKey: Uint8Array): string {
  const digest = createHash('sha256')
    .update('parley link key v1\0')
    .update(handle)
    .update(publicKey)
    .digest();
  return (handle + crockford(digest.subarray(0, 10))).match(/.{4}/g)!.join('-');
}

/** The X25519 public key of a secret key, by node:crypto (PKCS#8: RFC 8410's X25519 prefix). */
function x25519Public(secretKey: Uint8Array): Uint8Array {
  const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), secretKey]);
  const key = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  const jwk = createPublicKey(key).export({ format: 'jwk' });
  return new Uint8Array(Buffer.from(jwk.x!, 'base64url'));
}

describe('newLinkKeys and randomLinkHandle', () => {
  test('makes a fresh X25519 key pair each time', async () => {
    const a = await newLinkKeys();
    const b = await newLinkKeys();
    assert.equal(a.publicKey.length, 32);
    assert.equal(a.secretKey.length, 32);
    assert.deepEqual(x25519Public(a.secretKey), a.publicKey);
    assert.notDeepEqual(a.publicKey, b.publicKey);
  });

  test('handles are 8 Crockford characters, random, and valid in both codes', async () => {
    const seen = new Set<string>();
    const keys = await newLinkKeys();
    for (let i = 0; i < 64; i++) {
      const handle = await randomLinkHandle();
      assert.match(handle, /^[0-9A-HJKMNP-TV-Z]{8}$/);
      assert.equal(
        parseLinkQrPayload(linkQrPayload({ handle, publicKey: keys.publicKey }))?.handle,
        handle,
      );
      seen.add(handle);
    }
    // 64 draws of 40 bits: a repeat has probability below 2⁻²⁸.
    assert.equal(seen.size, 64);
  });
});

describe('link QR payload', () => {
  test('is parley-link:1:<handle>:<base64url key> and reads back', async () => {
    const { publicKey } = await newLinkKeys();
    const text = linkQrPayload({ handle: HANDLE, publicKey });
    assert.equal(text, `parley-link:1:${HANDLE}:${Buffer.from(publicKey).toString('base64url')}`);
    assert.deepEqual(parseLinkQrPayload(text), { handle: HANDLE, publicKey });
  });

  test('reads nothing from any other text', async () => {
    const key = Buffer.from((await newLinkKeys()).publicKey).toString('base64url');
    const key31 = Buffer.alloc(31, 7).toString('base64url');
    const key33 = Buffer.alloc(33, 7).toString('base64url');
    const bad = [
      '',
      `parley-link:2:${HANDLE}:${key}`,
      `parley-link:01:${HANDLE}:${key}`,
      `parley-link::${HANDLE}:${key}`,
      `Parley-link:1:${HANDLE}:${key}`,
      `parley-lnk:1:${HANDLE}:${key}`,
      ` parley-link:1:${HANDLE}:${key}`,
      `parley-link:1:${HANDLE}:${key} `,
      `parley-link:1:${HANDLE}:${key}:`,
      `parley-link:1:${HANDLE}:${key}=`,
      `parley-link:1:${HANDLE}`,
      `parley-link:1:${HANDLE.toLowerCase()}:${key}`,
      `parley-link:1:${HANDLE.slice(0, 7)}:${key}`,
      `parley-link:1:${HANDLE}0:${key}`,
      `parley-link:1:7K3M9Q2U:${key}`,
      `parley-link:1:7K3M9Q2I:${key}`,
      `parley-link:1:7K3M9Q2O:${key}`,
      `parley-link:1:${HANDLE}:${key31}`,
      `parley-link:1:${HANDLE}:${key33}`,
      `parley-link:1:${HANDLE}:${key.replace(/.$/, '+')}`,
      `parley-link:1:${HANDLE}:${Buffer.alloc(32, 7).toString('base64')}`,
    ];
    for (const text of bad) assert.equal(parseLinkQrPayload(text), undefined, text);
    assert.equal(parseLinkQrPayload(undefined as unknown as string), undefined);
    assert.equal(parseLinkQrPayload(42 as unknown as string), undefined);
  });

  test('refuses to write a malformed handle or key', () => {
    const publicKey = new Uint8Array(32);
    assert.throws(() => linkQrPayload({ handle: 'abcdefgh', publicKey }), RangeError);
    assert.throws(
      () => linkQrPayload({ handle: HANDLE, publicKey: new Uint8Array(31) }),
      RangeError,
    );
  });
});

describe('typed link code', () => {
  test('is the handle and 80 bits of the key commitment, 24 characters in groups of four', async () => {
    const { publicKey } = await newLinkKeys();
    const code = await typedLinkCode({ handle: HANDLE, publicKey });
    assert.match(code, /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){5}$/);
    assert.equal(code, expectedTypedCode(HANDLE, publicKey));
    assert.equal(code.replace(/-/g, '').slice(0, 8), HANDLE);
    // A fixed key, so a change to label, hash or encoding shows as a diff here.
    const fixed = new Uint8Array(32).map((_, i) => i);
    assert.equal(
      await typedLinkCode({ handle: HANDLE, publicKey: fixed }),
      expectedTypedCode(HANDLE, fixed),
    );
  });

  test('reads back, and matches the key it was made from', async () => {
    const { publicKey } = await newLinkKeys();
    const code = await typedLinkCode({ handle: HANDLE, publicKey });
    const parsed = parseTypedLinkCode(code);
    assert.ok(parsed);
    assert.equal(parsed.handle, HANDLE);
    assert.equal(parsed.commitment, code.replace(/-/g, '').slice(8));
    assert.match(parsed.commitment, CROCKFORD);
    assert.equal(await typedCodeMatches(parsed, publicKey), true);
  });

  test('a key committed for one session does not match another session’s handle', async () => {
    const { publicKey } = await newLinkKeys();
    const parsed = parseTypedLinkCode(await typedLinkCode({ handle: HANDLE, publicKey }))!;
    const other = 'ZZZZZZZZ';
    assert.equal(await typedCodeMatches({ ...parsed, handle: other }, publicKey), false);
  });

  test('a swapped key does not match', async () => {
    const { publicKey } = await newLinkKeys();
    const swapped = (await newLinkKeys()).publicKey;
    const parsed = parseTypedLinkCode(await typedLinkCode({ handle: HANDLE, publicKey }))!;
    assert.equal(await typedCodeMatches(parsed, swapped), false);
    const oneBit = publicKey.slice();
    oneBit[0]! ^= 1;
    assert.equal(await typedCodeMatches(parsed, oneBit), false);
  });

  test('a commitment off by one character does not match, in any position', async () => {
    const { publicKey } = await newLinkKeys();
    const parsed = parseTypedLinkCode(await typedLinkCode({ handle: HANDLE, publicKey }))!;
    for (let i = 0; i < 16; i++) {
      const char = parsed.commitment[i]!;
      const other = CROCKFORD_ALPHABET[(CROCKFORD_ALPHABET.indexOf(char) + 1) % 32]!;
      const commitment = parsed.commitment.slice(0, i) + other + parsed.commitment.slice(i + 1);
      assert.equal(
        await typedCodeMatches({ ...parsed, commitment }, publicKey),
        false,
        `char ${i}`,
      );
    }
  });

  test('a malformed commitment or key is no match, not a throw', async () => {
    const { publicKey } = await newLinkKeys();
    const parsed = parseTypedLinkCode(await typedLinkCode({ handle: HANDLE, publicKey }))!;
    const commitments = ['', parsed.commitment.slice(1), parsed.commitment + '0', 'U'.repeat(16)];
    for (const commitment of commitments) {
      assert.equal(await typedCodeMatches({ ...parsed, commitment }, publicKey), false, commitment);
    }
    assert.equal(await typedCodeMatches(parsed, publicKey.subarray(0, 31)), false);
    assert.equal(await typedCodeMatches(parsed, undefined as never), false);
    assert.equal(await typedCodeMatches(undefined as never, publicKey), false);
  });

  test('reads what people type: case, spaces, dashes, I/L for 1 and O for 0', async () => {
    const canonical = { handle: '01ABCDEF', commitment: '0123456789ABCDEF' };
    const typed = [
      '01AB-CDEF-0123-4567-89AB-CDEF',
      '01abcdef0123456789abcdef',
      ' 01ab cdef 0123 4567 89ab cdef ',
      '01AB--CDEF-01-23-4567-89ABCDEF',
      'OIAB-CDEF-oL23-4567-89AB-CDEF',
      'oiab cdef Ol23 4567 89ab cdef',
      '01AB\tCDEF\n0123 4567 89AB CDEF',
    ];
    for (const text of typed) assert.deepEqual(parseTypedLinkCode(text), canonical, text);
  });

  test('a typed code that still matches after the substitutions', async () => {
    const { publicKey } = await newLinkKeys();
    const code = await typedLinkCode({ handle: '10TV0W1X', publicKey });
    const sloppy = code.toLowerCase().replace(/1/g, 'l').replace(/0/g, 'o').replace(/-/g, ' ');
    const parsed = parseTypedLinkCode(sloppy)!;
    assert.equal(parsed.handle, '10TV0W1X');
    assert.equal(await typedCodeMatches(parsed, publicKey), true);
  });

  test('reads nothing from a code of the wrong length or with other characters', () => {
    const good = '01AB-CDEF-0123-4567-89AB-CDEF';
    const bad = [
      '',
      good.slice(0, -1),
      good + '0',
      good.replace('A', 'U'),
      good.replace('A', '*'),
      good.replace('-', '_'),
      good.replace('-', '.'),
      good.replace('A', 'Ä'),
      ' '.repeat(200) + good,
    ];
    for (const text of bad) assert.equal(parseTypedLinkCode(text), undefined, text);
    assert.equal(parseTypedLinkCode(null as unknown as string), undefined);
  });

  test('refuses to write a code for a malformed handle or key', async () => {
    await assert.rejects(
      typedLinkCode({ handle: 'SHORT', publicKey: new Uint8Array(32) }),
      RangeError,
    );
    await assert.rejects(
      typedLinkCode({ handle: HANDLE, publicKey: new Uint8Array(33) }),
      RangeError,
    );
  });
});

describe('provisioning envelope (sealed box)', () => {
  const payload = new TextEncoder().encode('{"identity":"…","account":"aliceAcc01"}');

  test('opens with the recipient key pair, to the same bytes', async () => {
    const keys = await newLinkKeys();
    const sealed = await sealProvisioning(payload, keys.publicKey);
    assert.equal(sealed.length, payload.length + 48);
    assert.deepEqual(await openProvisioning(sealed, keys), payload);
    // An ephemeral sender key each time: the same payload never seals to the same bytes.
    assert.notDeepEqual(await sealProvisioning(payload, keys.publicKey), sealed);
    const empty = await sealProvisioning(new Uint8Array(), keys.publicKey);
    assert.deepEqual(await openProvisioning(empty, keys), new Uint8Array());
  });

  test('does not open with any other key', async () => {
    const keys = await newLinkKeys();
    const other = await newLinkKeys();
    const sealed = await sealProvisioning(payload, keys.publicKey);
    assert.equal(await openProvisioning(sealed, other), undefined);
    // The right secret key with another public key (the nonce binds the recipient key).
    assert.equal(
      await openProvisioning(sealed, { ...keys, publicKey: other.publicKey }),
      undefined,
    );
    assert.equal(
      await openProvisioning(sealed, { ...keys, secretKey: other.secretKey }),
      undefined,
    );
  });

  test('any altered byte, or a cut, makes it unopenable', async () => {
    const keys = await newLinkKeys();
    const sealed = await sealProvisioning(payload, keys.publicKey);
    // The ephemeral key (0–31), the tag (32–47), the ciphertext (48–).
    for (const index of [0, 31, 32, 47, 48, sealed.length - 1]) {
      const tampered = sealed.slice();
      tampered[index]! ^= 0x01;
      assert.equal(await openProvisioning(tampered, keys), undefined, `byte ${index}`);
    }
    assert.equal(await openProvisioning(sealed.subarray(0, sealed.length - 1), keys), undefined);
    assert.equal(await openProvisioning(Uint8Array.of(...sealed, 0), keys), undefined);
  });

  test('malformed input is undefined, never a throw', async () => {
    const keys = await newLinkKeys();
    const sealed = await sealProvisioning(payload, keys.publicKey);
    const inputs: [unknown, unknown][] = [
      [new Uint8Array(), keys],
      [new Uint8Array(47), keys],
      [new Uint8Array(48), keys],
      ['not bytes', keys],
      [undefined, keys],
      [sealed, undefined],
      [sealed, {}],
      [sealed, { publicKey: keys.publicKey.subarray(0, 31), secretKey: keys.secretKey }],
      [sealed, { publicKey: keys.publicKey, secretKey: keys.secretKey.subarray(0, 31) }],
      [sealed, { publicKey: 'x', secretKey: 'y' }],
    ];
    for (const [bytes, key] of inputs) {
      assert.equal(await openProvisioning(bytes as Uint8Array, key as LinkKeys), undefined);
    }
  });

  test('refuses to seal to a key that is not 32 bytes', async () => {
    await assert.rejects(sealProvisioning(payload, new Uint8Array(31)), RangeError);
    await assert.rejects(
      sealProvisioning('text' as unknown as Uint8Array, new Uint8Array(32)),
      TypeError,
    );
  });
});
