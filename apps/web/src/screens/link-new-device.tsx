/**
 * Linking this device to an existing account (part of onboarding, and of the signed-out screen):
 * it asks the server for a link request, shows its QR code and typed code, and waits until a
 * device of the account approves. The QR code carries this device's key; the typed code commits
 * to it, so the server cannot swap the key on either path (the SDK checks on the approving side).
 */

import { type FormEvent, useEffect, useRef, useState } from 'react';
import { Alert } from '../components/alert.js';
import { defaultDeviceName } from '../model/device-name.js';
import { describeError, errorCode } from '../model/errors.js';
import type { AppModel } from '../model/model.js';
import { qrImageUrl } from '../model/qr.js';
import type { PendingLink } from '../model/sdk.js';

export function LinkNewDevice(props: {
  model: AppModel;
  onDone: () => void;
  onCancel: () => void;
}) {
  const { model } = props;
  const [deviceName, setDeviceName] = useState(defaultDeviceName);
  const [link, setLink] = useState<PendingLink>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const waiting = useRef<AbortController | undefined>(undefined);

  // Leaving the screen stops the polling; the request lapses on the server by itself.
  useEffect(() => () => waiting.current?.abort(), []);

  const start = (e: FormEvent) => {
    e.preventDefault();
    if (!deviceName.trim()) {
      setError('Give this device a name, so you can recognise it on your other devices.');
      return;
    }
    setBusy(true);
    setError(undefined);
    void (async () => {
      let pending: PendingLink;
      try {
        pending = await model.client.startLink({ deviceName: deviceName.trim() });
      } catch (err) {
        setError(describeError(err));
        setBusy(false);
        return;
      }
      setLink(pending);
      setBusy(false);
      const controller = new AbortController();
      waiting.current = controller;
      try {
        await pending.wait({ signal: controller.signal });
        props.onDone();
      } catch (err) {
        if (controller.signal.aborted) return;
        setLink(undefined);
        setError(
          errorCode(err) === 'LINK_EXPIRED'
            ? 'The link code expired before it was used. Show a new one.'
            : describeError(err),
        );
      }
    })();
  };

  const cancel = () => {
    waiting.current?.abort();
    props.onCancel();
  };

  if (!link) {
    return (
      <form onSubmit={start} noValidate>
        <h2>Link to an existing account</h2>
        <p>
          This device shows a code; your phone or computer that already uses Parley scans or types
          it, and hands this device your account — its conversations too — end-to-end encrypted.
        </p>
        <label htmlFor="link-device-name">Name of this device</label>
        <input
          id="link-device-name"
          value={deviceName}
          maxLength={64}
          onChange={(e) => setDeviceName(e.target.value)}
        />
        <Alert message={error} />
        <div className="actions">
          <button type="button" onClick={cancel}>
            Back
          </button>
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Asking…' : 'Show link code'}
          </button>
        </div>
      </form>
    );
  }

  return (
    <div className="link-new-device">
      <h2>Link to an existing account</h2>
      <ol className="steps">
        <li>On a device that already uses Parley, open Privacy and choose “Link a device”.</li>
        <li>Scan this code with it, or type the code below.</li>
        <li>Check that it shows “{deviceName.trim()}”, and approve.</li>
      </ol>
      <img
        className="qr"
        src={qrImageUrl(link.qr)}
        width={240}
        height={240}
        alt="QR code that links this device"
      />
      <p>Or type this code:</p>
      <p className="link-code">{link.code}</p>
      <p className="hint">
        Valid until{' '}
        {new Date(link.expiresAt).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}.
      </p>
      <p role="status" className="status">
        Waiting for your other device to approve…
      </p>
      <button type="button" onClick={cancel}>
        Cancel
      </button>
    </div>
  );
}
