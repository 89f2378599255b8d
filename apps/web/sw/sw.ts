/**
 * The service worker: keeps this version of the app shell (the page, Vite's hashed assets, the
 * manifest and icons) in the Cache API so the app opens with the network or the server down, and
 * answers those files from there. The API (/v1) always goes to the network; history comes from the
 * SDK's IndexedDB store. A new version installs beside the running one and waits until the page's
 * reload banner asks it to take over (`skip-waiting`). It imports the SDK statically and is built
 * as one bundle without dynamic import() (vite.sw.config.ts), which service workers forbid.
 */

import { IndexedDbStore, ParleyClient } from '@parley/client';

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

/** What the page may ask: take over now, or (tests, diagnostics) whether the SDK opens here. */
type Request = { t: 'skip-waiting' } | { t: 'sdk-check' };

self.addEventListener('message', (event) => {
  const data = event.data as Request;
  if (data?.t === 'skip-waiting') {
    event.waitUntil(self.skipWaiting());
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
