/**
 * Attachments in the web app, in Chromium against a real `parley serve`: Alice attaches a 10 MB
 * file and a photo in her browser (a progress bar while it uploads, a thumbnail made by her
 * browser's canvas); the server's storage holds neither the plaintext nor the file names; Bob, in
 * his browser, sees the thumbnail, downloads the file (the bytes match) and shows the photo
 * inline from a `blob:` URL under the app's CSP; each blob is gone from the server once Bob
 * fetched it; a file over the server's limit gets the typed error's message.
 */

import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import {
  axeSerious,
  browserMissing,
  launchChromium,
  openPage,
  VIEWPORTS,
  type WatchedPage,
} from './harness/browser.js';
import { ServerProcess } from './harness/server-process.js';
import { until } from './harness/wait.js';
import { addByNumber, signUpInApp } from './harness/web-person.js';

const NUMBERS = { alice: '4155550861', bob: '4155550862' };
const MB = 1024 * 1024;
const skip = browserMissing();

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe('web app: attachments', { skip, timeout: 300_000 }, () => {
  let server: ServerProcess;
  let browser: Browser;

  before(async () => {
    server = await ServerProcess.start({ PARLEY_ATTACHMENT_MAX_MB: '12' });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  const blobs = () => readdirSync(join(server.dataDir, 'attachments'));

  async function person(number: string, name: string): Promise<WatchedPage> {
    const context = await browser.newContext({ viewport: VIEWPORTS.desktop, locale: 'en-US' });
    // The browser logs the refused oversized upload (413) itself; that one is expected.
    const watched = await openPage(context, server.url, [/status of 413 \(Payload Too Large\)/]);
    await signUpInApp(watched.page, server, {
      number,
      name,
      presence: 'nobody',
      deviceName: `${name} browser`,
    });
    return watched;
  }

  /** Attaches a file in the open chat; its message once the server has stored it. */
  async function attach(page: Page, name: string, mimeType: string, buffer: Buffer) {
    await page.getByLabel('Attach a file').setInputFiles({ name, mimeType, buffer });
    const sent = page.locator('.message.mine', { hasText: name });
    await sent
      .locator('.state-stored, .state-delivered, .state-read')
      .waitFor({ timeout: 120_000 });
    return sent;
  }

  /** A 400×300 PNG drawn by the page's own canvas. */
  const drawnPng = (page: Page) =>
    page.evaluate(() => {
      const canvas = document.createElement('canvas');
      canvas.width = 400;
      canvas.height = 300;
      const g = canvas.getContext('2d')!;
      g.fillStyle = '#1a7f5a';
      g.fillRect(0, 0, 400, 300);
      g.fillStyle = '#f5c518';
      g.fillRect(100, 80, 200, 140);
      return canvas.toDataURL('image/png').split(',')[1]!;
    });

  test('a 10 MB file and a photo from Alice’s browser to Bob’s: bytes match, the server holds only ciphertext, each blob gone once fetched', async () => {
    const alice = await person(NUMBERS.alice, 'Alice');
    const bob = await person(NUMBERS.bob, 'Bob');
    const a = alice.page;
    const b = bob.page;
    await addByNumber(a, 'Bob Example', NUMBERS.bob);
    await addByNumber(b, 'Alice Example', NUMBERS.alice);
    await a.getByRole('button', { name: 'Message Bob Example' }).click();
    await a.getByRole('list', { name: 'Messages' }).waitFor();

    // Watch for the upload's progress bar, however briefly it shows.
    await a.evaluate(() => {
      const seen = globalThis as unknown as { sawUploadProgress: boolean };
      seen.sawUploadProgress = false;
      new MutationObserver(() => {
        if (document.querySelector('progress[aria-label^="Uploading"]')) {
          seen.sawUploadProgress = true;
        }
      }).observe(document.body, { subtree: true, childList: true, attributes: true });
    });
    const marker = Buffer.from('BROWSER-PLAINTEXT-MARKER-', 'utf8');
    const file = Buffer.concat([Buffer.alloc(MB, marker), randomBytes(9 * MB)]);
    const fileName = 'merger-plans-confidential.bin';
    await attach(a, fileName, 'application/octet-stream', file);
    assert.equal(
      await a.evaluate(
        () => (globalThis as unknown as { sawUploadProgress: boolean }).sawUploadProgress,
      ),
      true,
    );

    const png = Buffer.from(await drawnPng(a), 'base64');
    const photoName = 'holiday-beach.png';
    const sentPhoto = await attach(a, photoName, 'image/png', png);
    // The thumbnail Alice's browser made is in her own message too.
    await sentPhoto.getByRole('img', { name: `Preview of ${photoName}` }).waitFor();

    // The server's data directory: blobs and database, searched for the plaintext and the names.
    assert.equal(blobs().length, 2);
    for (const path of filesUnder(server.dataDir)) {
      const bytes = readFileSync(path);
      assert.equal(bytes.indexOf(marker), -1, `plaintext in ${path}`);
      assert.equal(bytes.indexOf(png.subarray(0, 64)), -1, `photo bytes in ${path}`);
      for (const name of [fileName, photoName, 'merger', 'holiday']) {
        assert.equal(bytes.indexOf(Buffer.from(name)), -1, `"${name}" in ${path}`);
      }
    }

    // Bob opens the chat: the thumbnail shows before anything is fetched.
    await b.getByRole('link', { name: /^Chats/ }).click();
    await b.locator('.chat-item', { hasText: 'Alice Example' }).first().click();
    await b.getByRole('list', { name: 'Messages' }).waitFor();
    await b.getByRole('img', { name: `Preview of ${photoName}` }).waitFor();
    const serious = await axeSerious(b);
    assert.deepEqual(serious, [], `axe on the chat with attachments: ${JSON.stringify(serious)}`);

    await b.getByRole('button', { name: `Download ${fileName}` }).click();
    const save = b.getByRole('link', { name: `Save ${fileName}` });
    await save.waitFor({ timeout: 120_000 });
    const [download] = await Promise.all([b.waitForEvent('download'), save.click()]);
    assert.equal(download.suggestedFilename(), fileName);
    assert.ok(readFileSync((await download.path())!).equals(file), 'the same 10 MB');
    await until('the file’s blob deleted once Bob fetched it', () => blobs().length === 1);

    await b.getByRole('button', { name: `Show ${photoName}` }).click();
    const shown = b.getByRole('img', { name: photoName, exact: true });
    await shown.waitFor();
    assert.match((await shown.getAttribute('src')) ?? '', /^blob:/);
    await until(
      'the photo to decode',
      async () => (await shown.evaluate((img: HTMLImageElement) => img.naturalWidth)) === 400,
    );
    await until('the photo’s blob deleted', () => blobs().length === 0);

    // Over the server's limit (12 MB here): the typed error, in words.
    await a.getByLabel('Attach a file').setInputFiles({
      name: 'too-big.bin',
      mimeType: 'application/octet-stream',
      buffer: Buffer.alloc(13 * MB),
    });
    await a.getByRole('alert').filter({ hasText: 'larger than this server accepts' }).waitFor();

    assert.deepEqual(alice.problems(), []);
    assert.deepEqual(bob.problems(), []);
  });
});
