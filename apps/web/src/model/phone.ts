/**
 * Phone numbers as people see and type them: the country list, formatting as typed, reading a
 * number in the picked country, display of E.164. The app's only importer of libphonenumber-js.
 */

import {
  AsYouType,
  type CountryCode,
  getCountries,
  getCountryCallingCode,
  parsePhoneNumberFromString,
} from 'libphonenumber-js/max';

export type { CountryCode };

/** The region of the browser's language ('en-GB' → GB), else US. */
export function guessRegion(): CountryCode {
  const tag = typeof navigator === 'undefined' ? '' : navigator.language;
  const region = /-([A-Z]{2})\b/.exec(tag)?.[1];
  return region && (getCountries() as string[]).includes(region) ? (region as CountryCode) : 'US';
}

/** Every country, named in the browser's language with its calling code, sorted by that label. */
export function countryOptions(): { code: CountryCode; label: string }[] {
  const names = new Intl.DisplayNames([navigator.language || 'en'], { type: 'region' });
  return getCountries()
    .map((code) => ({ code, label: `${names.of(code) ?? code} (+${getCountryCallingCode(code)})` }))
    .sort((a, b) => a.label.localeCompare(b.label));
}

/** Formats while typing, but never fights a deletion (a trailing separator would come back). */
export function formatAsTyped(raw: string, region: CountryCode): string {
  if (/[^\d+\s()\-.]/.test(raw)) return raw;
  const formatted = new AsYouType(region).input(raw);
  return formatted.length >= raw.length ? formatted : raw;
}

/** A number typed without a country code is read in the picked country; the SDK validates it. */
export function withRegion(raw: string, region: CountryCode): string {
  return parsePhoneNumberFromString(raw, region)?.number ?? raw;
}

/** +14155550123 → "+1 415 555 0123". */
export function displayNumber(e164: string): string {
  return parsePhoneNumberFromString(e164)?.formatInternational() ?? e164;
}
