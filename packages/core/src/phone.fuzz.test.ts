/**
 * Property-based tests of the phone-number parser: whatever string and region it is given, it
 * answers a valid E.164 number or a reason with a message, never throws, and takes time in
 * proportion to the input (no regular expression backtracks catastrophically).
 */

import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { isE164, normalizePhoneNumber, type PhoneIssue } from './phone.js';
import { fuzz, fuzzSettings, phoneLike, regionLike } from './testing/fuzz.js';

const REASONS = new Set<PhoneIssue>([
  'empty',
  'too_short',
  'too_long',
  'invalid_country',
  'not_a_number',
  'invalid',
  'ambiguous_no_region',
]);

/** Generous: a 100 KB input should take milliseconds; seconds mean super-linear matching. */
const HUGE_INPUT_MS = 2000;

function checkResult(raw: string, region: string | undefined): void {
  const result = normalizePhoneNumber(raw, region);
  if (result.ok) {
    assert.ok(isE164(result.e164), `not E.164: ${result.e164}`);
    // Normalising the result again changes nothing: imports and registration agree.
    assert.deepEqual(normalizePhoneNumber(result.e164), result);
  } else {
    assert.ok(REASONS.has(result.reason), `unknown reason ${result.reason}`);
    assert.ok(result.message.length > 20);
  }
}

/** Long inputs built from the shapes the parser's regular expressions look for. */
const hugeInput = fc
  .tuple(
    fc.constantFrom(
      '0',
      '1',
      '+',
      ' ',
      '00',
      '0 ',
      '+ ',
      'tel:',
      '%',
      ';',
      'e',
      '1.',
      '\u200B',
      'x',
      '٤',
    ),
    fc.constantFrom('', '+', 'tel:', '00', ' ', '1e'),
    fc.constantFrom('', 'x', '0', '+1', ' ', '1e5', ';phone-context=+1'),
    fc.integer({ min: 10_000, max: 100_000 }),
  )
  .map(([unit, head, tail, length]) => head + unit.repeat(Math.ceil(length / unit.length)) + tail);

describe('phone parser under fuzzing', () => {
  test('any string and region: a valid E.164 number or a known reason, never an exception', async (t) => {
    await fuzz(
      'phone: normalizePhoneNumber(phone-like, region)',
      fc.property(phoneLike, regionLike, (raw, region) => checkResult(raw, region)),
      fuzzSettings(1000),
      (line) => t.diagnostic(line),
    );
  });

  test('isE164 accepts exactly what normalises to itself', async (t) => {
    await fuzz(
      'phone: isE164(phone-like)',
      fc.property(phoneLike, (raw) => {
        if (!isE164(raw)) return;
        const result = normalizePhoneNumber(raw);
        assert.ok(result.ok && result.e164 === raw, `isE164 but normalises otherwise: ${raw}`);
      }),
      fuzzSettings(1000),
      (line) => t.diagnostic(line),
    );
  });

  test('inputs up to 100 KB finish in well under two seconds each', async (t) => {
    await fuzz(
      'phone: huge inputs',
      fc.property(hugeInput, regionLike, (raw, region) => {
        const started = performance.now();
        checkResult(raw, region);
        isE164(raw);
        const ms = performance.now() - started;
        assert.ok(ms < HUGE_INPUT_MS, `${raw.length} characters took ${ms.toFixed(0)} ms`);
      }),
      fuzzSettings(40, 0.01),
      (line) => t.diagnostic(line),
    );
  });
});
