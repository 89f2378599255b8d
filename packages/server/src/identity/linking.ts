/**
 * The linking relay: a new device joins an account only when one of the account's devices
 * approves it. The new device posts an ephemeral X25519 public key, its name and the hash of the
 * secret it will sign in with, and gets a handle (typed or scanned on the existing device) and a
 * link id (its own, to poll with). The existing device looks the handle up, shows what will be
 * linked, and approves with an envelope encrypted to that key (the provisioning message: opaque
 * here). Approval creates the device on the approver's account; the new device collects the
 * envelope and its device id once, and signs in as `<deviceId>.<its secret>`.
 *
 * Sessions are rows (link_sessions), so any node can serve any step; they end LINK_TTL_MS after
 * they start or are approved, and expired rows are deleted when met and by the server's sweep.
 * The server relays: it never sees the secret or the envelope's content.
 */

import { randomBytes } from 'node:crypto';
import {
  type DeviceRef,
  fromBase64Url,
  LINK_TTL_MS,
  type LinkApproved,
  type LinkCreated,
  type LinkRequest,
  type LinkResult,
  type LinkSession,
  ParleyError,
  randomLinkHandle,
  toBase64Url,
} from '@parley/core';
import type { ServerConfig } from '../config/config.js';
import { type Bucket, type Bus, takeAll } from '../infra/bus/bus.js';
import type { Db } from '../infra/db/database.js';
import { forUpdate } from '../infra/db/dialect.js';
import type { Realtime } from '../realtime/port.js';
import { newId } from './accounts.js';
import { deviceIdsOf, insertDevice } from './device-store.js';

/** Handle lookups one account may make per hour: enough for typos, too few to scan 2^40. */
export const LOOKUPS_PER_HOUR = 60;

const notFound = () => new ParleyError('LINK_NOT_FOUND');

export class Linking {
  private readonly perIp: Bucket[];
  private readonly lookups: Bucket;

  constructor(
    private readonly db: Db,
    private readonly realtime: Realtime,
    private readonly bus: Bus,
    limits: ServerConfig['verification'],
    private readonly now: () => number = Date.now,
  ) {
    // As for verification codes: an hourly and a daily allowance per address.
    this.perIp = [
      { name: 'link-ip', capacity: limits.perIp, windowMs: limits.windowMs },
      { name: 'link-ip-day', capacity: limits.perIp * 5, windowMs: 24 * 3_600_000 },
    ];
    this.lookups = { name: 'link-lookup', capacity: LOOKUPS_PER_HOUR, windowMs: 3_600_000 };
  }

  /** POST /v1/links: the new device starts a session. */
  async start(request: LinkRequest, ip: string): Promise<LinkCreated> {
    const limit = await takeAll(this.bus, this.perIp, ip);
    if (!limit.allowed) {
      throw new ParleyError('RATE_LIMITED', { retryAfterMs: limit.retryAfterMs });
    }
    const publicKey = fromBase64Url(request.publicKey);
    const credentialHash = fromBase64Url(request.credentialHash);
    if (!publicKey || !credentialHash) {
      throw new ParleyError('VALIDATION_FAILED', {
        details: [{ field: 'body', problem: 'publicKey and credentialHash must be base64url' }],
      });
    }
    // Expired sessions free their handles.
    await this.sweep();
    const now = this.now();
    const linkId = randomBytes(16).toString('base64url');
    for (;;) {
      const handle = await randomLinkHandle();
      const inserted = await this.db
        .insertInto('link_sessions')
        .values({
          id: linkId,
          handle,
          public_key: publicKey,
          device_name: request.deviceName,
          credential_hash: credentialHash,
          created_at: now,
          expires_at: now + LINK_TTL_MS,
          account_id: null,
          device_id: null,
          envelope: null,
        })
        .onConflict((oc) => oc.column('handle').doNothing())
        .returning('id')
        .executeTakeFirst();
      // A pending handle drawn twice (rare at 40 bits): draw again.
      if (inserted) {
        return { linkId, handle, expiresAt: new Date(now + LINK_TTL_MS).toISOString() };
      }
    }
  }

