/**
 * Account identity keys and device certificates (docs/design.md, "Identity").
 *
 * An account is an Ed25519 identity key, created on its first device and handed to every device
 * linked to it. Each device's MLS signature key is certified by that identity key: a device
 * certificate names the account, the device, the device key, the identity key and when it was
 * made, and is signed by the identity key. The certificate is the MLS `basic` credential's
 * identity (RFC 9420 §5.3.1 leaves its format to the application), so every leaf of every group
 * carries it and every client checks it (ts-mls's AuthenticationService hook).
 *
 * Wire format (version 1), all lengths in bytes:
 *
 *     "PDC" 0x01 | u8 n | accountId (n, ASCII) | u8 m | deviceId (m, ASCII)
 *     | deviceKey (32) | identityKey (32) | createdAt (u64 big-endian, ms since 1970) | signature (64)
 *
 * The signature is Ed25519 (libsodium `crypto_sign_detached`) by the identity key over
 * `"parley device certificate v1\0"` followed by every byte before the signature, so a
 * certificate signature can never be mistaken for a signature over anything else.
 *
 * Runs in Node and browsers (no node: imports); libsodium loads on first use.
 */

import { bytesEqual, concatBytes, utf8 } from './encoding.js';
import type { DeviceRef } from './messaging-schemas.js';
import { loadSodium, type Sodium } from './sodium.js';

const MAGIC = new Uint8Array([0x50, 0x44, 0x43, 0x01]); // "PDC" v1
const SIGNING_CONTEXT = utf8('parley device certificate v1\0');
export const IDENTITY_KEY_LENGTH = 32;
const KEY_LENGTH = 32;
const SIGNATURE_LENGTH = 64;
const ID = /^[A-Za-z0-9_-]{8,64}$/;

/** An account's Ed25519 identity key pair (libsodium's 64-byte secret key form). */
export interface IdentityKeyPair {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

export interface DeviceCertificate extends DeviceRef {
  /** The device's MLS signature public key (Ed25519), the key of each of its leaves. */
  deviceKey: Uint8Array;
  /** The account's identity public key, which signed this certificate. */
  identityKey: Uint8Array;
  /** When the certificate was issued, ms since 1970. */
  createdAt: number;
  signature: Uint8Array;
  /** The certificate as it travels (the MLS credential identity). */
  bytes: Uint8Array;
}

export interface CertificateFields extends DeviceRef {
  deviceKey: Uint8Array;
  createdAt: number;
}

export interface IdentityCrypto {
  newIdentityKeys(): IdentityKeyPair;
  /** Signs a certificate for a device of the account whose identity key this is. */
  issueCertificate(keys: IdentityKeyPair, fields: CertificateFields): Uint8Array;
  /** The certificate when it is well formed and its signature is its identity key's. */
  verifyCertificate(bytes: Uint8Array): DeviceCertificate | undefined;
}

let loading: Promise<IdentityCrypto> | undefined;

export function loadIdentityCrypto(): Promise<IdentityCrypto> {
  loading ??= loadSodium().then(identityCrypto);
  return loading;
}

function identityCrypto(sodium: Sodium): IdentityCrypto {
  return {
    newIdentityKeys() {
      const pair = sodium.crypto_sign_keypair();
      return { publicKey: pair.publicKey, secretKey: pair.privateKey };
    },
    issueCertificate(keys, fields) {
      if (keys.publicKey.length !== IDENTITY_KEY_LENGTH) {
        throw new RangeError('an identity public key is 32 bytes');
      }
      const body = encodeBody({ ...fields, identityKey: keys.publicKey });
      const signature = sodium.crypto_sign_detached(
        concatBytes(SIGNING_CONTEXT, body),
        keys.secretKey,
      );
      return concatBytes(body, signature);
    },
    verifyCertificate(bytes) {
      const cert = parseCertificate(bytes);
      if (!cert) return undefined;
      const body = bytes.subarray(0, bytes.length - SIGNATURE_LENGTH);
      try {
        return sodium.crypto_sign_verify_detached(
          cert.signature,
          concatBytes(SIGNING_CONTEXT, body),
          cert.identityKey,
        )
          ? cert
          : undefined;
      } catch {
        return undefined;
      }
    },
  };
}

function encodeBody(fields: CertificateFields & { identityKey: Uint8Array }): Uint8Array {
  if (!ID.test(fields.accountId) || !ID.test(fields.deviceId)) {
    throw new RangeError('account and device ids are 8 to 64 base64url characters');
  }
  if (fields.deviceKey.length !== KEY_LENGTH) throw new RangeError('a device key is 32 bytes');
  if (!Number.isSafeInteger(fields.createdAt) || fields.createdAt < 0) {
    throw new RangeError('createdAt is a non-negative integer of milliseconds');
  }
  const account = utf8(fields.accountId);
  const device = utf8(fields.deviceId);
  const time = new Uint8Array(8);
  new DataView(time.buffer).setBigUint64(0, BigInt(fields.createdAt));
  return concatBytes(
    MAGIC,
    Uint8Array.of(account.length),
    account,
    Uint8Array.of(device.length),
    device,
    fields.deviceKey,
    fields.identityKey,
    time,
  );
}

/**
 * Reads a certificate's fields without checking its signature (the server and the SDK always
 * verify before trusting one); undefined unless it is exactly one well-formed certificate.
 */
export function parseCertificate(bytes: Uint8Array): DeviceCertificate | undefined {
  let at = 0;
  const take = (n: number): Uint8Array | undefined => {
    if (at + n > bytes.length) return undefined;
    const out = bytes.subarray(at, at + n);
    at += n;
    return out;
  };
  const magic = take(MAGIC.length);
  if (!magic || !bytesEqual(magic, MAGIC)) return undefined;
  const id = (): string | undefined => {
    const length = take(1)?.[0];
    const raw = length === undefined ? undefined : take(length);
    if (!raw) return undefined;
    const text = String.fromCharCode(...raw);
    return ID.test(text) ? text : undefined;
  };
  const accountId = id();
  const deviceId = id();
  const deviceKey = take(KEY_LENGTH);
  const identityKey = take(IDENTITY_KEY_LENGTH);
  const time = take(8);
  const signature = take(SIGNATURE_LENGTH);
  if (!accountId || !deviceId || !deviceKey || !identityKey || !time || !signature) return;
  if (at !== bytes.length) return undefined;
  const createdAt = new DataView(time.buffer, time.byteOffset, 8).getBigUint64(0);
  if (createdAt > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  return {
    accountId,
    deviceId,
    deviceKey: deviceKey.slice(),
    identityKey: identityKey.slice(),
    createdAt: Number(createdAt),
    signature: signature.slice(),
    bytes: bytes.slice(),
  };
}

/** The account and device a credential's certificate names (its signature unchecked). */
export function credentialDevice(bytes: Uint8Array): DeviceRef | undefined {
  const cert = parseCertificate(bytes);
  return cert ? { accountId: cert.accountId, deviceId: cert.deviceId } : undefined;
}
