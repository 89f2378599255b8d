/**
 * This account's identity key and this device's certificate, as kept on the device. The first
 * device of an account creates the identity key at registration; a linked device receives it from
 * the device that approved it (docs/design.md, "Identity"). The certificate binds this device's
 * MLS signature key to the identity key; it is made once, when the signature key is.
 */

import {
  type DeviceRef,
  fromBase64Url,
  type IdentityKeyPair,
  loadIdentityCrypto,
  ParleyError,
  toBase64Url,
} from '@parley/core';
import type { ClientStore } from '../store/store.js';

const KEYS = { identity: 'identity-keys', certificate: 'device-certificate' };

interface StoredKeys {
  publicKey: string;
  secretKey: string;
}

/** The identity key pair in the form the store and the provisioning envelope carry. */
export interface PortableIdentityKeys {
  publicKey: string;
  secretKey: string;
}

export class OwnIdentity {
  constructor(private readonly store: ClientStore) {}

  /** The account's identity key pair, if this device holds it. */
  async keys(): Promise<IdentityKeyPair | undefined> {
    const stored = await this.store.get<StoredKeys>(KEYS.identity);
    const publicKey = stored && fromBase64Url(stored.publicKey);
    const secretKey = stored && fromBase64Url(stored.secretKey);
    return publicKey && secretKey ? { publicKey, secretKey } : undefined;
  }

  /** The identity keys, or NO_IDENTITY when this device has none (see `keys`). */
  async require(): Promise<IdentityKeyPair> {
    const keys = await this.keys();
    if (!keys) throw new ParleyError('NO_IDENTITY');
    return keys;
  }

  /** Makes a new identity key pair (not saved: `adopt` it once the server has taken it). */
  async generate(): Promise<IdentityKeyPair> {
    return (await loadIdentityCrypto()).newIdentityKeys();
  }

  async adopt(keys: IdentityKeyPair): Promise<void> {
    await this.store.set<StoredKeys>(KEYS.identity, {
      publicKey: toBase64Url(keys.publicKey),
      secretKey: toBase64Url(keys.secretKey),
    });
  }

  async exportKeys(): Promise<PortableIdentityKeys> {
    const keys = await this.require();
    return { publicKey: toBase64Url(keys.publicKey), secretKey: toBase64Url(keys.secretKey) };
  }

  /** Reads keys handed over by another device; undefined unless they are a matching pair. */
  static async importKeys(keys: PortableIdentityKeys): Promise<IdentityKeyPair | undefined> {
    const publicKey = fromBase64Url(keys.publicKey);
    const secretKey = fromBase64Url(keys.secretKey);
    // libsodium's Ed25519 secret key is the seed followed by the public key.
    if (publicKey?.length !== 32 || secretKey?.length !== 64) return undefined;
    const crypto = await loadIdentityCrypto();
    const probe = crypto.issueCertificate(
      { publicKey, secretKey },
      {
        accountId: 'probe-account',
        deviceId: 'probe-device',
        deviceKey: new Uint8Array(32),
        createdAt: 0,
      },
    );
    return crypto.verifyCertificate(probe) ? { publicKey, secretKey } : undefined;
  }

  /**
   * This device's certificate for its signature key, issued on first use and kept: the same
   * bytes go into every KeyPackage and leaf of this device.
   */
  async certificate(device: DeviceRef, deviceKey: Uint8Array): Promise<Uint8Array> {
    const stored = await this.store.get<string>(KEYS.certificate);
    const bytes = stored ? fromBase64Url(stored) : undefined;
    if (bytes) return bytes;
    const crypto = await loadIdentityCrypto();
    const issued = crypto.issueCertificate(await this.require(), {
      ...device,
      deviceKey,
      createdAt: Date.now(),
    });
    await this.store.set(KEYS.certificate, toBase64Url(issued));
    return issued;
  }

  async erase(): Promise<void> {
    await this.store.delete(KEYS.identity);
    await this.store.delete(KEYS.certificate);
  }
}
