/**
 * The address book as imported onto this device. It never leaves the device; discovery reads the
 * numbers from here. Every entry point checks the consent grant first.
 */

import { normalizePhoneNumber, ParleyError } from '@parley/core';
import type { Consent } from '../privacy/consent.js';
import type { ClientStore } from '../store/store.js';
import {
  contactKey,
  type ImportedContact,
  type ImportReport,
  parseContactsFile,
} from './import/contacts-file.js';

const KEY = 'contacts';

export class ContactsBook {
  constructor(
    private readonly store: ClientStore,
    private readonly consent: Consent,
    private readonly defaultRegion: string | undefined,
  ) {}

  async list(): Promise<ImportedContact[]> {
    await this.consent.require();
    return (await this.store.get<ImportedContact[]>(KEY)) ?? [];
  }

  /**
   * Parses a vCard or CSV export and merges its contacts into the book. Pass the file's bytes
   * (`new Uint8Array(await file.arrayBuffer())`, `readFileSync(path)`): text already decoded as
   * UTF-8 has lost what a Windows-1252, Shift_JIS or UTF-16 export said.
   */
  async importFile(file: Uint8Array | string, fileName?: string): Promise<ImportReport> {
    await this.consent.require();
    const result = parseContactsFile(file, {
      ...(this.defaultRegion ? { defaultRegion: this.defaultRegion } : {}),
      ...(fileName ? { fileName } : {}),
    });
    const added = await this.merge(result.contacts);
    return { ...result, added, alreadyInBook: result.contacts.length - added };
  }

  /** Adds one contact typed in by hand. */
  async add(name: string, rawNumber: string): Promise<ImportedContact> {
    await this.consent.require();
    const normalized = normalizePhoneNumber(rawNumber, this.defaultRegion);
    if (!normalized.ok) {
      throw new ParleyError('INVALID_PHONE_NUMBER', {
        message: normalized.message,
        details: { reason: normalized.reason },
      });
    }
    const contact = { name, phoneNumbers: [normalized.e164] };
    await this.merge([contact]);
    return contact;
  }

  /**
   * Takes contacts handed over by another device of the account (linking); entries that are
   * not contacts are skipped.
   */
  async adopt(contacts: readonly unknown[]): Promise<number> {
    await this.consent.require();
    const valid = contacts.filter(
      (c): c is ImportedContact =>
        typeof (c as ImportedContact | null)?.name === 'string' &&
        Array.isArray((c as ImportedContact).phoneNumbers) &&
        (c as ImportedContact).phoneNumbers.every(
          (n) => typeof n === 'string' && normalizePhoneNumber(n).ok,
        ),
    );
    await this.merge(valid.map((c) => ({ name: c.name, phoneNumbers: [...c.phoneNumbers] })));
    return valid.length;
  }

  /** Adds the contacts the book does not have yet; returns how many that was. */
  private async merge(incoming: ImportedContact[]): Promise<number> {
    const existing = (await this.store.get<ImportedContact[]>(KEY)) ?? [];
    const seen = new Set(existing.map(contactKey));
    let added = 0;
    for (const c of incoming) {
      const key = contactKey(c);
      if (!seen.has(key)) {
        seen.add(key);
        existing.push(c);
        added += 1;
      }
    }
    await this.store.set(KEY, existing);
    return added;
  }

  async clear(): Promise<void> {
    await this.store.delete(KEY);
  }
}
