import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The server (`parley serve`) serves dist/ with a strict Content-Security-Policy, so the build
// emits no inline script or style. In development, API and WebSocket calls go to a local server.
export default defineConfig({
  resolve: {
    // Node's `crypto`, asked for by a Node-18 fallback in the MLS library's HPKE code, is the
    // browser's Web Crypto here (src/platform/node-crypto.ts says why).
    alias: [
      {
        find: /^(node:)?crypto$/,
        replacement: fileURLToPath(new URL('./src/platform/node-crypto.ts', import.meta.url)),
      },
    ],
  },
  build: {
    target: 'es2022',
    outDir: 'dist',
    emptyOutDir: true,
    // Reported by `npm run bench` (gzip); the crypto chunks are loaded on first use.
    chunkSizeWarningLimit: 1500,
    modulePreload: { polyfill: false },
    // dist/.vite/manifest.json: the files the service worker precaches (vite.sw.config.ts).
    manifest: true,
  },
  server: {
    proxy: { '/v1': { target: 'http://127.0.0.1:8787', ws: true } },
  },
});
