/**
 * KeyPackages: each device uploads a stock of one-time KeyPackages and one last-resort KeyPackage.
 * A claim hands each one-time KeyPackage out exactly once (deleted in the same transaction) and
 * falls back to the last-resort one, which stays. Only the owner's own devices and the accounts on
 * the owner's presence allow-list take one-time packages; anyone else is handed the last-resort
 * package and changes nothing, so no stranger can drain a stock, and nothing a stranger's claim
 * returns depends on whether the owner has been online since (docs/security.md, "KeyPackages"). The server checks that every KeyPackage is an
 * MLS KeyPackage for cipher suite 1 whose `basic` credential is the uploading device's stored
 * certificate and whose leaf signature key is the key that certificate certifies, so nobody can
 * plant keys for another device (clients check the certificate's signature themselves).
 */

import type { DeviceRef } from '@parley/core';
import {
  bytesEqual,
  type ClaimedKeyPackage,
  type DeviceCertificate,
  fromBase64Url,
  type KeyPackageItem,
  type KeyPackageStock,
  type KeyPackageUpload,
  MESSAGING_LIMITS,
  MLS_CIPHER_SUITE,
  ParleyError,
  parseCertificate,
  toBase64Url,
} from '@parley/core';
import { decodeMlsMessage } from 'ts-mls';
import { certificateOf, devicesOfAccounts } from '../identity/device-store.js';
import type { Bucket, Bus } from '../infra/bus/bus.js';
import { InProcessBus } from '../infra/bus/in-process.js';
import type { Db } from '../infra/db/database.js';
import type { Realtime } from '../realtime/port.js';
import type { Blocks } from './blocks.js';

/** Whose claims may take one-time packages: the owner's allow-list (discovery/presence-allow-list.ts). */
export interface ClaimGrants {
  /** Of `owners`, those whose allow-list holds `member`. */
  allowing(member: string, owners: readonly string[]): Promise<Set<string>>;
}

/** `certificate`: the uploading device's stored certificate. */
export function checkKeyPackage(item: KeyPackageItem, certificate: DeviceCertificate): Uint8Array {
  const bytes = fromBase64Url(item.keyPackage);
  const fail = (reason: string) =>
    new ParleyError('KEY_PACKAGE_INVALID', { details: { id: item.id, reason } });
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
  const { keyPackage } = message;
  if (keyPackage.cipherSuite !== MLS_CIPHER_SUITE) {
    throw fail(`cipher suite must be ${MLS_CIPHER_SUITE}`);
  }
  const { credential, signaturePublicKey } = keyPackage.leafNode;
  if (credential.credentialType !== 'basic') throw fail('the credential must be basic');
  if (!bytesEqual(credential.identity, certificate.bytes)) {
    throw fail("the credential must be this device's certificate");
  }
  if (!bytesEqual(signaturePublicKey, certificate.deviceKey)) {
    throw fail("the leaf signature key must be the certificate's device key");
  }
  return bytes;
}

/**
 * Accounts one account may claim KeyPackages of per hour. Each claim takes a one-time package
 * from every device of the accounts named, so without a limit anyone could drain someone's stock
 * down to the last-resort package (which then loses forward secrecy across conversations).
 */
export const CLAIMS_PER_HOUR = 1000;

export class KeyPackages {
  private readonly claims: Bucket;
  private readonly blocks: Blocks | undefined;
  /** Where the claim limits live: shared by every node on the bus. */
  private readonly bus: Bus;

  constructor(
    private readonly db: Db,
    private readonly realtime: Realtime,
    private readonly grants: ClaimGrants,
    options: { claimsPerHour?: number; bus?: Bus; blocks?: Blocks } = {},
  ) {
    this.blocks = options.blocks;
    const capacity = options.claimsPerHour ?? CLAIMS_PER_HOUR;
    this.claims = { name: 'key-claims', capacity, windowMs: 3_600_000 };
    this.bus = options.bus ?? new InProcessBus();
  }

  /** A deleted account's claim limit is forgotten with it. */
  async forgetAccount(accountId: string): Promise<void> {
    await this.bus.forget(this.claims, accountId);
  }

