/**
 * Shown when the server refuses this device's credential: another device signed it out, or the
 * number was registered again (a new identity). Never a dead end — the device can be linked to
 * the account again from a device that holds it, or registered again by SMS.
 */

export function SignedOut(props: { reason: string; onLink: () => void; onRegister: () => void }) {
  return (
    <main className="onboarding" aria-labelledby="signed-out-title">
      <h1 id="signed-out-title">This device is signed out</h1>
      <p role="alert">{props.reason}</p>
      <p>
        Messages no longer reach this device. To use Parley here again, link it from a device that
        still uses your account — your conversations come along — or register your number again,
        which starts a new identity: your other devices are then signed out too.
      </p>
      <div className="actions">
        <button type="button" className="primary" onClick={props.onLink}>
          Link this device
        </button>
        <button type="button" onClick={props.onRegister}>
          Register again
        </button>
      </div>
    </main>
  );
}
