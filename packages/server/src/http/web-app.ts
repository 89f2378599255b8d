/**
 * Serves the built web app (apps/web/dist) from memory: read once at start, gzip-compressed once,
 * hashed assets cached for a year, the page, the manifest and the service worker (/sw.js, allowed
 * the whole origin as its scope) revalidated on every use, every response under a strict
 * Content-Security-Policy. The app uses hash routes, so only files and `/` exist here; unknown
 * paths under /v1 stay the API's typed 404.
 */

import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply } from 'fastify';

/**
 * Scripts and styles only from this origin, no inline code of either kind; 'wasm-unsafe-eval' lets
 * the OPRF's WebAssembly compile (it cannot run JavaScript); connections only back to this server.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  // The camera only for this origin: the web app scans QR codes to link devices and verify contacts.
  'permissions-policy': 'camera=(self), microphone=(), geolocation=(), interest-cohort=()',
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.webmanifest': 'application/manifest+json',
  '.txt': 'text/plain; charset=utf-8',
};

interface WebFile {
  body: Buffer;
  gzip: Buffer | undefined;
  type: string;
  immutable: boolean;
  serviceWorker: boolean;
}

export type WebApp = Map<string, WebFile>;

/** Reads the built app; undefined when the directory has no index.html (not built). */
export async function loadWebApp(dir: string): Promise<WebApp | undefined> {
  const files: WebApp = new Map();
  try {
    await stat(join(dir, 'index.html'));
  } catch {
    return undefined;
  }
  for (const path of await walk(dir)) {
    const type = TYPES[extname(path)] ?? 'application/octet-stream';
    const body = await readFile(path);
    const compressible = /^(text\/|application\/(json|manifest|wasm))|svg/.test(type);
    const gzip = compressible && body.length > 512 ? gzipSync(body, { level: 9 }) : undefined;
    const url = `/${relative(dir, path).split(sep).join('/')}`;
    files.set(url, {
      body,
      gzip: gzip && gzip.length < body.length ? gzip : undefined,
      type,
      // Vite names assets by content hash, so they never change under the same URL.
      immutable: url.startsWith('/assets/'),
      serviceWorker: url === '/sw.js',
    });
  }
  return files;
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(path)));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

export function webAppRoutes(app: FastifyInstance, files: WebApp): void {
  const send = (
    reply: FastifyReply,
    file: WebFile,
    acceptEncoding: string | undefined,
    head: boolean,
  ) => {
    reply.headers(SECURITY_HEADERS);
    reply.header('content-type', file.type);
    reply.header(
      'cache-control',
      file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    );
    reply.header('vary', 'accept-encoding');
    if (file.serviceWorker) reply.header('service-worker-allowed', '/');
    const gzip = file.gzip && /\bgzip\b/.test(acceptEncoding ?? '');
    if (gzip) reply.header('content-encoding', 'gzip');
    const body = gzip ? file.gzip! : file.body;
    reply.header('content-length', body.length);
    return reply.send(head ? undefined : body);
  };

  app.route({
    method: ['GET', 'HEAD'],
    url: '/*',
    handler: async (request, reply) => {
      const path = request.url.split('?')[0]!;
      if (path.startsWith('/v1/') || path === '/v1') return reply.callNotFound();
      const file = files.get(path === '/' ? '/index.html' : path);
      if (!file) return reply.callNotFound();
      return send(reply, file, request.headers['accept-encoding'], request.method === 'HEAD');
    },
  });
}
