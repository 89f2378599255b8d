/**
 * Part of Privacy: linking a new device to this account. The new device shows a QR code and a
 * typed code; this device scans one (the camera) or takes the other (a text field), shows what asks
 * to be linked — its name and when it asked — and, once the user approves, hands it the account
 * and adds it to every conversation (the SDK's approveLink).
 */

import { type FormEvent, useState } from 'react';
import { Alert } from '../components/alert.js';
import { QrScanner } from '../components/qr-scanner.js';
import { describeError, errorCode } from '../model/errors.js';
import type { AppModel } from '../model/model.js';
import type { LinkRequest } from '../model/sdk.js';

type Step =
  | { at: 'closed' }
  | { at: 'read'; camera: boolean }
  | { at: 'confirm'; request: LinkRequest }
  | { at: 'linking'; request: LinkRequest }
  | { at: 'done'; text: string };

export function LinkDevice(props: { model: AppModel; onLinked: () => void }) {
  const { model } = props;
  const [step, setStep] = useState<Step>({ at: 'closed' });
  const [typed, setTyped] = useState('');
  const [bringContacts, setBringContacts] = useState(false);
  const [error, setError] = useState<string>();
  const [checking, setChecking] = useState(false);

  const inspect = async (text: string) => {
    setChecking(true);
    setError(undefined);
    try {
      const request = await model.client.inspectLink(text);
      setBringContacts(false);
      setStep({ at: 'confirm', request });
    } catch (e) {
      const code = errorCode(e);
      setError(
        code === 'LINK_NOT_FOUND'
          ? 'No device is waiting with this code: it expired or was used. Show a new one on the new device.'
          : describeError(e),
      );
      // A camera that read a code which failed is stopped: let the user scan again or type it.
      setStep((s) => (s.at === 'read' ? { at: 'read', camera: false } : s));
    } finally {
      setChecking(false);
    }
  };

  const submitTyped = (e: FormEvent) => {
    e.preventDefault();
    if (!typed.trim()) {
      setError('Type the code the new device shows.');
      return;
    }
    void inspect(typed);
  };

  const approve = async (request: LinkRequest) => {
    setStep({ at: 'linking', request });
    setError(undefined);
    try {
      const { conversations } = await model.client.approveLink(request, { bringContacts });
      setTyped('');
      setStep({
        at: 'done',
        text: `Linked ${request.deviceName}; added to ${conversations} ${conversations === 1 ? 'conversation' : 'conversations'}.`,
      });
      props.onLinked();
    } catch (e) {
      setError(describeError(e));
      setStep({ at: 'read', camera: false });
    }
  };

  return (
    <div className="panel link-device">
      <h2>Link a device</h2>
      <p className="hint">
        Use Parley on another phone or computer with this account: open Parley there, choose “Link
        to an existing account”, then scan or type the code it shows.
      </p>
      {(step.at === 'closed' || step.at === 'done') && (
        <>
          {step.at === 'done' && (
            <p className="status" role="status">
              {step.text}
            </p>
          )}
          <button
            type="button"
            onClick={() => {
              setError(undefined);
              setStep({ at: 'read', camera: false });
            }}
          >
            Link a device
          </button>
        </>
      )}
      {step.at === 'read' && (
        <>
          {step.camera ? (
            <>
              <QrScanner
                label="Camera view for scanning the new device’s code"
                onRead={(text) => void inspect(text)}
              />
              <button type="button" onClick={() => setStep({ at: 'read', camera: false })}>
                Stop the camera
              </button>
            </>
          ) : (
            <button type="button" onClick={() => setStep({ at: 'read', camera: true })}>
              Scan the QR code
            </button>
          )}
          <form onSubmit={submitTyped} noValidate>
            <label htmlFor="link-code-typed">Or type the code the new device shows</label>
            <input
              id="link-code-typed"
              autoComplete="off"
              autoCapitalize="characters"
              spellCheck={false}
              placeholder="XXXX-XXXX-XXXX-XXXX-XXXX-XXXX"
              value={typed}
              maxLength={64}
              onChange={(e) => setTyped(e.target.value)}
            />
            <div className="actions">
              <button type="button" onClick={() => setStep({ at: 'closed' })}>
                Cancel
              </button>
              <button type="submit" className="primary" disabled={checking}>
                {checking ? 'Checking…' : 'Check code'}
              </button>
            </div>
          </form>
        </>
      )}
      {step.at === 'confirm' && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void approve(step.request);
          }}
        >
          <p>
            Link <strong>{step.request.deviceName}</strong>, which asked at{' '}
            {new Date(step.request.createdAt).toLocaleString()}?
          </p>
          <p className="hint">
            It gets your account: it can read every conversation from now on and send as you. Only
            approve a device you hold in your hands.
          </p>
          <label className="choice">
            <input
              type="checkbox"
              checked={bringContacts}
              onChange={(e) => setBringContacts(e.target.checked)}
            />
            Bring my contacts to it
          </label>
          <div className="actions">
            <button type="button" onClick={() => setStep({ at: 'closed' })}>
              Cancel
            </button>
            <button type="submit" className="primary">
              Link
            </button>
          </div>
        </form>
      )}
      {step.at === 'linking' && (
        <p className="status" role="status">
          Linking {step.request.deviceName}… it joins your conversations once it is ready.
        </p>
      )}
      <Alert message={error} />
    </div>
  );
}
