/**
 * The composer and the reading view, in Chromium against a real `parley serve`, used with the
 * keyboard alone: the chat opens with the focus in the composer, Shift+Enter breaks the line and
 * Enter sends a two-line message; web addresses in a message are links that open in a new tab
 * without a referrer (and a `javascript:` text is not one); a day separator heads the day; the
 * list shows each chat's time and the tab's title its unread count; search finds a message in any
 * chat; Escape goes back. In dark mode (the system's choice) the screens pass axe and are saved at
 * both widths. Replies, reactions, edits and deletes for everyone made in the app reach the other
 * side, and theirs show in the app. A group made in the app is named, loses a member and is left
 * from its "Group info", and the members' devices see each change.
 */

import * as assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type ChatMessage, MemoryStore, nodeSocket, ParleyClient } from '@parley/client/node';
import type { Browser, Page } from 'playwright-core';
import {
  axeSerious,
  browserMissing,
  launchChromium,
  openPage,
  screenshots,
  VIEWPORTS,
  type WatchedPage,
} from './harness/browser.js';
import { ServerProcess } from './harness/server-process.js';
import { eventually, until } from './harness/wait.js';
import { addByNumber, signUpInApp } from './harness/web-person.js';

const NUMBERS = {
  alice: '4155550851',
  bob: '4155550852',
  erin: '4155550853',
  gail: '4155550854',
  cara: '4155550855',
};
const skip = browserMissing();

