/**
 * The receiving side of RFC 8291 (Message Encryption for Web Push), written for the tests apart
 * from the sending library, with node:crypto only: what a browser does with a push body.
 *
 *   body = salt(16) ‖ rs(4) ‖ idlen(1) ‖ keyid(idlen) ‖ records       (RFC 8188 §2.1)
 *   keyid = the application server's ephemeral public key, 65 bytes    (RFC 8291 §4)
 *   ecdh_secret = ECDH(ua_private, as_public)
 *   IKM = HKDF(salt = auth_secret, ikm = ecdh_secret,
 *              info = "WebPush: info" ‖ 0x00 ‖ ua_public ‖ as_public, L = 32)   (RFC 8291 §3.4)
 *   CEK = HKDF(salt, IKM, "Content-Encoding: aes128gcm" ‖ 0x00, 16)
 *   NONCE = HKDF(salt, IKM, "Content-Encoding: nonce" ‖ 0x00, 12) XOR record sequence number
 *   each record: AES-128-GCM, 16-byte tag; plaintext ‖ delimiter (0x02 last, 0x01 others) ‖ 0x00*
 *
 * Checked byte for byte against RFC 8291 Appendix A (test-vectors/rfc8291-appendix-a.json).
 */

import { createDecipheriv, createECDH, hkdfSync } from 'node:crypto';

const TAG = 16;

function hkdf(salt: Buffer, ikm: Buffer, info: Buffer, length: number): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, length));
}

/** The plaintext of an aes128gcm push body; throws if anything does not check out. */
export function decryptAes128gcm(
  body: Uint8Array,
  receiver: { privateKey: Uint8Array; publicKey: Uint8Array; authSecret: Uint8Array },
): Buffer {
  const data = Buffer.from(body);
  if (data.length < 21) throw new Error('shorter than the RFC 8188 header');
  const salt = data.subarray(0, 16);
  const rs = data.readUInt32BE(16);
  const idlen = data[20]!;
  // RFC 8291 §4: the keyid is the sender's public key, uncompressed.
  if (idlen !== 65) throw new Error(`keyid is ${idlen} bytes, not a P-256 public key`);
  if (rs < 18) throw new Error('record size below the minimum (RFC 8188 §2)');
  const asPublic = data.subarray(21, 21 + idlen);
  const records = data.subarray(21 + idlen);
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(Buffer.from(receiver.privateKey));
  const ecdhSecret = ecdh.computeSecret(asPublic);
  const keyInfo = Buffer.concat([
    Buffer.from('WebPush: info\0'),
    Buffer.from(receiver.publicKey),
    asPublic,
  ]);
  const ikm = hkdf(Buffer.from(receiver.authSecret), ecdhSecret, keyInfo, 32);
  const cek = hkdf(salt, ikm, Buffer.from('Content-Encoding: aes128gcm\0'), 16);
  const nonce = hkdf(salt, ikm, Buffer.from('Content-Encoding: nonce\0'), 12);
  const out: Buffer[] = [];
  let seq = 0;
  for (let at = 0; at < records.length; at += rs, seq++) {
    const record = records.subarray(at, at + rs);
    const last = at + rs >= records.length;
    if (record.length <= TAG) throw new Error('a record shorter than its tag');
    const iv = Buffer.from(nonce);
    // The sequence number XORed into the nonce's low bytes (RFC 8188 §2.3); below 2^32 here.
    iv.writeUInt32BE((iv.readUInt32BE(8) ^ seq) >>> 0, 8);
    const decipher = createDecipheriv('aes-128-gcm', cek, iv);
    decipher.setAuthTag(record.subarray(record.length - TAG));
    const padded = Buffer.concat([
      decipher.update(record.subarray(0, record.length - TAG)),
      decipher.final(),
    ]);
    let end = padded.length - 1;
    while (end >= 0 && padded[end] === 0) end--;
    const delimiter = padded[end];
    if (delimiter !== (last ? 2 : 1)) throw new Error('a record with the wrong padding delimiter');
    out.push(padded.subarray(0, end));
  }
  return Buffer.concat(out);
}
