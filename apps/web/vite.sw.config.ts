/**
 * Builds the service worker (sw/sw.ts) as dist/sw.js, after the app build: one classic script with
 * every dynamic import() of the SDK (ts-mls, libsodium, @noble) inlined, since service workers
 * refuse import(). The shell it precaches is read from the app build's Vite manifest (every
 * chunk, style sheet and asset it emitted) plus the files copied from public/; its version is the
 * hash of those files, so any change to the app changes sw.js and the browser installs it.
 */

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { defineConfig } from 'vite';
import app from './vite.config.ts';

// The app build's output (PARLEY_WEB_OUT lets the build test use a directory of its own).
const DIST = process.env.PARLEY_WEB_OUT ?? join(import.meta.dirname, 'dist');
const PUBLIC = join(import.meta.dirname, 'public');

interface ManifestChunk {
  file: string;
  css?: string[];
  assets?: string[];
}

function publicFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? publicFiles(join(dir, entry.name))
      : [`/${relative(PUBLIC, join(dir, entry.name)).split(sep).join('/')}`],
  );
}

function shell(): string[] {
  const manifest = JSON.parse(readFileSync(join(DIST, '.vite', 'manifest.json'), 'utf8')) as Record<
    string,
    ManifestChunk
  >;
  const files = new Set<string>(['/']);
  for (const chunk of Object.values(manifest)) {
    for (const file of [chunk.file, ...(chunk.css ?? []), ...(chunk.assets ?? [])]) {
      files.add(`/${file}`);
    }
  }
  for (const file of publicFiles(PUBLIC)) files.add(file);
  return [...files].sort();
}

export default defineConfig(() => {
  const files = shell();
  const version = createHash('sha256');
  for (const file of files) {
    version.update(file);
    version.update(readFileSync(join(DIST, file === '/' ? 'index.html' : file)));
  }
  return {
    // The same platform aliases as the app (Node's `crypto` is the browser's Web Crypto).
    resolve: app.resolve,
    publicDir: false,
    define: {
      // A classic worker script has no import.meta; libsodium asks for its own address with it,
      // which in a service worker is the script's (self.location).
      'import.meta.url': 'self.location.href',
      PARLEY_SHELL: JSON.stringify(files),
      PARLEY_VERSION: JSON.stringify(version.digest('hex').slice(0, 16)),
    },
    build: {
      target: 'es2022',
      outDir: DIST,
      emptyOutDir: false,
      copyPublicDir: false,
      chunkSizeWarningLimit: 4000,
      lib: {
        entry: join(import.meta.dirname, 'sw', 'sw.ts'),
        formats: ['iife'],
        name: 'parleyServiceWorker',
        fileName: () => 'sw.js',
      },
    },
  };
});
