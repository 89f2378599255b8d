/**
 * The server's VAPID key (RFC 8292): the P-256 key pair that signs every push request, so a push
 * service accepts pushes for a subscription only from the server the browser subscribed with.
 * Browsers subscribe with its public half (GET /v1/push/vapid-key); a new key invalidates every
 * stored subscription, so it is created once, at first start, in the owner-only file
 * `<data>/vapid-key` beside the other keys (or given in PARLEY_VAPID_PRIVATE_KEY), and every node
 * of a cluster holds the same one (docs/operations.md).
 */

import { createECDH } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface VapidKey {
  /** The private scalar, 32 bytes, base64url. */
  readonly privateKey: string;
  /** The public point, 65 bytes uncompressed, base64url (the browser's applicationServerKey). */
  readonly publicKey: string;
}

export function vapidKeyPath(dataDir: string): string {
  return join(dataDir, 'vapid-key');
}

/** The key pair of a private scalar; throws if it is not a valid P-256 private key. */
export function vapidKeyOf(privateKey: string): VapidKey {
  const scalar = Buffer.from(privateKey, 'base64url');
  if (scalar.length !== 32) throw new Error('a VAPID private key is 32 bytes');
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(scalar); // refuses 0 and scalars at or above the group order
  return Object.freeze({
    privateKey: scalar.toString('base64url'),
    publicKey: ecdh.getPublicKey().toString('base64url'),
  });
}

/** A fresh key pair (the private scalar left-padded to 32 bytes, as RFC 8292 §3.2 expects). */
export function newVapidKey(): VapidKey {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const scalar = Buffer.alloc(32);
  const raw = ecdh.getPrivateKey();
  raw.copy(scalar, 32 - raw.length);
  return vapidKeyOf(scalar.toString('base64url'));
}

/**
 * The key from the environment when given, else from `<data>/vapid-key`, created there (0600)
 * when absent. A file that holds no valid key stops the start: replacing it silently would cut
 * every subscribed device off.
 */
export function loadVapidKey(dataDir: string, fromEnv: string | undefined): VapidKey {
  if (fromEnv !== undefined) return vapidKeyOf(fromEnv);
  const path = vapidKeyPath(dataDir);
  if (!existsSync(path)) {
    writeFileSync(path, `${newVapidKey().privateKey}\n`, { mode: 0o600, flag: 'wx' });
  }
  chmodSync(path, 0o600);
  const stored = readFileSync(path, 'utf8').trim();
  try {
    return vapidKeyOf(stored);
  } catch {
    throw new Error(
      `${path} does not hold a VAPID private key (32 bytes, base64url); restore it from the backup, or delete it to make a new one (every device must then turn notifications on again).`,
    );
  }
}
