/**
 * Property-based tests of the address-book importers: any text, and above all text that is nearly
 * a vCard or a contacts CSV, gives a result whose every number is valid E.164 or a ParleyError
 * with a catalog code; never another exception, and never time out of proportion to the input.
 */

import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isE164, ParleyError } from '@parley/core';
import { fuzz, fuzzSettings, phoneLike, regionLike } from '@parley/core/testing/fuzz';
import fc from 'fast-check';
import { parseContactsFile } from './contacts-file.js';
import { parseContactsCsv } from './csv.js';
import { type ImportResult, parseVCard } from './vcard.js';

/**
 * A 100 KB file should import in milliseconds; seconds mean super-linear parsing. Measured in CPU
 * time, not wall time, so a busy machine does not fail the test.
 */
const HUGE_INPUT_MS = 2000;

/** CPU milliseconds this process spends on `work`. */
function cpuMs(work: () => void): number {
  const before = process.cpuUsage();
  work();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

const lineBreak = fc.constantFrom('\r\n', '\n', '\r');

/** Joins lines with line breaks of mixed kinds, as files re-saved on several systems have. */
function joinLines(lines: fc.Arbitrary<string[]>): fc.Arbitrary<string> {
  return lines.chain((ls) =>
    fc
      .array(lineBreak, { minLength: ls.length, maxLength: ls.length })
      .map((breaks) => ls.map((l, i) => l + breaks[i]).join('')),
  );
}

const name = fc.oneof(
  fc.constantFrom('Ada Lovelace', 'Zoë', "O'Brien", 'Ann, Jr.', '', ' ', '王小明', 'a;b\\,c'),
  fc.string({ maxLength: 20 }),
);

const vcardLine = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('BEGIN:VCARD', 'END:VCARD') },
  fc.constantFrom(
    'VERSION:2.1',
    'VERSION:3.0',
    'VERSION:4.0',
    'begin : vcard',
    'AGENT:',
    'PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRgABAQ',
    ' continued',
    '\tcontinued',
    'item1.X-ABLabel:Fax',
    'item1.X-ABLabel:_$!<Mobile>!$_',
    'TEL;TYPE=fax:+14155550123',
    'TEL;ENCODING=QUOTED-PRINTABLE:+1415555=',
    '0123',
    'TEL;CHARSET=x-unknown;QUOTED-PRINTABLE:=2B=34=31=35=35=35=35=30=31=32=33',
    'TEL;TYPE="cell,voice":+44 7911 123456',
    'TEL;TYPE="unterminated:+1',
    ':',
    ';;;:',
    '\uFEFFBEGIN:VCARD',
    '=',
  ),
  name.map((n) => `FN:${n}`),
  name.map((n) => `N:${n};${n};;;`),
  name.map((n) => `ORG:${n}`),
  fc
    .tuple(fc.constantFrom('TEL', 'tel', 'item1.TEL', 'TEL;CELL', 'TEL;TYPE=cell'), phoneLike)
    .map(([head, phone]) => `${head}:${phone}`),
  fc.string({ unit: 'binary', maxLength: 40 }),
);

const nearVCard = fc
  .tuple(fc.boolean(), joinLines(fc.array(vcardLine, { maxLength: 40 })))
  .map(([bom, text]) => (bom ? `\uFEFF${text}` : text));

const csvHeader = fc.constantFrom(
  'Name',
  'Given Name',
  'Family Name',
  'First Name',
  'Last Name',
  'Phone 1 - Type',
  'Phone 1 - Value',
  'Phone 2 - Label',
  'Phone 2 - Value',
  'Mobile Phone',
  'Business Fax',
  'Telefon',
  'E-mail Address',
  'Notes',
  '"Mobile Phone"',
  '"Mo""bile"',
  '',
);

const csvField = fc.oneof(
  phoneLike,
  name,
  phoneLike.map((p) => `"${p.replaceAll('"', '""')}"`),
  fc.constantFrom('Mobile', 'Work Fax', '* Mobile', '"', '""', '"a"b', 'x ::: y', '"a\nb"'),
  fc.array(phoneLike, { maxLength: 3 }).map((ps) => ps.join(' ::: ')),
);

