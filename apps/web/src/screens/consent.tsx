/**
 * Informed consent, shown before anything of the address book is read: what leaves the device,
 * to which server, what never does, and how to withdraw. Declining leaves a working app.
 */

import { useState } from 'react';
import { Alert } from '../components/alert.js';
import { describeError } from '../model/errors.js';
import type { AppModel } from '../model/model.js';

export function ConsentScreen(props: { model: AppModel; onDone: (granted: boolean) => void }) {
  const { model } = props;
  const disclosure = model.client.consent.disclosure();
  const server = new URL(model.client.serverUrl).host;
  const [error, setError] = useState<string>();

  const agree = async () => {
    try {
      await model.grantConsent();
      props.onDone(true);
    } catch (e) {
      setError(describeError(e));
    }
  };

  return (
    <section className="consent" aria-labelledby="consent-title">
      <h1 id="consent-title">Before Parley looks at your contacts</h1>
      <p className="lead">
        Parley can tell you which of your contacts can receive free messages. Nothing from your
        address book has been read yet. This is exactly what would happen:
      </p>
      <h2>What leaves this device, to {server}</h2>
      <ul>
        {disclosure.leavesDevice.map((line) => (
          <li key={line}>{line}</li>
        ))}
      </ul>
      <h2>What never leaves this device</h2>
      <ul>
        {disclosure.staysOnDevice.map((line) => (
          <li key={line}>{line}</li>
        ))}
      </ul>
      <h2>What the server keeps</h2>
      <ul>
        {(disclosure.kept ?? []).map((line) => (
          <li key={line}>{line}</li>
        ))}
      </ul>
      <p>Every upload is listed under Privacy, with its time, what it was and how many items.</p>
      <h2>Changing your mind</h2>
      <p>{disclosure.withdraw} Go to Privacy → Withdraw.</p>
      <Alert message={error} />
      <div className="actions">
        <button type="button" onClick={() => props.onDone(false)}>
          Not now
        </button>
        <button type="button" className="primary" onClick={() => void agree()}>
          Agree and choose contacts
        </button>
      </div>
      <p className="hint">Without this you can still add a contact by typing their number.</p>
    </section>
  );
}
