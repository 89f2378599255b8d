/**
 * The fake server's KeyPackage store, as packages/server/src/messaging/key-packages.ts: per
 * device, one-time KeyPackages handed out once each (oldest first) and one last-resort KeyPackage
 * that stays; every upload checked to be an MLS KeyPackage of Parley's suite naming the uploader.
 */

import {
  type ClaimedKeyPackage,
  type DeviceRef,
  type KeyPackageItem,
  type KeyPackageStock,
  type KeyPackageUpload,
  MESSAGING_LIMITS,
  ParleyError,
} from '@parley/core';
import { peerKeyPackage } from '../messaging/mls.js';

/**
 * As the server's check (nobody may plant KeyPackages for another device): an MLS KeyPackage of
 * Parley's suite, naming the uploader, validly signed. The SDK's own check of claimed KeyPackages
 * makes exactly these checks.
 */
export async function checkKeyPackage(item: KeyPackageItem, device: DeviceRef): Promise<void> {
  try {
    await peerKeyPackage(item.keyPackage, device);
  } catch (cause) {
    throw new ParleyError('KEY_PACKAGE_INVALID', {
      cause,
      details: { id: item.id, reason: 'not a KeyPackage of this device' },
    });
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
