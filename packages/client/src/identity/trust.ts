/**
 * Whose identity key is whose, as this device has learned it: trust on first use until key
 * transparency lands (docs/security.md). For every other account the first identity key seen in
 * a certificate is pinned, with the device keys seen under it; later certificates are judged
 * against the pin:
 * - the pinned key, a known device with its known key or a new device → accepted;
 * - a known device id with another device key, or a known device id under another identity key
 *   → forged (device keys never change and device ids are never reused): refused;
 * - another identity key with only new devices → the account has a new identity (a new phone,
 *   a number re-registered by SMS — or an operator pretending): accepted, with a change the
 *   messenger shows in every conversation with that account ("safety number changed") before
 *   anything is encrypted to it. A contact the user had verified stays blocked until the user
 *   accepts the new key.
 * This account's own certificates must carry this device's own identity key: no first use.
 */

import { bytesEqual, type DeviceCertificate, fromBase64Url, toBase64Url } from '@parley/core';
import type { ClientStore } from '../store/store.js';

const KEY = 'identity-pins';

export interface Pin {
  identityKey: string;
  firstSeenAt: string;
  /** Device id → device key, as certified under the pinned identity key. */
  devices: Record<string, string>;
  /** The user compared or scanned the safety number for this key. */
  verified: boolean;
  /** Set when the key changed: the key before, and when. */
  previousKey?: string;
  changedAt?: string;
  /** A verified contact's key changed and the user has not accepted the new one yet. */
  unaccepted?: boolean;
}

export interface TrustVerdict {
  accepted: DeviceCertificate[];
  /** Certificates refused: each with why. */
  refused: Array<{ certificate: DeviceCertificate; reason: 'forged-device' | 'not-own-identity' }>;
  /** Accounts whose identity key changed with this call. */
  changed: string[];
}

export class Trust {
  private writes: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: ClientStore,
    /** This account and its identity key (undefined before it has one). */
    private readonly self: () => Promise<{ accountId: string; identityKey?: Uint8Array }>,
  ) {}

  /** Judges certificates (one batch: a tree, or the KeyPackages of one claim) and pins keys. */
  admit(certificates: readonly DeviceCertificate[]): Promise<TrustVerdict> {
    return this.change(async (pins) => {
      const self = await this.self();
      const verdict: TrustVerdict = { accepted: [], refused: [], changed: [] };
      // An account with leaves under two identity keys at once is not a new identity: the
      // key it had keeps its devices (if any), the other is refused.
      const keysOf = new Map<string, Set<string>>();
      for (const cert of certificates) {
        const set = keysOf.get(cert.accountId) ?? new Set<string>();
        set.add(toBase64Url(cert.identityKey));
        keysOf.set(cert.accountId, set);
      }
      for (const cert of certificates) {
        if (cert.accountId === self.accountId) {
          if (self.identityKey && bytesEqual(cert.identityKey, self.identityKey)) {
            verdict.accepted.push(cert);
          } else verdict.refused.push({ certificate: cert, reason: 'not-own-identity' });
          continue;
        }
        const key = toBase64Url(cert.identityKey);
        const deviceKey = toBase64Url(cert.deviceKey);
        const pin = pins[cert.accountId];
        const mixed = (keysOf.get(cert.accountId)?.size ?? 0) > 1;
        if (!pin) {
          if (mixed) {
            verdict.refused.push({ certificate: cert, reason: 'forged-device' });
            continue;
          }
          pins[cert.accountId] = {
            identityKey: key,
            firstSeenAt: new Date().toISOString(),
            devices: { [cert.deviceId]: deviceKey },
            verified: false,
          };
          verdict.accepted.push(cert);
          continue;
        }
        const known = pin.devices[cert.deviceId];
        if (pin.identityKey === key) {
          if (known !== undefined && known !== deviceKey) {
            verdict.refused.push({ certificate: cert, reason: 'forged-device' });
            continue;
          }
          pin.devices[cert.deviceId] = deviceKey;
          verdict.accepted.push(cert);
          continue;
        }
        if (mixed || known !== undefined || pin.previousKey === key) {
          // An old device, or an identity replaced before, under another key: not a new one.
          verdict.refused.push({ certificate: cert, reason: 'forged-device' });
          continue;
        }
        pins[cert.accountId] = {
          identityKey: key,
          firstSeenAt: pin.firstSeenAt,
          devices: { [cert.deviceId]: deviceKey },
          verified: false,
          previousKey: pin.identityKey,
          changedAt: new Date().toISOString(),
          ...(pin.verified || pin.unaccepted ? { unaccepted: true } : {}),
        };
        verdict.changed.push(cert.accountId);
        verdict.accepted.push(cert);
      }
      return verdict;
    });
  }

  async pin(accountId: string): Promise<Pin | undefined> {
    return (await this.all())[accountId];
  }

  /** The pinned identity key of an account, as bytes. */
  async identityKey(accountId: string): Promise<Uint8Array | undefined> {
    const pin = await this.pin(accountId);
    return pin ? fromBase64Url(pin.identityKey) : undefined;
  }

  /**
   * Pins a key learned outside MLS (the server's answer for an account this device has never
   * met, to show a safety number): only when nothing is pinned yet.
   */
  pinFirstUse(accountId: string, identityKey: Uint8Array): Promise<Pin> {
    return this.change(async (pins) => {
      pins[accountId] ??= {
        identityKey: toBase64Url(identityKey),
        firstSeenAt: new Date().toISOString(),
        devices: {},
        verified: false,
      };
      return pins[accountId];
    });
  }

  /** Marks the pinned key verified (the user compared or scanned the safety number) or not. */
  setVerified(accountId: string, verified: boolean): Promise<Pin | undefined> {
    return this.change(async (pins) => {
      const pin = pins[accountId];
      if (!pin) return undefined;
      pin.verified = verified;
      if (verified) delete pin.unaccepted;
      return pin;
    });
  }

  /** The user accepts a changed key: sending to the account is allowed again (unverified). */
  accept(accountId: string): Promise<Pin | undefined> {
    return this.change(async (pins) => {
      const pin = pins[accountId];
      if (pin) delete pin.unaccepted;
      return pin;
    });
  }

  /** Of these accounts, those whose changed key waits for the user's acceptance. */
  async blocked(accountIds: readonly string[]): Promise<string[]> {
    const pins = await this.all();
    return accountIds.filter((a) => pins[a]?.unaccepted);
  }

  /** Every pin (for the provisioning envelope a linked device receives). */
  all(): Promise<Record<string, Pin>> {
    return this.store.get<Record<string, Pin>>(KEY).then((p) => p ?? {});
  }

  /** Replaces every pin (a linked device takes its account's). */
  replaceAll(pins: Record<string, Pin>): Promise<void> {
    return this.change(async (all) => {
      for (const k of Object.keys(all)) delete all[k];
      Object.assign(all, pins);
    });
  }

  async erase(): Promise<void> {
    await this.writes;
    await this.store.delete(KEY);
  }

  private change<T>(edit: (pins: Record<string, Pin>) => Promise<T>): Promise<T> {
    const done = this.writes.then(async () => {
      const pins = await this.all();
      const result = await edit(pins);
      await this.store.set(KEY, pins);
      return result;
    });
    this.writes = done.catch(() => {});
    return done;
  }
}
