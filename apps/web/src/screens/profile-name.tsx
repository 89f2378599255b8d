/** Part of Privacy: the user's profile name, as the people they message see it, and changing it. */

import { type FormEvent, useState } from 'react';
import { Alert } from '../components/alert.js';
import { describeError } from '../model/errors.js';
import { type AppModel, useModel } from '../model/model.js';

export function ProfileName(props: { model: AppModel }) {
  const model = useModel(props.model);
  const [name, setName] = useState(model.profileName ?? '');
  const [status, setStatus] = useState<string>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    setStatus(undefined);
    try {
      await model.setProfileName(name);
      setStatus(`Saved. People you message now see “${model.profileName}”.`);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form
      className="panel"
      onSubmit={(e) => void save(e)}
      aria-labelledby="profile-title"
      noValidate
    >
      <h2 id="profile-title">Your profile</h2>
      <label htmlFor="profile-name-edit">Your name</label>
      <input
        id="profile-name-edit"
        value={name}
        maxLength={64}
        autoComplete="name"
        onChange={(e) => setName(e.target.value)}
      />
      <p className="hint">
        Shown to the people you message, also those who do not have you in their contacts. It is
        encrypted with a key only they and your devices hold: the server cannot read it.
      </p>
      <Alert message={error} />
      <button type="submit" disabled={busy || !name.trim()}>
        {busy ? 'Saving…' : 'Save name'}
      </button>
      <p role="status">{status}</p>
    </form>
  );
}
