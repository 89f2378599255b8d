/**
 * The fake server's KeyPackage store, as packages/server/src/messaging/key-packages.ts: per
 * device, one-time KeyPackages handed out once each (oldest first) and one last-resort KeyPackage
 * that stays; every upload checked to be an MLS KeyPackage of Parley's suite naming the uploader.
 */

import {
  type ClaimedKeyPackage,
  type DeviceRef,
  deviceIdentity,
  fromBase64Url,
  type KeyPackageItem,
  type KeyPackageStock,
  type KeyPackageUpload,
  MESSAGING_LIMITS,
  MLS_CIPHER_SUITE,
  ParleyError,
} from '@parley/core';
import { decodeMlsMessage } from 'ts-mls';

/** As the server's check: nobody may plant KeyPackages for another device. */
export function checkKeyPackage(item: KeyPackageItem, device: DeviceRef): void {
  const fail = (reason: string) =>
    new ParleyError('KEY_PACKAGE_INVALID', { details: { id: item.id, reason } });
  const bytes = fromBase64Url(item.keyPackage);
  if (!bytes) throw fail('not base64url');
  let decoded: ReturnType<typeof decodeMlsMessage>;
  try {
    decoded = decodeMlsMessage(bytes, 0);
  } catch {
    throw fail('not an MLS message');
  }
  if (!decoded || decoded[1] !== bytes.length) throw fail('not an MLS message');
  const message = decoded[0];
  if (message.wireformat !== 'mls_key_package') throw fail('not a KeyPackage');
  if (message.keyPackage.cipherSuite !== MLS_CIPHER_SUITE) throw fail('wrong cipher suite');
  const credential = message.keyPackage.leafNode.credential;
  if (
    credential.credentialType !== 'basic' ||
    new TextDecoder().decode(credential.identity) !== deviceIdentity(device)
  ) {
    throw fail('the credential must name this device');
  }
}

interface Held {
  oneTime: KeyPackageItem[];
  lastResort: KeyPackageItem | undefined;
}

export class FakeKeyPackages {
  private readonly held = new Map<string, Held>();

  upload(deviceId: string, body: KeyPackageUpload): KeyPackageStock {
    const held = this.of(deviceId);
    if (held.oneTime.length + body.keyPackages.length > MESSAGING_LIMITS.keyPackageStock) {
      throw new ParleyError('KEY_PACKAGE_STOCK_FULL', {
        details: { held: held.oneTime.length, max: MESSAGING_LIMITS.keyPackageStock },
      });
    }
    for (const item of body.keyPackages) {
      if (!held.oneTime.some((k) => k.id === item.id)) held.oneTime.push(item);
    }
    if (body.lastResort) held.lastResort = body.lastResort;
    return this.stock(deviceId);
  }

  stock(deviceId: string): KeyPackageStock {
    const held = this.of(deviceId);
    return {
      oneTime: held.oneTime.length,
      lastResort: held.lastResort !== undefined,
      low: held.oneTime.length < MESSAGING_LIMITS.keyPackageLowWater,
    };
  }

  /** One KeyPackage for every device of each account, the requester's own device excepted. */
  claim(
    requester: DeviceRef,
    accountIds: string[],
    devices: readonly DeviceRef[],
  ): ClaimedKeyPackage[] {
    const unique = [...new Set(accountIds)];
    const claimed: ClaimedKeyPackage[] = [];
    for (const device of devices) {
      if (!unique.includes(device.accountId) || device.deviceId === requester.deviceId) continue;
      const held = this.of(device.deviceId);
      const item = held.oneTime[0] ?? held.lastResort;
      if (item) claimed.push({ ...device, keyPackageId: item.id, keyPackage: item.keyPackage });
    }
    const missing = unique.filter(
      (id) => id !== requester.accountId && !claimed.some((c) => c.accountId === id),
    );
    if (missing.length > 0) {
      throw new ParleyError('ACCOUNT_NOT_FOUND', { details: { accountIds: missing } });
    }
    // Taken only when the whole claim succeeds, as in the server's transaction.
    for (const c of claimed) {
      const held = this.of(c.deviceId);
      if (held.oneTime[0]?.id === c.keyPackageId) held.oneTime.shift();
    }
    return claimed;
  }

  forget(deviceId: string): void {
    this.held.delete(deviceId);
  }

  private of(deviceId: string): Held {
    let held = this.held.get(deviceId);
    if (!held) {
      held = { oneTime: [], lastResort: undefined };
      this.held.set(deviceId, held);
    }
    return held;
  }
}
