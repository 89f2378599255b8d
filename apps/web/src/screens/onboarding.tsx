/**
 * Onboarding: the user's number, the code texted to it (checked on its own screen, with the tries
 * left, and a new code on request within the server's limits), then two explicit choices — whether people
 * who have the number may find them, and who may see them online — with nothing pre-selected, and
 * a name for this device. A number whose account has a registration lock asks for its PIN; a
 * number that had an account is told plainly that its old devices were signed out. Or, instead of
 * all that, this device is linked to an account another device already holds.
 */

import { type FormEvent, useEffect, useState } from 'react';
import { Alert } from '../components/alert.js';
import { Choice } from '../components/choice.js';
import { PhoneInput } from '../components/phone-input.js';
import { defaultDeviceName } from '../model/device-name.js';
import { describeError, errorCode, errorDetails, retryAfterMs } from '../model/errors.js';
import type { AppModel } from '../model/model.js';
import { type CountryCode, guessRegion } from '../model/phone.js';
import { formatWait, type PresenceVisibility } from '../model/sdk.js';
import { LinkNewDevice } from './link-new-device.js';

type Step =
  | { at: 'number' }
  | { at: 'code'; verificationId: string }
  | { at: 'choices'; verificationId: string; code: string }
  | { at: 'pin'; verificationId: string; code: string; attemptsLeft: number | undefined }
  | { at: 'existing' }
  | { at: 'link' };