const nearCsv = fc
  .tuple(
    fc.boolean(),
    fc.constantFrom(',', ';', '\t'),
    fc.array(csvHeader, { minLength: 1, maxLength: 8 }),
    fc.array(fc.array(csvField, { maxLength: 10 }), { maxLength: 20 }),
  )
  .chain(([bom, delimiter, header, rows]) =>
    joinLines(fc.constant([header, ...rows].map((r) => r.join(delimiter)))).map(
      (text) => (bom ? '\uFEFF' : '') + text,
    ),
  );

const anyText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 500 }),
  fc.string({ unit: 'grapheme', maxLength: 500 }),
  fc.uint8Array({ maxLength: 500 }).map((bytes) => new TextDecoder().decode(bytes)),
);

/** Big inputs of the shapes the parsers scan: long lines, many columns, folds, quotes. */
const hugeText = fc
  .tuple(
    fc.constantFrom(
      'a',
      ' ',
      '"',
      ',',
      ';',
      '\t',
      '=',
      '\\',
      ':',
      '\r',
      '\n',
      '\r\n ',
      'Phone,',
      '"Mobile Phone",',
      'Phone 1 - Value,Phone 1 - Type,',
      'TEL:+14155550123\n',
      'TEL;TYPE=cell;TYPE=cell;',
      'item1.',
      'BEGIN:VCARD\n',
      '+1 415 555 0123,',
    ),
    fc.constantFrom('', 'BEGIN:VCARD\n', 'Name,Mobile Phone\n', '\uFEFF', '"'),
    fc.constantFrom('', '\nEND:VCARD', '\n', '"'),
    fc.integer({ min: 10_000, max: 100_000 }),
  )
  .map(([unit, head, tail, length]) => head + unit.repeat(Math.ceil(length / unit.length)) + tail);

/** Runs an importer; a result must hold only E.164 numbers, a throw must be IMPORT_FAILED. */
function checkImport(run: () => ImportResult): void {
  let result: ImportResult;
  try {
    result = run();
  } catch (error) {
    assert.ok(error instanceof ParleyError, `not a ParleyError: ${String(error)}`);
    assert.equal(error.code, 'IMPORT_FAILED');
    return;
  }
  assert.ok(result.format === 'vcard' || result.format === 'csv');
  assert.ok(Number.isInteger(result.entries) && result.entries >= result.contacts.length);
  for (const contact of result.contacts) {
    assert.equal(typeof contact.name, 'string');
    assert.ok(contact.phoneNumbers.length > 0);
    for (const number of contact.phoneNumbers) assert.ok(isE164(number), `not E.164: ${number}`);
    assert.equal(new Set(contact.phoneNumbers).size, contact.phoneNumbers.length);
  }
  for (const issue of result.issues) {
    assert.ok(issue.entry >= 1 && typeof issue.reason === 'string' && issue.message !== '');
  }
}

const importers = (text: string, defaultRegion: string | undefined) => {
  const options = defaultRegion === undefined ? {} : { defaultRegion };
  return [
    () => parseContactsFile(text, options),
    () => parseVCard(text, options),
    () => parseContactsCsv(text, options),
  ];
};

describe('importers under fuzzing', () => {
  for (const [label, arbitrary, runs] of [
    ['near-valid vCard', nearVCard, 600],
    ['near-valid CSV', nearCsv, 600],
    ['arbitrary text', anyText, 600],
  ] as const) {
    test(`${label}: E.164 numbers or IMPORT_FAILED, nothing else`, async (t) => {
      await fuzz(
        `import: ${label}`,
        fc.property(arbitrary, regionLike, (text, region) => {
          for (const run of importers(text, region)) checkImport(run);
        }),
        fuzzSettings(runs),
        (line) => t.diagnostic(line),
      );
    });
  }

  test('inputs up to 100 KB import in well under two seconds of CPU each', async (t) => {
    await fuzz(
      'import: huge inputs',
      fc.property(hugeText, regionLike, (text, region) => {
        for (const run of importers(text, region)) {
          const ms = cpuMs(() => checkImport(run));
          assert.ok(
            ms < HUGE_INPUT_MS,
            `${text.length} characters took ${ms.toFixed(0)} ms of CPU`,
          );
        }
      }),
      fuzzSettings(40, 0.01),
      (line) => t.diagnostic(line),
    );
  });
});
