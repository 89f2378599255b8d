/**
 * The web app in a real browser (Debian's Chromium through playwright-core) against a real
 * `parley serve` process: three people register, one imports a vCard and sees who is reachable and
 * online, they chat one-to-one and in a group, live and across a reload and a server restart, and
 * the privacy dashboard's withdraw, export and delete work. Every main screen is checked with axe
 * and saved at phone and desktop widths under test-output/screenshots.
 */

import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { MemoryStore, ParleyClient } from '@parley/client';
import type { Browser, Page } from 'playwright-core';
import {
  axeSerious,
  browserMissing,
  launchChromium,
  openPage,
  screenshots,
  type WatchedPage,
} from './harness/browser.js';
import { ServerProcess } from './harness/server-process.js';
import { eventually } from './harness/wait.js';

const NUMBERS = {
  alice: '4155550131',
  bob: '4155550132',
  carol: '4155550133',
  dave: '4155550134',
  erin: '4155550135',
};

const VCARD = [
  ['Alice Example', NUMBERS.alice],
  ['Carol Example', NUMBERS.carol],
  ['Dave Example', NUMBERS.dave],
]
  .map(
    ([name, n]) =>
      `BEGIN:VCARD\r\nVERSION:3.0\r\nFN:${name}\r\nTEL;TYPE=CELL:+1 ${n}\r\nEND:VCARD\r\n`,
  )
  .join('');

// Requests refused while the server is down, and 4xx answers the app handles, are expected.
const EXPECTED_NOISE = [/Failed to load resource/, /WebSocket connection to .* failed/];

const skip = browserMissing();

