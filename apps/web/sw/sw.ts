/**
 * The service worker: keeps this version of the app shell (the page, Vite's hashed assets, the
 * manifest and icons) in the Cache API so the app opens with the network or the server down, and
 * answers those files from there. The API (/v1) always goes to the network; history comes from the
 * SDK's IndexedDB store. A new version installs beside the running one and waits until the page's
 * reload banner asks it to take over (`skip-waiting`). It imports the SDK statically and is built
 * as one bundle without dynamic import() (vite.sw.config.ts), which service workers forbid.
 *
 * A push (the server's wake-up: it carries nothing) makes it fetch and decrypt the device's queue
 * through the SDK — under the device's Web Lock, so a tab doing the same at that moment never
 * applies an entry twice — and show a notification per message: the sender's name, and the text
 * unless the person chose to hide it. Tapping one opens the conversation.
 */

import { IndexedDbStore, ParleyClient } from '@parley/client';
import {
  chatPath,
  messageNotification,
  readNotificationSettings,
  senderName,
} from '../src/model/notifications.js';

declare const self: ServiceWorkerGlobalScope;
/** Filled in at build time from Vite's manifest of the app build (vite.sw.config.ts). */
declare const PARLEY_SHELL: string[];
declare const PARLEY_VERSION: string;

const PREFIX = 'parley-shell-';
const CACHE = `${PREFIX}${PARLEY_VERSION}`;
/** The URLs of this version's shell (`/` is the page). */
const FILES: readonly string[] = PARLEY_SHELL;
const SHELL = new Set(FILES);

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll([...FILES])));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith(PREFIX) && name !== CACHE) await caches.delete(name);
      }
      // The first install takes the open page at once, so it works offline from then on.
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  // The app uses hash routes: every page load is `/` (the search part names no other page).
  const path = request.mode === 'navigate' ? '/' : url.pathname;
  if (!SHELL.has(path)) return;
  event.respondWith(
    (async () => {
      const cache = await caches.open(CACHE);
      return (await cache.match(path)) ?? fetch(request);
    })(),
  );
});

/**
 * What the page may ask: take over now, or (tests, diagnostics) whether the SDK opens here and
 * how the last push went.
 */
type Request = { t: 'skip-waiting' } | { t: 'sdk-check' } | { t: 'push-status' };

self.addEventListener('message', (event) => {
  const data = event.data as Request;
  if (data?.t === 'skip-waiting') {
    event.waitUntil(self.skipWaiting());
  } else if (data?.t === 'push-status') {
    event.ports[0]?.postMessage(lastPush ?? null);
  } else if (data?.t === 'sdk-check') {
    const port = event.ports[0];
    event.waitUntil(
      sdkCheck().then(
        (answer) => port?.postMessage(answer),
        (error: unknown) => port?.postMessage({ error: String(error) }),
      ),
    );
  }
});

/** Opens the device's store and the SDK's client as a push handler will, and loads its crypto. */
async function sdkCheck() {
  const store = await IndexedDbStore.open('parley');
  const client = await ParleyClient.open({ serverUrl: self.location.origin, store });
  await ParleyClient.loadCrypto();
  const conversations = client.registered ? await client.messenger.conversations() : [];
  return {
    version: PARLEY_VERSION,
    accountId: client.account?.accountId,
    conversations: conversations.length,
  };
}

/** How the last push went, and how many were handled (diagnostics: `push-status` asks). */
let lastPush:
  | { handled: number; notified: number; problems: string[] }
  | { handled: number; error: string }
  | undefined;
let handled = 0;

self.addEventListener('push', (event) => {
  event.waitUntil(
    onPush().then(
      (outcome) => {
        lastPush = { handled: ++handled, ...outcome };
      },
      (error: unknown) => {
        // The queue stays on the server; the app reads it when next opened.
        lastPush = { handled: ++handled, error: String(error) };
        console.warn('push: could not fetch messages', error);
      },
    ),
  );
});

/** Fetches and decrypts what waits for this device, and notifies of each new message. */
async function onPush(): Promise<{ notified: number; problems: string[] }> {
  const store = await IndexedDbStore.open('parley');
  const client = await ParleyClient.open({ serverUrl: self.location.origin, store });
  if (!client.registered) return { notified: 0, problems: [] };
  await ParleyClient.loadCrypto();
  const own = client.account!.accountId;
  const problems: string[] = [];
  client.messenger.on('error', (error) => problems.push(error.code));
  const received = await client.messenger.catchUp();
  const profileNames = await client.messenger.people.names();
  client.close();
  const { hideText } = await readNotificationSettings(store);
  let notified = 0;
  for (const message of received) {
    if (message.kind !== 'text' && message.kind !== 'attachment') continue;
    if (message.from.accountId === own) continue;
    const name = await senderName(store, message.from.accountId, profileNames);
    const { title, options } = messageNotification(message, name, hideText);
    await self.registration.showNotification(title, options);
    notified += 1;
  }
  return { notified, problems };
}

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const conversationId = (event.notification.data as { conversationId?: string } | null)
    ?.conversationId;
  const url = new URL(conversationId ? chatPath(conversationId) : '/', self.location.origin).href;
  event.waitUntil(openApp(url));
});

/** Shows the app at `url`: in a window it already has open, else in a new one. */
async function openApp(url: string): Promise<void> {
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const open = windows[0];
  if (!open) {
    await self.clients.openWindow(url);
    return;
  }
  await open.navigate(url);
  // Only a click by the person may raise a window; a synthetic event may not.
  await open.focus().catch(() => {});
}
