/** Tests for the vCard importer against real-world exports and hand-made broken files. */

import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { ParleyError } from '@parley/core';
import { parseVCard } from './vcard.js';

/** Fixtures are not copied to dist, so they are read from the source tree. */
function fixture(name: string): string {
  return readFileSync(
    new URL(`../../../src/contacts/import/fixtures/${name}`, import.meta.url),
    'utf8',
  );
}

function card(...lines: string[]): string {
  return ['BEGIN:VCARD', 'VERSION:3.0', ...lines, 'END:VCARD'].join('\r\n');
}

describe('parseVCard on exported address books', () => {
  test('Apple Contacts 3.0: groups, repeated type parameters, folded photo', () => {
    const result = parseVCard(fixture('apple.vcf'), { defaultRegion: 'US' });
    assert.equal(result.format, 'vcard');
    assert.equal(result.entries, 3);
    assert.deepEqual(result.issues, []);
    assert.deepEqual(result.contacts, [
      {
        name: 'Dr. Jane Q. Doe',
        // TYPE=FAX and the item3 "Office fax" label are left out.
        phoneNumbers: ['+14155550123', '+14155550124', '+442079460958'],
      },
      // The second spelling of the mobile number is merged into the first.
      { name: 'Hans Müller', phoneNumbers: ['+4915123456789', '+14155550123'] },
      { name: 'Acme Corp', phoneNumbers: ['+18003569377'] },
    ]);
    // +14155550123 is on Jane's and Hans's cards.
    assert.equal(result.duplicates, 1);
  });

  test('Apple Contacts without a default region reports national numbers with their lines', () => {
    const result = parseVCard(fixture('apple.vcf'));
    assert.deepEqual(
      result.issues.map(({ message: _, ...rest }) => rest),
      [
        {
          entry: 1,
          line: 9,
          name: 'Dr. Jane Q. Doe',
          value: '(415) 555-0124',
          reason: 'ambiguous_no_region',
        },
        {
          entry: 3,
          line: 51,
          name: 'Acme Corp',
          value: '1-800-356-9377',
          reason: 'ambiguous_no_region',
        },
      ],
    );
    assert.match(result.issues[0]?.message ?? '', /^This phone number .*country code/);
    assert.deepEqual(result.contacts[0]?.phoneNumbers, ['+14155550123', '+442079460958']);
    // Acme's other entry has the country code, so the contact is still imported.
    assert.deepEqual(result.contacts[2], { name: 'Acme Corp', phoneNumbers: ['+18003569377'] });
  });

  test('vCard 4.0: tel: URIs, quoted type lists, extensions, phone-context', () => {
    const result = parseVCard(fixture('vcard4.vcf'));
    assert.deepEqual(result.issues, []);
    assert.deepEqual(result.contacts, [
      { name: 'Jane Doe', phoneNumbers: ['+14155550123', '+14155550100'] },
      { name: 'Simon Perreault', phoneNumbers: ['+14186569254', '+14182626501'] },
      { name: 'Claire Dubois', phoneNumbers: ['+33123456789'] },
    ]);
  });

  test('Google Contacts 3.0: labels, N when FN is empty, escapes, a bad number', () => {
    const result = parseVCard(fixture('google.vcf'), { defaultRegion: 'US' });
    assert.equal(result.entries, 4);
    assert.deepEqual(result.contacts, [
      { name: 'Jane Doe', phoneNumbers: ['+14155550123', '+14155550124', '+14155550166'] },
      { name: 'Ken Tanaka', phoneNumbers: ['+819012345678', '+81312345678'] },
      { name: 'Initech, Inc.', phoneNumbers: ['+12125550147'] },
    ]);
    assert.equal(result.issues.length, 1);
    const [issue] = result.issues;
    assert.equal(issue?.entry, 4);
    assert.equal(issue?.name, 'Broken Number');
    assert.equal(issue?.value, '+1 555 555 0100');
    assert.equal(issue?.reason, 'invalid');
    assert.equal(issue?.line, 36);
  });

  test('Android 2.1: quoted-printable UTF-8, soft line breaks, bare type parameters', () => {
    const result = parseVCard(fixture('android-2.1.vcf'));
    assert.deepEqual(result.issues, []);
    assert.deepEqual(result.contacts, [
      { name: '张三', phoneNumbers: ['+8613800138000'] },
      { name: 'Anna Smith', phoneNumbers: ['+46701234567'] },
      { name: 'José García López', phoneNumbers: ['+34612345678'] },
    ]);
  });
});

