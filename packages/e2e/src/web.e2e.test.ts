/**
 * The web app in a real browser (Debian's Chromium through playwright-core) against a real
 * `parley serve` process: three people register, one imports a vCard and sees who is reachable and
 * online, they chat one-to-one and in a group, live and across a reload and a server restart, and
 * the privacy dashboard's withdraw, export and delete work; a stranger's chat is a message
 * request (no read receipt until accepted) and strangers in a group show by their profile names.
 * A second and a third device are linked — by the typed code, and through the camera (Chromium's fake capture playing the QR code read off
 * the new device's screen) — and join the existing conversation; safety numbers match on both
 * screens, a verified contact's new identity blocks sending until accepted, and a signed-out device
 * lands where it can link or register again. Every main screen is checked with axe and saved at
 * phone and desktop widths under test-output/screenshots.
 */

import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { KEPT, MemoryStore, nodeSocket, ParleyClient } from '@parley/client/node';
import type { Browser, Page } from 'playwright-core';
import {
  axeSerious,
  browserMissing,
  launchChromium,
  openPage,
  screenshots,
  type WatchedPage,
} from './harness/browser.js';
import { fakeCameraArgs, readQrOnScreen, writeCameraFrame } from './harness/fake-camera.js';
import { ServerProcess } from './harness/server-process.js';
import { eventually, texts, until } from './harness/wait.js';
import { addByNumber } from './harness/web-person.js';

const NUMBERS = {
  alice: '4155550131',
  bob: '4155550132',
  carol: '4155550133',
  dave: '4155550134',
  erin: '4155550135',
  gina: '4155550141',
  hank: '4155550142',
  ivy: '4155550143',
  jack: '4155550144',
};

