/** A phone-number field with a country picker, formatted as the user types (see model/phone.ts). */

import { useId, useMemo } from 'react';
import { type CountryCode, countryOptions, formatAsTyped } from '../model/phone.js';
import { Alert } from './alert.js';

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
