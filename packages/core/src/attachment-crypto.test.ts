import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ATTACHMENT_SEGMENT_BYTES,
  attachmentCiphertextLength,
  decryptAttachment,
  encryptAttachment,
  openAttachmentStream,
} from './attachment-crypto.js';
import { fromBase64Url, concatBytes as join } from './encoding.js';
import { type Envelope, encodeEnvelope, parseEnvelope } from './envelope.js';

const S = ATTACHMENT_SEGMENT_BYTES;
const SEALED = S + 17;

function bytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + 7) & 0xff;
  return out;
}

/** The ciphertext cut into its header and its sealed segments. */
function segments(ciphertext: Uint8Array): { header: Uint8Array; parts: Uint8Array[] } {
  const parts: Uint8Array[] = [];
  for (let at = 24; at < ciphertext.byteLength; at += SEALED) {
    parts.push(ciphertext.subarray(at, at + SEALED));
  }
  return { header: ciphertext.subarray(0, 24), parts };
}

const corrupt = (reason: string) => ({ code: 'ATTACHMENT_CORRUPT', details: { reason } });

describe('attachment ciphertext (crypto_secretstream_xchacha20poly1305)', () => {
  it('round-trips every size around the segment boundaries, at the length it promises', async () => {
    for (const n of [0, 1, S - 1, S, S + 1, 3 * S + 5]) {
      const plain = bytes(n);
      const { ciphertext, secret } = await encryptAttachment(plain);
      assert.equal(ciphertext.byteLength, attachmentCiphertextLength(n));
      assert.equal(secret.key.byteLength, 32);
      assert.equal(secret.size, n);
      assert.deepEqual(await decryptAttachment(ciphertext, secret), plain, `size ${n}`);
    }
  });

  it('uses a fresh key and header for every file', async () => {
    const a = await encryptAttachment(bytes(100));
    const b = await encryptAttachment(bytes(100));
    assert.notDeepEqual(a.secret.key, b.secret.key);
    assert.notDeepEqual(a.ciphertext.subarray(0, 24), b.ciphertext.subarray(0, 24));
  });

  it('opens the checked-in vector (key, ciphertext and plaintext made once with libsodium-wrappers-sumo 0.8.4; pins the format)', async () => {
    const vector = {
      key: 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8',
      ciphertext: VECTOR_CIPHERTEXT,
      plaintext: 'Parley attachment vector',
    };
    const plain = await openAttachmentStream(
      fromBase64Url(vector.ciphertext)!,
      fromBase64Url(vector.key)!,
      24,
    );
    assert.equal(new TextDecoder().decode(plain), vector.plaintext);
  });

  it('refuses bytes that differ from the digest, or have another length, before decrypting', async () => {
    const { ciphertext, secret } = await encryptAttachment(bytes(2 * S));
    const flipped = ciphertext.slice();
    flipped[100]! ^= 1;
    await assert.rejects(decryptAttachment(flipped, secret), corrupt('digest'));
    await assert.rejects(
      decryptAttachment(ciphertext.subarray(0, ciphertext.byteLength - 1), secret),
      corrupt('length'),
    );
    await assert.rejects(
      decryptAttachment(join(ciphertext, new Uint8Array(1)), secret),
      corrupt('length'),
    );
  });

  it('catches a cut, reordered, repeated or extended stream in the secretstream layer itself', async () => {
    const { ciphertext, secret } = await encryptAttachment(bytes(3 * S));
    const { header, parts } = segments(ciphertext);
    assert.equal(parts.length, 3);
    const open = (c: Uint8Array, size = 3 * S) => openAttachmentStream(c, secret.key, size);
    // Cut after a whole segment: no final tag.
    await assert.rejects(open(join(header, parts[0]!, parts[1]!), 2 * S), corrupt('segment'));
    // Two segments swapped, or one repeated.
    await assert.rejects(open(join(header, parts[1]!, parts[0]!, parts[2]!)), corrupt('segment'));
    await assert.rejects(open(join(header, parts[0]!, parts[0]!, parts[2]!)), corrupt('segment'));
    // A segment of another file under the same key cannot be spliced in either.
    const other = await encryptAttachment(bytes(3 * S), secret.key);
    const foreign = segments(other.ciphertext).parts[1]!;
    await assert.rejects(open(join(header, parts[0]!, foreign, parts[2]!)), corrupt('segment'));
    // Bytes after the final segment.
    await assert.rejects(open(join(ciphertext, parts[2]!), 4 * S), corrupt('segment'));
    // The wrong key.
    await assert.rejects(
      openAttachmentStream(ciphertext, new Uint8Array(32), 3 * S),
      corrupt('segment'),
    );
    assert.deepEqual(await open(ciphertext), bytes(3 * S));
  });
});

describe('attachment envelope', () => {
  const valid = {
    v: 1,
    type: 'attachment',
    id: 'A'.repeat(22),
    key: 'k'.repeat(43),
    digest: 'd'.repeat(43),
    size: 10,
    contentType: 'image/jpeg',
    name: 'beach.jpg',
    caption: 'look',
    sentAt: '2026-01-01T00:00:00.000Z',
    thumbnail: '/9j/4AAQ',
  } as const;

  it('round-trips, with and without a thumbnail', () => {
    const { thumbnail: _, ...plain } = valid;
    for (const envelope of [valid, plain] as Envelope[]) {
      assert.deepEqual(parseEnvelope(encodeEnvelope(envelope)), { kind: 'envelope', envelope });
    }
  });

  it('reads a broken attachment envelope as malformed, never throwing', () => {
    const broken = [
      { ...valid, key: 'short' },
      { ...valid, id: '../../etc/passwd' },
      { ...valid, size: -1 },
      { ...valid, size: 1.5 },
      { ...valid, name: 7 },
      { ...valid, thumbnail: 'x'.repeat(40_000) },
      { ...valid, thumbnail: '<svg>' },
    ];
    for (const b of broken) {
      const read = parseEnvelope(new TextEncoder().encode(JSON.stringify(b)));
      assert.deepEqual(read, {
        kind: 'unsupported',
        reason: 'malformed',
        type: 'attachment',
        v: 1,
      });
    }
  });
});

/** crypto_secretstream_xchacha20poly1305 of the plaintext above, one final segment. */
const VECTOR_CIPHERTEXT =
  'ZvK7j0A6j4g95T2Ot578ootBrvUN3hTWK1iouAD-sTGby7dxpX1nsym-DJMFQUF4mMCo4W9MtI2nS9BvrKQH8IQ';
