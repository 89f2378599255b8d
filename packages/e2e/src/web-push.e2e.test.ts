/**
 * Notifications with the app closed, in Chromium with a persistent profile against a real `parley
 * serve` and the local push service of the server's testing module (which checks every request's
 * VAPID JWT and decrypts its RFC 8291 body with code of its own):
 *
 * - turning notifications on where the browser has no push service (Chromium here has none)
 *   ends in a clear message within the timeout, and the app keeps working;
 * - with a subscription injected for the device (pointing at the local push service, since
 *   Chromium here cannot create a real one), a message for the closed app reaches the push
 *   service as a content-free wake-up; that payload, delivered to the service worker through the
 *   DevTools protocol (`ServiceWorker.deliverPushMessage`), makes it fetch and decrypt through
 *   the SDK and show a notification with the sender's name and the text — and no text with the
 *   hiding setting on;
 * - `notificationclick` (a synthetic event) opens the conversation;
 * - a tab and the service worker processing the same queue at once apply every message once.
 *
 * Untested here: the browser-to-push-service leg (a real subscription and a real delivery).
 */

import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type ChatMessage, MemoryStore, nodeSocket, ParleyClient } from '@parley/client/node';
import { PUSH_WAKE_PAYLOAD } from '@parley/core';
import { TestPushService } from '@parley/server/testing';
import type { BrowserContext, CDPSession, Page } from 'playwright-core';
import { axeSerious, browserMissing, launchPersistentChromium } from './harness/browser.js';
import { ServerProcess } from './harness/server-process.js';
import { until } from './harness/wait.js';

const ALICE = '4155550171';
const BOB = '4155550172';
const BOB_NAME = 'Bob Builder';

