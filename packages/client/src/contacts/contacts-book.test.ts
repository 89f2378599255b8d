/** The address book's import: bytes in, and how many contacts were new. */

import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Consent } from '../privacy/consent.js';
import { MemoryStore } from '../store/store.js';
import { ContactsBook } from './contacts-book.js';

async function book(): Promise<ContactsBook> {
  const store = new MemoryStore();
  const consent = new Consent(store, 'https://parley.example', async () => {});
  await consent.grant();
  return new ContactsBook(store, consent, 'DE');
}

describe('ContactsBook.importFile', () => {
  test('reads bytes in Windows-1252, and a re-import reports that nothing was new', async () => {
    const contacts = await book();
    const file = new Uint8Array([
      ...new TextEncoder().encode('Vorname,Nachname,Mobiltelefon\r\nJ'),
      0xfc, // ü in Windows-1252
      ...new TextEncoder().encode('rgen,Gro'),
      0xdf, // ß
      ...new TextEncoder().encode(',+49 151 23456789\r\nAnna,Berg,+49 30 1234567\r\n'),
    ]);
    const first = await contacts.importFile(file, 'contacts.csv');
    assert.deepEqual([first.added, first.alreadyInBook], [2, 0]);
    assert.equal(first.contacts[0]?.name, 'Jürgen Groß');
    const again = await contacts.importFile(file, 'contacts.csv');
    assert.deepEqual([again.added, again.alreadyInBook], [0, 2]);
    assert.equal((await contacts.list()).length, 2);
  });

  test('a contact listed twice in one file is new once, not "already in your book"', async () => {
    const contacts = await book();
    const card =
      'BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Anna Berg\r\nTEL:+49 30 1234567\r\nEND:VCARD\r\n';
    const report = await contacts.importFile(new TextEncoder().encode(card + card), 'book.vcf');
    assert.deepEqual(
      [report.entries, report.added, report.alreadyInBook, report.repeated],
      [2, 1, 0, 1],
    );
    assert.equal((await contacts.list()).length, 1);
  });
});
