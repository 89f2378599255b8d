/**
 * Sign-up in the web app, in Chromium against a real `parley serve`: a wrong code is refused on
 * the code screen itself, with the tries left, before any question is asked; "Send a new code"
 * sends one while the server's limits allow and otherwise says how long to wait. And the layout
 * the sign-up and the app are seen in: radio buttons keep their size beside labels that wrap, and
 * the sidebar runs the whole height of a tall window and of a long page.
 */

import * as assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { axeSerious, browserMissing, launchChromium, openPage } from './harness/browser.js';
import { ServerProcess } from './harness/server-process.js';

const skip = browserMissing();

describe('web sign-up: the code screen, and the layout', { skip, timeout: 240_000 }, () => {
  let server: ServerProcess;
  let browser: Browser;

  before(async () => {
    // Two codes per number an hour from one client: the first, one more, then a wait.
    server = await ServerProcess.start({ PARLEY_VERIFICATION_PER_NUMBER: '2' });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  async function page(viewport: { width: number; height: number }): Promise<Page> {
    const context = await browser.newContext({ viewport, locale: 'en-US' });
    return (await openPage(context, server.url)).page;
  }

  /** Clicks `button`, which asks for a code, and returns the verification id. */
  async function sendCode(p: Page, button = 'Send code'): Promise<string> {
    const [response] = await Promise.all([
      p.waitForResponse((r) => r.url().endsWith('/v1/verifications')),
      p.getByRole('button', { name: button }).click(),
    ]);
    return ((await response.json()) as { verificationId?: string }).verificationId ?? '';
  }

  async function startSignUp(p: Page, number: string): Promise<string> {
    await p.getByRole('heading', { name: 'Welcome to Parley' }).waitFor();
    await p.getByLabel('Country').selectOption('US');
    await p.getByLabel('Phone number', { exact: true }).fill(number);
    return sendCode(p);
  }

  const codeBox = (p: Page) => p.getByLabel('The 6-digit code we texted you');
  const wrongCode = (right: string) => (right === '000000' ? '111111' : '000000');

  test('a wrong code is refused on the code screen, with the tries left; a new code replaces it', async () => {
    const p = await page({ width: 390, height: 844 });
    const number = '4155550731';
    const first = await startSignUp(p, number);
    const right = await server.codeFor(first);

    await codeBox(p).fill(wrongCode(right));
    await p.getByRole('button', { name: 'Continue' }).click();
    const alert = p.getByRole('alert');
    await alert.waitFor();
    assert.match((await alert.textContent()) ?? '', /^That code is not right: 4 tries left\./);
    // Still the code screen: no question was asked for a code that cannot work.
    assert.equal(await p.getByRole('radio').count(), 0);
    assert.equal(await codeBox(p).getAttribute('aria-invalid'), 'true');
    const serious = await axeSerious(p);
    assert.deepEqual(serious, [], `axe on the code screen: ${JSON.stringify(serious, null, 2)}`);

    await codeBox(p).fill(wrongCode(right));
    await p.getByRole('button', { name: 'Continue' }).click();
    await p.getByText('That code is not right: 3 tries left.').waitFor();

    // A new code (the second of two this hour): the screen says so, and the new one works.
    const second = await sendCode(p, 'Send a new code');
    assert.notEqual(second, first);
    await p.getByRole('status').getByText('A new code is on its way').waitFor();
    assert.equal(await codeBox(p).inputValue(), '');

    // A third is past the limit: the wait is said as a person says it, and the button waits too.
    await Promise.all([
      p.waitForResponse((r) => r.url().endsWith('/v1/verifications') && r.status() === 429),
      p.getByRole('button', { name: 'Send a new code' }).click(),
    ]);
    const refused = (await p.getByRole('alert').textContent()) ?? '';
    assert.match(
      refused,
      /^No more codes for now: you can ask for another in (about \d+ (minutes?|hours?)|\d+ seconds?)\./,
    );
    assert.doesNotMatch(refused, /\d+ s\b/);
    assert.equal(await p.getByRole('button', { name: 'Send a new code' }).isDisabled(), true);

    await codeBox(p).fill(await server.codeFor(second));
    await p.getByRole('button', { name: 'Continue' }).click();
    await p.getByRole('radio').first().waitFor();
    assert.equal(await p.getByRole('alert').count(), 0);
  });

  test('radio buttons keep their size beside long labels; the sidebar spans a tall window and a long page', async () => {
    const p = await page({ width: 390, height: 844 });
    const verificationId = await startSignUp(p, '4155550732');
    await codeBox(p).fill(await server.codeFor(verificationId));
    await p.getByRole('button', { name: 'Continue' }).click();
    await p.getByRole('radio').first().waitFor();

    // On a phone the long answers wrap; each radio is as big as the one beside "Nobody".
    const box = async (label: string | RegExp) => {
      const b = await p.getByLabel(label).boundingBox();
      assert.ok(b, `the radio for ${label} is shown`);
      return [Math.round(b.width), Math.round(b.height)];
    };
    const short = await box('Nobody');
    assert.ok(short[0]! > 0 && short[1]! > 0);
    for (const long of [
      /^Yes — people who have my number/,
      /^No — only people I message first/,
      'My contacts (people in my address book and people I talk to)',
    ]) {
      assert.deepEqual(await box(long), short, `the radio beside "${long}"`);
    }

    await p.getByLabel(/^Yes — people who have my number/).check();
    await p.getByLabel('Nobody').check();
    await p.getByLabel('Your name').fill('Tall Screen');
    await p.getByLabel('Name of this device').fill('tall screen');
    await p.getByRole('button', { name: 'Create account' }).click();
    await p.getByRole('heading', { name: 'Contacts' }).waitFor();

    // A tall desktop window: the sidebar runs from top to bottom.
    await p.setViewportSize({ width: 1280, height: 1600 });
    const nav = await p.getByRole('navigation', { name: 'Main' }).boundingBox();
    assert.ok(nav);
    assert.deepEqual([nav.y, nav.height], [0, 1600]);

    // A page longer than the window: the sidebar's column runs down all of it.
    await p.setViewportSize({ width: 1280, height: 600 });
    await p.getByRole('link', { name: 'Privacy' }).click();
    await p.getByRole('heading', { name: 'Privacy' }).waitFor();
    const [column, length] = await p.evaluate(() => {
      const shell = document.querySelector('.shell')!;
      return [
        Number.parseFloat(getComputedStyle(shell, '::before').height),
        document.documentElement.scrollHeight,
      ];
    });
    assert.ok(length > 600, `the privacy page (${length} px) is longer than the window`);
    assert.equal(Math.round(column ?? 0), length);
  });
});
