/** Tests for the CSV importer: Google and Outlook exports, RFC 4180 corner cases, broken rows. */

import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { ParleyError } from '@parley/core';
import { parseContactsCsv } from './csv.js';

/** Fixtures are not copied to dist, so they are read from the source tree. */
function fixture(name: string): string {
  return readFileSync(
    new URL(`../../../src/contacts/import/fixtures/${name}`, import.meta.url),
    'utf8',
  );
}

function isImportFailed(error: unknown): boolean {
  return error instanceof ParleyError && error.code === 'IMPORT_FAILED';
}

describe('parseContactsCsv on exported address books', () => {
  test('Google Contacts, legacy layout: " ::: " values, Type columns, name fallbacks', () => {
    const result = parseContactsCsv(fixture('google-legacy.csv'), { defaultRegion: 'US' });
    assert.equal(result.format, 'csv');
    assert.equal(result.entries, 7);
    assert.deepEqual(result.contacts, [
      // The "Work Fax" value is left out.
      { name: 'Jane Doe', phoneNumbers: ['+14155550123', '+14155550124'] },
      { name: 'Bob Smith', phoneNumbers: ['+12125550147', '+442079460958'] },
      // No "Name": Given + Family; the pager is left out.
      { name: 'Zoë Müller', phoneNumbers: ['+493012345678'] },
      { name: 'Acme Corp', phoneNumbers: ['+18003569377'] },
      { name: 'Jane Doe (work)', phoneNumbers: ['+14155550124'] },
    ]);
    assert.equal(result.duplicates, 1);
    // Jane's row spans lines 2-5 (newlines in Notes and the address), so line numbers stay true.
    assert.deepEqual(result.issues, [
      {
        entry: 5,
        line: 9,
        name: 'Nobody Real',
        value: '+1 555 555 0100',
        reason: 'invalid',
        message: result.issues[0]?.message,
      },
    ]);
    // The entry is named once, by whoever shows the issue, not inside the message again.
    assert.doesNotMatch(result.issues[0]?.message ?? '', /Contact 5|Nobody Real/);
  });

  test('Google Contacts, current layout: Label columns paired per value', () => {
    const result = parseContactsCsv(fixture('google.csv'), { defaultRegion: 'US' });
    assert.equal(result.entries, 6);
    assert.deepEqual(result.issues, []);
    assert.deepEqual(result.contacts, [
      { name: 'Jane Q. Doe', phoneNumbers: ['+14155550123'] },
      { name: 'Émile Zola', phoneNumbers: ['+33612345678'] },
      { name: 'Ana García', phoneNumbers: ['+34612345678'] },
      { name: 'Ken Tanaka', phoneNumbers: ['+819012345678', '+81312345678'] },
      { name: 'Local Number', phoneNumbers: ['+14155550188'] },
      { name: 'Plumber', phoneNumbers: ['+16465550180'] },
    ]);
  });

  test('Google Contacts without a default region reports the national number', () => {
    const result = parseContactsCsv(fixture('google.csv'));
    assert.deepEqual(
      result.issues.map((issue) => [issue.entry, issue.line, issue.name, issue.reason]),
      [[5, 8, 'Local Number', 'ambiguous_no_region']],
    );
    assert.equal(result.contacts.length, 5);
  });

  test('Outlook: quoted CRLF file, fax/pager/assistant columns skipped', () => {
    const result = parseContactsCsv(fixture('outlook.csv'), { defaultRegion: 'DE' });
    assert.equal(result.entries, 5);
    assert.deepEqual(result.contacts, [
      { name: 'Jane Doe', phoneNumbers: ['+14155550123', '+14155550100'] },
      { name: 'Hans Müller', phoneNumbers: ['+4930123456', '+4915123456789'] },
      { name: 'Priya R. Sharma', phoneNumbers: ['+919876543210'] },
      { name: 'Acme Corp', phoneNumbers: ['+18003569377'] },
    ]);
    assert.deepEqual(
      result.issues.map((issue) => [issue.entry, issue.line, issue.value, issue.reason]),
      [[3, 5, '4.15555E+09', 'not_a_number']],
    );
  });
});

