/**
 * Consent to use the address book. Nothing reads, imports or sends anything from the address
 * book until the user has seen the disclosure — what leaves the device, how much, to which server,
 * and what never does — and agreed. The grant records the exact text agreed to; withdrawing it
 * erases every address-book-derived thing the SDK holds, and the places on the presence allow-list
 * the address book gave.
 */

import { ParleyError } from '@parley/core';
import type { ClientStore } from '../store/store.js';

export interface Disclosure {
  server: string;
  /** Contacts whose numbers would be checked, when known. */
  contactCount: number | undefined;
  leavesDevice: string[];
  staysOnDevice: string[];
  /**
   * What the server keeps of it, in the words of docs/security.md ("What the server keeps of an
   * address book"; a test keeps them the same). Absent in grants recorded before it was shown.
   */
  kept?: string[];
  withdraw: string;
}

export interface ConsentGrant {
  grantedAt: string;
  server: string;
  /** The disclosure exactly as shown when the user agreed. */
  disclosure: Disclosure;
}

const KEY = 'consent';

/** What the server keeps; docs/security.md says it in these words (consent.test.ts checks). */
export const KEPT = Object.freeze([
  'Contact links: for each contact found on Parley, a record that you have that person among your contacts, kept until one of you deletes your account. The server stores it as a keyed digest of your two account ids, which its operator can test for any two accounts.',
  'Your presence allow-list: the account ids of the contacts found on Parley and of the people you start or answer a conversation with, kept until they come off it (withdrawing this consent takes the contacts off). If you show your presence to contacts, only people on this list see when you are online. The server’s operator can read it.',
  'Nothing else: the blinded numbers are evaluated and forgotten.',
]) as string[];

export function buildDisclosure(server: string, contactCount?: number): Disclosure {
  const how = contactCount === undefined ? 'each number' : `${contactCount} numbers at most`;
  return {
    server,
    contactCount,
    leavesDevice: [
      `Blinded phone numbers (${how}, each hidden under a fresh random key), sent to ${server}. The server cannot read them and keeps nothing it learns from them.`,
      'Only for contacts that turn out to be on Parley: a lookup token, so the app can show that they can receive free messages. The server then learns that you have these users in your contacts.',
      'Only numbers not checked before are sent again; already-checked contacts are remembered on this device.',
    ],
    kept: KEPT,
    staysOnDevice: [
      'Names, phone numbers, e-mail addresses and every other field of your contacts.',
      'Which of your contacts are not on Parley.',
      'The list of results; it is stored only on this device.',
    ],
    withdraw:
      'You can withdraw this at any time; the app then deletes the imported contacts and every discovery result from this device, and takes the contacts it found off your presence allow-list on the server.',
  };
}

/** The consent text, as plain lines for a terminal or a screen reader. */
export function disclosureText(d: Disclosure): string {
  return [
    'What leaves this device:',
    ...d.leavesDevice.map((l) => `  • ${l}`),
    'What does not:',
    ...d.staysOnDevice.map((l) => `  • ${l}`),
    ...(d.kept ? ['What the server keeps:', ...d.kept.map((l) => `  • ${l}`)] : []),
    d.withdraw,
  ].join('\n');
}

export class Consent {
  constructor(
    private readonly store: ClientStore,
    private readonly server: string,
    private readonly onWithdraw: () => Promise<void>,
  ) {}

  disclosure(contactCount?: number): Disclosure {
    return buildDisclosure(this.server, contactCount);
  }

  async status(): Promise<ConsentGrant | undefined> {
    return this.store.get<ConsentGrant>(KEY);
  }

  /** Records the user's agreement to `disclosure`, which must be the one they were shown. */
  async grant(disclosure: Disclosure = this.disclosure()): Promise<ConsentGrant> {
    const grant: ConsentGrant = {
      grantedAt: new Date().toISOString(),
      server: this.server,
      disclosure,
    };
    await this.store.set(KEY, grant);
    return grant;
  }

  async withdraw(): Promise<void> {
    await this.store.delete(KEY);
    await this.onWithdraw();
  }

  /** Throws CONSENT_REQUIRED unless a grant for this server is recorded. */
  async require(): Promise<ConsentGrant> {
    const grant = await this.status();
    if (!grant || grant.server !== this.server) throw new ParleyError('CONSENT_REQUIRED');
    return grant;
  }
}