const VCARD = [
  ['Alice Example', NUMBERS.alice],
  ['Carol Example', NUMBERS.carol],
  ['Dave Example', NUMBERS.dave],
  ['Broken Example', '12'],
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
  // What the fake camera shows: blank until a test holds a QR code up to it.
  const cameraDir = mkdtempSync(join(tmpdir(), 'parley-camera-'));
  const camera = join(cameraDir, 'camera.y4m');
  const nodeClients: ParleyClient[] = [];

  before(async () => {
    server = await ServerProcess.start();
    writeCameraFrame(camera, undefined);
    browser = await launchChromium(fakeCameraArgs(camera));
  });

  after(async () => {
    for (const c of nodeClients) c.close();
    await browser?.close();
    await server?.stop();
    rmSync(cameraDir, { recursive: true, force: true });
  });

  /** A device run by the SDK in Node (a contact on the other side of a chat). */
  async function nodeClient(): Promise<ParleyClient> {
    const client = await ParleyClient.open({
      serverUrl: server.url,
      store: new MemoryStore(),
      defaultRegion: 'US',
      socket: nodeSocket,
    });
    nodeClients.push(client);
    return client;
  }

  /** Registers a Node device by SMS code (a new identity when the number had an account). */
  async function registerNode(client: ParleyClient, number: string, deviceName: string) {
    const { verificationId } = await client.requestCode(number);
    return client.register({
      verificationId,
      code: await server.codeFor(verificationId),
      discoverable: true,
      presence: 'nobody',
      deviceName,
    });
  }

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
    await answerSignUp(page, number, presence, deviceName);
    await page.getByRole('heading', { name: 'Contacts' }).waitFor();
  }

  /** Goes through sign-up up to "Create account" (which may then ask for a PIN, or warn). */
  async function answerSignUp(
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
      .getByLabel(
        presence === 'contacts'
          ? 'My contacts (people in my address book and people I talk to)'
          : 'Nobody',
      )
      .check();
    // The profile name people see: the first word of the device's name ("Alice laptop").
    await page.getByLabel('Your name').fill(deviceName.split(' ')[0]!);
    await page.getByLabel('Name of this device').fill(deviceName);
    await page.getByRole('button', { name: 'Create account' }).click();
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
    // What the server keeps, in the words of docs/security.md (consent.test.ts).
    await b.getByRole('heading', { name: 'What the server keeps' }).waitFor();
    for (const line of KEPT) await b.getByText(line, { exact: true }).waitFor();
    await checkScreen(b, 'consent');
    await b.getByRole('button', { name: 'Agree and choose contacts' }).click();
    await b.locator('input[type=file]').setInputFiles({
      name: 'contacts.vcf',
      mimeType: 'text/vcard',
      buffer: Buffer.from(VCARD),
    });
    await b.getByText('2 of 3 numbers can receive free Parley messages').waitFor();
    // The import's skipped entries stay beside the discovery result, in a list one can open.
    const importResult = b.getByLabel('Import result');
    await importResult
      .getByText('Imported 3 contacts from 4 entries (vcard); 1 entry skipped.')
      .waitFor();
    await importResult.getByText('1 entry with problems').click();
    await importResult.getByText(/^entry 4 \(Broken Example\) skipped: "\+1 12": /).waitFor();
    const onParley = b.getByRole('list', { name: 'Contacts on Parley' });
    await onParley.getByText('Alice Example').waitFor();
    await onParley.getByText('Carol Example').waitFor();
    // Alice shows her presence to her contacts: people her own client put on her list (her
    // address book, people she talks to). Bob found her number, which grants him nothing.
    const aliceOnline = onParley
      .locator('.person', { hasText: 'Alice Example' })
      .getByText('Online now');
    assert.equal(await aliceOnline.count(), 0, 'finding her number shows nothing');
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
    // Bob is not in Alice's contacts: his chat is a message request, under his profile name.
    const requests = a.getByRole('region', { name: 'Message requests' });
    await requests.getByText('Bob (not in contacts)', { exact: true }).waitFor();
    const unread = a.locator('.chat-item', { hasText: 'Hi Alice' }).locator('.unread');
    await eventually('the unread count', () => unread.textContent(), '1 unread');
    await checkScreen(a, 'message-requests');
    await openChat(a, 'Hi Alice');
    await message(a, 'Hi Alice').waitFor();
    await a.getByRole('heading', { name: 'Message request from Bob (not in contacts)' }).waitFor();
    await checkScreen(a, 'message-request');
    // Read, but not accepted: Bob learns nothing of it. Accepting sends the receipt.
    assert.equal(await message(b, 'Hi Alice').getByText('Read').count(), 0);
    await a.getByRole('button', { name: 'Accept' }).click();
    await a.getByRole('heading', { name: /^Message request/ }).waitFor({ state: 'detached' });
    await message(b, 'Hi Alice').getByText('Read').waitFor();
    await a.getByText('Bob is not in your contacts.').waitFor();
    await a.getByLabel('Message', { exact: true }).fill('Hi B');
    await b.getByText(/is typing…/).waitFor();
    await send(a, 'Hi Bob');
    await message(b, 'Hi Bob').waitFor();
    await checkScreen(b, 'chat');
    // Answering Bob put him on Alice's list: his waiting request is checked again, and he sees her.
    await b.getByRole('link', { name: 'Contacts' }).click();
    await aliceOnline.waitFor();
    await b.getByRole('link', { name: /^Chats/ }).click();

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
    // Bob and Alice are strangers to Carol: the profile names they chose show, marked as such.
    await message(c, 'Hello group')
      .locator('.from', { hasText: 'Bob (not in contacts)' })
      .waitFor();
    await c.locator('#chat-title', { hasText: 'Alice (not in contacts)' }).waitFor();
    await c.locator('#chat-title', { hasText: 'Bob (not in contacts)' }).waitFor();
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
    // Bob changes his profile name: Carol, who has no Bob in her contacts, sees the new one.
    await b.getByLabel('Your name').fill('Bobby');
    await b.getByRole('button', { name: 'Save name' }).click();
    await b.getByText('Saved. People you message now see “Bobby”.').waitFor();
    await openChat(c, 'Hi all');
    await c.locator('#chat-title', { hasText: 'Bobby (not in contacts)' }).waitFor();
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
    // Alice came from the erased address book: her chat now shows the name she chose, never
    // "Unknown".
    await b.getByRole('link', { name: /^Chats/ }).click();
    await b.locator('.chat-title', { hasText: /^Alice \(not in contacts\)$/ }).waitFor();
    assert.equal(await b.getByText(/Unknown/).count(), 0);

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

  test('a number too short for the picked country is refused as too short', async () => {
    const page = (await person('phone')).page;
    await page.getByRole('heading', { name: 'Welcome to Parley' }).waitFor();
    await page.getByLabel('Country').selectOption('US');
    await page.getByLabel('Phone number', { exact: true }).fill('12');
    await page.keyboard.press('Enter');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(
      (await alert.textContent()) ?? '',
      /too short for a phone number in the United States/,
    );
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
    // Tab into each question, Space answers it; then the name people see, the device name, and
    // Enter.
    await page.keyboard.press('Tab');
    await page.keyboard.press('Space');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Space');
    await page.keyboard.press('Tab');
    await page.keyboard.type('Erin');
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
      () => checked('My contacts (people in my address book and people I talk to)'),
      true,
    );

    // A second device of Erin's (the SDK, in Node) is linked by typing its code on the dashboard,
    // shows there, and she signs it out there.
    const laptop = await nodeClient();
    const link = await laptop.startLink({ deviceName: 'Erin laptop' });
    const linked = link.wait({ pollMs: 100 });
    linked.catch(() => {});
    await page.getByRole('button', { name: 'Link a device' }).click();
    await page.getByLabel('Or type the code the new device shows').fill(link.code);
    await page.getByRole('button', { name: 'Check code' }).click();
    await page.getByRole('button', { name: 'Link', exact: true }).click();
    await page
      .getByText('Linked Erin laptop; added to 0 conversations.')
      .waitFor({ timeout: 60_000 });
    await linked;
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
  /** On a new device's welcome screen: asks to be linked and returns the typed code it shows. */
  async function askToLink(page: Page, deviceName: string): Promise<string> {
    await page.getByRole('heading', { name: 'Welcome to Parley' }).waitFor();
    await page.getByRole('button', { name: 'Link to an existing account' }).click();
    await page.getByLabel('Name of this device').fill(deviceName);
    await page.getByRole('button', { name: 'Show link code' }).click();
    await page.getByRole('img', { name: 'QR code that links this device' }).waitFor();
    return ((await page.locator('.link-code').textContent()) ?? '').trim();
  }

  /** On an existing device: Privacy → Link a device, ready to scan or type. */
  async function openLinking(page: Page): Promise<void> {
    await page.getByRole('link', { name: 'Privacy' }).click();
    await page.getByRole('button', { name: 'Link a device' }).click();
  }

  /** Approves the request on screen (its name shown first) and waits for the result. */
  async function approve(page: Page, deviceName: string, conversations: string): Promise<void> {
    await page.locator('.link-device strong', { hasText: deviceName }).waitFor();
    await page.getByLabel('Bring my contacts to it').check();
    await page.getByRole('button', { name: 'Link', exact: true }).click();
    await page
      .getByText(`Linked ${deviceName}; added to ${conversations}.`)
      .waitFor({ timeout: 90_000 });
  }

  test('link a second device by its typed code and a third through the camera', async () => {
    const gina = await person('desktop');
    const g = gina.page;
    await register(g, NUMBERS.gina, 'contacts', 'Gina laptop');
    // Hank (the SDK in Node) writes to Gina: the conversation the new devices must join.
    const hank = await nodeClient();
    await registerNode(hank, NUMBERS.hank, 'Hank phone');
    await hank.messenger.start();
    const ginaId = (await hank.lookupNumber(NUMBERS.gina)).accountId!;
    const chat = await hank.messenger.createConversation([ginaId]);
    await hank.messenger.send(chat.id, 'Before linking');
    await g.getByRole('link', { name: /^Chats/ }).click();
    await g.locator('.chat-item', { hasText: 'Before linking' }).waitFor();

    // The typed code: the tablet shows it, Gina types it on her laptop and approves.
    const tablet = await person('phone');
    const t = tablet.page;
    const code = await askToLink(t, 'Gina tablet');
    assert.match(code, /^[0-9A-Z]{4}(-[0-9A-Z]{4}){5}$/);
    await checkScreen(t, 'link-new-device');
    await openLinking(g);
    await g.getByLabel('Or type the code the new device shows').fill(code);
    await g.getByRole('button', { name: 'Check code' }).click();
    await g.locator('.link-device strong', { hasText: 'Gina tablet' }).waitFor();
    await checkScreen(g, 'link-approve');
    await approve(g, 'Gina tablet', '1 conversation');
    await g
      .getByRole('list', { name: 'Notices' })
      .getByText('New device linked: Gina tablet')
      .waitFor();

    // The tablet is in: it shows the conversation and gets the next message in it.
    await t.getByRole('heading', { name: 'Chats' }).waitFor({ timeout: 60_000 });
    await t.locator('.chat-item').first().waitFor();
    await hank.messenger.send(chat.id, 'After linking');
    await openChat(t, 'After linking');
    await message(t, 'After linking').waitFor();

    // The camera: the phone shows its QR code; the test reads it off the screen and holds it up
    // to Gina's camera (the fake capture device), and Gina's laptop decodes it.
    const phone = await person('phone');
    const p = phone.page;
    await askToLink(p, 'Gina phone');
    const qr = await readQrOnScreen(p, 'img.qr');
    assert.match(qr, /^parley-link:1:/);
    writeCameraFrame(camera, qr);
    await openLinking(g);
    await g.getByRole('button', { name: 'Scan the QR code' }).click();
    await g.getByLabel('Camera view for scanning the new device’s code').waitFor();
    await approve(g, 'Gina phone', '1 conversation');
    writeCameraFrame(camera, undefined);
    await g
      .getByRole('list', { name: 'Notices' })
      .getByText('New device linked: Gina phone')
      .waitFor();
    await p.getByRole('heading', { name: 'Chats' }).waitFor({ timeout: 60_000 });
    await hank.messenger.send(chat.id, 'After the camera');
    await openChat(p, 'After the camera');
    await message(p, 'After the camera').waitFor();
    await message(t, 'After the camera').waitFor();
    await openChat(g, 'After the camera');
    await message(g, 'After the camera').waitFor();

    for (const w of [gina, tablet, phone]) assert.deepEqual(w.problems(), []);
  });

  test('safety numbers, a verified contact’s new identity, and a signed-out device', async () => {
    const ivy = await person('desktop');
    const i = ivy.page;
    await register(i, NUMBERS.ivy, 'contacts', 'Ivy laptop');
    const jack = await person('phone');
    const j = jack.page;
    await register(j, NUMBERS.jack, 'contacts', 'Jack phone');
    await addByNumber(i, 'Jack Example', NUMBERS.jack);
    await addByNumber(j, 'Ivy Example', NUMBERS.ivy);
    await i.getByRole('button', { name: 'Message Jack Example' }).click();
    await i.getByRole('list', { name: 'Messages' }).waitFor();
    await send(i, 'Hi Jack');
    await openChat(j, 'Hi Jack');
    await message(j, 'Hi Jack').waitFor();

    // The same 60 digits on both screens; Ivy marks Jack verified.
    const safetyNumber = async (page: Page, name: string) => {
      await page.getByRole('button', { name: 'Verify safety number' }).click();
      await page.getByRole('heading', { name: `Safety number with ${name}` }).waitFor();
      const groups = page.getByRole('list', { name: 'Safety number' }).getByRole('listitem');
      await eventually('the 12 groups', () => groups.count(), 12);
      return (await groups.allTextContents()).join('');
    };
    const ivySees = await safetyNumber(i, 'Jack Example');
    const jackSees = await safetyNumber(j, 'Ivy Example');
    assert.match(ivySees, /^[0-9]{60}$/);
    assert.equal(ivySees, jackSees);
    await checkScreen(i, 'safety-number');
    await i.getByRole('button', { name: 'Mark as verified' }).click();
    await i.getByText('✓ Verified').waitFor();

    // Jack's number is registered again by SMS (a new phone): a new identity, and the old device
    // is signed out — it lands where it can link or register again.
    const newJack = await nodeClient();
    const again = await registerNode(newJack, NUMBERS.jack, 'Jack new phone');
    assert.equal(again.existingAccount, true);
    await j.getByRole('heading', { name: 'This device is signed out' }).waitFor();
    await j.getByRole('button', { name: 'Link this device' }).waitFor();
    await checkScreen(j, 'signed-out');
    await j.getByRole('button', { name: 'Register again' }).click();
    await j.getByRole('button', { name: 'Send code' }).waitFor();
    await j.getByRole('button', { name: 'Back' }).click();
    await j.getByRole('button', { name: 'Link this device' }).click();
    await j.getByRole('button', { name: 'Show link code' }).waitFor();

    // The new Jack writes to Ivy. Ivy sees the change, and as Jack was verified, her reply waits
    // until she accepts the new safety number.
    await newJack.messenger.start();
    const ivyId = (await newJack.lookupNumber(NUMBERS.ivy)).accountId!;
    const fresh = await newJack.messenger.createConversation([ivyId]);
    await newJack.messenger.send(fresh.id, 'New phone, same Jack');
    await openChat(i, 'New phone, same Jack');
    const banner = i.locator('.key-change', { hasText: 'Jack Example’s safety number changed' });
    await banner.waitFor();
    await send(i, 'Is it you?');
    await i.getByText('A verified contact’s safety number changed').waitFor();
    await eventually(
      'the reply kept in the composer',
      () => i.getByLabel('Message', { exact: true }).inputValue(),
      'Is it you?',
    );
    await checkScreen(i, 'safety-number-changed');
    await banner.getByRole('button', { name: 'Accept' }).click();
    await banner.waitFor({ state: 'detached' });
    await i.getByRole('button', { name: 'Send' }).click();
    await message(i, 'Is it you?')
      .getByText(/Delivered|Read/)
      .waitFor();
    await until('the new Jack to get the reply', async () =>
      texts(await newJack.messenger.history(fresh.id), fresh.id).includes('Is it you?'),
    );

    // Ivy turns the registration lock on: registering her number elsewhere asks for the PIN, and
    // once it is given, says plainly what happened to her old devices.
    await i.getByRole('link', { name: 'Privacy' }).click();
    await i.getByLabel('New PIN').fill('2468-lock');
    await i.getByLabel('The same PIN again').fill('8642-lock');
    await i.getByRole('button', { name: 'Turn on registration lock' }).click();
    await i.getByText('The two PINs differ').waitFor();
    await i.getByLabel('The same PIN again').fill('2468-lock');
    await i.getByRole('button', { name: 'Turn on registration lock' }).click();
    await i.getByRole('button', { name: 'Turn off registration lock' }).waitFor();
    const elsewhere = await person('desktop');
    const e = elsewhere.page;
    await answerSignUp(e, NUMBERS.ivy, 'nobody', 'Ivy tablet');
    const pin = e.getByLabel('Registration lock PIN');
    await pin.fill('0000-wrong');
    await e.getByRole('button', { name: 'Continue' }).click();
    await e.getByText('That PIN is not right.').waitFor();
    await checkScreen(e, 'registration-lock-pin');
    await pin.fill('2468-lock');
    await e.getByRole('button', { name: 'Continue' }).click();
    await e.getByRole('heading', { name: 'This number had a Parley account' }).waitFor();
    await e.getByText('your contacts will see that your safety number changed').waitFor();
    await e.getByRole('button', { name: 'Continue' }).click();
    await e.getByRole('heading', { name: 'Contacts' }).waitFor();
    await i.getByRole('heading', { name: 'This device is signed out' }).waitFor();
    assert.deepEqual(elsewhere.problems(), []);
    for (const w of [ivy, jack]) assert.deepEqual(w.problems(), []);
  });
});
