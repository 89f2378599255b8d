/** Tests for phone-number normalisation: accepted spellings, each failure reason, and the helpers. */

import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isE164, normalizePhoneNumber, type PhoneIssue, phoneNumberForms } from './phone.js';

function e164Of(raw: string, region?: string): string {
  const result = normalizePhoneNumber(raw, region);
  assert.ok(
    result.ok,
    `expected ${JSON.stringify(raw)} to normalise, got ${JSON.stringify(result)}`,
  );
  return result.e164;
}

function reasonOf(raw: string, region?: string): PhoneIssue {
  const result = normalizePhoneNumber(raw, region);
  assert.ok(!result.ok, `expected ${JSON.stringify(raw)} to fail, got ${JSON.stringify(result)}`);
  assert.ok(result.message.length > 20);
  return result.reason;
}

describe('normalizePhoneNumber', () => {
  test('accepts international numbers with any separators', () => {
    for (const raw of [
      '+14155550123',
      '+1 415 555 0123',
      '+1 (415) 555-0123',
      '+1.415.555.0123',
      ' +1-415-555-0123 ',
      '(+1) 415 555 0123',
    ]) {
      assert.equal(e164Of(raw), '+14155550123', raw);
    }
    assert.equal(e164Of('+44 20 7946 0958'), '+442079460958');
    assert.equal(e164Of('+49 30 123456'), '+4930123456');
    assert.equal(e164Of('+81 90-1234-5678'), '+819012345678');
  });

  test('reads national numbers with a default region, case-insensitively', () => {
    assert.equal(e164Of('(415) 555-0123', 'US'), '+14155550123');
    assert.equal(e164Of('1 415 555 0123', 'us'), '+14155550123');
    assert.equal(e164Of('030 123456', 'DE'), '+4930123456');
    assert.equal(e164Of('07911 123456', 'GB'), '+447911123456');
    // An international number ignores the default region.
    assert.equal(e164Of('+44 20 7946 0958', 'US'), '+442079460958');
  });

  test('handles the 00 international prefix and regional ones', () => {
    assert.equal(e164Of('0044 20 7946 0958'), '+442079460958');
    assert.equal(e164Of('0044 20 7946 0958', 'DE'), '+442079460958');
    // 00 is not the international prefix in the US, but nothing national starts with it either.
    assert.equal(e164Of('0044 20 7946 0958', 'US'), '+442079460958');
    assert.equal(e164Of('011 44 20 7946 0958', 'US'), '+442079460958');
    assert.equal(e164Of('0011 44 20 7946 0958', 'AU'), '+442079460958');
  });

  test('reads tel: URIs', () => {
    assert.equal(e164Of('tel:+1-415-555-0123'), '+14155550123');
    assert.equal(e164Of('TEL:+14155550123'), '+14155550123');
    assert.equal(e164Of('tel:+1-415-555-0123;ext=42'), '+14155550123');
    assert.equal(e164Of('tel:555-0123;phone-context=+1-415'), '+14155550123');
    assert.equal(e164Of('tel:%2B14155550123'), '+14155550123');
    assert.equal(e164Of('tel:(415) 555-0123;phone-context=example.com', 'US'), '+14155550123');
    assert.equal(reasonOf('tel:(415) 555-0123;phone-context=example.com'), 'ambiguous_no_region');
  });

  test('drops extensions', () => {
    for (const raw of [
      '+1 415 555 0123 ext. 12',
      '+1 415 555 0123 x12',
      '+1 415 555 0123 #12',
      '+14155550123;ext=12',
    ]) {
      assert.equal(e164Of(raw), '+14155550123', raw);
    }
    assert.equal(e164Of('(415) 555-0123 ext 7', 'US'), '+14155550123');
  });

  test('tolerates invisible marks, full-width and non-ASCII digits', () => {
    assert.equal(e164Of('\u202A+44 7911 123456\u202C'), '+447911123456');
    assert.equal(e164Of('\u200E+1 415 555 0123'), '+14155550123');
    assert.equal(e164Of('＋１ ４１５ ５５５ ０１２３'), '+14155550123');
    assert.equal(e164Of('+١٤١٥٥٥٥٠١٢٣'), '+14155550123');
  });

  test('reports each kind of problem', () => {
    assert.equal(reasonOf(''), 'empty');
    assert.equal(reasonOf('   \t'), 'empty');
    assert.equal(reasonOf('tel:'), 'empty');
    assert.equal(reasonOf('abc'), 'not_a_number');
    assert.equal(reasonOf('+1 800 FLOWERS'), 'not_a_number');
    assert.equal(reasonOf('+1 415 555 0123 / +1 415 555 0124'), 'not_a_number');
    assert.equal(reasonOf('4.15555E+09'), 'not_a_number'); // what a spreadsheet leaves of a number
    assert.equal(reasonOf('4.15555E+09', 'US'), 'not_a_number');
    assert.equal(reasonOf('+12'), 'too_short');
    assert.equal(reasonOf('555 01', 'US'), 'too_short');
    // Sign-up with the United States picked (issue 17): too short, said of a US number.
    const short = normalizePhoneNumber('12', 'US');
    assert.equal(short.ok ? 'ok' : short.reason, 'too_short');
    assert.match(
      short.ok ? '' : short.message,
      /too short for a phone number in the United States/,
    );
    assert.equal(reasonOf('+1 415 555 0123 4567 89'), 'too_long');
    assert.equal(reasonOf('+999 1234 5678'), 'invalid_country');
    assert.equal(reasonOf('(415) 555-0123', 'XX'), 'invalid_country');
    assert.equal(reasonOf('+1 555 555 0123'), 'invalid'); // no area code 555
    assert.equal(reasonOf('(415) 555-0123'), 'ambiguous_no_region');
    assert.equal(reasonOf('4155550123'), 'ambiguous_no_region');
  });

  test('a number the metadata accepts but longer than E.164 allows is too long', () => {
    // Found by fuzzing: German numbers may have more national digits than E.164's 15 in total.
    assert.equal(reasonOf('+49 30 000000000000'), 'too_long'); // 16 digits
    assert.equal(reasonOf('030 000000000000', 'DE'), 'too_long');
    assert.equal(e164Of('+49 30 00000000000'), '+493000000000000'); // 15 digits: the most E.164 has
  });

  test('messages say what to do and do not repeat the number', () => {
    const result = normalizePhoneNumber('(212) 736-9000');
    assert.ok(!result.ok);
    assert.match(result.message, /country code/);
    assert.doesNotMatch(result.message, /736/);
    const region = normalizePhoneNumber('(415) 555-0123', 'XX');
    assert.ok(!region.ok);
    assert.match(region.message, /"XX"/);
  });

  test('never throws, whatever it is given', () => {
    const inputs: unknown[] = [
      null,
      undefined,
      42,
      {},
      [],
      '+',
      '++1',
      '00',
      'tel:%',
      'tel:;;;=;',
      '\u0000\u0001',
      '+'.repeat(10_000),
      '1'.repeat(100_000),
      '+1 ' + ' ext '.repeat(10_000),
      '\uD800',
      '()-- ..',
    ];
    for (const input of inputs) {
      const result = normalizePhoneNumber(input as string, input as string);
      assert.equal(typeof result.ok, 'boolean');
      if (!result.ok) assert.equal(typeof result.message, 'string');
    }
  });
});