describe('web app: composing and reading', { skip, timeout: 300_000 }, () => {
  let server: ServerProcess;
  let browser: Browser;
  let bob: ParleyClient;
  const bobInbox: ChatMessage[] = [];

  before(async () => {
    server = await ServerProcess.start();
    browser = await launchChromium();
    bob = await ParleyClient.open({
      serverUrl: server.url,
      store: new MemoryStore(),
      defaultRegion: 'US',
      socket: nodeSocket,
    });
    const { verificationId } = await bob.requestCode(NUMBERS.bob);
    await bob.register({
      verificationId,
      code: await server.codeFor(verificationId),
      discoverable: true,
      presence: 'nobody',
      deviceName: 'Bob laptop',
    });
    bob.messenger.on('message', (m) => bobInbox.push(m));
    await bob.messenger.start();
  });

  after(async () => {
    bob?.close();
    await browser?.close();
    await server?.stop();
  });

  async function checkScreen(page: Page, name: string): Promise<void> {
    const serious = await axeSerious(page);
    assert.deepEqual(serious, [], `axe on ${name}: ${JSON.stringify(serious, null, 2)}`);
    await screenshots(page, name);
  }

  /** Presses Tab until the focus is on the element `is` recognises (at most 40 times). */
  async function tabTo(page: Page, what: string, is: () => boolean): Promise<void> {
    for (let i = 0; i < 40; i++) {
      await page.keyboard.press('Tab');
      if (await page.evaluate(is)) return;
    }
    assert.fail(`Tab never reached ${what}`);
  }

  const focusedId = (page: Page) => page.evaluate(() => document.activeElement?.id ?? '');

  test('keyboard only: multi-line messages, links, day separators, unread title, search, Escape; dark mode', async () => {
    const context = await browser.newContext({
      viewport: VIEWPORTS.desktop,
      locale: 'en-US',
      colorScheme: 'dark',
    });
    const alice: WatchedPage = await openPage(context, server.url);
    const a = alice.page;
    await signUpInApp(a, server, {
      number: NUMBERS.alice,
      name: 'Alice',
      presence: 'nobody',
      deviceName: 'Alice browser',
    });
    await addByNumber(a, 'Bob Example', NUMBERS.bob);

    // Dark mode is the system's choice here: the page is drawn dark.
    const background = await a.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const [r, g, b] = (background.match(/\d+/g) ?? []).map(Number);
    assert.ok(r! + g! + b! < 3 * 60, `a dark background, got ${background}`);

    // The chat opens with the focus in the composer.
    await a.getByRole('button', { name: 'Message Bob Example' }).click();
    await a.getByRole('list', { name: 'Messages' }).waitFor();
    await eventually('the focus in the composer', () => focusedId(a), 'composer-text');

    // Shift+Enter breaks the line; Enter sends the two lines as one message.
    await a.keyboard.type('first line');
    await a.keyboard.press('Shift+Enter');
    await a.keyboard.type('second line');
    assert.equal(
      await a.getByLabel('Message', { exact: true }).inputValue(),
      'first line\nsecond line',
    );
    await a.keyboard.press('Enter');
    await until('Bob has the message', () => bobInbox.some((m) => m.kind === 'text'));
    const first = bobInbox.find((m) => m.kind === 'text')!;
    assert.equal(first.text, 'first line\nsecond line');
    assert.equal(await a.getByLabel('Message', { exact: true }).inputValue(), '');
    const mine = a.locator('.message.mine .text', { hasText: 'first line' });
    assert.equal(await mine.textContent(), 'first line\nsecond line');

    // Bob answers with addresses: each is a link, the sentence's punctuation left out; a
    // javascript: text stays text.
    await bob.messenger.send(
      first.conversationId,
      'Look at https://example.org/a_(b), and www.parley.example. Not javascript:alert(1)',
    );
    const answer = a.locator('.message', { hasText: 'Look at' });
    await answer.waitFor();
    const links = answer.getByRole('link');
    assert.equal(await links.count(), 2);
    assert.deepEqual(
      [await links.nth(0).getAttribute('href'), await links.nth(1).getAttribute('href')],
      ['https://example.org/a_(b)', 'https://www.parley.example/'],
    );
    assert.deepEqual(
      [await links.nth(0).textContent(), await links.nth(1).textContent()],
      ['https://example.org/a_(b)', 'www.parley.example'],
    );
    for (let i = 0; i < 2; i++) {
      assert.equal(await links.nth(i).getAttribute('target'), '_blank');
      assert.equal(await links.nth(i).getAttribute('rel'), 'noopener noreferrer nofollow');
    }
    // One day, one separator, above the first message.
    const days = a.locator('.messages .day');
    assert.deepEqual(await days.allTextContents(), ['Today']);
    await checkScreen(a, 'dark-chat');

    // Escape goes back to the chats; the list shows the chat's time.
    await a.keyboard.press('Escape');
    await a.getByRole('heading', { name: 'Chats' }).waitFor();
    const item = a.locator('.chat-item', { hasText: 'Bob Example' });
    assert.match((await item.locator('.chat-time').textContent()) ?? '', /^\d{1,2}:\d{2}/);

    // A message while Alice is on the list: the tab's title leads with the unread count.
    await bob.messenger.send(first.conversationId, 'Are you there?');
    await eventually('the unread title', () => a.title(), '(1) Chats · Parley');
    await checkScreen(a, 'dark-chats');

    // Search, from the keyboard: a word of Alice's two-line message finds it.
    await tabTo(a, 'the search box', () => document.activeElement?.id === 'chat-search');
    await a.keyboard.type('SECOND');
    const results = a.getByRole('list', { name: 'Search results' });
    await results.waitFor();
    await eventually('the search hits', () => results.locator('.chat-last').allTextContents(), [
      'first line\nsecond line',
    ]);
    await checkScreen(a, 'dark-search');
    await a.keyboard.press('Tab');
    assert.match(
      await a.evaluate(() => document.activeElement?.textContent ?? ''),
      /Bob Example.*first line/s,
    );
    await a.keyboard.press('Enter');
    await a.getByRole('list', { name: 'Messages' }).waitFor();
    await eventually('the title without unread', () => a.title(), 'Chat · Parley');

    // Nothing found says so; Escape in the box clears the search.
    await a.keyboard.press('Escape');
    await a.getByRole('heading', { name: 'Chats' }).waitFor();
    await a.getByLabel('Search chats').fill('zebra');
    await a.getByText('Nothing found.').waitFor();
    await a.getByLabel('Search chats').press('Escape');
    await a.locator('.chat-list .chat-item', { hasText: 'Bob Example' }).waitFor();
    assert.deepEqual(alice.problems(), []);

    // The same screens in light mode still pass axe.
    await a.emulateMedia({ colorScheme: 'light' });
    await a.locator('.chat-item', { hasText: 'Bob Example' }).click();
    await a.getByRole('list', { name: 'Messages' }).waitFor();
    const light = await axeSerious(a);
    assert.deepEqual(light, [], `axe on the chat in light mode: ${JSON.stringify(light, null, 2)}`);
    await context.close();
  });

  test('reply, react, edit and delete for everyone, both ways', async () => {
    const context = await browser.newContext({ viewport: VIEWPORTS.phone, locale: 'en-US' });
    const erin: WatchedPage = await openPage(context, server.url);
    const e = erin.page;
    await signUpInApp(e, server, {
      number: NUMBERS.erin,
      name: 'Erin',
      presence: 'nobody',
      deviceName: 'Erin',
    });
    await addByNumber(e, 'Bob Example', NUMBERS.bob);
    await e.getByRole('button', { name: 'Message Bob Example' }).click();
    await e.getByLabel('Message', { exact: true }).fill('Lunch at noon?');
    await e.keyboard.press('Enter');
    await until('Bob has the question', () => bobInbox.some((m) => m.text === 'Lunch at noon?'));
    const question = bobInbox.find((m) => m.text === 'Lunch at noon?')!;
    const c = question.conversationId;
    const bobSees = async (id: string) => (await bob.messenger.history(c)).find((m) => m.id === id);
    const bubble = (text: string) =>
      e.getByRole('list', { name: 'Messages' }).locator('.message', { hasText: text });

    // Bob answers with a reply: Erin's app quotes her question above it.
    const answer = await bob.messenger.send(c, 'Yes!', { replyTo: question.id });
    const quote = bubble('Yes!').locator('blockquote');
    await quote.waitFor();
    assert.deepEqual(await quote.locator('span').allTextContents(), ['You', 'Lunch at noon?']);

    // Erin reacts from the message's menu, and answers with a reply of her own.
    await bubble('Yes!').getByRole('button', { name: 'Actions for Bob Example’s message' }).click();
    const axeMenu = await axeSerious(e);
    assert.deepEqual(axeMenu, [], `axe with a message menu open: ${JSON.stringify(axeMenu)}`);
    await screenshots(e, 'message-menu');
    await e.getByRole('button', { name: 'React ❤️' }).click();
    await eventually(
      'Erin’s reaction at Bob’s',
      async () => Object.values((await bobSees(answer.id))?.reactions ?? {}),
      ['❤️'],
    );
    await bubble('Yes!')
      .getByRole('button', { name: /^Actions for/ })
      .click();
    await e.getByRole('button', { name: 'Reply', exact: true }).click();
    await e.getByRole('status').getByText('Replying to Bob Example:').waitFor();
    await e.getByLabel('Message', { exact: true }).fill('Great, see you');
    await e.getByRole('button', { name: 'Send' }).click();
    await until('Bob has the reply', () => bobInbox.some((m) => m.text === 'Great, see you'));
    const reply = bobInbox.find((m) => m.text === 'Great, see you')!;
    assert.deepEqual(reply.replyTo, { id: answer.id, from: bob.account!.accountId, text: 'Yes!' });

    // Erin edits her question: Bob has the new text, marked edited; her app says so too.
    await bubble('Lunch at noon?')
      .getByRole('button', { name: 'Actions for your message' })
      .click();
    await e.getByRole('button', { name: 'Edit' }).click();
    const box = e.getByLabel('Message', { exact: true });
    assert.equal(await box.inputValue(), 'Lunch at noon?');
    await box.fill('Lunch at 12:30?');
    await e.getByRole('button', { name: 'Save' }).click();
    await eventually(
      'the edit at Bob’s',
      async () => (await bobSees(question.id))?.text,
      'Lunch at 12:30?',
    );
    assert.ok((await bobSees(question.id))?.editedAt);
    await bubble('Lunch at 12:30?').getByText('· edited').waitFor();

    // Erin deletes her reply for everyone, after confirming.
    await bubble('Great, see you')
      .getByRole('button', { name: 'Actions for your message' })
      .click();
    await e.getByRole('button', { name: 'Delete for everyone' }).click();
    await e.getByRole('button', { name: 'Yes, delete for everyone' }).click();
    await eventually(
      'the delete at Bob’s',
      async () => Boolean((await bobSees(reply.id))?.deletedAt),
      true,
    );
    assert.equal((await bobSees(reply.id))?.text, '');
    await e.getByText('This message was deleted').waitFor();
    assert.equal(await bubble('Great, see you').count(), 0);

    // Bob reacts to the edited question: Erin's app lists who reacted with what.
    await bob.messenger.react(c, question.id, '👍');
    await bubble('Lunch at 12:30?')
      .getByRole('list', { name: 'Reactions' })
      .getByLabel('👍 from Bob Example')
      .waitFor();
    // Disappearing messages, set from the chat: Bob's side has the timer, both see who set it.
    await e.getByLabel('Disappearing messages').selectOption({ label: '30 seconds' });
    await e.getByText('You set disappearing messages to 30 seconds').waitFor();
    await eventually(
      'the timer at Bob’s',
      async () => (await bob.messenger.conversation(c)).timer,
      30,
    );
    await e.getByLabel('Message', { exact: true }).fill('gone in 30 s');
    await e.keyboard.press('Enter');
    await until('Bob has it', () => bobInbox.some((m) => m.text === 'gone in 30 s'));
    assert.equal(bobInbox.find((m) => m.text === 'gone in 30 s')?.expiresIn, 30);
    const axeChat = await axeSerious(e);
    assert.deepEqual(axeChat, [], `axe on the chat: ${JSON.stringify(axeChat)}`);
    await screenshots(e, 'message-changes');
    assert.deepEqual(erin.problems(), []);
    await context.close();
  });

  test('a group: named, a member removed, left — from Group info, seen on the members’ devices', async () => {
    const cara = await ParleyClient.open({
      serverUrl: server.url,
      store: new MemoryStore(),
      defaultRegion: 'US',
      socket: nodeSocket,
    });
    const { verificationId } = await cara.requestCode(NUMBERS.cara);
    await cara.register({
      verificationId,
      code: await server.codeFor(verificationId),
      discoverable: true,
      presence: 'nobody',
      deviceName: 'Cara laptop',
    });
    await cara.messenger.start();
    const context = await browser.newContext({ viewport: VIEWPORTS.desktop, locale: 'en-US' });
    // Once Gail has left, a request about the group may still be on its way: the server refuses
    // it (403), as it should.
    const gail: WatchedPage = await openPage(context, server.url, [/status of 403/]);
    try {
      const g = gail.page;
      await signUpInApp(g, server, {
        number: NUMBERS.gail,
        name: 'Gail',
        presence: 'nobody',
        deviceName: 'Gail',
      });
      await addByNumber(g, 'Bob Example', NUMBERS.bob);
      await addByNumber(g, 'Cara Example', NUMBERS.cara);
      await g.getByRole('link', { name: /^Chats/ }).click();
      await g.getByRole('button', { name: 'New group' }).click();
      await g.getByLabel('Bob Example').check();
      await g.getByLabel('Cara Example').check();
      await g.getByRole('button', { name: 'Create group' }).click();
      await g.getByRole('list', { name: 'Messages' }).waitFor();

      await g.getByText('Group info').click();
      await g.getByLabel('Group name').fill('Hiking 🥾');
      await g.getByRole('button', { name: 'Save name' }).click();
      await g.getByRole('heading', { name: 'Hiking 🥾' }).waitFor();
      await g.getByText('You named the group “Hiking 🥾”').waitFor();
      await eventually(
        'the name at Bob’s and Cara’s',
        async () =>
          [
            ...(await bob.messenger.conversations()),
            ...(await cara.messenger.conversations()),
          ].filter((c) => c.name === 'Hiking 🥾').length,
        2,
      );
      const axeInfo = await axeSerious(g);
      assert.deepEqual(axeInfo, [], `axe on Group info: ${JSON.stringify(axeInfo)}`);
      await screenshots(g, 'group-info');

      await g.getByRole('button', { name: 'Remove Cara Example' }).click();
      await eventually(
        'Cara out of the group',
        async () =>
          (await cara.messenger.conversations()).some((c) => c.name === 'Hiking 🥾' && !c.active),
        true,
      );
      await g.getByRole('button', { name: 'Leave group' }).click();
      await g.getByRole('heading', { name: 'Chats' }).waitFor();
      await eventually(
        'Bob told that Gail left',
        async () => {
          const c = (await bob.messenger.conversations()).find((x) => x.name === 'Hiking 🥾');
          const history = c ? await bob.messenger.history(c.id) : [];
          return history.some((m) => m.notice?.change === 'left');
        },
        true,
      );
      assert.deepEqual(gail.problems(), []);
    } finally {
      cara.close();
      await context.close();
    }
  });
});
