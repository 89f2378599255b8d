/** A phone-number field with a country picker, formatted as the user types. */

import {
  AsYouType,
  type CountryCode,
  getCountries,
  getCountryCallingCode,
  parsePhoneNumberFromString,
} from 'libphonenumber-js/max';
import { useId, useMemo } from 'react';
import { Alert } from './alert.js';

/** The region of the browser's language ('en-GB' → GB), else US. */
export function guessRegion(): CountryCode {
  const tag = typeof navigator === 'undefined' ? '' : navigator.language;
  const region = /-([A-Z]{2})\b/.exec(tag)?.[1];
  return region && (getCountries() as string[]).includes(region) ? (region as CountryCode) : 'US';
}

function countryOptions(): { code: CountryCode; label: string }[] {
  const names = new Intl.DisplayNames([navigator.language || 'en'], { type: 'region' });
  return getCountries()
    .map((code) => ({ code, label: `${names.of(code) ?? code} (+${getCountryCallingCode(code)})` }))
    .sort((a, b) => a.label.localeCompare(b.label));
}

export function PhoneInput(props: {
  label: string;
  region: CountryCode;
  onRegion: (region: CountryCode) => void;
  value: string;
  onChange: (value: string) => void;
  error?: string | undefined;
  autoFocus?: boolean;
}) {
  const id = useId();
  const options = useMemo(countryOptions, []);
  const errorId = `${id}-error`;
  return (
    <fieldset className="phone-input">
      <legend>{props.label}</legend>
      <label htmlFor={`${id}-country`}>Country</label>
      <select
        id={`${id}-country`}
        value={props.region}
        onChange={(e) => props.onRegion(e.target.value as CountryCode)}
      >
        {options.map((o) => (
          <option key={o.code} value={o.code}>
            {o.label}
          </option>
        ))}
      </select>
      <label htmlFor={`${id}-number`}>Phone number</label>
      <input
        id={`${id}-number`}
        type="tel"
        inputMode="tel"
        autoComplete="tel"
        // biome-ignore lint/a11y/noAutofocus: the number is the only thing this screen asks for
        autoFocus={props.autoFocus}
        value={props.value}
        aria-invalid={props.error ? true : undefined}
        aria-describedby={props.error ? errorId : undefined}
        onChange={(e) => props.onChange(formatAsTyped(e.target.value, props.region))}
      />
      <Alert id={errorId} message={props.error} />
    </fieldset>
  );
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
