/**
 * The attachment ciphertext checked by an independent implementation: libsodium's
 * crypto_secretstream_xchacha20poly1305 written again here from its specification (libsodium's
 * documentation and secretstream_xchacha20poly1305.c: HChaCha20 subkey, IETF ChaCha20 with the
 * counter ‖ inonce nonce, the tag in the first byte of block 1, Poly1305 over the padded
 * encrypted block and message, the inonce XORed with the MAC after each message) on top of
 * @noble/ciphers' ChaCha20, HChaCha20 and Poly1305 — not libsodium. What core's libsodium path
 * writes, this opens; what this writes, core opens.
 */

import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { poly1305 } from '@noble/ciphers/_poly1305.js';
import { chacha20, hchacha } from '@noble/ciphers/chacha.js';
import {
  ATTACHMENT_SEGMENT_BYTES,
  concatBytes as concat,
  encryptAttachment,
  fromBase64Url,
  openAttachmentStream,
} from '@parley/core';

const TAG_MESSAGE = 0;
const TAG_FINAL = 3;
/** "expand 32-byte k", little-endian words. */
const SIGMA = new Uint32Array([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]);

const words = (bytes: Uint8Array) =>
  new Uint32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));

/** HChaCha20(key, 16-byte input): the stream's subkey. */
function subkey(key: Uint8Array, input: Uint8Array): Uint8Array {
  const out = new Uint32Array(8);
  hchacha(SIGMA, words(key), words(input), out);
  return new Uint8Array(out.buffer);
}

const le64 = (n: number) => {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  return out;
};

/** The secretstream state: the subkey and the 12-byte nonce (4-byte counter ‖ 8-byte inonce). */
class Stream {
  private readonly k: Uint8Array;
  private readonly nonce = new Uint8Array(12);

  constructor(key: Uint8Array, header: Uint8Array) {
    this.k = subkey(key, header.subarray(0, 16));
    this.nonce[0] = 1;
    this.nonce.set(header.subarray(16, 24), 4);
  }

  private mac(block: Uint8Array, c: Uint8Array): Uint8Array {
    const polyKey = chacha20(this.k, this.nonce, new Uint8Array(64), undefined, 0).subarray(0, 32);
    // No associated data: nothing before the block, and its length 0 at the end.
    const pad = new Uint8Array((0x10 - 64 + c.byteLength) & 0xf);
    return poly1305(concat(block, c, pad, le64(0), le64(64 + c.byteLength)), polyKey);
  }

  /** After each message: the MAC's first 8 bytes into the inonce, the counter up by one. */
  private advance(mac: Uint8Array): void {
    for (let i = 0; i < 8; i++) this.nonce[4 + i]! ^= mac[i]!;
    for (let i = 0, carry = 1; i < 4 && carry; i++) {
      const sum = this.nonce[i]! + carry;
      this.nonce[i] = sum & 0xff;
      carry = sum >> 8;
    }
  }

  push(message: Uint8Array, tag: number): Uint8Array {
    const block = new Uint8Array(64);
    block[0] = tag;
    const sealedBlock = chacha20(this.k, this.nonce, block, undefined, 1);
    const c = chacha20(this.k, this.nonce, message, undefined, 2);
    const mac = this.mac(sealedBlock, c);
    this.advance(mac);
    return concat(sealedBlock.subarray(0, 1), c, mac);
  }

  pull(sealed: Uint8Array): { message: Uint8Array; tag: number } {
    const c = sealed.subarray(1, sealed.byteLength - 16);
    const block = new Uint8Array(64);
    block[0] = sealed[0]!;
    const opened = chacha20(this.k, this.nonce, block, undefined, 1);
    const tag = opened[0]!;
    opened[0] = sealed[0]!;
    const mac = this.mac(opened, c);
    assert.deepEqual(mac, sealed.subarray(sealed.byteLength - 16), 'the Poly1305 tag');
    const message = chacha20(this.k, this.nonce, c, undefined, 2);
    this.advance(mac);
    return { message, tag };
  }
}

const SEALED = ATTACHMENT_SEGMENT_BYTES + 17;

function independentOpen(ciphertext: Uint8Array, key: Uint8Array): Uint8Array {
  const stream = new Stream(key, ciphertext.subarray(0, 24));
  const parts: Uint8Array[] = [];
  for (let at = 24; at < ciphertext.byteLength; at += SEALED) {
    const last = at + SEALED >= ciphertext.byteLength;
    const { message, tag } = stream.pull(ciphertext.subarray(at, at + SEALED));
    assert.equal(tag, last ? TAG_FINAL : TAG_MESSAGE);
    parts.push(message);
  }
  return concat(...parts);
}

function independentSeal(plaintext: Uint8Array, key: Uint8Array, header: Uint8Array): Uint8Array {
  const stream = new Stream(key, header);
  const count = Math.max(1, Math.ceil(plaintext.byteLength / ATTACHMENT_SEGMENT_BYTES));
  const parts = [header];
  for (let i = 0; i < count; i++) {
    const piece = plaintext.subarray(
      i * ATTACHMENT_SEGMENT_BYTES,
      (i + 1) * ATTACHMENT_SEGMENT_BYTES,
    );
    parts.push(stream.push(piece, i === count - 1 ? TAG_FINAL : TAG_MESSAGE));
  }
  return concat(...parts);
}

describe('attachment ciphertext against an independent secretstream (noble ChaCha20/Poly1305)', () => {
  it('opens what core (libsodium) writes, segment by segment with its tags', async () => {
    for (const n of [0, 1, ATTACHMENT_SEGMENT_BYTES, 2 * ATTACHMENT_SEGMENT_BYTES + 7]) {
      const plain = new Uint8Array(randomBytes(n));
      const { ciphertext, secret } = await encryptAttachment(plain);
      assert.deepEqual(independentOpen(ciphertext, secret.key), plain, `size ${n}`);
    }
  });

  it('writes what core opens', async () => {
    const key = new Uint8Array(randomBytes(32));
    const plain = new Uint8Array(randomBytes(3 * ATTACHMENT_SEGMENT_BYTES + 100));
    const sealed = independentSeal(plain, key, new Uint8Array(randomBytes(24)));
    assert.deepEqual(await openAttachmentStream(sealed, key, plain.byteLength), plain);
  });

  it('opens core’s checked-in vector (core/src/attachment-crypto.test.ts)', () => {
    const key = fromBase64Url('AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8')!;
    const ciphertext = fromBase64Url(
      'ZvK7j0A6j4g95T2Ot578ootBrvUN3hTWK1iouAD-sTGby7dxpX1nsym-DJMFQUF4mMCo4W9MtI2nS9BvrKQH8IQ',
    )!;
    assert.equal(
      new TextDecoder().decode(independentOpen(ciphertext, key)),
      'Parley attachment vector',
    );
  });
});
