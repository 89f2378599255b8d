/**
 * Exports that are not UTF-8, read from their bytes: BOMs, UTF-16 without a BOM, vCard CHARSET
 * parameters and the detector for the rest. Names and numbers are compared exactly.
 */

import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parseContactsFile } from './contacts-file.js';
import { detectEncoding } from './encoding.js';

/** Fixtures are not copied to dist, so they are read from the source tree. */
function bytes(name: string): Uint8Array {
  return readFileSync(new URL(`../../../src/contacts/import/fixtures/${name}`, import.meta.url));
}

function contacts(name: string, defaultRegion = 'DE') {
  const result = parseContactsFile(bytes(name), { defaultRegion });
  return { contacts: result.contacts, issues: result.issues };
}

describe('encodings', () => {
  test('a German Outlook CSV in Windows-1252: umlaut headers and names', () => {
    assert.deepEqual(contacts('outlook-de-windows-1252.csv'), {
      contacts: [
        { name: 'Jürgen Groß', phoneNumbers: ['+49891234567', '+4915123456789'] },
        { name: 'Käthe Müller-Lüdenscheidt', phoneNumbers: ['+49301234567', '+49307654321'] },
        { name: 'Señor Café', phoneNumbers: ['+4940555123'] },
      ],
      issues: [],
    });
  });

  test('an English Outlook CSV in Windows-1252', () => {
    assert.deepEqual(contacts('outlook-en-windows-1252.csv'), {
      contacts: [
        { name: 'Zoë Ñúñez', phoneNumbers: ['+442079460123', '+447911123456'] },
        { name: 'François Dupré', phoneNumbers: ['+33123456789'] },
      ],
      issues: [],
    });
  });

  test('a French Outlook "Unicode" CSV: UTF-16 LE with a BOM', () => {
    assert.deepEqual(contacts('outlook-fr-utf16le-bom.csv'), {
      contacts: [
        { name: 'Hélène Lefèvre', phoneNumbers: ['+33142685300', '+33612345678'] },
        { name: 'Ōtani Shōhei', phoneNumbers: ['+81312345678'] },
      ],
      issues: [],
    });
  });

  test('a UTF-16 BE vCard without a BOM', () => {
    assert.deepEqual(detectEncoding(bytes('utf16be-no-bom.vcf')).encoding, 'utf-16be');
    assert.deepEqual(contacts('utf16be-no-bom.vcf'), {
      contacts: [
        { name: 'Åse Søndergård', phoneNumbers: ['+4520123456'] },
        { name: 'Δημήτρης Παπαδόπουλος', phoneNumbers: ['+302101234567'] },
      ],
      issues: [],
    });
  });

  test('a Shift_JIS vCard with CHARSET=SHIFT_JIS on plain (not quoted-printable) values', () => {
    assert.deepEqual(contacts('shift_jis.vcf', 'JP'), {
      contacts: [
        { name: '山田 太郎', phoneNumbers: ['+819012345678', '+81312345678'] },
        { name: '花子 佐藤', phoneNumbers: ['+81661234567'] },
      ],
      issues: [],
    });
  });

  test('a Latin-2 quoted-printable vCard without CHARSET: the detector names the code page', () => {
    assert.deepEqual(contacts('latin2-quoted-printable.vcf'), {
      contacts: [
        { name: 'Łukasz Wiśniewski', phoneNumbers: ['+48601234567'] },
        { name: 'Žofie Dvořáková', phoneNumbers: ['+420212345678'] },
      ],
      issues: [],
    });
  });

  test('text that cannot be decoded is never a silent "\uFFFD": the entry is named', () => {
    // Text decoded before it reached the importer (file.text() on a Windows-1252 export).
    const text = 'Name,Mobile Phone\r\nAna G\uFFFDmez,+34 612 345 678\r\n';
    const result = parseContactsFile(text, { defaultRegion: 'ES' });
    assert.deepEqual(
      result.issues.map(({ entry, name, reason }) => ({ entry, name, reason })),
      [{ entry: 1, name: 'Ana G\uFFFDmez', reason: 'undecodable_text' }],
    );
  });

  test('a UTF-8 file read from bytes is unchanged, BOM or not', () => {
    const text = 'Name,Mobile Phone\r\nZoë,+34 612 345 678\r\n';
    const plain = new TextEncoder().encode(text);
    const bom = new Uint8Array([0xef, 0xbb, 0xbf, ...plain]);
    for (const file of [plain, bom, text]) {
      assert.deepEqual(parseContactsFile(file, { defaultRegion: 'ES' }).contacts, [
        { name: 'Zoë', phoneNumbers: ['+34612345678'] },
      ]);
    }
  });
});
