/**
 * Turning notifications on and off in the browser: ask permission, subscribe through the service
 * worker's PushManager with the server's VAPID key, and hand the subscription to the SDK. Every
 * step can fail or hang where the browser has no push service (Chromium without Google's, a
 * private window): each is bounded, and any failure becomes PUSH_UNAVAILABLE, whose message says
 * Parley keeps working without notifications.
 */

import { type ClientStore, type ParleyClient, ParleyError } from '@parley/client';
import {
  type NotificationSettings,
  readNotificationSettings,
  writeNotificationSettings,
} from './notifications.js';

/** How long subscribing may take before the app gives up and says so. */
export const SUBSCRIBE_TIMEOUT_MS = 10_000;

function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out')), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** Subscribes this browser and stores the subscription with the server. */
export async function enableNotifications(
  client: ParleyClient,
  store: ClientStore,
  timeoutMs = SUBSCRIBE_TIMEOUT_MS,
): Promise<NotificationSettings> {
  if (
    !('serviceWorker' in navigator) ||
    !('PushManager' in window) ||
    !('Notification' in window)
  ) {
    throw new ParleyError('PUSH_UNAVAILABLE', { details: { reason: 'unsupported' } });
  }
  let subscription: PushSubscription;
  try {
    const permission = await within(Notification.requestPermission(), timeoutMs);
    if (permission !== 'granted') throw new Error(`permission ${permission}`);
    const registration = await within(navigator.serviceWorker.ready, timeoutMs);
    // The key as base64url, which PushManager takes as it is.
    const key = await client.pushKey();
    subscription = await within(
      registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key }),
      timeoutMs,
    );
  } catch (cause) {
    if (cause instanceof ParleyError) throw cause;
    throw new ParleyError('PUSH_UNAVAILABLE', {
      cause,
      details: { reason: cause instanceof Error ? cause.message : String(cause) },
    });
  }
  await client.enablePush(subscription.toJSON());
  const settings = { ...(await readNotificationSettings(store)), enabled: true };
  await writeNotificationSettings(store, settings);
  return settings;
}

/** Unsubscribes this browser and removes the subscription from the server. */
export async function disableNotifications(
  client: ParleyClient,
  store: ClientStore,
): Promise<NotificationSettings> {
  const registration = await navigator.serviceWorker?.getRegistration();
  const subscription = await registration?.pushManager.getSubscription();
  await subscription?.unsubscribe().catch(() => false);
  await client.disablePush();
  const settings = { ...(await readNotificationSettings(store)), enabled: false };
  await writeNotificationSettings(store, settings);
  return settings;
}

export async function setHideText(store: ClientStore, hideText: boolean) {
  const settings = { ...(await readNotificationSettings(store)), hideText };
  await writeNotificationSettings(store, settings);
  return settings;
}