describe('parseContactsCsv details', () => {
  test('follows RFC 4180: quotes, doubled quotes, embedded commas and newlines, BOM, CRLF', () => {
    const text =
      '\uFEFFName,Notes,Mobile Phone\r\n' +
      '"Doe, Jane","She said ""hi""\r\nand left",+14155550123\r\n' +
      'Bob,"a,b,c","+1 415 555 0124"\r\n' +
      '"O""Brien",,+14155550125';
    const result = parseContactsCsv(text);
    assert.deepEqual(result.contacts, [
      { name: 'Doe, Jane', phoneNumbers: ['+14155550123'] },
      { name: 'Bob', phoneNumbers: ['+14155550124'] },
      { name: 'O"Brien', phoneNumbers: ['+14155550125'] },
    ]);
    assert.equal(result.entries, 3);
  });

  test('tracks lines across embedded newlines', () => {
    const text = 'Name,Notes,Phone\n"A","x\ny\nz",bad\nB,,also bad\n';
    const result = parseContactsCsv(text);
    assert.deepEqual(
      result.issues.map((issue) => [issue.entry, issue.line]),
      [
        [1, 2],
        [2, 5],
      ],
    );
  });

  test('detects ";" and tab delimiters from the header', () => {
    const semicolon = 'First Name;Last Name;Mobile Phone\nJane;Doe;+49 151 23456789\n';
    assert.deepEqual(parseContactsCsv(semicolon).contacts, [
      { name: 'Jane Doe', phoneNumbers: ['+4915123456789'] },
    ]);
    const tab = 'Display Name\tHome Phone\tBusiness Fax\nJane\t+14155550123\t+14155550199\n';
    assert.deepEqual(parseContactsCsv(tab).contacts, [
      { name: 'Jane', phoneNumbers: ['+14155550123'] },
    ]);
  });

  test('skips blank lines without counting them, accepts short rows', () => {
    const text =
      '\n\nName,Phone,Other Phone\n\nJane,+14155550123\n,,\n\nBob,+14155550124,+14155550125\n\n';
    const result = parseContactsCsv(text);
    assert.equal(result.entries, 2);
    assert.deepEqual(result.issues, []);
    assert.deepEqual(result.contacts, [
      { name: 'Jane', phoneNumbers: ['+14155550123'] },
      { name: 'Bob', phoneNumbers: ['+14155550124', '+14155550125'] },
    ]);
  });

  test('reports a row with extra fields and skips it', () => {
    const text = 'Name,Phone\nJane,+14155550123\nDoe, John,+14155550124\nBob,+14155550125,\n';
    const result = parseContactsCsv(text);
    assert.deepEqual(
      result.contacts.map((contact) => contact.name),
      ['Jane', 'Bob'],
    );
    assert.deepEqual(
      result.issues.map((issue) => [issue.entry, issue.line, issue.reason]),
      [[2, 3, 'malformed_entry']],
    );
    assert.match(result.issues[0]?.message ?? '', /3 fields but the header has 2/);
  });

  test('reports an unterminated quote and keeps the rows before it', () => {
    const text = 'Name,Phone\nJane,+14155550123\n"Bob,+14155550124\nCarl,+14155550125\n';
    const result = parseContactsCsv(text);
    assert.deepEqual(result.contacts, [{ name: 'Jane', phoneNumbers: ['+14155550123'] }]);
    assert.deepEqual(
      result.issues.map((issue) => [issue.entry, issue.line, issue.reason]),
      [[2, 3, 'malformed_entry']],
    );
  });

  test('tolerates stray quotes inside unquoted fields and text after a closing quote', () => {
    const text = 'Name,Phone\nJane "JD" Doe,"+1 415"555-0123\n';
    assert.deepEqual(parseContactsCsv(text).contacts, [
      { name: 'Jane "JD" Doe', phoneNumbers: ['+14155550123'] },
    ]);
  });

  test('picks phone columns by header and ignores look-alikes', () => {
    const text =
      "Phonetic First Name,Telex,Title,First Name,Phone 1 - Type,Phone 1 - Value,Pager,Assistant's Phone,Mobiltelefon\n" +
      '+14155550001,+14155550002,+14155550003,Jane,+14155550004,+14155550123,+14155550005,+14155550006,+4915123456789\n';
    assert.deepEqual(parseContactsCsv(text).contacts, [
      { name: 'Jane', phoneNumbers: ['+14155550123', '+4915123456789'] },
    ]);
  });

  test('chooses the name from the first non-empty name column group', () => {
    const text =
      'Display Name,First Name,Middle Name,Last Name,Nickname,Company,Phone\n' +
      'Shown,A,B,C,N,Co,+14155550121\n' +
      ',A,,C,N,Co,+14155550122\n' +
      ',,,,N,Co,+14155550123\n' +
      ',,,,,Co,+14155550124\n' +
      ',,,,,,+14155550125\n';
    assert.deepEqual(
      parseContactsCsv(text).contacts.map((contact) => contact.name),
      ['Shown', 'A C', 'N', 'Co', ''],
    );
  });

  test('throws IMPORT_FAILED for an empty file or one without phone columns', () => {
    for (const text of ['', '\uFEFF\r\n\r\n', 'Name,Email\nJane,jane@example.com\n']) {
      assert.throws(() => parseContactsCsv(text), isImportFailed);
    }
    try {
      parseContactsCsv('Jane Doe,jane@example.com\n');
      assert.fail('expected IMPORT_FAILED');
    } catch (error) {
      assert.ok(error instanceof ParleyError);
      // No header row means the "header" is a contact; only the column count is kept.
      assert.deepEqual(error.details, { format: 'csv', reason: 'no_phone_columns', columns: 2 });
    }
  });

  test('imports 10,000 rows, every one of them', () => {
    const rows = ['"First Name","Last Name","Notes","Mobile Phone","Home Phone","Business Fax"'];
    for (let index = 0; index < 10_000; index++) {
      const local = String(index).padStart(4, '0');
      rows.push(
        `"Person","${index}","line one\r\nline ""two"", with comma","+1 (415) 555-${local}","(212) 555-${local}","+1 212 555 0000"`,
      );
    }
    const result = parseContactsCsv(rows.join('\r\n'), { defaultRegion: 'US' });
    assert.equal(result.entries, 10_000);
    assert.equal(result.contacts.length, 10_000);
    assert.deepEqual(result.issues, []);
  });
});

