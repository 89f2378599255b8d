/** Part of Contacts: adding one contact by typing their number, checked blinded like the rest. */

import { type FormEvent, useState } from 'react';
import { PhoneInput } from '../components/phone-input.js';
import { describeError } from '../model/errors.js';
import type { AppModel } from '../model/model.js';
import { type CountryCode, guessRegion, withRegion } from '../model/phone.js';

export function AddByNumber(props: { model: AppModel; region: CountryCode | undefined }) {
  const [region, setRegion] = useState<CountryCode>(props.region ?? guessRegion());
  // "Add to contacts" from a chat starts with the profile name that person chose.
  const [name, setName] = useState(props.model.contactToAdd ?? '');
  const [open] = useState(props.model.contactToAdd !== undefined);
  const [number, setNumber] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [added, setAdded] = useState<string>();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    setAdded(undefined);
    try {
      const person = await props.model.addTyped(name, withRegion(number, region));
      setAdded(`${person.name}: ${person.status === 'on-parley' ? 'on Parley' : 'not on Parley'}.`);
      setName('');
      setNumber('');
      props.model.contactToAdd = undefined;
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <details className="panel add-contact" open={open || undefined}>
      <summary>Add a contact by number</summary>
      <form onSubmit={(e) => void submit(e)} noValidate>
        <label htmlFor="add-name">Name</label>
        <input id="add-name" value={name} onChange={(e) => setName(e.target.value)} />
        <PhoneInput
          label="Their number"
          region={region}
          onRegion={setRegion}
          value={number}
          onChange={setNumber}
          error={error}
        />
        <p className="hint">Only this number is checked, blinded; it is listed under Privacy.</p>
        <button type="submit" className="primary" disabled={busy || !number.trim()}>
          {busy ? 'Checking…' : 'Add'}
        </button>
        <p role="status">{added}</p>
      </form>
    </details>
  );
}
