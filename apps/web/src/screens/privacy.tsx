/**
 * The privacy dashboard: the profile name, every upload this device made (the transparency log), the consent and
 * how to withdraw it, who can find you and see you online, the registration lock, the account's
 * devices (link a new one, sign one out, or all the others), an export of your data, and deleting
 * the account; and notifications (notification-settings.tsx).
 */

import { useEffect, useState } from 'react';
import { Alert } from '../components/alert.js';
import { Choice } from '../components/choice.js';
import { describeError } from '../model/errors.js';
import { type AppModel, useModel } from '../model/model.js';
import type { Device, PresenceVisibility, UploadRecord } from '../model/sdk.js';
import { LinkDevice } from './link-device.js';
import { NotificationSettingsPanel } from './notification-settings.js';
import { ProfileName } from './profile-name.js';
import { RegistrationLock } from './registration-lock.js';

export function PrivacyScreen(props: { model: AppModel; onDeleted: () => void }) {
  const model = useModel(props.model);
  const account = model.client.account!;
  const [log, setLog] = useState<UploadRecord[]>([]);
  const [status, setStatus] = useState<string>();
  const [error, setError] = useState<string>();
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [devices, setDevices] = useState<Device[]>();
  const [linked, setLinked] = useState(0);

  useEffect(() => {
    void model.client.uploads().then((l) => setLog([...l].reverse()));
  }, [model, status]);

  useEffect(() => {
    void model.client
      .devices()
      .then(setDevices)
      .catch(() => setDevices(undefined));
  }, [model, status, linked]);

  async function run(task: () => Promise<string>) {
    setError(undefined);
    try {
      setStatus(await task());
    } catch (e) {
      setError(describeError(e));
    }
  }

  const setDiscoverable = (discoverable: boolean) =>
    run(async () => {
      await model.client.updateAccount({ discoverable });
      model.changed();
      return discoverable
        ? 'People who have your number can now find you.'
        : 'Nobody can find you by your number now.';
    });

  const setPresence = (presence: PresenceVisibility) =>
    run(async () => {
      await model.client.updateAccount({ presence });
      model.changed();
      return presence === 'nobody'
        ? 'Nobody sees when you are online.'
        : 'Contacts who found you see when you are online.';
    });

  const withdraw = () =>
    run(async () => {
      await model.withdrawConsent();
      return 'Consent withdrawn. Imported contacts and discovery results were erased from this device.';
    });

  const signOut = (device: Device) =>
    run(async () => {
      await model.client.removeDevice(device.deviceId);
      return `${device.name} is signed out: nothing more reaches it.`;
    });

  const signOutOthers = () =>
    run(async () => {
      const removed = await model.client.signOutOtherDevices();
      return `${removed} other ${removed === 1 ? 'device was' : 'devices were'} signed out.`;
    });

  const exportData = () =>
    run(async () => {
      const data = await model.client.exportData();
      const blob = new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' });
      const url = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = `parley-export-${new Date().toISOString().slice(0, 10)}.json`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      return 'Your data was exported as a JSON file.';
    });

  const deleteAccount = () =>
    run(async () => {
      await model.client.deleteAccount();
      props.onDeleted();
      return 'Account deleted.';
    });

  return (
    <section aria-labelledby="privacy-title" className="privacy">
      <h1 id="privacy-title">Privacy</h1>
      <p role="status" className="status">
        {status}
      </p>
      <Alert message={error} />

      <ProfileName model={model} />

      <div className="panel">
        <h2>Uploads from this device</h2>
        <p className="hint">
          Every request that carried data, newest first. Blinded items cannot be read by the server.
        </p>
        {log.length === 0 ? (
          <p className="empty">Nothing uploaded yet.</p>
        ) : (
          // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard
          <section className="table-wrap" aria-label="Transparency log" tabIndex={0}>
            <table className="uploads">
              <caption className="visually-hidden">Transparency log</caption>
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">What</th>
                  <th scope="col">Items</th>
                  <th scope="col">Blinded</th>
                </tr>
              </thead>
              <tbody>
                {log.slice(0, 200).map((r, i) => (
                  <tr key={`${r.at}-${i}`}>
                    <td>{new Date(r.at).toLocaleString()}</td>
                    <td>{r.description}</td>
                    <td>{r.items}</td>
                    <td>{r.blinded ? 'Yes' : 'No'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
        )}
      </div>

      <div className="panel">
        <h2>Address book</h2>
        {model.consent ? (
          <>
            <p>
              You agreed on {new Date(model.consent.grantedAt).toLocaleString()} to check your
              contacts against {new URL(model.consent.server).host}.
            </p>
            <button type="button" onClick={() => void withdraw()}>
              Withdraw consent and erase contacts
            </button>
          </>
        ) : (
          <p>You have not shared anything from your address book.</p>
        )}
      </div>

      <div className="panel">
        <h2>Who can find you</h2>
        <fieldset>
          <legend>People who have your number</legend>
          <Choice
            name="p-discoverable"
            checked={account.discoverable}
            onChoose={() => void setDiscoverable(true)}
          >
            Can find me on Parley
          </Choice>
          <Choice
            name="p-discoverable"
            checked={!account.discoverable}
            onChoose={() => void setDiscoverable(false)}
          >
            Cannot find me
          </Choice>
        </fieldset>
        <fieldset>
          <legend>Who sees when you are online</legend>
          <Choice
            name="p-presence"
            checked={account.presence === 'contacts'}
            onChoose={() => void setPresence('contacts')}
          >
            My contacts (people in my address book and people I talk to)
          </Choice>
          <Choice
            name="p-presence"
            checked={account.presence === 'nobody'}
            onChoose={() => void setPresence('nobody')}
          >
            Nobody
          </Choice>
        </fieldset>
      </div>

      <NotificationSettingsPanel model={model} />

      <LinkDevice model={model} onLinked={() => setLinked((n) => n + 1)} />

      <div className="panel">
        <h2>Your devices</h2>
        <ul className="devices" aria-label="Your devices">
          {devices?.map((d) => (
            <li key={d.deviceId}>
              <span>
                {d.name}
                {d.current ? ' (this device)' : ''}
                <span className="muted"> · added {new Date(d.createdAt).toLocaleDateString()}</span>
              </span>
              {!d.current && (
                <button
                  type="button"
                  aria-label={`Sign out ${d.name}`}
                  onClick={() => void signOut(d)}
                >
                  Sign out
                </button>
              )}
            </li>
          ))}
        </ul>
        {devices?.some((d) => !d.current) && (
          <button type="button" onClick={() => void signOutOthers()}>
            Sign out all other devices
          </button>
        )}
      </div>

      <RegistrationLock model={model} />

      <div className="panel">
        <h2>Your data</h2>
        <button type="button" onClick={() => void exportData()}>
          Export my data (JSON)
        </button>
      </div>

      <div className="panel danger">
        <h2>Delete account</h2>
        <p>
          The server erases your account, devices, keys and undelivered messages. This device
          forgets everything too.
        </p>
        {confirmDelete ? (
          <div className="actions">
            <button type="button" onClick={() => setConfirmDelete(false)}>
              Keep my account
            </button>
            <button type="button" className="destructive" onClick={() => void deleteAccount()}>
              Delete for good
            </button>
          </div>
        ) : (
          <button type="button" className="destructive" onClick={() => setConfirmDelete(true)}>
            Delete my account
          </button>
        )}
      </div>
    </section>
  );
}
