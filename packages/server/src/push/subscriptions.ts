/**
 * The devices' Web Push subscriptions: one per device, replaced by a new one, deleted with the
 * device or when its push service answers 404/410 (RFC 8030 §6.2: the subscription is gone).
 *
 * Coalescing across nodes without a lock: a wake-up is claimed by one conditional UPDATE that
 * moves `pushed_at` to now only if the last claim is older than the window. Both databases run
 * it atomically per row (PostgreSQL re-checks the condition after waiting for a concurrent
 * writer; SQLite has one writer), so of two nodes storing messages for the same device at the
 * same moment exactly one gets the row back and pushes. The device's next connection puts
 * `pushed_at` back to 0: a message after it has read its queue is worth a wake-up at once.
 */

import { createPublicKey } from 'node:crypto';
import { isIP } from 'node:net';
import { ParleyError, PUSH_ENDPOINT_MAX, type PushSubscriptionRequest } from '@parley/core';
import type { Db } from '../infra/db/database.js';

/** A stored subscription, ready to push to. */
export interface PushTarget {
  deviceId: string;
  endpoint: string;
  /** The device's P-256 public key, uncompressed, base64url. */
  p256dh: string;
  /** The authentication secret, base64url. */
  auth: string;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

/**
 * The endpoint, if the server may push to it: https:// with a host name (push services are
 * named hosts; an address literal or a credential in the URL is refused, so a device cannot point
 * the server's requests at an internal address by number). http:// only to a loopback address
 * when `allowHttpLoopback` (a local test push service).
 */
export function checkEndpoint(endpoint: string, allowHttpLoopback: boolean): string {
  let url: URL | undefined;
  try {
    url = new URL(endpoint);
  } catch {}
  const invalid = (reason: string) =>
    new ParleyError('PUSH_ENDPOINT_INVALID', { details: { reason } });
  if (!url || endpoint.length > PUSH_ENDPOINT_MAX) throw invalid('not a URL');
  if (url.username || url.password) throw invalid('credentials in the URL');
  if (url.hash) throw invalid('a fragment');
  const loopback = LOOPBACK_HOSTS.has(url.hostname);
  if (allowHttpLoopback && loopback && (url.protocol === 'http:' || url.protocol === 'https:')) {
    return url.href;
  }
  if (url.protocol !== 'https:') throw invalid('not https');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) !== 0 || loopback || !host.includes('.')) throw invalid('not a public host name');
  return url.href;
}

function bytesOf(text: string): Buffer {
  return Buffer.from(text.replace(/=+$/, ''), 'base64url');
}

/** The keys as bytes, if p256dh is a point on P-256 (RFC 8291 §3.1) and auth is 16 bytes. */
export function checkKeys(keys: PushSubscriptionRequest['keys']): {
  p256dh: Buffer;
  auth: Buffer;
} {
  const p256dh = bytesOf(keys.p256dh);
  const auth = bytesOf(keys.auth);
  const invalid = (field: string) => new ParleyError('PUSH_KEYS_INVALID', { details: { field } });
  if (auth.length !== 16) throw invalid('auth');
  if (p256dh.length !== 65 || p256dh[0] !== 0x04) throw invalid('p256dh');
  try {
    // Refuses coordinates that are not a point of the curve.
    createPublicKey({
      key: {
        kty: 'EC',
        crv: 'P-256',
        x: p256dh.subarray(1, 33).toString('base64url'),
        y: p256dh.subarray(33).toString('base64url'),
      },
      format: 'jwk',
    });
  } catch {
    throw invalid('p256dh');
  }
  return { p256dh, auth };
}

export class PushSubscriptions {
  constructor(
    private readonly db: Db,
    private readonly allowHttpLoopback: boolean,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Stores the device's subscription, replacing any it had. */
  async put(deviceId: string, body: PushSubscriptionRequest): Promise<void> {
    const endpoint = checkEndpoint(body.endpoint, this.allowHttpLoopback);
    const { p256dh, auth } = checkKeys(body.keys);
    const row = { endpoint, p256dh, auth, created_at: this.clock(), pushed_at: 0 };
    await this.db
      .insertInto('push_subscriptions')
      .values({ device_id: deviceId, ...row })
      .onConflict((oc) => oc.column('device_id').doUpdateSet(row))
      .execute();
  }

  async remove(deviceId: string): Promise<void> {
    await this.db.deleteFrom('push_subscriptions').where('device_id', '=', deviceId).execute();
  }

  /** The device's subscription, if it has one. */
  async get(deviceId: string): Promise<PushTarget | undefined> {
    const row = await this.db
      .selectFrom('push_subscriptions')
      .select(['device_id', 'endpoint', 'p256dh', 'auth'])
      .where('device_id', '=', deviceId)
      .executeTakeFirst();
    return row && toTarget(row);
  }

  /**
   * Claims a wake-up for each of these devices that has a subscription and no claim in the last
   * `windowMs`; returns the claimed ones. Atomic per device across nodes (see the top).
   */
  async claim(deviceIds: readonly string[], now: number, windowMs: number): Promise<PushTarget[]> {
    if (deviceIds.length === 0) return [];
    const rows = await this.db
      .updateTable('push_subscriptions')
      .set({ pushed_at: now })
      .where('device_id', 'in', deviceIds)
      .where('pushed_at', '<=', now - windowMs)
      .returning(['device_id', 'endpoint', 'p256dh', 'auth'])
      .execute();
    return rows.map(toTarget);
  }

  /** The device connected: its next message is worth a wake-up whatever the window. */
  async rearm(deviceId: string): Promise<void> {
    await this.db
      .updateTable('push_subscriptions')
      .set({ pushed_at: 0 })
      .where('device_id', '=', deviceId)
      .where('pushed_at', '<>', 0)
      .execute();
  }

  /** The push service said this subscription is gone; a newer one the device stored stays. */
  async drop(target: PushTarget): Promise<void> {
    await this.db
      .deleteFrom('push_subscriptions')
      .where('device_id', '=', target.deviceId)
      .where('endpoint', '=', target.endpoint)
      .execute();
  }
}

function toTarget(row: {
  device_id: string;
  endpoint: string;
  p256dh: Uint8Array;
  auth: Uint8Array;
}): PushTarget {
  return {
    deviceId: row.device_id,
    endpoint: row.endpoint,
    p256dh: Buffer.from(row.p256dh).toString('base64url'),
    auth: Buffer.from(row.auth).toString('base64url'),
  };
}
