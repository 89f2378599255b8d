/**
 * Onboarding: the user's number, the code texted to it, then two explicit choices — whether people
 * who have the number may find them, and who may see them online — with nothing pre-selected, and
 * a name for this device.
 */

import { type FormEvent, useState } from 'react';
import { Alert } from '../components/alert.js';
import { Choice } from '../components/choice.js';
import { PhoneInput } from '../components/phone-input.js';
import { defaultDeviceName } from '../model/device-name.js';
import { describeError } from '../model/errors.js';
import type { AppModel } from '../model/model.js';
import { type CountryCode, guessRegion, withRegion } from '../model/phone.js';
import type { PresenceVisibility } from '../model/sdk.js';

type Step =
  | { at: 'number' }
  | { at: 'code'; verificationId: string }
  | { at: 'choices'; verificationId: string; code: string };

export function Onboarding(props: { model: AppModel; onDone: () => void }) {
  const { model } = props;
  const [step, setStep] = useState<Step>({ at: 'number' });
  const [region, setRegion] = useState<CountryCode>(guessRegion);
  const [number, setNumber] = useState('');
  const [code, setCode] = useState('');
  const [discoverable, setDiscoverable] = useState<'yes' | 'no' | ''>('');
  const [presence, setPresence] = useState<PresenceVisibility | ''>('');
  const [deviceName, setDeviceName] = useState(defaultDeviceName);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  async function run(task: () => Promise<void>) {
    setBusy(true);
    setError(undefined);
    try {
      await task();
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  }

  const sendCode = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      await model.setRegion(region);
      const { verificationId } = await model.client.requestCode(withRegion(number, region));
      setStep({ at: 'code', verificationId });
    });
  };

  const confirmCode = (e: FormEvent) => {
    e.preventDefault();
    if (step.at !== 'code') return;
    if (!/^\d{6}$/.test(code.trim())) {
      setError('The code has 6 digits.');
      return;
    }
    setError(undefined);
    setStep({ at: 'choices', verificationId: step.verificationId, code: code.trim() });
  };

  const register = (e: FormEvent) => {
    e.preventDefault();
    if (step.at !== 'choices') return;
    if (!discoverable || !presence) {
      setError('Please answer both questions; there is no default.');
      return;
    }
    if (!deviceName.trim()) {
      setError('Give this device a name, so you can recognise it later.');
      return;
    }
    void run(async () => {
      try {
        await model.client.register({
          verificationId: step.verificationId,
          code: step.code,
          discoverable: discoverable === 'yes',
          presence,
          deviceName: deviceName.trim(),
        });
      } catch (err) {
        // A wrong or expired code is fixed on the code screen.
        setStep({ at: 'code', verificationId: step.verificationId });
        throw err;
      }
      props.onDone();
    });
  };

  return (
    <main className="onboarding" aria-labelledby="onboarding-title">
      <h1 id="onboarding-title">Welcome to Parley</h1>
      <p className="lead">
        Free, end-to-end encrypted messages to the people in your contacts who can receive them.
      </p>
      {step.at === 'number' && (
        <form onSubmit={sendCode} noValidate>
          <PhoneInput
            label="Your phone number"
            region={region}
            onRegion={setRegion}
            value={number}
            onChange={setNumber}
            error={error}
            autoFocus
          />
          <p className="hint">
            We text you a code to check the number is yours. The server keeps no phone number, not
            even yours.
          </p>
          <button type="submit" className="primary" disabled={busy || number.trim() === ''}>
            {busy ? 'Sending…' : 'Send code'}
          </button>
        </form>
      )}
      {step.at === 'code' && (
        <form onSubmit={confirmCode} noValidate>
          <label htmlFor="code">The 6-digit code we texted you</label>
          <input
            id="code"
            inputMode="numeric"
            autoComplete="one-time-code"
            pattern="\d{6}"
            maxLength={6}
            // biome-ignore lint/a11y/noAutofocus: the code is the only thing this screen asks for
            autoFocus
            value={code}
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? 'code-error' : undefined}
            onChange={(e) => setCode(e.target.value.replace(/\D/g, ''))}
          />
          <Alert id="code-error" message={error} />
          <div className="actions">
            <button
              type="button"
              onClick={() => {
                setCode('');
                setError(undefined);
                setStep({ at: 'number' });
              }}
            >
              Change number
            </button>
            <button type="submit" className="primary">
              Continue
            </button>
          </div>
        </form>
      )}
      {step.at === 'choices' && (
        <form onSubmit={register} noValidate>
          <fieldset>
            <legend>May people who have your number find you on Parley?</legend>
            <Choice
              name="discoverable"
              checked={discoverable === 'yes'}
              onChoose={() => setDiscoverable('yes')}
            >
              Yes — people who have my number can see I am on Parley and message me for free
            </Choice>
            <Choice
              name="discoverable"
              checked={discoverable === 'no'}
              onChoose={() => setDiscoverable('no')}
            >
              No — only people I message first can reach me
            </Choice>
          </fieldset>
          <fieldset>
            <legend>Who may see when you are online?</legend>
            <Choice
              name="presence"
              checked={presence === 'contacts'}
              onChoose={() => setPresence('contacts')}
            >
              People who have my number and found me
            </Choice>
            <Choice
              name="presence"
              checked={presence === 'nobody'}
              onChoose={() => setPresence('nobody')}
            >
              Nobody
            </Choice>
          </fieldset>
          <label htmlFor="device-name">Name of this device</label>
          <input
            id="device-name"
            value={deviceName}
            maxLength={64}
            onChange={(e) => setDeviceName(e.target.value)}
          />
          <p className="hint">You can change both choices later under Privacy.</p>
          <Alert message={error} />
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Creating your account…' : 'Create account'}
          </button>
        </form>
      )}
    </main>
  );
}