describe('web app', { skip, timeout: 300_000 }, () => {
  let server: ServerProcess;
  let browser: Browser;
  const pages: WatchedPage[] = [];

  before(async () => {
    server = await ServerProcess.start();
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  async function person(viewport: 'phone' | 'desktop'): Promise<WatchedPage> {
    const context = await browser.newContext({
      viewport: viewport === 'phone' ? { width: 390, height: 844 } : { width: 1280, height: 800 },
      locale: 'en-US',
      acceptDownloads: true,
    });
    const watched = await openPage(context, server.url, EXPECTED_NOISE);
    pages.push(watched);
    return watched;
  }

  async function register(
    page: Page,
    number: string,
    presence: 'contacts' | 'nobody',
    deviceName: string,
  ): Promise<void> {
    await page.getByRole('heading', { name: 'Welcome to Parley' }).waitFor();
    await page.getByLabel('Country').selectOption('US');
    await page.getByLabel('Phone number', { exact: true }).fill(number);
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/v1/verifications')),
      page.getByRole('button', { name: 'Send code' }).click(),
    ]);
    const { verificationId } = (await response.json()) as { verificationId: string };
    await page
      .getByLabel('The 6-digit code we texted you')
      .fill(await server.codeFor(verificationId));
    await page.getByRole('button', { name: 'Continue' }).click();
    // Nothing is pre-selected (once the questions are there): submitting without answering is
    // refused.
    await page.getByRole('radio').first().waitFor();
    assert.equal(await page.getByRole('radio', { checked: true }).count(), 0);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByText('Please answer both questions').waitFor();
    await page.getByLabel(/^Yes — people who have my number/).check();
    await page
      .getByLabel(presence === 'contacts' ? 'People who have my number and found me' : 'Nobody')
      .check();
    await page.getByLabel('Name of this device').fill(deviceName);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { name: 'Contacts' }).waitFor();
  }

  async function checkScreen(page: Page, name: string): Promise<void> {
    const serious = await axeSerious(page);
    assert.deepEqual(serious, [], `axe on ${name}: ${JSON.stringify(serious, null, 2)}`);
    await screenshots(page, name);
  }

  /** Opens the chat whose title matches `title` (a RegExp), or whose item shows `text`. */
  async function openChat(page: Page, which: string | RegExp): Promise<void> {
    await page.getByRole('link', { name: /^Chats/ }).click();
    const item =
      typeof which === 'string'
        ? page.locator('.chat-item', { hasText: which })
        : page.locator('.chat-item', { has: page.locator('.chat-title', { hasText: which }) });
    await item.first().click();
    await page.getByRole('list', { name: 'Messages' }).waitFor();
  }

  async function send(page: Page, text: string): Promise<void> {
    await page.getByLabel('Message', { exact: true }).fill(text);
    await page.getByRole('button', { name: 'Send' }).click();
  }

  const message = (page: Page, text: string) =>
    page.getByRole('list', { name: 'Messages' }).locator('.message', { hasText: text });

  test('register, discover, chat, reload, reconnect, withdraw, export and delete', async () => {
    const alice = await person('desktop');
    await checkScreen(alice.page, 'onboarding');
    await register(alice.page, NUMBERS.alice, 'contacts', 'Alice laptop');
    const bob = await person('phone');
    await register(bob.page, NUMBERS.bob, 'contacts', 'Bob phone');
    const carol = await person('desktop');
    await register(carol.page, NUMBERS.carol, 'contacts', 'Carol laptop');

    // Bob: consent first, then the vCard.
    const b = bob.page;
    await b.getByRole('button', { name: 'See what this shares' }).click();
    await b.getByRole('heading', { name: 'Before Parley looks at your contacts' }).waitFor();
    await b.getByText('Blinded phone numbers').waitFor();
    await checkScreen(b, 'consent');
    await b.getByRole('button', { name: 'Agree and choose contacts' }).click();
    await b.locator('input[type=file]').setInputFiles({
      name: 'contacts.vcf',
      mimeType: 'text/vcard',
      buffer: Buffer.from(VCARD),
    });
    await b.getByText('2 of 3 numbers can receive free Parley messages').waitFor();
    const onParley = b.getByRole('list', { name: 'Contacts on Parley' });
    await onParley.getByText('Alice Example').waitFor();
    await onParley.getByText('Carol Example').waitFor();
    // Alice shows her presence to people who have her number and found her: Bob did.
    await onParley
      .locator('.person', { hasText: 'Alice Example' })
      .getByText('Online now')
      .waitFor();
    const invite = b.getByRole('link', { name: 'Invite Dave Example by SMS' });
    const href = (await invite.getAttribute('href')) ?? '';
    assert.match(href, /^sms:\+14155550134\?body=/);
    assert.match(decodeURIComponent(href), /Parley/);
    await checkScreen(b, 'contacts');

    // One-to-one, live both ways, with delivered and read states.
    await b.getByRole('button', { name: 'Message Alice Example' }).click();
    await b.getByRole('list', { name: 'Messages' }).waitFor();
    await send(b, 'Hi Alice');
    await message(b, 'Hi Alice')
      .getByText(/Delivered|Read/)
      .waitFor();

    const a = alice.page;
    await a.getByRole('link', { name: /^Chats/ }).click();
    const unread = a.locator('.chat-item', { hasText: 'Hi Alice' }).locator('.unread');
    await eventually('the unread count', () => unread.textContent(), '1 unread');
    await openChat(a, 'Hi Alice');
    await message(a, 'Hi Alice').waitFor();
    await message(b, 'Hi Alice').getByText('Read').waitFor();
    await a.getByLabel('Message', { exact: true }).fill('Hi B');
    await b.getByText(/is typing…/).waitFor();
    await send(a, 'Hi Bob');
    await message(b, 'Hi Bob').waitFor();
    await checkScreen(b, 'chat');

    // Alice did not share her address book: she adds Bob by typing his number.
    await a.getByRole('link', { name: 'Contacts' }).click();
    await a.getByText('Add a contact by number').click();
    await a.getByLabel('Name').fill('Bob Example');
    await a.getByLabel('Phone number', { exact: true }).fill(NUMBERS.bob);
    await a.getByRole('button', { name: 'Add', exact: true }).click();
    await a.getByText('Bob Example: on Parley.').waitFor();
    await openChat(a, /^Bob Example$/);

    // A group of three.
    await b.getByRole('link', { name: /^Chats/ }).click();
    await b.getByRole('button', { name: 'New group' }).click();
    await b.getByLabel('Alice Example').check();
    await b.getByLabel('Carol Example').check();
    await b.getByRole('button', { name: 'Create group' }).click();
    await b.getByRole('list', { name: 'Messages' }).waitFor();
    await send(b, 'Hello group');
    const c = carol.page;
    await openChat(c, 'Hello group');
    await message(c, 'Hello group').waitFor();
    await send(c, 'Hi all');
    await message(b, 'Hi all').waitFor();
    await openChat(a, 'Hi all');
    await message(a, 'Hello group').waitFor();
    await message(a, 'Hi all').waitFor();
    await a.getByRole('link', { name: /^Chats/ }).click();
    await checkScreen(a, 'chats');

    // Bob reloads: the history is still there, each message once.
    await b.reload();
    await openChat(b, /^Alice Example$/);
    await message(b, 'Hi Bob').waitFor();
    await eventually("Bob's 'Hi Alice' after the reload", () => message(b, 'Hi Alice').count(), 1);
    await eventually("Bob's 'Hi Bob' after the reload", () => message(b, 'Hi Bob').count(), 1);

    // The server goes away: Bob sees he is offline, writes anyway, and it arrives once after.
    const port = server.port;
    await server.stop('SIGKILL');
    await b.getByText('Offline — reconnecting').waitFor();
    await send(b, 'Sent while offline');
    await message(b, 'Sent while offline').getByText('Sending…').waitFor();
    server = await ServerProcess.start({ PARLEY_PORT: port }, server.dataDir);
    await b.getByText('Offline — reconnecting').waitFor({ state: 'detached', timeout: 60_000 });
    await a.locator('.chat-item', { hasText: 'Sent while offline' }).waitFor({ timeout: 60_000 });
    await openChat(a, /^Bob Example$/);
    await message(a, 'Sent while offline').waitFor();
    await message(b, 'Sent while offline')
      .getByText(/Delivered|Read/)
      .waitFor();
    await eventually('what Alice got of it', () => message(a, 'Sent while offline').count(), 1);

    // Privacy: the log, the export, withdrawing consent.
    await b.getByRole('link', { name: 'Privacy' }).click();
    const log = b.getByRole('table');
    await log.getByText('Contacts’ numbers, each blinded').first().waitFor();
    const blindedRow = log.locator('tr', { hasText: 'Contacts’ numbers, each blinded' }).first();
    await eventually(
      'the blinded column',
      () => blindedRow.locator('td').nth(3).textContent(),
      'Yes',
    );
    await checkScreen(b, 'privacy');
    const [download] = await Promise.all([
      b.waitForEvent('download'),
      b.getByRole('button', { name: 'Export my data (JSON)' }).click(),
    ]);
    const exported = readFileSync((await download.path())!, 'utf8');
    assert.match(exported, /Hi Alice/);
    assert.doesNotMatch(exported, /credential/i);
    await b.getByRole('button', { name: 'Withdraw consent and erase contacts' }).click();
    await b.getByText('Consent withdrawn.').waitFor();
    await b.getByRole('link', { name: 'Contacts' }).click();
    await b.getByRole('button', { name: 'See what this shares' }).waitFor();
    await eventually('Dave Example, erased', () => b.getByText('Dave Example').count(), 0);

    // Bob hides his presence: Alice, who found him by number, no longer sees him online.
    await a.getByRole('link', { name: 'Contacts' }).click();
    const bobForAlice = a.locator('.person', { hasText: 'Bob Example' });
    await bobForAlice.getByText('Online now').waitFor();
    await b.getByRole('link', { name: 'Privacy' }).click();
    await b.getByLabel('Nobody').click();
    await b.getByText('Nobody sees when you are online.').waitFor();
    await eventually('the Nobody choice', () => b.getByLabel('Nobody').isChecked(), true);
    await bobForAlice.getByText('Online now').waitFor({ state: 'detached' });
    await bobForAlice.getByText('On Parley').waitFor();

    // Carol deletes her account: she is back at the start, and it stays so after a reload.
    await c.getByRole('link', { name: 'Privacy' }).click();
    await c.getByRole('button', { name: 'Delete my account' }).click();
    await c.getByRole('button', { name: 'Delete for good' }).click();
    await c.getByRole('heading', { name: 'Welcome to Parley' }).waitFor();
    await c.reload();
    await c.getByRole('heading', { name: 'Welcome to Parley' }).waitFor();

    for (const p of pages) assert.deepEqual(p.problems(), []);
  });

  test('sign-up works with the keyboard alone', async () => {
    const erin = await person('phone');
    const page = erin.page;
    await page.getByRole('heading', { name: 'Welcome to Parley' }).waitFor();
    // The number field has focus on arrival; Enter submits.
    await page.keyboard.type(NUMBERS.erin);
    await eventually(
      'the number as typed',
      () => page.getByLabel('Phone number', { exact: true }).inputValue(),
      '(415) 555-0135',
    );
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/v1/verifications')),
      page.keyboard.press('Enter'),
    ]);
    const { verificationId } = (await response.json()) as { verificationId: string };
    await page.getByLabel('The 6-digit code we texted you').waitFor();
    await page.keyboard.type(await server.codeFor(verificationId));
    await page.keyboard.press('Enter');
    await page.getByRole('radio').first().waitFor();
    // Tab into each question, Space answers it; then the device name, and Enter.
    await page.keyboard.press('Tab');
    await page.keyboard.press('Space');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Space');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Contacts' }).waitFor();
    // The answers given by keyboard are the account's settings.
    await page.getByRole('link', { name: 'Privacy' }).focus();
    await page.keyboard.press('Enter');
    const checked = (label: string) => page.getByLabel(label).isChecked();
    await eventually('discoverable, as answered', () => checked('Can find me on Parley'), true);
    await eventually(
      'presence, as answered',
      () => checked('People who have my number and found me'),
      true,
    );

    // A second device of Erin's (the SDK, in Node) shows on the dashboard; she signs it out there.
    const laptop = await ParleyClient.open({
      serverUrl: server.url,
      store: new MemoryStore(),
      defaultRegion: 'US',
    });
    const second = await laptop.requestCode(NUMBERS.erin);
    await laptop.register({
      verificationId: second.verificationId,
      code: await server.codeFor(second.verificationId),
      discoverable: true,
      presence: 'contacts',
      deviceName: 'Erin laptop',
    });
    await page.reload();
    const devices = page.getByRole('list', { name: 'Your devices' });
    await devices.getByText('Erin laptop').waitFor();
    await eventually('the devices listed', () => devices.getByRole('listitem').count(), 2);
    await devices.getByText('(this device)').waitFor();
    await page.getByRole('button', { name: 'Sign out Erin laptop' }).click();
    await page.getByText('Erin laptop is signed out').waitFor();
    // The status shows first; the list is fetched again and re-rendered after it.
    await eventually('the devices left', () => devices.getByRole('listitem').count(), 1);
    await assert.rejects(
      laptop.getAccount(),
      (e: unknown) => (e as { code?: string }).code === 'UNAUTHENTICATED',
    );
    await checkScreen(page, 'privacy-devices');
    assert.deepEqual(erin.problems(), []);
  });
});
