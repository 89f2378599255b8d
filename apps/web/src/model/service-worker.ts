/**
 * Registers the service worker (sw/sw.ts, built as /sw.js) and reports a new version of the app
 * once it has installed beside the running one: `offer(apply)` is called with the function that
 * lets it take over and reloads the page. Nothing reloads unless the person asks (the banner).
 */

export function watchForUpdates(offer: (apply: () => void) => void): void {
  // Vite's dev server has no sw.js; browsers without service workers just work online.
  if (import.meta.env.DEV || !('serviceWorker' in navigator)) return;
  const container = navigator.serviceWorker;
  let asked = false;
  container.addEventListener('controllerchange', () => {
    // The first install also takes control of the page (clients.claim): that needs no reload.
    if (asked) location.reload();
  });
  const offerWhenInstalled = (worker: ServiceWorker) => {
    const apply = () => {
      asked = true;
      worker.postMessage({ t: 'skip-waiting' });
    };
    // Without a controller this is the first install, not an update.
    if (worker.state === 'installed' && container.controller) offer(apply);
    else {
      worker.addEventListener('statechange', () => {
        if (worker.state === 'installed' && container.controller) offer(apply);
      });
    }
  };
  container
    .register('/sw.js', { scope: '/' })
    .then((registration) => {
      if (registration.waiting) offerWhenInstalled(registration.waiting);
      registration.addEventListener('updatefound', () => {
        if (registration.installing) offerWhenInstalled(registration.installing);
      });
      // Besides the browser's own check on each page load: when the app comes back into view.
      document.addEventListener('visibilitychange', () => {
        if (document.visibilityState === 'visible') registration.update().catch(() => {});
      });
    })
    // Not installable here (private mode, the server refused sw.js): the app works online.
    .catch(() => {});
}