describe('isE164', () => {
  test('accepts only canonical, valid E.164', () => {
    assert.equal(isE164('+14155550123'), true);
    assert.equal(isE164('+442079460958'), true);
    for (const value of [
      '',
      '14155550123',
      '+1 415 555 0123',
      '+1-415-555-0123',
      '+014155550123',
      '+15555550123',
      '+1415555012',
      '+1234567890123456',
      '+14155550123\n',
      ' +14155550123',
    ]) {
      assert.equal(isE164(value), false, JSON.stringify(value));
    }
    assert.equal(isE164(null as unknown as string), false);
  });
});

describe('phoneNumberForms', () => {
  test('lists the common spellings of a number', () => {
    assert.deepEqual(phoneNumberForms('+14155550123'), [
      '+14155550123',
      '(415) 555-0123',
      '+1 415 555 0123',
      '14155550123',
      '4155550123',
    ]);
    const german = phoneNumberForms('+4930123456');
    for (const form of ['+4930123456', '030 123456', '+49 30 123456', '4930123456', '30123456']) {
      assert.ok(german.includes(form), form);
    }
    assert.ok(german.includes('030123456'), 'national digits with the trunk prefix');
    assert.equal(new Set(german).size, german.length);
  });

  test('does not throw on something that is not a number', () => {
    assert.deepEqual(phoneNumberForms('nonsense'), ['nonsense']);
  });
});
