/**
 * A person using the web app, as the browser tests need one: sign-up through the app's own screens
 * (the SMS code read from the server, as a phone would show it), and a contact added by number.
 */

import type { Page } from 'playwright-core';
import type { ServerProcess } from './server-process.js';

export interface SignUp {
  number: string;
  /** The profile name the person chooses at sign-up. */
  name: string;
  presence: 'contacts' | 'nobody';
  deviceName: string;
}

/** Signs up in the app from its welcome screen, until the Contacts screen shows. */
export async function signUpInApp(page: Page, server: ServerProcess, who: SignUp): Promise<void> {
  await page.getByRole('heading', { name: 'Welcome to Parley' }).waitFor();
  await page.getByLabel('Country').selectOption('US');
  await page.getByLabel('Phone number', { exact: true }).fill(who.number);
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
  await page
    .getByLabel(
      who.presence === 'contacts'
        ? 'My contacts (people in my address book and people I talk to)'
        : 'Nobody',
    )
    .check();
  await page.getByLabel('Your name').fill(who.name);
  await page.getByLabel('Name of this device').fill(who.deviceName);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('heading', { name: 'Contacts' }).waitFor();
}

/** Adds a contact by typing the number (no address book needed); waits until found on Parley. */
export async function addByNumber(page: Page, name: string, number: string): Promise<void> {
  await page.getByRole('link', { name: 'Contacts' }).click();
  // A disclosure: a second contact finds it open already.
  if (!(await page.getByLabel('Name').isVisible())) {
    await page.getByText('Add a contact by number').click();
  }
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Phone number', { exact: true }).fill(number);
  await page.getByRole('button', { name: 'Add', exact: true }).click();
  await page.getByText(`${name}: on Parley.`).waitFor();
}
