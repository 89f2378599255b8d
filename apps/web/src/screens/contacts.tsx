/**
 * Contacts: import a vCard or CSV export (or pick from the phone's contacts where the browser
 * offers it), add one by typing a number, and see who can receive free messages, who is online, and
 * an SMS invitation for the others.
 */

import { useState } from 'react';
import { Alert } from '../components/alert.js';
import { contactPicker } from '../model/contact-picker.js';
import { describeError } from '../model/errors.js';
import { type AppModel, type Person, useModel } from '../model/model.js';
import type { CountryCode } from '../model/phone.js';
import { describeSkippedEntry, type ImportReport, importSummary } from '../model/sdk.js';
import { AddByNumber } from './add-by-number.js';
import { PeopleList } from './people-list.js';

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
  // Kept apart from `status`, which discovery overwrites: the skipped entries stay until the next import.
  const [imported, setImported] = useState<ImportReport>();

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
      // Bytes, not file.text(): the importer detects Windows-1252, UTF-16 and Shift_JIS exports.
      const bytes = new Uint8Array(await file.arrayBuffer());
      setImported(undefined);
      const result = await model.client.contacts.importFile(bytes, file.name);
      setImported(result);
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
      {imported && <ImportResult report={imported} />}
      <p role="status" className="status">
        {status}
      </p>
      <Alert message={error} />
      <AddByNumber model={model} region={props.region} />
      <PeopleList model={model} onOpenChat={props.onOpenChat} />
    </section>
  );
}

/** The last import: its summary, and the skipped entries in a list the user can open. */
function ImportResult(props: { report: ImportReport }) {
  const { skipped } = props.report;
  return (
    <section className="import-result" aria-label="Import result">
      <p>{importSummary(props.report)}</p>
      {skipped.length > 0 && (
        <details>
          <summary>
            {skipped.length === 1 ? '1 entry' : `${skipped.length} entries`} with problems
          </summary>
          <ul>
            {skipped.map((entry) => (
              <li key={entry.entry}>{describeSkippedEntry(entry)}</li>
            ))}
          </ul>
        </details>
      )}
    </section>
  );
}