describe('parseVCard details', () => {
  test('unfolds with space or tab, under CRLF, LF and CR line endings', () => {
    for (const eol of ['\r\n', '\n', '\r']) {
      const text = [
        'BEGIN:VCARD',
        'VERSION:3.0',
        'FN:Jane',
        '  Doe',
        'TEL;TYPE=CELL:+1 415',
        '\t555 0123',
        'END:VCARD',
        '',
      ].join(eol);
      const result = parseVCard(text);
      assert.deepEqual(result.contacts, [{ name: 'Jane Doe', phoneNumbers: ['+14155550123'] }]);
    }
  });

  test('reads names from FN, then N, then ORG, and unescapes them', () => {
    const text = [
      card('FN:Doe\\, Jane\\nPhD', 'TEL:+14155550123'),
      card('N:O\\;Brien;Conan;;Mr.;Jr.', 'TEL:+14155550124'),
      card('N:;;;;', 'ORG:Acme\\, Inc.;Sales', 'TEL:+14155550125'),
      card('TEL:+14155550126'),
    ].join('\r\n');
    const result = parseVCard(text);
    assert.deepEqual(
      result.contacts.map((contact) => contact.name),
      ['Doe, Jane PhD', 'Mr. Conan O;Brien Jr.', 'Acme, Inc. Sales', ''],
    );
  });

  test('is case-insensitive and accepts group prefixes on any property', () => {
    const text =
      'begin:vcard\nversion:3.0\nitem7.fn:Jane\nitem1.tel;type=cell:+14155550123\nend:vcard\n';
    assert.deepEqual(parseVCard(text).contacts, [{ name: 'Jane', phoneNumbers: ['+14155550123'] }]);
  });

  test('skips fax and pager lines, and empty TEL values without an issue', () => {
    const text = card(
      'FN:Jane',
      'TEL;TYPE=HOME,FAX:+14155550199',
      'TEL;TYPE="pager":+14155550150',
      'TEL;FAX:+14155550198',
      'item1.TEL:+14155550197',
      'item1.X-ABLabel:Pager',
      'TEL;TYPE=CELL:',
      'TEL;TYPE=CELL:+14155550123',
    );
    const result = parseVCard(text);
    assert.deepEqual(result.contacts, [{ name: 'Jane', phoneNumbers: ['+14155550123'] }]);
    assert.deepEqual(result.issues, []);
  });

  test('keeps a card whose numbers are partly invalid, drops one with none usable', () => {
    const text = [
      card('FN:Half', 'TEL:+14155550123', 'TEL:not a number'),
      card('FN:None', 'TEL:+1 555 555 0100'),
      card('FN:No phone', 'EMAIL:someone@example.com'),
    ].join('\n');
    const result = parseVCard(text);
    assert.equal(result.entries, 3);
    assert.deepEqual(result.contacts, [{ name: 'Half', phoneNumbers: ['+14155550123'] }]);
    assert.deepEqual(
      result.issues.map((issue) => [issue.entry, issue.reason, issue.value]),
      [
        [1, 'not_a_number', 'not a number'],
        [2, 'invalid', '+1 555 555 0100'],
      ],
    );
  });

  test('counts a number shared by several contacts as one duplicate and keeps it on each', () => {
    const text = [
      card('FN:A', 'TEL:+14155550123', 'TEL:+1 (415) 555-0123'),
      card('FN:B', 'TEL:tel:+1-415-555-0123'),
      card('FN:C', 'TEL:+14155550123', 'TEL:+442079460958'),
      card('FN:D', 'TEL:+44 20 7946 0958'),
    ].join('\n');
    const result = parseVCard(text);
    assert.equal(result.duplicates, 2);
    assert.deepEqual(
      result.contacts.map((contact) => contact.phoneNumbers),
      [['+14155550123'], ['+14155550123'], ['+14155550123', '+442079460958'], ['+442079460958']],
    );
  });

  test('reports BEGIN/END problems as issues and keeps what it can', () => {
    const text = [
      'junk before the first card',
      'more junk',
      'BEGIN:VCARD',
      'FN:Missing End',
      'TEL:+14155550123',
      'BEGIN:VCARD',
      'FN:Fine',
      'TEL:+14155550124',
      'END:VCARD',
      'END:VCARD',
      'BEGIN:VCARD',
      'FN:Cut Short',
      'TEL:+14155550125',
    ].join('\n');
    const result = parseVCard(text);
    assert.equal(result.entries, 3);
    assert.deepEqual(
      result.contacts.map((contact) => contact.name),
      ['Missing End', 'Fine', 'Cut Short'],
    );
    assert.deepEqual(
      result.issues.map((issue) => [issue.entry, issue.line, issue.reason]),
      [
        [1, 1, 'malformed_entry'], // junk, reported once for the run
        [1, 3, 'malformed_entry'], // no END before the next BEGIN
        [2, 10, 'malformed_entry'], // END without BEGIN
        [3, 11, 'malformed_entry'], // end of file inside a card
      ],
    );
    for (const issue of result.issues) assert.match(issue.message, /VCARD|vCard/);
  });

  test('skips a vCard 2.1 AGENT embedded in a card', () => {
    const text = [
      'BEGIN:VCARD',
      'VERSION:2.1',
      'FN:Boss',
      'TEL;CELL:+14155550123',
      'AGENT:',
      'BEGIN:VCARD',
      'VERSION:2.1',
      'FN:Assistant',
      'TEL;WORK:+14155550199',
      'END:VCARD',
      'TEL;HOME:+14155550124',
      'END:VCARD',
    ].join('\r\n');
    const result = parseVCard(text);
    assert.deepEqual(result.issues, []);
    assert.deepEqual(result.contacts, [
      { name: 'Boss', phoneNumbers: ['+14155550123', '+14155550124'] },
    ]);
  });

  test('survives odd property lines without throwing', () => {
    const text = card(
      'FN:Odd',
      'TEL;TYPE="unterminated:+14155550123',
      'no colon on this line',
      ':value without a name',
      'TEL;;;:+14155550124',
      'N;ENCODING=QUOTED-PRINTABLE:=ZZ=4',
      'TEL;CHARSET=NOT-A-CHARSET;ENCODING=QUOTED-PRINTABLE:+1415555012=35',
    );
    const result = parseVCard(text);
    assert.deepEqual(result.contacts, [
      { name: 'Odd', phoneNumbers: ['+14155550124', '+14155550125'] },
    ]);
  });

  test('throws IMPORT_FAILED only when there is no vCard at all', () => {
    for (const text of ['', 'Name,Phone\nJane,+14155550123\n', 'VCARD']) {
      assert.throws(
        () => parseVCard(text),
        (error: unknown) => error instanceof ParleyError && error.code === 'IMPORT_FAILED',
      );
    }
  });

  test('imports 10,000 contacts, every one of them', () => {
    const cards: string[] = [];
    const photo = ` ${'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo'.repeat(2)}`;
    for (let index = 0; index < 10_000; index++) {
      const local = String(index).padStart(4, '0');
      cards.push(
        card(
          `N:Person;Number ${index};;;`,
          `FN:Number ${index} Person`,
          `TEL;type=CELL;type=VOICE;type=pref:+1 (415) 555-${local}`,
          `item1.TEL:+1 212 555 ${local}`,
          'item1.X-ABLabel:_$!<Other>!$_',
          'EMAIL;type=INTERNET:person@example.com',
          `PHOTO;ENCODING=b;TYPE=JPEG:${photo.trim()}`,
          photo,
          photo,
        ),
      );
    }
    const result = parseVCard(cards.join('\r\n'));
    assert.equal(result.entries, 10_000);
    assert.equal(result.contacts.length, 10_000);
    assert.deepEqual(result.issues, []);
  });
});

describe('parseVCard skips numbers that are not the contact’s own', () => {
  test('Apple: an assistant’s line by X-ABLabel, TYPE=x-assistant, fax and pager', () => {
    const result = parseVCard(fixture('apple-assistant.vcf'));
    assert.deepEqual(result.contacts, [
      { name: 'Margaret Whitfield', phoneNumbers: ['+14155550181'] },
    ]);
    assert.deepEqual(result.issues, []);
  });
});
