/**
 * Part of Contacts: the people, searchable, split into those on Parley (online or not, with a
 * Message button) and the others (with an SMS invitation).
 */

import { useState } from 'react';
import type { AppModel, Person } from '../model/model.js';
import { displayNumber } from '../model/phone.js';
import { inviteText, smsLink } from '../model/sdk.js';

export function PeopleList(props: { model: AppModel; onOpenChat: (p: Person) => void }) {
  const { model } = props;
  const [filter, setFilter] = useState('');
  if (model.people.length === 0) return <p className="empty">No contacts yet.</p>;
  const q = filter.trim().toLowerCase();
  const shown = q
    ? model.people.filter((p) => p.name.toLowerCase().includes(q) || p.phoneNumber.includes(q))
    : model.people;
  const onParley = shown.filter((p) => p.status === 'on-parley');
  const others = shown.filter((p) => p.status !== 'on-parley');
  const appUrl = location.origin;
  return (
    <div className="people">
      <label htmlFor="people-filter" className="visually-hidden">
        Search contacts
      </label>
      <input
        id="people-filter"
        type="search"
        placeholder="Search contacts"
        value={filter}
        onChange={(e) => setFilter(e.target.value)}
      />
      <h2>On Parley — free messages ({onParley.length})</h2>
      <ul className="person-list" aria-label="Contacts on Parley">
        {onParley.map((p) => {
          const online = p.accountId !== undefined && model.online.has(p.accountId);
          return (
            <li key={p.phoneNumber} className="person">
              <span className="person-name">{p.name}</span>
              <span className="person-number">{displayNumber(p.phoneNumber)}</span>
              <span className={online ? 'badge online' : 'badge'}>
                {online ? 'Online now' : 'On Parley'}
              </span>
              <button
                type="button"
                onClick={() => props.onOpenChat(p)}
                aria-label={`Message ${p.name}`}
              >
                Message
              </button>
            </li>
          );
        })}
      </ul>
      <h2>Not on Parley ({others.length})</h2>
      <ul className="person-list" aria-label="Contacts not on Parley">
        {others.slice(0, 500).map((p) => (
          <li key={p.phoneNumber} className="person">
            <span className="person-name">{p.name}</span>
            <span className="person-number">{displayNumber(p.phoneNumber)}</span>
            <span className="badge muted">
              {p.status === 'unresolved' ? 'Maybe on Parley' : 'SMS only'}
            </span>
            <a
              className="button"
              href={smsLink(p.phoneNumber, inviteText(appUrl))}
              aria-label={`Invite ${p.name} by SMS`}
            >
              Invite by SMS
            </a>
          </li>
        ))}
      </ul>
      {others.length > 500 && (
        <p className="hint">{others.length - 500} more; search to find them.</p>
      )}
    </div>
  );
}
