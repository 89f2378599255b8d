/** What an import reports: each skipped entry once, with its value and reason; counts of entries. */

import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseContactsFile } from './contacts-file.js';
import { describeSkippedEntry, importSummary } from './report.js';

const CSV = [
  'Name,Mobile Phone,Home Phone',
  'Ada Lovelace,+44 7911 123456,',
  'Olu Adebayo,12,+234 803 123 4567',
  'Bad Twice,12,34',
  'No Numbers Ok,,',
  '',
].join('\r\n');

describe('import report', () => {
  const result = parseContactsFile(CSV, { defaultRegion: 'GB' });

  test('each entry with problems once, with every value and its reason, no repeated prefix', () => {
    assert.deepEqual(
      result.skipped.map((entry) => [
        entry.entry,
        entry.name,
        entry.dropped,
        entry.problems.length,
      ]),
      [
        [2, 'Olu Adebayo', false, 1],
        [3, 'Bad Twice', true, 2],
      ],
    );
    const lines = result.skipped.map(describeSkippedEntry);
    assert.match(lines[0] ?? '', /^entry 2 \(Olu Adebayo\): "12": This number is too short/);
    assert.match(lines[1] ?? '', /^entry 3 \(Bad Twice\) skipped: "12": .* "34": /);
    for (const line of lines) assert.equal(line.match(/Olu Adebayo|Bad Twice/g)?.length, 1);
  });

  test('"N entries skipped" counts entries, not problems', () => {
    const summary = importSummary({ ...result, added: 2, alreadyInBook: 0 });
    assert.equal(
      summary,
      'Imported 2 contacts from 4 entries (csv); 1 entry skipped; 1 entry imported with problems.',
    );
  });

  test('a contact listed twice in one file is kept once and reported as a repeat', () => {
    const twice = parseContactsFile(
      'Name,Mobile Phone\r\nAda Lovelace,+44 7911 123456\r\nGrace Hopper,+1 415 555 0199\r\nAda Lovelace,+447911123456\r\n',
    );
    assert.deepEqual(
      twice.contacts.map((c) => c.name),
      ['Ada Lovelace', 'Grace Hopper'],
    );
    assert.equal(twice.repeated, 1);
    // One person listed twice, not a number shared by two people.
    assert.equal(twice.duplicates, 0);
    assert.equal(
      importSummary({ ...twice, added: 2, alreadyInBook: 0 }),
      'Imported 2 contacts from 3 entries (csv); 1 entry repeats an earlier one in the file (kept once).',
    );
  });

  test('a re-import that adds nothing says so', () => {
    const book = { ...result, contacts: [], skipped: [], duplicates: 0, entries: 50_000 };
    assert.equal(
      importSummary({ ...book, added: 0, alreadyInBook: 50_000 }),
      'No new contacts; 50,000 already in your book.',
    );
  });
});
