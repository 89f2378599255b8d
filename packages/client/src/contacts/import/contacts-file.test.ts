/** Tests for format sniffing and the IMPORT_FAILED error of parseContactsFile. */

import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { ParleyError } from '@parley/core';
import { parseContactsFile } from './contacts-file.js';

/** Fixtures are not copied to dist, so they are read from the source tree. */
function fixture(name: string): string {
  return readFileSync(
    new URL(`../../../src/contacts/import/fixtures/${name}`, import.meta.url),
    'utf8',
  );
}

function importFailure(text: string, fileName?: string): ParleyError {
  try {
    parseContactsFile(text, fileName === undefined ? {} : { fileName });
  } catch (error) {
    assert.ok(error instanceof ParleyError, `expected a ParleyError, got ${String(error)}`);
    assert.equal(error.code, 'IMPORT_FAILED');
    return error;
  }
  assert.fail('expected IMPORT_FAILED');
}

describe('parseContactsFile', () => {
  test('recognises every fixture by content', () => {
    const expected: Record<string, 'vcard' | 'csv'> = {
      'apple.vcf': 'vcard',
      'vcard4.vcf': 'vcard',
      'google.vcf': 'vcard',
      'android-2.1.vcf': 'vcard',
      'google-legacy.csv': 'csv',
      'google.csv': 'csv',
      'outlook.csv': 'csv',
    };
    for (const [name, format] of Object.entries(expected)) {
      const result = parseContactsFile(fixture(name), { defaultRegion: 'US' });
      assert.equal(result.format, format, name);
      assert.ok(result.contacts.length >= 3, name);
    }
  });

  test('passes the default region on', () => {
    const text = 'Name,Mobile Phone\nHans,0151 23456789\n';
    assert.deepEqual(parseContactsFile(text, { defaultRegion: 'DE' }).contacts, [
      { name: 'Hans', phoneNumbers: ['+4915123456789'] },
    ]);
    assert.equal(parseContactsFile(text).issues[0]?.reason, 'ambiguous_no_region');
  });

  test('trusts the content over the file name', () => {
    const vcard = 'BEGIN:VCARD\nVERSION:3.0\nFN:Jane\nTEL:+14155550123\nEND:VCARD\n';
    assert.equal(parseContactsFile(vcard, { fileName: 'contacts.csv' }).format, 'vcard');
    const csv = 'Name,Phone\nJane,+14155550123\n';
    assert.equal(parseContactsFile(csv, { fileName: 'contacts.vcf' }).format, 'csv');
  });

  test('accepts a BOM and blank lines before a vCard', () => {
    const text =
      '\uFEFF\r\n\r\nBEGIN:VCARD\r\nVERSION:3.0\r\nFN:Jane\r\nTEL:+14155550123\r\nEND:VCARD\r\n';
    const result = parseContactsFile(text);
    assert.equal(result.format, 'vcard');
    assert.deepEqual(result.issues, []);
  });

  test('still reads vCards that follow some junk, and reports the junk', () => {
    const text =
      'From: someone@example.com\nSubject: my contacts\n\nBEGIN:VCARD\nFN:Jane\nTEL:+14155550123\nEND:VCARD\n';
    const result = parseContactsFile(text);
    assert.equal(result.format, 'vcard');
    assert.equal(result.contacts.length, 1);
    assert.deepEqual(
      result.issues.map((issue) => [issue.line, issue.reason]),
      [[1, 'malformed_entry']],
    );
  });

  test('throws IMPORT_FAILED with a reason for files that are neither format', () => {
    assert.equal(detailsOf(importFailure('')).reason, 'empty');
    assert.equal(detailsOf(importFailure(' \r\n\t\uFEFF')).reason, 'empty');
    assert.equal(
      detailsOf(importFailure('PK\u0003\u0004\u0014\u0000\u0006')).reason,
      'spreadsheet',
    );
    assert.equal(detailsOf(importFailure('N\u0000a\u0000m\u0000e\u0000')).reason, 'binary');
    for (const text of [
      'just some notes\nabout people\n',
      '{"contacts": [{"name": "Jane", "phone": "+14155550123"}]}',
      'Name,Email\nJane,jane@example.com\n',
    ]) {
      assert.equal(detailsOf(importFailure(text)).reason, 'unrecognised_format', text);
    }
  });

  test('names the file in the error and says what to do', () => {
    const error = importFailure('hello', 'Contacts.xlsx');
    assert.deepEqual(error.details, { reason: 'unrecognised_format', fileName: 'Contacts.xlsx' });
    assert.match(error.message, /"Contacts\.xlsx"/);
    assert.match(error.message, /vCard \(\.vcf\) or CSV/);
    assert.doesNotMatch(error.message, /hello/);
  });

  test('never throws anything else on random input', () => {
    let seed = 42;
    const random = (): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const alphabet = 'BEGIN:VCARDEND\r\n;,:"=\\ +0123456789TELFNabc\t';
    for (let round = 0; round < 300; round++) {
      let text = round % 2 === 0 ? 'BEGIN:VCARD\n' : 'Name,Phone\n';
      const length = Math.floor(random() * 300);
      for (let index = 0; index < length; index++) {
        text += alphabet[Math.floor(random() * alphabet.length)];
      }
      try {
        const result = parseContactsFile(text);
        assert.ok(result.entries >= result.contacts.length);
      } catch (error) {
        assert.ok(error instanceof ParleyError && error.code === 'IMPORT_FAILED', String(error));
      }
    }
  });
});

function detailsOf(error: ParleyError): { reason?: unknown } {
  return (error.details ?? {}) as { reason?: unknown };
}
