/**
 * Contacts: import a vCard or CSV export (or pick from the phone's contacts where the browser
 * offers it), add one by typing a number, and see who can receive free messages, who is online, and
 * an SMS invitation for the others.
 */

import { inviteText, smsLink } from '@parley/client';
import type { CountryCode } from 'libphonenumber-js/max';
import { type FormEvent, useState } from 'react';
import { Alert } from '../components/alert.js';
import { displayNumber, guessRegion, PhoneInput, withRegion } from '../components/phone-input.js';
import { describeError } from '../model/errors.js';
import { type AppModel, type Person, useModel } from '../model/model.js';

interface PickerContact {
  name?: string[];
  tel?: string[];
}
interface ContactsManager {
  select(props: string[], options: { multiple: boolean }): Promise<PickerContact[]>;
}
const contactPicker = (): ContactsManager | undefined =>
  (navigator as Navigator & { contacts?: ContactsManager }).contacts;

type Progress = { label: string; done: number; total: number } | undefined;

export function ContactsScreen(props: {
  model: AppModel;
  region: CountryCode | undefined;
  onAskConsent: () => void;
  onOpenChat: (person: Person) => void;
}) {
  const model = useModel(props.model);
  const [status, setStatus] = useState<string>();
  const [error, setError] = useState<string>();
  const [progress, setProgress] = useState<Progress>();

  async function discover() {
    const { contacts, report } = await model.client.discover({
      onProgress: (p) =>
        setProgress({
          label: {
            filter: 'Updating the directory filter',
            rekey: 'Following a key change',
            evaluate: 'Checking blinded numbers',
            resolve: 'Looking up matches',
          }[p.phase],
          done: p.done,
          total: p.total,
        }),
    });
    await model.mergeDiscovered(contacts);
    const on = contacts.filter((c) => c.status === 'on-parley').length;
    setStatus(
      `${on} of ${report.stats.numbers} numbers can receive free Parley messages. Sent ${report.stats.evaluated} blinded numbers (${report.stats.fromCache} already known).`,
    );
  }

  async function run(task: () => Promise<void>) {
    setError(undefined);
    setStatus(undefined);
    try {
      await task();
    } catch (e) {
      setError(describeError(e));
    } finally {
      setProgress(undefined);
    }
  }

  const importFile = (file: File) =>
    run(async () => {
      setProgress({ label: `Reading ${file.name}`, done: 0, total: 1 });
      const text = await file.text();
      const result = await model.client.contacts.importFile(text, file.name);
      const issues = result.issues.length ? `, ${result.issues.length} entries skipped` : '';
      setStatus(`Imported ${result.contacts.length} contacts${issues}.`);
      await discover();
    });

  const pick = () =>
    run(async () => {
      const picked = await contactPicker()!.select(['name', 'tel'], { multiple: true });
      for (const c of picked) {
        for (const tel of c.tel ?? []) {
          await model.client.contacts.add(c.name?.[0] ?? tel, tel).catch(() => {});
        }
      }
      await discover();
    });

  const consented = model.consent !== undefined;
  return (
    <section aria-labelledby="contacts-title" className="contacts">
      <h1 id="contacts-title">Contacts</h1>
      {consented ? (
        <div className="panel">
          <h2>Your address book</h2>
          <p className="hint">
            Choose an export from Google Contacts, Apple Contacts (vCard) or Outlook (CSV). It is
            read on this device only.
          </p>
          <div className="actions">
            <label className="button">
              Import contacts file
              <input
                type="file"
                className="visually-hidden"
                accept=".vcf,.vcard,.csv,text/vcard,text/csv"
                onChange={(e) => {
                  const file = e.target.files?.[0];
                  e.target.value = '';
                  if (file) void importFile(file);
                }}
              />
            </label>
            {contactPicker() && (
              <button type="button" onClick={() => void pick()}>
                Choose from phone contacts
              </button>
            )}
            <button type="button" onClick={() => void run(discover)}>
              Check again
            </button>
          </div>
        </div>
      ) : (
        <div className="panel">
          <h2>Find friends on Parley</h2>
          <p>
            See which of your contacts can receive free messages. Nothing is read until you agree.
          </p>
          <button type="button" className="primary" onClick={props.onAskConsent}>
            See what this shares
          </button>
        </div>
      )}
      {progress && (
        <div className="progress">
          <label htmlFor="discovery-progress">{progress.label}</label>
          <progress id="discovery-progress" max={progress.total} value={progress.done} />
        </div>
      )}
      <p role="status" className="status">
        {status}
      </p>
      <Alert message={error} />
      <AddByNumber model={model} region={props.region} />
      <PeopleList model={model} onOpenChat={props.onOpenChat} />
    </section>
  );
}

function AddByNumber(props: { model: AppModel; region: CountryCode | undefined }) {
  const [region, setRegion] = useState<CountryCode>(props.region ?? guessRegion());
  const [name, setName] = useState('');
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
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <details className="panel add-contact">
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

function PeopleList(props: { model: AppModel; onOpenChat: (p: Person) => void }) {
  const { model } = props;
  const [filter, setFilter] = useState('');
  if (model.people.length === 0) return <p className="empty">No contacts yet.</p>;
  const q = filter.trim().toLowerCase();
  const shown = q
    ? model.people.filter((p) => p.name.toLowerCase().includes(q) || p.phoneNumber.includes(q))
    : model.people;
  const onParley = shown.filter((p) => p.status === 'on-parley');
  const others = shown.filter((p) => p.status !== 'on-parley');
  const appUrl = location.origin;
  return (
    <div className="people">
      <label htmlFor="people-filter" className="visually-hidden">
        Search contacts
      </label>
      <input
        id="people-filter"
        type="search"
        placeholder="Search contacts"
        value={filter}
        onChange={(e) => setFilter(e.target.value)}
      />
      <h2>On Parley — free messages ({onParley.length})</h2>
      <ul className="person-list" aria-label="Contacts on Parley">
        {onParley.map((p) => {
          const online = p.accountId !== undefined && model.online.has(p.accountId);
          return (
            <li key={p.phoneNumber} className="person">
              <span className="person-name">{p.name}</span>
              <span className="person-number">{displayNumber(p.phoneNumber)}</span>
              <span className={online ? 'badge online' : 'badge'}>
                {online ? 'Online now' : 'On Parley'}
              </span>
              <button
                type="button"
                onClick={() => props.onOpenChat(p)}
                aria-label={`Message ${p.name}`}
              >
                Message
              </button>
            </li>
          );
        })}
      </ul>
      <h2>Not on Parley ({others.length})</h2>
      <ul className="person-list" aria-label="Contacts not on Parley">
        {others.slice(0, 500).map((p) => (
          <li key={p.phoneNumber} className="person">
            <span className="person-name">{p.name}</span>
            <span className="person-number">{displayNumber(p.phoneNumber)}</span>
            <span className="badge muted">
              {p.status === 'unresolved' ? 'Maybe on Parley' : 'SMS only'}
            </span>
            <a
              className="button"
              href={smsLink(p.phoneNumber, inviteText(appUrl))}
              aria-label={`Invite ${p.name} by SMS`}
            >
              Invite by SMS
            </a>
          </li>
        ))}
      </ul>
      {others.length > 500 && (
        <p className="hint">{others.length - 500} more; search to find them.</p>
      )}
    </div>
  );
}