describe('parseContactsCsv on Outlook exports in other languages', () => {
  /** One contact, in the column order every header below lists. */
  const row = [
    'Jürgen',
    'Groß',
    'ACME',
    '+49 151 23456781',
    '+49 30 1234562',
    '+49 89 1234563',
    '+49 40 1234564',
    '+49 69 1234565',
    '+49 69 1234566',
    '+49 69 1234567',
  ];
  const cases: [language: string, header: string[]][] = [
    [
      'German',
      [
        'Vorname',
        'Nachname',
        'Firma',
        'Mobiltelefon',
        'Telefon (privat)',
        'Telefon geschäftlich',
        'Weiteres Telefon',
        'Telefon Assistent',
        'Fax geschäftlich',
        'Pager',
      ],
    ],
    [
      'French',
      [
        'Prénom',
        'Nom',
        'Société',
        'Tél. mobile',
        'Téléphone (domicile)',
        'Téléphone (bureau)',
        'Téléphone (autre)',
        "Téléphone de l'assistant(e)",
        'Télécopie (bureau)',
        'Récepteur de radiomessagerie',
      ],
    ],
    [
      'Spanish',
      [
        'Nombre',
        'Apellidos',
        'Organización',
        'Teléfono móvil',
        'Particular',
        'Teléfono del trabajo',
        'Otro teléfono',
        "Assistant's Phone",
        'Otro fax',
        'Buscapersonas',
      ],
    ],
    [
      'Italian',
      [
        'Nome',
        'Cognome',
        'Società',
        'Telefono Mobile',
        'Telefono di casa',
        'Telefono di Lavoro',
        'Phone Altro',
        "Telefono dell'assistente",
        'Fax di Lavoro',
        'Numero cercapersone',
      ],
    ],
    [
      'Dutch',
      [
        'Voornaam',
        'Achternaam',
        'Bedrijf',
        'Mobiele telefoon',
        'Telefoon thuis',
        'Telefoon op werk',
        'Overige telefoon',
        'Telefoon assistent',
        'Fax op werk',
        'Pager',
      ],
    ],
    [
      'Portuguese',
      [
        'Primeiro nome',
        'Último nome',
        'Empresa',
        'Celular',
        'Fone de casa',
        'Fone comercial',
        'Outro Fone',
        'Fone do Assistente',
        'Fax comercial',
        'Pager',
      ],
    ],
  ];
  for (const [language, header] of cases) {
    test(`${language}: names, company and the mobile, home, business and other phones; no assistant, fax or pager`, () => {
      const csv = `${header.map((h) => `"${h}"`).join(',')}\r\n${row.map((v) => `"${v}"`).join(',')}\r\n`;
      assert.deepEqual(parseContactsCsv(csv).contacts, [
        {
          name: 'Jürgen Groß',
          phoneNumbers: ['+4915123456781', '+49301234562', '+49891234563', '+49401234564'],
        },
      ]);
      const companyOnly = csv.replace('"Jürgen","Groß"', '"",""');
      assert.equal(parseContactsCsv(companyOnly).contacts[0]?.name, 'ACME');
    });
  }
});