  /** GET /v1/links/:handle: what an existing device is about to link. */
  async show(caller: DeviceRef, handle: string): Promise<LinkSession> {
    await this.chargeLookup(caller);
    const row = await this.db
      .selectFrom('link_sessions')
      .select(['id', 'public_key', 'device_name', 'created_at', 'expires_at', 'device_id'])
      .where('handle', '=', handle)
      .executeTakeFirst();
    if (!row || row.device_id !== null) throw notFound();
    if (Number(row.expires_at) <= this.now()) {
      await this.db.deleteFrom('link_sessions').where('id', '=', row.id).execute();
      throw notFound();
    }
    return {
      publicKey: toBase64Url(row.public_key),
      deviceName: row.device_name,
      createdAt: new Date(Number(row.created_at)).toISOString(),
      expiresAt: new Date(Number(row.expires_at)).toISOString(),
    };
  }

  /**
   * POST /v1/links/:handle/approve: creates the device on the approver's account (no certificate
   * yet: the new device sends it once it has the identity material) and hints the account's
   * other devices that its device list changed.
   */
  async approve(caller: DeviceRef, handle: string, envelope: string): Promise<LinkApproved> {
    await this.chargeLookup(caller);
    const sealed = fromBase64Url(envelope);
    if (!sealed) {
      throw new ParleyError('VALIDATION_FAILED', {
        details: [{ field: 'body/envelope', problem: 'not base64url' }],
      });
    }
    const now = this.now();
    const outcome = await this.db.transaction().execute(async (trx) => {
      const row = await forUpdate(
        trx,
        trx
          .selectFrom('link_sessions')
          .select(['id', 'device_name', 'credential_hash', 'expires_at', 'device_id'])
          .where('handle', '=', handle),
      ).executeTakeFirst();
      if (!row || row.device_id !== null) return undefined;
      if (Number(row.expires_at) <= now) {
        await trx.deleteFrom('link_sessions').where('id', '=', row.id).execute();
        return undefined;
      }
      const deviceId = newId();
      await insertDevice(trx, {
        id: deviceId,
        accountId: caller.accountId,
        name: row.device_name,
        credentialHash: row.credential_hash,
        createdAt: new Date().toISOString(),
        lastSeenAt: now,
      });
      // The new device has LINK_TTL_MS from now to collect it.
      await trx
        .updateTable('link_sessions')
        .set({
          account_id: caller.accountId,
          device_id: deviceId,
          envelope: sealed,
          expires_at: now + LINK_TTL_MS,
        })
        .where('id', '=', row.id)
        .execute();
      return { accountId: caller.accountId, deviceId };
    });
    if (!outcome) throw notFound();
    const others = await deviceIdsOf(this.db, caller.accountId, { except: caller.deviceId });
    this.realtime.relay(
      others.filter((id) => id !== outcome.deviceId),
      { t: 'devices-changed' },
    );
    return outcome;
  }

  /** GET /v1/links/:linkId/result: the new device polls; an approval is answered once. */
  async result(linkId: string): Promise<LinkResult> {
    const row = await this.db
      .selectFrom('link_sessions')
      .select(['expires_at', 'account_id', 'device_id', 'envelope'])
      .where('id', '=', linkId)
      .executeTakeFirst();
    if (!row) throw notFound();
    if (Number(row.expires_at) <= this.now()) {
      await this.db.deleteFrom('link_sessions').where('id', '=', linkId).execute();
      throw notFound();
    }
    if (row.device_id === null || row.account_id === null || row.envelope === null) {
      return { status: 'pending' };
    }
    // Only the caller whose delete removed the row gets the result (two polls racing).
    const deleted = await this.db
      .deleteFrom('link_sessions')
      .where('id', '=', linkId)
      .executeTakeFirst();
    if (Number(deleted.numDeletedRows) !== 1) throw notFound();
    return {
      status: 'approved',
      accountId: row.account_id,
      deviceId: row.device_id,
      envelope: toBase64Url(row.envelope),
    };
  }

  /** Deletes expired sessions; returns how many. */
  async sweep(): Promise<number> {
    const result = await this.db
      .deleteFrom('link_sessions')
      .where('expires_at', '<=', this.now())
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  private async chargeLookup(caller: DeviceRef): Promise<void> {
    const limit = await this.bus.take(this.lookups, caller.accountId);
    if (!limit.allowed) {
      throw new ParleyError('RATE_LIMITED', { retryAfterMs: limit.retryAfterMs });
    }
  }
}
