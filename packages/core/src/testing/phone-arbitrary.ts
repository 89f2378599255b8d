/**
 * Phone numbers as people and address books write them, and as they should not: the pieces
 * phone.ts has rules for (a "+", "00", "tel:" URIs, extensions, full-width and other digit
 * scripts, invisible marks, spreadsheet exponents), put together at random.
 */

import fc from 'fast-check';

const pieces = fc.constantFrom(
  '+',
  '00',
  '011',
  '0',
  '1',
  '44',
  '49',
  '91',
  '415',
  '555',
  '0123',
  '7911 123456',
  ' ',
  '-',
  '.',
  '(',
  ')',
  '/',
  'tel:',
  'TEL:',
  ';phone-context=',
  ';phone-context=+1',
  ';ext=12',
  '%2B',
  '%',
  '%zz',
  ' ext. ',
  ' x',
  '#',
  '*',
  'e+',
  'E-',
  ',',
  '＋', // full-width plus
  '４１５', // full-width digits
  '٤١٥', // Arabic-Indic digits
  '\u200B',
  '\u202E',
  '\uFEFF',
  '\u00A0',
  'FLOWERS',
  '\uD83D',
  '\u0000',
);

/** A phone-number-like string: mostly near-valid, sometimes anything at all. */
export const phoneLike: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.array(pieces, { maxLength: 12 }).map((p) => p.join('')) },
  fc
    .tuple(fc.integer({ min: 1, max: 999 }), fc.stringMatching(/^[0-9]{4,16}$/))
    .map(([cc, rest]) => `+${cc}${rest}`),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
);

/** Region options as callers pass them: real, lower-case, unknown, empty, odd. */
export const regionLike: fc.Arbitrary<string | undefined> = fc.oneof(
  fc.constantFrom(undefined, 'US', 'DE', 'GB', 'IN', 'AU', 'us', 'ZZ', '', ' ', '001', 'XK'),
  fc.string({ maxLength: 4 }),
);
