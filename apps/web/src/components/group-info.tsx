/**
 * A group's settings, in a disclosure above its messages: its name, who is in it (remove), who
 * can be added (contacts on Parley not in it yet), and leaving. Each change is an MLS message or
 * Commit the SDK sends; every member sees it as a notice.
 */

import { type FormEvent, useEffect, useState } from 'react';
import type { AppModel } from '../model/model.js';

export function GroupInfo(props: {
  model: AppModel;
  conversationId: string;
  name: string;
  members: string[];
  /** Runs a change; a refusal shows as the chat's error. */
  attempt: (work: Promise<unknown>) => void;
  onLeft: () => void;
}) {
  const { model, conversationId, members, attempt } = props;
  const m = model.client.messenger;
  const [name, setName] = useState(props.name);
  // Another member renamed it: the field follows (the panel stays open).
  useEffect(() => setName(props.name), [props.name]);
  const [adding, setAdding] = useState('');
  const addable = model.people.filter((p) => p.accountId && !members.includes(p.accountId));

  const rename = (e: FormEvent) => {
    e.preventDefault();
    attempt(m.nameConversation(conversationId, name));
  };

  return (
    <details className="group-info panel">
      <summary>Group info</summary>
      <form className="group-name" onSubmit={rename}>
        <label htmlFor="group-name">Group name</label>
        <div className="row">
          <input
            id="group-name"
            value={name}
            maxLength={100}
            placeholder="No name: shown by its members"
            onChange={(e) => setName(e.target.value)}
          />
          <button type="submit">Save name</button>
        </div>
      </form>
      <h2 id="group-members">Members</h2>
      <ul className="devices" aria-labelledby="group-members">
        {members.map((a) => (
          <li key={a}>
            <span>{model.nameOf(a)}</span>
            <button
              type="button"
              className="destructive"
              onClick={() => attempt(m.removeMembers(conversationId, [a]))}
            >
              Remove {model.nameOf(a)}
            </button>
          </li>
        ))}
      </ul>
      {addable.length > 0 && (
        <div className="row">
          <label htmlFor="group-add" className="visually-hidden">
            Person to add
          </label>
          <select id="group-add" value={adding} onChange={(e) => setAdding(e.target.value)}>
            <option value="">Add someone…</option>
            {addable.map((p) => (
              <option key={p.accountId} value={p.accountId}>
                {p.name}
              </option>
            ))}
          </select>
          <button
            type="button"
            disabled={!adding}
            onClick={() => {
              attempt(m.addMembers(conversationId, [adding]));
              setAdding('');
            }}
          >
            Add
          </button>
        </div>
      )}
      <button
        type="button"
        className="destructive"
        onClick={() => attempt(m.leave(conversationId).then(props.onLeft))}
      >
        Leave group
      </button>
    </details>
  );
}
