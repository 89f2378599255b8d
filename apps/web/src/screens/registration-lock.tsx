/**
 * Part of Privacy: the registration lock. While it is on, registering this number by SMS code
 * alone is refused unless the PIN is given, for as long as the account is in use — which stops a
 * SIM swapper. The server keeps a slow hash of the PIN, so it does not stop the operator; that is
 * what the safety-number notice to contacts is for.
 */

import { type FormEvent, useEffect, useState } from 'react';
import { Alert } from '../components/alert.js';
import { describeError } from '../model/errors.js';
import type { AppModel } from '../model/model.js';

export function RegistrationLock(props: { model: AppModel }) {
  const { model } = props;
  const [on, setOn] = useState<boolean>();
  const [pin, setPin] = useState('');
  const [again, setAgain] = useState('');
  const [status, setStatus] = useState<string>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    void model.client
      .getAccount()
      .then((a) => setOn(a.registrationLock))
      .catch(() => setOn(undefined));
  }, [model]);

  async function run(task: () => Promise<string>) {
    setBusy(true);
    setError(undefined);
    setStatus(undefined);
    try {
      setStatus(await task());
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  }

  const turnOn = (e: FormEvent) => {
    e.preventDefault();
    if (pin.length < 4 || pin.length > 64) {
      setError('Choose a PIN of 4 to 64 characters.');
      return;
    }
    if (pin !== again) {
      setError('The two PINs differ. Type the same PIN twice.');
      return;
    }
    void run(async () => {
      await model.client.setRegistrationLock(pin);
      setPin('');
      setAgain('');
      setOn(true);
      return 'Registration lock is on. Keep the PIN safe: you need it to register this number again.';
    });
  };

  const turnOff = () =>
    void run(async () => {
      await model.client.clearRegistrationLock();
      setOn(false);
      return 'Registration lock is off.';
    });

  return (
    <div className="panel">
      <h2>Registration lock</h2>
      <p className="hint">
        With a PIN, nobody who gets a code sent to your number — after a SIM swap, say — can
        register it while you use Parley. It does not stop the server’s operator, who keeps a hash
        of the PIN; your contacts would see your safety number change.
      </p>
      <p role="status" className="status">
        {status}
      </p>
      {on === true && (
        <>
          <p>Registration lock is on.</p>
          <div className="actions">
            <button type="button" disabled={busy} onClick={turnOff}>
              Turn off registration lock
            </button>
          </div>
        </>
      )}
      {on === false && (
        <form onSubmit={turnOn} noValidate>
          <label htmlFor="lock-new-pin">New PIN</label>
          <input
            id="lock-new-pin"
            type="password"
            autoComplete="new-password"
            value={pin}
            maxLength={64}
            onChange={(e) => setPin(e.target.value)}
          />
          <label htmlFor="lock-new-pin-again">The same PIN again</label>
          <input
            id="lock-new-pin-again"
            type="password"
            autoComplete="new-password"
            value={again}
            maxLength={64}
            onChange={(e) => setAgain(e.target.value)}
          />
          <div className="actions">
            <button type="submit" disabled={busy}>
              Turn on registration lock
            </button>
          </div>
        </form>
      )}
      <Alert message={error} />
    </div>
  );
}