export function Onboarding(props: {
  model: AppModel;
  /** Where to begin: the number (registering), or linking (from the signed-out screen). */
  start?: 'register' | 'link';
  onDone: (how: 'registered' | 'linked') => void;
  /** Shown as a way back when onboarding was opened from the signed-out screen. */
  onBack?: () => void;
}) {
  const { model } = props;
  const [step, setStep] = useState<Step>({ at: props.start === 'link' ? 'link' : 'number' });
  const [pin, setPin] = useState('');
  const [region, setRegion] = useState<CountryCode>(guessRegion);
  const [number, setNumber] = useState('');
  const [code, setCode] = useState('');
  const [discoverable, setDiscoverable] = useState<'yes' | 'no' | ''>('');
  const [presence, setPresence] = useState<PresenceVisibility | ''>('');
  const [deviceName, setDeviceName] = useState(defaultDeviceName);
  const [profileName, setProfileName] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  /** Said on the code screen after a new code was sent. */
  const [sent, setSent] = useState<string>();
  /** When another code may be asked for (the server said how long to wait); undefined: now. */
  const [resendAt, setResendAt] = useState<number>();

  useEffect(() => {
    if (resendAt === undefined) return;
    // A timer past 2^31 - 1 ms fires at once: the button would come back while the wait stands.
    const wait = Math.min(2 ** 31 - 1, Math.max(0, resendAt - Date.now()));
    const timer = setTimeout(() => setResendAt(undefined), wait);
    return () => clearTimeout(timer);
  }, [resendAt]);

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
      const { verificationId } = await model.client.requestCode(number, region);
      setStep({ at: 'code', verificationId });
    });
  };

  /** The code is checked here, before the questions: a wrong one is said where it was typed. */
  const confirmCode = (e: FormEvent) => {
    e.preventDefault();
    if (step.at !== 'code') return;
    const entered = code.trim();
    if (!/^\d{6}$/.test(entered)) {
      setError('The code has 6 digits.');
      return;
    }
    const { verificationId } = step;
    void run(async () => {
      setSent(undefined);
      try {
        await model.client.checkCode(verificationId, entered);
      } catch (err) {
        const left = errorDetails(err).attemptsLeft;
        if (errorCode(err) === 'VERIFICATION_CODE_INCORRECT' && typeof left === 'number') {
          throw new Error(
            `That code is not right: ${left} ${left === 1 ? 'try' : 'tries'} left. Check the SMS, or send a new code.`,
          );
        }
        throw err;
      }
      setStep({ at: 'choices', verificationId, code: entered });
    });
  };

  /** Another SMS, as the server's limits allow; when they do not, how long to wait. */
  const resendCode = () =>
    run(async () => {
      setSent(undefined);
      try {
        const { verificationId } = await model.client.requestCode(number, region);
        setCode('');
        setStep({ at: 'code', verificationId });
        setSent('A new code is on its way. Use the newest one.');
      } catch (err) {
        const wait = retryAfterMs(err);
        if (errorCode(err) === 'VERIFICATION_RATE_LIMITED' && typeof wait === 'number') {
          setResendAt(Date.now() + wait);
          throw new Error(
            `No more codes for now: you can ask for another in ${formatWait(wait)}. The last code still works until it expires.`,
          );
        }
        throw err;
      }
    });

  /** Registers with the answers given; with the PIN when the number's account is locked. */
  const submit = (verificationId: string, smsCode: string, lockPin?: string) =>
    run(async () => {
      if (!presence) return;
      let result: Awaited<ReturnType<typeof model.client.register>>;
      try {
        result = await model.client.register({
          verificationId,
          code: smsCode,
          discoverable: discoverable === 'yes',
          presence,
          deviceName: deviceName.trim(),
          profileName: profileName.trim(),
          ...(lockPin ? { registrationLockPin: lockPin } : {}),
        });
      } catch (err) {
        const code = errorCode(err);
        if (code === 'REGISTRATION_LOCKED') {
          // The verification stays valid: the same registration is tried again with the PIN.
          const left = errorDetails(err).attemptsLeft;
          setPin('');
          setStep({
            at: 'pin',
            verificationId,
            code: smsCode,
            attemptsLeft: typeof left === 'number' ? left : undefined,
          });
          if (lockPin) throw new Error('That PIN is not right.');
          return;
        }
        if (code === 'REGISTRATION_LOCK_ATTEMPTS_EXCEEDED') {
          const until = errorDetails(err).unlocksAt;
          throw new Error(
            typeof until === 'string'
              ? `Too many wrong PINs. You can try again after ${new Date(until).toLocaleString()}.`
              : describeError(err),
          );
        }
        // A wrong or expired code is fixed on the code screen.
        if (!lockPin) setStep({ at: 'code', verificationId });
        throw err;
      }
      if (result.existingAccount) setStep({ at: 'existing' });
      else props.onDone('registered');
    });

  const register = (e: FormEvent) => {
    e.preventDefault();
    if (step.at !== 'choices') return;
    if (!discoverable || !presence) {
      setError('Please answer both questions; there is no default.');
      return;
    }
    if (!profileName.trim()) {
      setError('Choose the name people you message will see.');
      return;
    }
    if (!deviceName.trim()) {
      setError('Give this device a name, so you can recognise it later.');
      return;
    }
    void submit(step.verificationId, step.code);
  };

  const unlock = (e: FormEvent) => {
    e.preventDefault();
    if (step.at !== 'pin') return;
    if (pin.length < 4) {
      setError('The PIN has at least 4 characters.');
      return;
    }
    void submit(step.verificationId, step.code, pin);
  };

  if (step.at === 'link') {
    return (
      <main className="onboarding" aria-labelledby="onboarding-title">
        <h1 id="onboarding-title">Welcome to Parley</h1>
        <LinkNewDevice
          model={model}
          onDone={() => props.onDone('linked')}
          onCancel={() => (props.onBack ? props.onBack() : setStep({ at: 'number' }))}
        />
      </main>
    );
  }

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
          <div className="alternative">
            <h2>Already use Parley on another device?</h2>
            <p className="hint">
              Link this one to your account instead: no code by SMS, and your conversations come
              along.
            </p>
            <button
              type="button"
              onClick={() => {
                setError(undefined);
                setStep({ at: 'link' });
              }}
            >
              Link to an existing account
            </button>
            {props.onBack && (
              <button type="button" onClick={props.onBack}>
                Back
              </button>
            )}
          </div>
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
          {sent && (
            <p className="hint" role="status">
              {sent}
            </p>
          )}
          <div className="actions">
            <button
              type="button"
              onClick={() => {
                setCode('');
                setError(undefined);
                setSent(undefined);
                setStep({ at: 'number' });
              }}
            >
              Change number
            </button>
            <button
              type="button"
              disabled={busy || resendAt !== undefined}
              onClick={() => void resendCode()}
            >
              Send a new code
            </button>
            <button type="submit" className="primary" disabled={busy}>
              {busy ? 'Checking…' : 'Continue'}
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
              My contacts (people in my address book and people I talk to)
            </Choice>
            <Choice
              name="presence"
              checked={presence === 'nobody'}
              onChoose={() => setPresence('nobody')}
            >
              Nobody
            </Choice>
          </fieldset>
          <label htmlFor="profile-name">Your name</label>
          <input
            id="profile-name"
            value={profileName}
            maxLength={64}
            autoComplete="name"
            aria-describedby="profile-name-hint"
            onChange={(e) => setProfileName(e.target.value)}
          />
          <p id="profile-name-hint" className="hint">
            People you message see it, also those who do not have you in their contacts. It is
            encrypted: the server cannot read it. You can change it later under Privacy.
          </p>
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
      {step.at === 'pin' && (
        <form onSubmit={unlock} noValidate>
          <h2>This number has a registration lock</h2>
          <p>
            Whoever uses Parley with this number set a PIN, so that a code by SMS alone cannot take
            the account. If that is you, enter your registration lock PIN. Otherwise, wait until the
            lock lapses (7 days after the account was last used).
          </p>
          <label htmlFor="lock-pin">Registration lock PIN</label>
          <input
            id="lock-pin"
            type="password"
            autoComplete="off"
            // biome-ignore lint/a11y/noAutofocus: the PIN is the only thing this step asks for
            autoFocus
            value={pin}
            maxLength={64}
            aria-invalid={error ? true : undefined}
            aria-describedby={step.attemptsLeft !== undefined ? 'lock-pin-hint' : undefined}
            onChange={(e) => setPin(e.target.value)}
          />
          {step.attemptsLeft !== undefined && (
            <p id="lock-pin-hint" className="hint">
              {step.attemptsLeft} {step.attemptsLeft === 1 ? 'attempt' : 'attempts'} left.
            </p>
          )}
          <Alert message={error} />
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Checking…' : 'Continue'}
          </button>
        </form>
      )}
      {step.at === 'existing' && (
        <div className="existing-account">
          <h2>This number had a Parley account</h2>
          <p role="alert">
            Its other devices were signed out, and this device starts a new identity: your contacts
            will see that your safety number changed. Nothing of the old devices — conversations,
            messages, contacts — comes to this one.
          </p>
          <p className="hint">
            To keep your conversations next time, link a new device from one you already use instead
            of registering again.
          </p>
          <button type="button" className="primary" onClick={() => props.onDone('registered')}>
            Continue
          </button>
        </div>
      )}
    </main>
  );
}
