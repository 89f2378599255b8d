/**
 * The web app as an installed app, in Chromium with a persistent profile against a real `parley
 * serve`: the service worker installs and can run the SDK, the manifest passes Chromium's
 * installability check, no request 404s, the app opens with the server stopped and shows history
 * from IndexedDB (a message sent meanwhile waits in the outbox and arrives after), a new version
 * served brings the reload banner, and two tabs of one device apply each delivered message once.
 */

import * as assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type ChatMessage, MemoryStore, nodeSocket, ParleyClient } from '@parley/client/node';
import type { BrowserContext, Page } from 'playwright-core';
import { axeSerious, browserMissing, launchPersistentChromium } from './harness/browser.js';
import { ServerProcess } from './harness/server-process.js';
import { until } from './harness/wait.js';

const WEB_DIST = fileURLToPath(new URL('../../../apps/web/dist', import.meta.url));
const ALICE = '4155550161';
const BOB = '4155550162';

describe('web app shell', { skip: browserMissing(), timeout: 300_000 }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-shell-data-'));
  const profile = mkdtempSync(join(tmpdir(), 'parley-shell-profile-'));
  const nextVersion = mkdtempSync(join(tmpdir(), 'parley-shell-web-'));
  let server: ServerProcess;
  let context: BrowserContext;
  let page: Page;
  let bob: ParleyClient;
  let chatId: string;
  const notFound: string[] = [];
  const problems: string[] = [];
  const bobReceived: ChatMessage[] = [];

  /** Records every 404 and every uncaught error or CSP violation of a page. */
  function watch(p: Page): Page {
    p.on('response', (r) => {
      if (r.status() === 404) notFound.push(r.url());
    });
    p.on('pageerror', (e) => problems.push(e.message));
    p.on('console', (m) => {
      // Refused connections while the server is down are expected; anything else is not.
      if (m.type() === 'error' && !/Failed to load resource|WebSocket connection/.test(m.text())) {
        problems.push(m.text());
      }
    });
    return p;
  }

  async function restart(env: Record<string, string> = {}): Promise<void> {
    await server.stop();
    server = await ServerProcess.start({ PARLEY_PORT: server.port, ...env }, dataDir);
  }

  before(async () => {
    server = await ServerProcess.start({}, dataDir);
    context = await launchPersistentChromium(profile);
    page = watch(context.pages()[0] ?? (await context.newPage()));
    await page.goto(server.url);
    bob = await ParleyClient.open({
      serverUrl: server.url,
      store: new MemoryStore(),
      defaultRegion: 'US',
      socket: nodeSocket,
    });
  });

  after(async () => {
    bob?.close();
    await context?.close();
    await server?.stop();
    for (const dir of [dataDir, profile, nextVersion])
      rmSync(dir, { recursive: true, force: true });
  });

  const messages = (p: Page, text: string) =>
    p.getByRole('list', { name: 'Messages' }).locator('.message', { hasText: text });

  async function openChat(p: Page): Promise<void> {
    await p.getByRole('link', { name: /^Chats/ }).click();
    await p.locator('.chat-item').first().click();
    await p.getByRole('list', { name: 'Messages' }).waitFor();
  }

  test('the built service worker has no dynamic import()', () => {
    const sw = readFileSync(join(WEB_DIST, 'sw.js'), 'utf8');
    assert.ok(sw.includes('parley-shell-'), 'dist/sw.js is the service worker');
    assert.doesNotMatch(sw, /\bimport\s*\(/);
  });

  test('installs, passes the installability check and runs the SDK in the service worker', async () => {
    // Alice signs up in the browser; Bob (the SDK in Node) writes to her.
    await page.getByRole('heading', { name: 'Welcome to Parley' }).waitFor();
    await page.getByLabel('Country').selectOption('US');
    await page.getByLabel('Phone number', { exact: true }).fill(ALICE);
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
    await page.getByLabel('Your name').fill('Alice');
    await page.getByLabel('Name of this device').fill('Alice phone');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { name: 'Contacts' }).waitFor();

    const { verificationId: bobVerification } = await bob.requestCode(BOB);
    await bob.register({
      verificationId: bobVerification,
      code: await server.codeFor(bobVerification),
      discoverable: true,
      presence: 'nobody',
      deviceName: 'Bob laptop',
    });
    bob.messenger.on('message', (m) => bobReceived.push(m));
    await bob.messenger.start();
    const alice = await bob.lookupNumber(ALICE);
    assert.ok(alice.accountId);
    const chat = await bob.messenger.createConversation([alice.accountId]);
    chatId = chat.id;
    await bob.messenger.send(chatId, 'Hello from Bob');
    await openChat(page);
    await messages(page, 'Hello from Bob').waitFor();

    const installed = await page.evaluate(async () => {
      const registration = await navigator.serviceWorker.ready;
      return { state: registration.active?.state, scope: registration.scope };
    });
    assert.deepEqual(installed, { state: 'activated', scope: `${server.url}/` });
    await until('the page controlled', () =>
      page.evaluate(() => navigator.serviceWorker.controller !== null),
    );

    const cdp = await context.newCDPSession(page);
    const { installabilityErrors } = (await cdp.send('Page.getInstallabilityErrors')) as {
      installabilityErrors: unknown[];
    };
    assert.deepEqual(installabilityErrors, []);

    // The service worker opens the same IndexedDB store and the SDK's client, and loads ts-mls
    // and libsodium: the bundle works where import() is refused.
    const check = await page.evaluate(
      () =>
        new Promise((resolve) => {
          const channel = new MessageChannel();
          channel.port1.onmessage = (event) => resolve(event.data);
          navigator.serviceWorker.controller!.postMessage({ t: 'sdk-check' }, [channel.port2]);
        }),
    );
    const accountId = await page.evaluate(
      () =>
        new Promise<string>((resolve, reject) => {
          const open = indexedDB.open('parley');
          open.onsuccess = () => {
            const get = open.result.transaction('state').objectStore('state').get('session');
            get.onsuccess = () => resolve((get.result as { accountId: string }).accountId);
            get.onerror = () => reject(get.error);
          };
        }),
    );
    assert.equal(accountId, alice.accountId);
    assert.deepEqual(
      { ...(check as object), version: undefined },
      {
        version: undefined,
        accountId,
        conversations: 1,
      },
    );
  });

  test('opens with the server stopped, shows the history and queues what is sent', async () => {
    await server.stop();
    await page.reload();
    await openChat(page);
    await messages(page, 'Hello from Bob').waitFor();
    await page.getByText('What you send now goes out once connected.').waitFor();
    await page.getByLabel('Message', { exact: true }).fill('Sent while offline');
    await page.getByRole('button', { name: 'Send' }).click();
    await messages(page, 'Sent while offline').waitFor();
    const arrived = () =>
      bobReceived.some((m) => m.kind === 'text' && m.text === 'Sent while offline');
    assert.equal(arrived(), false);

    // Back online, the outbox sends it.
    server = await ServerProcess.start({ PARLEY_PORT: server.port }, dataDir);
    await until('Bob receives the queued message', arrived);
  });

  test('two tabs of one device apply each delivered message once', async () => {
    const second = watch(await context.newPage());
    await second.goto(server.url);
    await openChat(second);
    const texts = ['one', 'two', 'three', 'four', 'five'].map((n) => `Burst ${n}`);
    for (const text of texts) await bob.messenger.send(chatId, text);
    // Whichever tab applied each one, both show all of them once after reading the store again.
    for (const p of [page, second]) {
      await until('every burst message in the tab', async () => {
        await p.reload();
        await openChat(p);
        return (await messages(p, 'Burst five').count()) === 1;
      });
      for (const text of [...texts, 'Hello from Bob']) {
        assert.equal(await messages(p, text).count(), 1, text);
      }
    }
    await second.close();
    assert.deepEqual(problems, []);
  });

  test('offers a reload when a new version is served, and no request 404s', async () => {
    cpSync(WEB_DIST, nextVersion, { recursive: true });
    const sw = join(nextVersion, 'sw.js');
    writeFileSync(sw, `${readFileSync(sw, 'utf8')}\n// the next version\n`);
    await restart({ PARLEY_WEB_DIR: nextVersion });
    await page.reload();
    const banner = page.getByRole('region', { name: 'Update' });
    await banner.getByText('A new version of Parley is ready.').waitFor();
    const serious = await axeSerious(page);
    assert.deepEqual(serious, [], JSON.stringify(serious, null, 2));
    await Promise.all([
      page.waitForEvent('load'),
      banner.getByRole('button', { name: 'Reload' }).click(),
    ]);
    await page.getByRole('link', { name: /^Chats/ }).waitFor();
    assert.equal(await banner.count(), 0);
    const running = await page.evaluate(async () => {
      const registration = await navigator.serviceWorker.ready;
      const text = await (await fetch(registration.active!.scriptURL)).text();
      return text.endsWith('// the next version\n');
    });
    assert.ok(running, 'the new service worker is the active one');
    assert.deepEqual(notFound, []);
    assert.deepEqual(problems, []);
  });
});
