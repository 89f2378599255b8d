/**
 * Web Push (RFC 8030 / 8291 / 8292): what a device sends to store its push subscription, what the
 * server answers with its VAPID public key, and the one payload a push ever carries. The payload
 * is the same fixed wake-up for every device and every message: no sender, no account, no text,
 * no count. The push service learns when a device had something waiting, nothing else
 * (docs/security.md, "Push notifications").
 */

import { type Static, Type } from '@sinclair/typebox';
import { base64UrlLength } from './encoding.js';

const strict = { additionalProperties: false } as const;

/** The longest endpoint URL accepted (real push services use well under 512). */
export const PUSH_ENDPOINT_MAX = 1024;

/** What every push carries, encrypted to the device (RFC 8291 aes128gcm). */
export const PUSH_WAKE_PAYLOAD = '{"t":"wake"}';

/**
 * RFC 8030 §5.4 Topic: a push service keeps only the newest undelivered push of a topic, so
 * wake-ups that pile up while a phone is off replace one another. The same for everyone.
 */
export const PUSH_TOPIC = 'parley-wake';

/** PUT /v1/device/push-subscription: PushSubscription.toJSON() without expirationTime. */
export const PushSubscriptionRequest = Type.Object(
  {
    endpoint: Type.String({ minLength: 1, maxLength: PUSH_ENDPOINT_MAX }),
    keys: Type.Object(
      {
        /** The device's P-256 public key, uncompressed (65 bytes), base64url. */
        p256dh: Type.String({ pattern: '^[A-Za-z0-9_-]*={0,2}$', maxLength: 128 }),
        /** The 16-byte authentication secret, base64url. */
        auth: Type.String({ pattern: '^[A-Za-z0-9_-]*={0,2}$', maxLength: 64 }),
      },
      strict,
    ),
  },
  strict,
);

/** GET /v1/push/vapid-key: the key browsers subscribe with (applicationServerKey). */
export const VapidKeyResponse = Type.Object(
  {
    publicKey: Type.String({
      pattern: '^[A-Za-z0-9_-]*$',
      minLength: base64UrlLength(65),
      maxLength: base64UrlLength(65),
      description: 'the VAPID P-256 public key, uncompressed, base64url (RFC 8292 §3.2)',
    }),
  },
  strict,
);

export type PushSubscriptionRequest = Static<typeof PushSubscriptionRequest>;
export type VapidKeyResponse = Static<typeof VapidKeyResponse>;
