/**
 * Protocol constants shared by the server, the SDK, the CLI and the web app, defined once: the
 * WebSocket close codes, the MLS cipher suite, and the credential devices used before identity keys.
 * Lengths and domain-separation tags of the directory and the OPRF live beside their specs
 * (directory-keys.ts, oprf.ts) and are exported from there.
 */

import type { DeviceRef } from './messaging-schemas.js';

/**
 * WebSocket close codes. 1001 is RFC 6455's "going away"; the rest are in the application range
 * (4000–4999), modelled on HTTP statuses so a log reader can guess them.
 */
export const CLOSE_CODES = Object.freeze({
  /** The server is shutting down; the client reconnects (to the next node). */
  serverClosing: 1001,
  /** The first frame's credential was refused: the client stops and signs in again. */
  authFailed: 4401,
  /** No authentication frame arrived in time. */
  authTimeout: 4408,
  /** The device's account was deleted: its credential is refused from now on. */
  accountDeleted: 4410,
  /** The device was removed (signed out) by the account's owner: its credential is refused. */
  deviceRemoved: 4411,
} as const);

export type CloseCode = (typeof CLOSE_CODES)[keyof typeof CLOSE_CODES];

/** The one MLS cipher suite Parley speaks (RFC 9420 §17.1, suite 1). */
export const MLS_CIPHER_SUITE = 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519';

/** Account and device ids: base64url, 8 to 64 characters (the server makes 22). */
const ID = '[A-Za-z0-9_-]{8,64}';
const IDENTITY = new RegExp(`^(${ID})/(${ID})$`);

/**
 * The MLS `basic` credential identity devices used before identity keys: "<accountId>/<deviceId>".
 * Leaves and KeyPackages with it are refused now (a device certificate, identity.ts, is the
 * credential); kept to recognise, and to test the refusal of, the old form.
 *
 * @example deviceIdentity({ accountId: 'acc12345', deviceId: 'dev12345' }) // 'acc12345/dev12345'
 */
export function deviceIdentity(device: DeviceRef): string {
  return `${device.accountId}/${device.deviceId}`;
}

/** The identity as the credential's bytes (UTF-8). */
export function deviceIdentityBytes(device: DeviceRef): Uint8Array {
  return new TextEncoder().encode(deviceIdentity(device));
}

/** Reads a credential identity back; undefined when it does not name a device. */
export function parseDeviceIdentity(identity: string | Uint8Array): DeviceRef | undefined {
  const text = typeof identity === 'string' ? identity : new TextDecoder().decode(identity);
  const match = IDENTITY.exec(text);
  return match ? { accountId: match[1]!, deviceId: match[2]! } : undefined;
}
