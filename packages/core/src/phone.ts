/**
 * Phone-number normalisation. Everything Parley registers, blinds or compares is an E.164 string, so
 * registration and address-book import both go through here. The 'max' metadata is used because the
 * smaller sets only check lengths and would let numbers from unassigned ranges through, which would
 * then never match anyone.
 *
 * Messages never repeat the number itself: they may end up in server logs or error bodies.
 */

import {
  type CountryCode,
  isSupportedCountry,
  ParseError,
  type PhoneNumber,
  parsePhoneNumberWithError,
  validatePhoneNumberLength,
} from 'libphonenumber-js/max';

export type PhoneIssue =
  | 'empty'
  | 'too_short'
  | 'too_long'
  | 'invalid_country'
  | 'not_a_number'
  | 'invalid'
  | 'ambiguous_no_region';

export type NormalizeResult =
  | { ok: true; e164: string }
  | { ok: false; reason: PhoneIssue; message: string };

type Failure = Extract<NormalizeResult, { ok: false }>;

const EXAMPLE = '+14155550123';

/** Zero-width and bidi marks that phones and copy-paste from right-to-left UIs leave in numbers. */
const INVISIBLE = /[\u200B-\u200F\u202A-\u202E\u2060-\u2064\uFEFF]/g;

const E164_SYNTAX = /^\+[1-9]\d{1,14}$/;

/**
 * Normalises a number as a person or an address book wrote it to E.164. An extension is accepted and
 * dropped (the account is the line, not the extension). National numbers need `defaultRegion`; an
 * unknown region only matters for those, so international numbers still go through. Never throws.
 */
export function normalizePhoneNumber(raw: string, defaultRegion?: string): NormalizeResult {
  try {
    return normalize(raw, defaultRegion);
  } catch {
    // libphonenumber-js throws only ParseError, which normalize() handles; this is a last resort so
    // that one odd address-book entry can never abort a whole import.
    return failure('invalid');
  }
}

/** Strict check for values that claim to be E.164 already, e.g. in API requests. */
export function isE164(value: string): boolean {
  if (typeof value !== 'string' || !E164_SYNTAX.test(value)) return false;
  try {
    const parsed = parsePhoneNumberWithError(value);
    return parsed.isValid() && parsed.number === value;
  } catch {
    return false;
  }
}

/**
 * The ways a number commonly appears in text, so tests can prove that no form of it was written
 * anywhere it must not be: E.164, national and international formatting, and digits only with and
 * without the country code (and with the national trunk prefix where there is one).
 */
export function phoneNumberForms(e164: string): string[] {
  const forms = new Set<string>([e164]);
  let parsed: PhoneNumber;
  try {
    parsed = parsePhoneNumberWithError(e164);
  } catch {
    const digits = String(e164).replace(/\D/g, '');
    if (digits !== '') forms.add(digits);
    return [...forms];
  }
  const national = parsed.formatNational();
  forms.add(parsed.number);
  forms.add(national);
  forms.add(parsed.formatInternational());
  forms.add(parsed.number.slice(1));
  forms.add(parsed.nationalNumber);
  forms.add(national.replace(/\D/g, ''));
  return [...forms];
}

function normalize(raw: unknown, defaultRegion: unknown): NormalizeResult {
  if (typeof raw !== 'string') return failure('not_a_number');
  // NFKC folds full-width digits and plus signs, which libphonenumber-js does not accept itself.
  let text = raw.normalize('NFKC').replace(INVISIBLE, '').trim();
  if (/^tel:/i.test(text)) text = fromTelUri(text.slice(4)).trim();
  if (text === '') return failure('empty');
  if (!/\p{Nd}/u.test(text)) return failure('not_a_number');
  // Spreadsheets turn long digit strings into 4.15555E+09; the digits are lost, so no region helps.
  if (/^\d+(?:[.,]\d+)?e[+-]?\d+$/i.test(text)) return failure('not_a_number');

  const regionText = typeof defaultRegion === 'string' ? defaultRegion.trim().toUpperCase() : '';
  const region = regionText !== '' && isSupportedCountry(regionText) ? regionText : undefined;

  if (/^[^\p{Nd}]*\+/u.test(text)) return attempt(text, undefined);

  // "00" is the international prefix in most of the world but not everywhere (011 in NANP, 0011 in
  // Australia), so the region's own rules get the first try and "00" → "+" is the fallback.
  const international = internationalFromDoubleZero(text);
  if (region !== undefined) {
    const national = attempt(text, region);
    if (national.ok) return national;
    if (international === undefined) return inRegion(national, region);
    return attempt(international, undefined);
  }
  if (international !== undefined) return attempt(international, undefined);
  if (regionText !== '') return unknownRegion(regionText);
  return failure('ambiguous_no_region');
}