  async upload(device: DeviceRef, body: KeyPackageUpload): Promise<KeyPackageStock> {
    const stored = await certificateOf(this.db, device.deviceId);
    // Stored only after it verified (identity-keys.ts), so parsing suffices here.
    const certificate = stored ? parseCertificate(stored) : undefined;
    if (!certificate) throw new ParleyError('CERTIFICATE_REQUIRED');
    const oneTime = body.keyPackages.map((item) => ({
      item,
      bytes: checkKeyPackage(item, certificate),
    }));
    const lastResort = body.lastResort
      ? { item: body.lastResort, bytes: checkKeyPackage(body.lastResort, certificate) }
      : undefined;
    const now = Date.now();
    await this.db.transaction().execute(async (trx) => {
      const { count } = await trx
        .selectFrom('key_packages')
        .select((eb) => eb.fn.countAll<number>().as('count'))
        .where('device_id', '=', device.deviceId)
        .where('last_resort', '=', 0)
        .executeTakeFirstOrThrow();
      if (Number(count) + oneTime.length > MESSAGING_LIMITS.keyPackageStock) {
        throw new ParleyError('KEY_PACKAGE_STOCK_FULL', {
          details: { held: Number(count), max: MESSAGING_LIMITS.keyPackageStock },
        });
      }
      if (lastResort) {
        await trx
          .deleteFrom('key_packages')
          .where('device_id', '=', device.deviceId)
          .where('last_resort', '=', 1)
          .execute();
      }
      const rows = [...oneTime.map((p) => ({ ...p, last: 0 }))];
      if (lastResort) rows.push({ ...lastResort, last: 1 });
      if (rows.length > 0) {
        await trx
          .insertInto('key_packages')
          .values(
            rows.map(({ item, bytes, last }) => ({
              device_id: device.deviceId,
              id: item.id,
              data: bytes,
              last_resort: last,
              created_at: now,
            })),
          )
          .onConflict((oc) => oc.columns(['device_id', 'id']).doNothing())
          .execute();
      }
    });
    return this.stock(device.deviceId);
  }

  async stock(deviceId: string): Promise<KeyPackageStock> {
    const rows = await this.db
      .selectFrom('key_packages')
      .select(['last_resort', (eb) => eb.fn.countAll<number>().as('count')])
      .where('device_id', '=', deviceId)
      .groupBy('last_resort')
      .execute();
    const oneTime = Number(rows.find((r) => r.last_resort === 0)?.count ?? 0);
    return {
      oneTime,
      lastResort: rows.some((r) => r.last_resort === 1),
      low: oneTime < MESSAGING_LIMITS.keyPackageLowWater,
    };
  }

  /**
   * One KeyPackage for every device of each account (the requesting device excepted), so every
   * device of every member joins the group. An account with no device to add is an error: the
   * caller would otherwise create a conversation its peer never receives.
   *
   * A one-time package goes only to the account itself (its own new devices) and to accounts on
   * the owner's allow-list; everyone else gets the last-resort package. Being in a conversation
   * with the owner is not enough: anyone can make one by adding the owner's devices. A stranger
   * who adds someone to a group still gets a package, so no addition is refused.
   */
  async claim(requester: DeviceRef, accountIds: string[]): Promise<ClaimedKeyPackage[]> {
    const unique = [...new Set(accountIds)];
    const limit = await this.bus.take(this.claims, requester.accountId, unique.length);
    if (!limit.allowed) throw new ParleyError('RATE_LIMITED', { retryAfterMs: limit.retryAfterMs });
    // A blocked account cannot start a conversation with its blocker: it gets no KeyPackage.
    await this.blocks?.refuseIfBlocked(this.db, requester.accountId, unique);
    const granted = await this.grants.allowing(requester.accountId, unique);
    granted.add(requester.accountId);
    const claimed: ClaimedKeyPackage[] = [];
    const touched = new Set<string>();
    await this.db.transaction().execute(async (trx) => {
      const devices = await devicesOfAccounts(trx, unique, requester.deviceId);
      for (const device of devices) {
        // One-time packages first (last_resort 0), oldest first; the last-resort one otherwise,
        // and only that one for a claimer the owner has not allowed.
        let query = trx
          .selectFrom('key_packages')
          .select(['id', 'data', 'last_resort'])
          .where('device_id', '=', device.id);
        if (!granted.has(device.account_id)) query = query.where('last_resort', '=', 1);
        const row = await query
          .orderBy('last_resort')
          .orderBy('created_at')
          .limit(1)
          .executeTakeFirst();
        if (!row) continue;
        if (row.last_resort === 0) {
          await trx
            .deleteFrom('key_packages')
            .where('device_id', '=', device.id)
            .where('id', '=', row.id)
            .execute();
          touched.add(device.id);
        }
        claimed.push({
          accountId: device.account_id,
          deviceId: device.id,
          keyPackageId: row.id,
          keyPackage: toBase64Url(row.data),
        });
      }
      const missing = unique.filter(
        (id) => id !== requester.accountId && !claimed.some((c) => c.accountId === id),
      );
      if (missing.length > 0) {
        throw new ParleyError('ACCOUNT_NOT_FOUND', { details: { accountIds: missing } });
      }
    });
    for (const deviceId of touched) {
      const stock = await this.stock(deviceId);
      if (stock.low) this.realtime.relay([deviceId], { t: 'keypackages', stock });
    }
    return claimed;
  }
}
