/**
 * Keys an operator could make: a KeyPackage under a device's name that no identity key of its
 * account certified (the operator's own identity key signs it). What the SDK must refuse.
 */

import { type DeviceRef, fromBase64Url, loadIdentityCrypto } from '@parley/core';
import * as mls from '../messaging/mls.js';

/** A KeyPackage (base64url MLS message) for `device`, certified by a fresh, foreign identity key. */
export async function forgedKeyPackage(
  device: DeviceRef,
  id = 'forged-key-package',
): Promise<string> {
  const crypto = await loadIdentityCrypto();
  const signature = await mls.newSignatureKeys();
  const certificate = crypto.issueCertificate(crypto.newIdentityKeys(), {
    accountId: device.accountId,
    deviceId: device.deviceId,
    deviceKey: fromBase64Url(signature.publicKey)!,
    createdAt: Date.now(),
  });
  return (await mls.newKeyPackage(certificate, signature, id, false)).keyPackage;
}