function attempt(text: string, region: CountryCode | undefined): NormalizeResult {
  let parsed: PhoneNumber;
  try {
    parsed = parsePhoneNumberWithError(
      text,
      region === undefined ? undefined : { defaultCountry: region },
    );
  } catch (error) {
    return failure(reasonFromLibrary(error instanceof ParseError ? error.message : undefined));
  }
  if (parsed.isValid()) {
    // The metadata allows some national numbers (Germany's, for one) longer than E.164's 15
    // digits; no such number can be registered, so it would never match anyone.
    if (!E164_SYNTAX.test(parsed.number)) return failure('too_long');
    return { ok: true, e164: parsed.number };
  }
  // The parser stops at the first letter, so "1-800-FLOWERS" would otherwise be reported as too short.
  if (parsed.ext === undefined && /\p{L}/u.test(text)) return failure('not_a_number');
  // Length is judged on the parsed number so that an extension cannot skew the verdict.
  return failure(reasonFromLibrary(validatePhoneNumberLength(parsed.number)));
}

function reasonFromLibrary(code: string | undefined): PhoneIssue {
  switch (code) {
    case 'NOT_A_NUMBER':
      return 'not_a_number';
    case 'TOO_SHORT':
      return 'too_short';
    case 'TOO_LONG':
      return 'too_long';
    case 'INVALID_COUNTRY':
      return 'invalid_country';
    default:
      // INVALID_LENGTH (a length between two valid ones) and plausible-but-unassigned ranges.
      return 'invalid';
  }
}

/** RFC 3966: `tel:` number, then `;`-parameters; a local number carries its prefix in phone-context. */
function fromTelUri(uri: string): string {
  let decoded = uri;
  try {
    decoded = decodeURIComponent(uri);
  } catch {
    // A stray "%" is more likely a typo than an encoding; keep the text as written.
  }
  const [number = '', ...parameters] = decoded.split(';');
  if (number.trim().startsWith('+')) return number;
  for (const parameter of parameters) {
    const [name = '', value = ''] = parameter.split('=', 2);
    // A domain context (e.g. "example.com") says nothing about the country; only a "+" one does.
    if (name.trim().toLowerCase() === 'phone-context' && value.trim().startsWith('+')) {
      return value.trim() + number;
    }
  }
  return number;
}

function internationalFromDoubleZero(text: string): string | undefined {
  const match = /^[^\p{Nd}+]*0[^\p{Nd}]*0/u.exec(text);
  if (match === null) return undefined;
  const rest = text.slice(match[0].length);
  // "00" alone or followed by another 0 is not an international prefix (no country code starts with 0).
  return /^[^\p{Nd}]*[1-9]/u.test(rest) ? `+${rest}` : undefined;
}

function unknownRegion(region: string): Failure {
  return {
    ok: false,
    reason: 'invalid_country',
    message: `"${region}" is not a known region code, so a number without a country code cannot be read; use an ISO 3166 alpha-2 code such as "US" or "DE", or give the number with its country code, e.g. ${EXAMPLE}.`,
  };
}

const MESSAGES: Record<PhoneIssue, string> = {
  empty: `No phone number was given; enter one with its country code, e.g. ${EXAMPLE}.`,
  not_a_number: `This is not a phone number as written (it has no digits, or letters or other text among them); write one number per field with digits only, e.g. ${EXAMPLE}.`,
  too_short:
    'This phone number has too few digits for its country; check that no digits are missing and that the country code is right.',
  too_long:
    'This phone number has too many digits for its country; check for extra digits, or for two numbers written in one field.',
  invalid_country:
    'The country code of this phone number does not exist; check the digits right after the "+" (or after "00").',
  invalid:
    'This phone number is not in use in its country (no such range is assigned); check the digits and the country code.',
  ambiguous_no_region: `This phone number has no country code and no default region was given; write it with its country code, e.g. ${EXAMPLE}, or choose the region it belongs to.`,
};

/**
 * A number read in the region the person picked: the message names that country, so "12" with
 * the United States picked says it is too short for a US number (not that a country code is
 * missing), and points at the country picker as the other thing to check.
 */
function inRegion(result: Failure, region: CountryCode): Failure {
  const country = regionName(region);
  const messages: Partial<Record<PhoneIssue, string>> = {
    too_short: `This number is too short for a phone number in ${country}; check that no digits are missing, or pick the country it belongs to.`,
    too_long: `This number is too long for a phone number in ${country}; check for extra digits, or pick the country it belongs to.`,
    invalid: `This is not a phone number in use in ${country}; check the digits, or pick the country it belongs to.`,
  };
  const message = messages[result.reason];
  return message === undefined ? result : { ...result, message };
}

function regionName(region: CountryCode): string {
  try {
    const name = new Intl.DisplayNames(['en'], { type: 'region' }).of(region);
    // "United States" reads better with its article in a sentence.
    if (name === undefined || name === region) return region;
    return /^(United|Netherlands|Philippines|Bahamas|Gambia)\b/.test(name) ? `the ${name}` : name;
  } catch {
    return region;
  }
}

function failure(reason: PhoneIssue): Failure {
  return { ok: false, reason, message: MESSAGES[reason] };
}
