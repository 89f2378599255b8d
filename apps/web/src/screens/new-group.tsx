/** Starting a group chat: choose members among the contacts who are on Parley. */

import { type FormEvent, useState } from 'react';
import { Alert } from '../components/alert.js';
import { describeError } from '../model/errors.js';
import { type AppModel, useModel } from '../model/model.js';

export function NewGroup(props: {
  model: AppModel;
  onCreated: (id: string) => void;
  onCancel: () => void;
}) {
  const model = useModel(props.model);
  const [chosen, setChosen] = useState<Set<string>>(new Set());
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const candidates = model.people.filter((p) => p.accountId);

  const create = async (e: FormEvent) => {
    e.preventDefault();
    if (chosen.size === 0) {
      setError('Choose at least one person.');
      return;
    }
    setBusy(true);
    try {
      const c = await model.client.messenger.createConversation([...chosen]);
      await model.refreshConversations();
      props.onCreated(c.id);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="group-title">
      <h1 id="group-title">New group</h1>
      {candidates.length === 0 ? (
        <p className="empty">None of your contacts is on Parley yet.</p>
      ) : (
        <form onSubmit={(e) => void create(e)}>
          <fieldset>
            <legend>Members</legend>
            {candidates.map((p) => (
              <label key={p.accountId} className="choice">
                <input
                  type="checkbox"
                  checked={chosen.has(p.accountId!)}
                  onChange={(e) => {
                    const next = new Set(chosen);
                    if (e.target.checked) next.add(p.accountId!);
                    else next.delete(p.accountId!);
                    setChosen(next);
                  }}
                />
                {p.name}
              </label>
            ))}
          </fieldset>
          <Alert message={error} />
          <div className="actions">
            <button type="button" onClick={props.onCancel}>
              Cancel
            </button>
            <button type="submit" className="primary" disabled={busy}>
              {busy ? 'Creating…' : 'Create group'}
            </button>
          </div>
        </form>
      )}
    </section>
  );
}
