/**
 * This device's MLS keys: its signature key pair, and the stock of KeyPackages it keeps on the
 * server so others can add it to conversations — one-time ones topped up to KEY_PACKAGE_TARGET,
 * plus one last-resort KeyPackage handed out when those run out. The private halves stay here:
 * they are saved before the public halves leave, so every Welcome can be read, and a one-time
 * KeyPackage's private half is deleted once a Welcome has used it.
 */

import { fromBase64Url, MESSAGING_LIMITS } from '@parley/core';
import type { ClientStore } from '../store/store.js';
import type { ApiClient } from '../transport/api.js';
import type { OwnKeyPackage, SignatureKeys } from './mls.js';
import * as mls from './mls.js';
import { randomId } from './model.js';

/** How many one-time KeyPackages the SDK keeps on the server. */
export const KEY_PACKAGE_TARGET = 40;

const KEYS = { signature: 'mls-signature', keyPackages: 'mls-key-packages' };

type Own = Record<string, OwnKeyPackage>;

export class KeyPackageStock {
  private refilling: Promise<void> | undefined;
  /** Changes to the private halves, one at a time (a refill and a Welcome may overlap). */
  private writes: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: ClientStore,
    private readonly api: ApiClient,
    private readonly onError: (error: unknown) => void,
    /** This device's certificate for its signature key, uploaded to the server. */
    private readonly certify: (signatureKey: Uint8Array) => Promise<Uint8Array>,
    private readonly target = KEY_PACKAGE_TARGET,
  ) {}

  /** This device's MLS credential: its certificate (made and uploaded on first use). */
  async credential(): Promise<Uint8Array> {
    const keys = await this.signatureKeys();
    return this.certify(fromBase64Url(keys.publicKey)!);
  }

  /** The device's signature key pair, made on first use. */
  async signatureKeys(): Promise<SignatureKeys> {
    let keys = await this.store.get<SignatureKeys>(KEYS.signature);
    if (!keys) {
      keys = await mls.newSignatureKeys();
      await this.store.set(KEYS.signature, keys);
    }
    return keys;
  }

  /** The private half of one of this device's KeyPackages (a Welcome names it by id). */
  async own(id: string): Promise<OwnKeyPackage | undefined> {
    return (await this.ownAll())[id];
  }

  /** Forgets a one-time KeyPackage's private half once a Welcome has used it. */
  async spend(kp: OwnKeyPackage): Promise<void> {
    if (kp.lastResort) return;
    await this.change((own) => {
      delete own[kp.id];
    });
  }

  /** Tops up in the background, once at a time; failures are reported, not thrown. */
  refill(): Promise<void> {
    this.refilling ??= this.ensure()
      .catch(this.onError)
      .finally(() => {
        this.refilling = undefined;
      });
    return this.refilling;
  }

  /** Tops the server's stock of this device's one-time KeyPackages up to the target. */
  async ensure(): Promise<void> {
    const stock = await this.api.keyPackageStock();
    const missing = Math.max(0, this.target - stock.oneTime);
    if (missing === 0 && stock.lastResort) return;
    const keys = await this.signatureKeys();
    const credential = await this.credential();
    const made: OwnKeyPackage[] = [];
    for (let i = 0; i < missing; i++) {
      made.push(await mls.newKeyPackage(credential, keys, randomId(), false));
    }
    const lastResort = stock.lastResort
      ? undefined
      : await mls.newKeyPackage(credential, keys, randomId(), true);
    // The private halves are saved before the public ones leave, so a Welcome can always be read.
    await this.change((own) => {
      for (const kp of [...made, ...(lastResort ? [lastResort] : [])]) own[kp.id] = kp;
      if (lastResort) {
        for (const [id, kp] of Object.entries(own)) {
          if (kp.lastResort && id !== lastResort.id) delete own[id];
        }
      }
    });
    const per = MESSAGING_LIMITS.keyPackagesPerUpload;
    for (let i = 0; i === 0 || i < made.length; i += per) {
      await this.api.uploadKeyPackages({
        keyPackages: made.slice(i, i + per).map((kp) => ({ id: kp.id, keyPackage: kp.keyPackage })),
        ...(i === 0 && lastResort
          ? { lastResort: { id: lastResort.id, keyPackage: lastResort.keyPackage } }
          : {}),
      });
    }
  }

  /** Deletes the signature key and every KeyPackage's private half. */
  async erase(): Promise<void> {
    await this.store.delete(KEYS.keyPackages);
    await this.store.delete(KEYS.signature);
  }

  private async ownAll(): Promise<Own> {
    return (await this.store.get<Own>(KEYS.keyPackages)) ?? {};
  }

  private change(edit: (own: Own) => void): Promise<void> {
    const done = this.writes.then(async () => {
      const own = await this.ownAll();
      edit(own);
      await this.store.set(KEYS.keyPackages, own);
    });
    this.writes = done.catch(() => {});
    return done;
  }
}
