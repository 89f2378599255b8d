import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import Fastify, { type FastifyInstance } from 'fastify';
import { ConfigError } from '../config/config.js';
import { testServer } from '../testing/index.js';
import { installErrorHandling } from './errors.js';
import { CONTENT_SECURITY_POLICY, loadWebApp, webAppRoutes } from './web-app.js';

describe('web app serving', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-web-'));
  const script = `console.log(${JSON.stringify('x'.repeat(4000))});`;
  let app: FastifyInstance;

  before(async () => {
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>Parley</title>');
    writeFileSync(join(dir, 'assets', 'index-abc123.js'), script);
    writeFileSync(join(dir, 'sw.js'), 'self.addEventListener("fetch", () => {});');
    writeFileSync(join(dir, 'manifest.webmanifest'), '{"name":"Parley"}');
    app = Fastify();
    installErrorHandling(app);
    app.get('/v1/account', async () => ({ ok: true }));
    const files = await loadWebApp(dir);
    assert.ok(files);
    webAppRoutes(app, files);
  });

  after(() => app.close());

  it('serves the page under a strict CSP, never cached', async () => {
    const res = await app.inject({ url: '/' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(res.headers['content-security-policy'], CONTENT_SECURITY_POLICY);
    assert.match(CONTENT_SECURITY_POLICY, /script-src 'self' 'wasm-unsafe-eval'(;|$)/);
    assert.doesNotMatch(CONTENT_SECURITY_POLICY, /unsafe-inline/);
    assert.equal(res.headers['cache-control'], 'no-cache');
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal(res.body, '<!doctype html><title>Parley</title>');
  });

  it('serves hashed assets gzip-compressed to clients that accept it, cached for good', async () => {
    const res = await app.inject({
      url: '/assets/index-abc123.js',
      headers: { 'accept-encoding': 'gzip, br' },
    });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-encoding'], 'gzip');
    assert.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(gunzipSync(res.rawPayload).toString(), script);
    const plain = await app.inject({ url: '/assets/index-abc123.js' });
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.body, script);
    const head = await app.inject({ method: 'HEAD', url: '/assets/index-abc123.js' });
    assert.equal(head.statusCode, 200);
    assert.equal(head.body, '');
  });

  it('serves the service worker for the whole origin and, like the manifest, never stale', async () => {
    const sw = await app.inject({ url: '/sw.js' });
    assert.equal(sw.statusCode, 200);
    assert.equal(sw.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(sw.headers['service-worker-allowed'], '/');
    assert.equal(sw.headers['cache-control'], 'no-cache');
    assert.equal(sw.headers['content-security-policy'], CONTENT_SECURITY_POLICY);
    const manifest = await app.inject({ url: '/manifest.webmanifest' });
    assert.equal(manifest.headers['content-type'], 'application/manifest+json');
    assert.equal(manifest.headers['cache-control'], 'no-cache');
    assert.equal(manifest.headers['service-worker-allowed'], undefined);
  });

  it('leaves API paths and unknown files to the typed 404', async () => {
    for (const url of ['/v1/nothing', '/missing.js', '/../etc/passwd']) {
      const res = await app.inject({ url });
      assert.equal(res.statusCode, 404, url);
      assert.equal(res.json().code, 'NOT_FOUND', url);
    }
    assert.deepEqual((await app.inject({ url: '/v1/account' })).json(), { ok: true });
  });

  it('finds no app in a directory without index.html', async () => {
    assert.equal(await loadWebApp(join(dir, 'assets')), undefined);
    assert.equal(await loadWebApp(join(dir, 'nope')), undefined);
  });

  it('refuses to start when PARLEY_WEB_DIR names a directory without a built app', async () => {
    await assert.rejects(
      testServer({ PARLEY_WEB_DIR: join(dir, 'assets') }),
      (error: unknown) =>
        error instanceof ConfigError && /PARLEY_WEB_DIR has no built web app/.test(error.message),
    );
  });

  it('serves the app from PARLEY_WEB_DIR, and none with off', async () => {
    const t = await testServer({ PARLEY_WEB_DIR: dir });
    try {
      const page = await fetch(new URL('/', t.server.url));
      assert.equal(page.status, 200);
      assert.equal(page.headers.get('content-security-policy'), CONTENT_SECURITY_POLICY);
    } finally {
      await t.server.close();
    }
    const off = await testServer({ PARLEY_WEB_DIR: 'off' });
    try {
      assert.equal((await fetch(new URL('/', off.server.url))).status, 404);
    } finally {
      await off.server.close();
    }
  });
});