describe('web push', { skip: browserMissing(), timeout: 300_000 }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-push-data-'));
  const profile = mkdtempSync(join(tmpdir(), 'parley-push-profile-'));
  let server: ServerProcess;
  let service: TestPushService;
  let context: BrowserContext;
  let page: Page;
  let cdp: CDPSession;
  let bob: ParleyClient;
  let chatId: string;
  let aliceCredential: string;
  let subscriptionId: string;
  const problems: string[] = [];

  before(async () => {
    service = await TestPushService.start();
    server = await ServerProcess.start({ PARLEY_PUSH_ALLOW_HTTP_LOOPBACK: 'true' }, dataDir);
    context = await launchPersistentChromium(profile);
    await context.grantPermissions(['notifications'], { origin: server.url });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (e) => problems.push(e.message));
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
    await service?.close();
    for (const dir of [dataDir, profile]) rmSync(dir, { recursive: true, force: true });
  });

  /** Runs in the service worker (Playwright's handle on it; it is started if it was stopped). */
  async function inServiceWorker<T>(fn: (arg: string) => Promise<T>, arg = ''): Promise<T> {
    const worker = context.serviceWorkers()[0] ?? (await context.waitForEvent('serviceworker'));
    return worker.evaluate(fn, arg);
  }

  /** The notifications the service worker is showing: title and body. */
  const shown = () =>
    inServiceWorker(async () => {
      const sw = self as unknown as { registration: ServiceWorkerRegistration };
      return (await sw.registration.getNotifications()).map((n: Notification) => ({
        title: n.title,
        body: n.body,
        conversationId: (n.data as { conversationId?: string } | null)?.conversationId,
      }));
    });

  let registrationId: Promise<string> | undefined;
  let cdpPage: Page | undefined;

  /** The service worker registration's id, as the DevTools protocol names it (via this page). */
  async function serviceWorkerRegistration(): Promise<string> {
    if (cdpPage !== page) {
      cdpPage = page;
      cdp = await context.newCDPSession(page);
      registrationId = new Promise<string>((resolve) => {
        cdp.on('ServiceWorker.workerRegistrationUpdated', (event) => {
          const found = (
            event as { registrations: Array<{ registrationId: string; scopeURL: string }> }
          ).registrations.find((r) => r.scopeURL === `${server.url}/`);
          if (found) resolve(found.registrationId);
        });
        void cdp.send('ServiceWorker.enable');
      });
    }
    return registrationId!;
  }

  /** Delivers `data` to the service worker as the browser does a push it received. */
  async function deliverPush(data: string): Promise<void> {
    const registrationId = await serviceWorkerRegistration();
    await cdp.send('ServiceWorker.deliverPushMessage', {
      origin: server.url,
      registrationId,
      data,
    });
  }

  test('signs up, and turning notifications on without a push service says so and changes nothing else', async () => {
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
    await bob.messenger.start();
    // Alice knows Bob by the name she typed in: the name her notifications show.
    await page.getByText('Add a contact by number').click();
    await page.getByLabel('Name').fill(BOB_NAME);
    await page.getByLabel('Phone number', { exact: true }).fill(BOB);
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.getByText(`${BOB_NAME}: on Parley.`).waitFor();
    const alice = await bob.lookupNumber(ALICE);
    const chat = await bob.messenger.createConversation([alice.accountId!]);
    chatId = chat.id;
    await bob.messenger.send(chatId, 'Hello from Bob');
    await page.getByRole('link', { name: /^Chats/ }).click();
    await page.locator('.chat-item').first().click();
    await page.getByRole('list', { name: 'Messages' }).getByText('Hello from Bob').waitFor();
    await page.evaluate(() => navigator.serviceWorker.ready);

    await page.getByRole('link', { name: 'Privacy' }).click();
    await page.getByRole('button', { name: 'Turn notifications on' }).click();
    await page.getByText(/could not subscribe to notifications/).waitFor({ timeout: 60_000 });
    await page.getByRole('button', { name: 'Turn notifications on' }).waitFor();
    const serious = await axeSerious(page);
    assert.deepEqual(serious, [], JSON.stringify(serious, null, 2));
    // The app keeps working.
    await page.getByRole('link', { name: /^Chats/ }).click();
    await page.locator('.chat-item').first().click();
    await page.getByRole('list', { name: 'Messages' }).getByText('Hello from Bob').waitFor();

    aliceCredential = await page.evaluate(
      () =>
        new Promise<string>((resolve, reject) => {
          const open = indexedDB.open('parley');
          open.onsuccess = () => {
            const get = open.result.transaction('state').objectStore('state').get('session');
            get.onsuccess = () => resolve((get.result as { credential: string }).credential);
            get.onerror = () => reject(get.error);
          };
        }),
    );
  });

  /** How the service worker's last push went (its `push-status` answer). */
  const pushStatus = () =>
    inServiceWorker(
      () =>
        new Promise<{ handled: number; notified?: number; error?: string } | null>((resolve) => {
          // Its `push-status` message, sent from inside (no page of the origin is open).
          const sw = self as unknown as {
            dispatchEvent(event: Event): boolean;
            ExtendableMessageEvent: new (
              type: string,
              init: { data: unknown; ports: MessagePort[] },
            ) => Event;
          };
          const channel = new MessageChannel();
          channel.port1.onmessage = (event) => resolve(event.data);
          sw.dispatchEvent(
            new sw.ExtendableMessageEvent('message', {
              data: { t: 'push-status' },
              ports: [channel.port2],
            }),
          );
        }),
    );

  /** A subscription for Alice's device pointing at the local push service, as if subscribed. */
  async function injectSubscription(): Promise<void> {
    const subscription = service.subscribe();
    subscriptionId = subscription.id;
    const response = await fetch(`${server.url}/v1/device/push-subscription`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${aliceCredential}`, 'content-type': 'application/json' },
      body: JSON.stringify({ endpoint: subscription.endpoint, keys: subscription.keys }),
    });
    assert.equal(response.status, 204);
  }

  /** Device sockets open on the server (Bob's SDK holds one). */
  async function socketsOpen(): Promise<number> {
    const response = await fetch(`${server.url}/metrics`, {
      headers: { authorization: `Bearer ${server.adminToken()}` },
    });
    const line = (await response.text())
      .split('\n')
      .find((l) => l.startsWith('parley_websocket_connections '));
    return Number(line?.split(' ')[1]);
  }

  /** Closes the app (its socket goes), Bob sends `text`, and the wake-up reaches the push service. */
  async function messageWhileClosed(text: string): Promise<string> {
    const before = service.deliveredTo(subscriptionId).length;
    // The app closed: its page goes (a new, empty one keeps the browser open).
    await page.close();
    page = await context.newPage();
    page.on('pageerror', (e) => problems.push(e.message));
    // (Not another URL of the origin: the service worker answers every navigation with the app.)
    assert.ok(bob.messenger.connected, 'Bob holds the other socket');
    // Sent while the server still held the app's socket, a message goes down that socket, and no
    // wake-up is due: wait until only Bob's is left.
    await until('the app disconnected', async () => (await socketsOpen()) === 1);
    await bob.messenger.send(chatId, text);
    await service
      .waitFor(
        () => service.deliveredTo(subscriptionId).length === before + 1,
        'a wake-up for the closed app',
      )
      .catch(async (error: unknown) => {
        const metrics = await fetch(`${server.url}/metrics`, {
          headers: { authorization: `Bearer ${server.adminToken()}` },
        }).then((r) => r.text());
        const lines = metrics.split('\n').filter((l) => /^parley_(push|websocket)/.test(l));
        throw new Error(`${String(error)}; ${lines.join('; ')}`);
      });
    const push = service.deliveredTo(subscriptionId).at(-1)!;
    assert.equal(push.plaintext, PUSH_WAKE_PAYLOAD);
    assert.ok(!push.plaintext.includes(text) && !push.body.toString('latin1').includes(text));
    return push.plaintext;
  }

  test('a message for the closed app reaches the push service as a wake-up with nothing in it', async () => {
    await injectSubscription();
    await messageWhileClosed('Dinner at eight?');
    assert.deepEqual(service.rejected, [], 'every push passed the VAPID and RFC 8291 checks');
  });

  test('the wake-up, delivered to the service worker, shows the sender and the text', async () => {
    // The wake-up the server sent for it, as the browser would hand it over.
    await deliverPush(service.deliveredTo(subscriptionId).at(-1)!.plaintext);
    await until('the notification shown', async () => {
      const status = await pushStatus();
      assert.equal(status?.error, undefined, JSON.stringify(status));
      return (await shown()).some((n) => n.body === 'Dinner at eight?');
    });
    const notification = (await shown()).find((n) => n.body === 'Dinner at eight?');
    assert.deepEqual(notification, {
      title: BOB_NAME,
      body: 'Dinner at eight?',
      conversationId: chatId,
    });
  });

  test('tapping the notification opens the conversation', async () => {
    await page.goto(`${server.url}/#/contacts`);
    await page.getByRole('heading', { name: 'Contacts' }).waitFor();
    // A notification as the push handler shows it (messageNotification), then a click on it.
    await inServiceWorker(async (conversationId: string) => {
      const sw = self as unknown as { registration: ServiceWorkerRegistration };
      await sw.registration.showNotification('Bob Builder', {
        body: 'Dinner at eight?',
        tag: `chat-${conversationId}`,
        data: { conversationId },
      });
    }, chatId);
    await inServiceWorker(async () => {
      // Worker-only types (NotificationEvent) are not in this package's DOM library.
      const sw = self as unknown as {
        registration: ServiceWorkerRegistration;
        dispatchEvent(event: Event): boolean;
        NotificationEvent: new (type: string, init: { notification: Notification }) => Event;
      };
      const [notification] = await sw.registration.getNotifications();
      sw.dispatchEvent(
        new sw.NotificationEvent('notificationclick', { notification: notification! }),
      );
    });
    await until('the conversation open', async () =>
      page.url().endsWith(`#/chat/${encodeURIComponent(chatId)}`),
    );
    await page.getByRole('list', { name: 'Messages' }).getByText('Dinner at eight?').waitFor();
    assert.deepEqual(await shown(), [], 'the tapped notification is closed');
  });

  test('with the text hidden, the notification names the sender only', async () => {
    await page.getByRole('link', { name: 'Privacy' }).click();
    // A controlled checkbox: it shows the new state once the setting is saved.
    await page.getByLabel('Hide message text in notifications').click();
    await page.getByText('Notifications show who wrote, not what.').waitFor();
    await messageWhileClosed('The surprise party is on Friday');
    await deliverPush(service.deliveredTo(subscriptionId).at(-1)!.plaintext);
    await until('the notification shown', async () => {
      const status = await pushStatus();
      assert.equal(status?.error, undefined, JSON.stringify(status));
      return (await shown()).length > 0;
    });
    const all = await shown();
    for (const n of all) {
      assert.equal(n.title, BOB_NAME);
      assert.ok(!n.body.includes('surprise'), JSON.stringify(n));
    }
  });

  test('a tab and the service worker processing at once apply every message once', async () => {
    await page.goto(`${server.url}/#/chats`);
    await page.locator('.chat-item').first().click();
    const texts = ['one', 'two', 'three', 'four', 'five', 'six'].map((n) => `Race ${n}`);
    const sent: Promise<ChatMessage>[] = texts.map((text) => bob.messenger.send(chatId, text));
    // The service worker fetches the same queue while the tab receives it.
    const handledBefore = (await pushStatus())?.handled ?? 0;
    await deliverPush(PUSH_WAKE_PAYLOAD);
    await Promise.all(sent);
    await until(
      'the service worker done with the push',
      async () => ((await pushStatus())?.handled ?? 0) > handledBefore,
    );
    const status = await pushStatus();
    assert.equal(status?.error, undefined, JSON.stringify(status));
    const list = page.getByRole('list', { name: 'Messages' });
    await until('every race message in the tab', async () => {
      await page.reload();
      await page.getByRole('link', { name: /^Chats/ }).click();
      await page.locator('.chat-item').first().click();
      return (await list.locator('.message', { hasText: 'Race six' }).count()) === 1;
    });
    for (const text of [...texts, 'Hello from Bob', 'Dinner at eight?']) {
      assert.equal(await list.locator('.message', { hasText: text }).count(), 1, text);
    }
    assert.deepEqual(problems, []);
  });
});
