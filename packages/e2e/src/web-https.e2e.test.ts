/**
 * The web app over HTTPS served by `parley serve` itself (PARLEY_TLS_CERT, PARLEY_TLS_KEY), in
 * Chromium that trusts the test's own CA through an SPKI pin of the CA's key
 * (--ignore-certificate-errors-spki-list: only chains holding that key are accepted) — not by
 * ignoring certificate errors: the same Chromium without the pin refuses the page. Sign-up runs
 * over it (requests and the device's wss:// socket), every answer carries HSTS, and after the
 * server swaps in a renewed certificate from the same CA, the app reloads over the new one.
 */

import * as assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createTestCa, type TestCa } from '@parley/server/testing';
import type { Browser } from 'playwright-core';
import { browserMissing, launchChromium, openPage } from './harness/browser.js';
import { ServerProcess } from './harness/server-process.js';
import { until } from './harness/wait.js';

const skip = browserMissing();
/** Sought in the server's output by the run's secrets scan, as every test number is. */
const NUMBER = '+14155550961';

/** base64(SHA-256(SubjectPublicKeyInfo)), the form Chromium's SPKI list takes. */
function spkiHash(certPem: string): string {
  const spki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

describe('the web app over HTTPS', { skip, timeout: 240_000 }, () => {
  let ca: TestCa;
  let certPath: string;
  let keyPath: string;
  let server: ServerProcess;
  let pinned: Browser;

  before(async () => {
    ca = createTestCa();
    const dir = mkdtempSync(join(tmpdir(), 'parley-web-tls-'));
    certPath = join(dir, 'cert.pem');
    keyPath = join(dir, 'key.pem');
    const leaf = ca.issue('3001');
    writeFileSync(keyPath, leaf.keyPem, { mode: 0o600 });
    writeFileSync(certPath, leaf.certPem);
    server = await ServerProcess.start({ PARLEY_TLS_CERT: certPath, PARLEY_TLS_KEY: keyPath });
    pinned = await launchChromium([`--ignore-certificate-errors-spki-list=${spkiHash(ca.caPem)}`]);
  });
  after(async () => {
    await pinned?.close();
    await server?.stop();
  });

  test('Chromium without the pin refuses the certificate', async () => {
    const plain = await launchChromium();
    try {
      const page = await (await plain.newContext()).newPage();
      await assert.rejects(page.goto(server.url), /ERR_CERT_AUTHORITY_INVALID/);
    } finally {
      await plain.close();
    }
  });

  test('sign-up over HTTPS and wss, with HSTS; a renewed certificate is served on reload', async () => {
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:/);
    const context = await pinned.newContext({
      viewport: { width: 390, height: 844 },
      locale: 'en-US',
    });
    const sockets: string[] = [];
    // allHeaders(): headers() may leave out security headers the browser received.
    const hsts: Promise<string>[] = [];
    context.on('page', (p) => {
      p.on('websocket', (ws) => sockets.push(ws.url()));
      p.on('response', (r) => {
        if (r.url().startsWith(server.url))
          hsts.push(
            r
              .allHeaders()
              .then((h) => `${r.status()} ${r.url()} ${h['strict-transport-security']}`),
          );
      });
    });
    const { page, problems } = await openPage(context, server.url);
    assert.equal(await page.evaluate(() => window.isSecureContext), true);

    await page.getByRole('heading', { name: 'Welcome to Parley' }).waitFor();
    await page.getByLabel('Country').selectOption('US');
    await page.getByLabel('Phone number', { exact: true }).fill(NUMBER.slice(2));
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/v1/verifications')),
      page.getByRole('button', { name: 'Send code' }).click(),
    ]);
    const { verificationId } = (await response.json()) as { verificationId: string };
    await page
      .getByLabel('The 6-digit code we texted you')
      .fill(await server.codeFor(verificationId));
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel(/^Yes — people who have my number/).check();
    await page.getByLabel('Nobody').check();
    await page.getByLabel('Your name').fill('Alice over TLS');
    await page.getByLabel('Name of this device').fill('Browser over TLS');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { name: 'Contacts' }).waitFor();
    await until('the device socket over wss', () =>
      sockets.some((u) => u.startsWith('wss://127.0.0.1:')),
    );
    assert.ok(hsts.length > 0, 'responses seen');
    assert.deepEqual(
      (await Promise.all(hsts)).filter((h) => !h.endsWith(' max-age=31536000')),
      [],
    );

    // A renewal from the same CA, written over the files: the server takes it without a restart,
    // and a new connection (another context has its own) gets it.
    const renewed = ca.issue('3002', 'Parley renewed');
    writeFileSync(keyPath, renewed.keyPem, { mode: 0o600 });
    writeFileSync(certPath, renewed.certPem);
    await until('the server reloads the certificate', () =>
      /"serial":"3002".*"msg":"TLS certificate reloaded"/.test(server.output),
    );
    const fresh = await (await pinned.newContext()).newPage();
    const answer = await fresh.goto(server.url);
    assert.equal(answer?.status(), 200);
    assert.equal((await answer!.securityDetails())?.subjectName, 'Parley renewed');
    // The page opened before the swap goes on working.
    const status = await page.evaluate(async () => (await fetch('/healthz')).status);
    assert.equal(status, 200);
    assert.deepEqual(problems(), []);
  });
});
