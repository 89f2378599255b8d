/**
 * The safety number shared with one contact: 60 digits in 12 groups and a QR code, both derived
 * from the two accounts' identity keys and equal on both sides. The user compares the digits in
 * person (or over a call) and marks the contact verified, or scans the QR code on the contact's
 * screen; after a key change, accepts the new number here or verifies it again.
 */

import { useCallback, useEffect, useState } from 'react';
import { Alert } from '../components/alert.js';
import { QrScanner } from '../components/qr-scanner.js';
import { describeError } from '../model/errors.js';
import { type AppModel, useModel } from '../model/model.js';
import { qrImageUrl } from '../model/qr.js';
import type { SafetyNumber } from '../model/sdk.js';

export function SafetyNumberScreen(props: {
  model: AppModel;
  accountId: string;
  onBack: () => void;
}) {
  const model = useModel(props.model);
  const { accountId } = props;
  const name = model.nameOf(accountId);
  const [number, setNumber] = useState<SafetyNumber>();
  const [scanning, setScanning] = useState(false);
  const [status, setStatus] = useState<string>();
  const [error, setError] = useState<string>();

  const load = useCallback(async () => {
    try {
      setNumber(await model.client.safetyNumber(accountId));
    } catch (e) {
      setError(describeError(e));
    }
  }, [model, accountId]);

  // Reread when the contact's key changes while this screen is open.
  const changed = model.keyChanges[accountId] !== undefined;
  useEffect(() => {
    void load();
  }, [load, changed]);

  async function run(task: () => Promise<string>) {
    setError(undefined);
    setStatus(undefined);
    try {
      setStatus(await task());
    } catch (e) {
      setError(describeError(e));
    }
  }

  const markVerified = () =>
    run(async () => {
      setNumber(await model.client.verifySafetyNumber(accountId));
      model.clearKeyChange(accountId);
      return `${name} is marked as verified.`;
    });

  const scanned = (text: string) => {
    setScanning(false);
    void run(async () => {
      setNumber(await model.client.verifySafetyNumber(accountId, text));
      model.clearKeyChange(accountId);
      return `The codes match: ${name} is verified.`;
    });
  };

  const unverify = () =>
    run(async () => {
      setNumber(await model.client.unverifySafetyNumber(accountId));
      return `${name} is no longer marked as verified.`;
    });

  const accept = () =>
    run(async () => {
      await model.acceptKeyChange(accountId);
      await load();
      return `You accepted ${name}’s new safety number.`;
    });

  return (
    <section className="safety" aria-labelledby="safety-title">
      <div className="title-row">
        <button type="button" className="back" onClick={props.onBack} aria-label="Back">
          ←
        </button>
        <h1 id="safety-title">Safety number with {name}</h1>
      </div>
      <p>
        If this number is the same on {name}’s screen, your messages reach only {name}’s devices:
        nobody in between — not even the server — swapped a key. Compare it in person or on a call,
        or scan the code on their screen.
      </p>
      <p role="status" className="status">
        {status}
      </p>
      <Alert message={error} />
      {number && (
        <>
          {number.blocked && (
            <div className="key-change" role="alert">
              <p>
                {name}’s safety number changed, and you had verified the old one. Nothing is sent to
                {` ${name}`} until you accept the new number or verify it again.
              </p>
              <button type="button" onClick={() => void accept()}>
                Accept the new number
              </button>
            </div>
          )}
          <p className={number.verified ? 'verified' : 'muted'}>
            {number.verified ? '✓ Verified' : 'Not verified'}
          </p>
          <ol className="safety-digits" aria-label="Safety number">
            {number.groups.map((g, i) => (
              <li key={i}>{g}</li>
            ))}
          </ol>
          <img
            className="qr"
            src={qrImageUrl(number.scannable)}
            width={200}
            height={200}
            alt={`QR code of your safety number with ${name}, for them to scan`}
          />
          <div className="actions">
            {number.verified ? (
              <button type="button" onClick={() => void unverify()}>
                Clear verification
              </button>
            ) : (
              <button type="button" className="primary" onClick={() => void markVerified()}>
                Mark as verified
              </button>
            )}
            <button type="button" onClick={() => setScanning((s) => !s)}>
              {scanning ? 'Stop the camera' : 'Scan their code'}
            </button>
          </div>
          {scanning && (
            <QrScanner label={`Camera view for scanning ${name}’s code`} onRead={scanned} />
          )}
        </>
      )}
    </section>
  );
}
