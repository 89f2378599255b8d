/**
 * The list of chats, newest first, with each one's last message, its time and unread count; a
 * search across every chat's title and messages, run on this device only; and above the chats,
 * the message requests (conversations started by people not in the user's contacts), each with
 * its answers: accept, delete, block, or report as spam.
 */

import { useEffect, useState } from 'react';
import { Alert } from '../components/alert.js';
import { describeError } from '../model/errors.js';
import { type AppModel, type ConversationView, useModel } from '../model/model.js';
import { listTime } from '../model/reading.js';
import { type SearchHit, searchChats } from '../model/search.js';

export function ChatList(props: {
  model: AppModel;
  onOpen: (id: string) => void;
  onNewGroup: () => void;
}) {
  const model = useModel(props.model);
  const [query, setQuery] = useState('');
  const [hits, setHits] = useState<SearchHit[]>();

  // Searched again as the words or the chats change; an older search's answer is dropped.
  const version = model.getVersion();
  useEffect(() => {
    if (!query.trim()) {
      setHits(undefined);
      return;
    }
    let current = true;
    void searchChats(model, query).then((found) => {
      if (current) setHits(found);
    });
    return () => {
      current = false;
    };
  }, [model, query, version]);

  const requests = model.conversations.filter((c) => c.request && c.active);
  const chats = model.conversations.filter((c) => !c.request);
  return (
    <section aria-labelledby="chats-title" className="chats">
      <div className="title-row">
        <h1 id="chats-title">Chats</h1>
        <button type="button" onClick={props.onNewGroup}>
          New group
        </button>
      </div>
      {requests.length > 0 && <Requests model={model} requests={requests} onOpen={props.onOpen} />}
      {model.conversations.length > 0 && (
        <search className="chat-search">
          <label htmlFor="chat-search" className="visually-hidden">
            Search chats
          </label>
          <input
            id="chat-search"
            type="search"
            placeholder="Search chats and messages"
            autoComplete="off"
            value={query}
            onChange={(e) => setQuery(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === 'Escape') setQuery('');
            }}
          />
        </search>
      )}
      {hits ? (
        <SearchResults hits={hits} onOpen={props.onOpen} />
      ) : chats.length === 0 ? (
        <p className="empty">No chats yet. Open Contacts and message someone on Parley.</p>
      ) : (
        <ul className="chat-list">
          {chats.map((c) => (
            <li key={c.id}>
              <button type="button" className="chat-item" onClick={() => props.onOpen(c.id)}>
                <span className="chat-title">{c.title}</span>
                <span className="chat-time">{listTime(c.last?.sentAt ?? '')}</span>
                <span className="chat-last">
                  {c.last ? model.messageText(c.last) : 'No messages yet'}
                </span>
                {c.unread > 0 && (
                  <span className="unread">
                    {c.unread}
                    <span className="visually-hidden"> unread</span>
                  </span>
                )}
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function SearchResults(props: { hits: SearchHit[]; onOpen: (id: string) => void }) {
  const { hits } = props;
  return (
    <>
      <p className="hint" role="status">
        {hits.length === 0 ? 'Nothing found.' : `${hits.length} found`}
      </p>
      <ul className="chat-list" aria-label="Search results">
        {hits.map((h) => (
          <li key={`${h.conversationId}:${h.messageId ?? ''}`}>
            <button
              type="button"
              className="chat-item"
              onClick={() => props.onOpen(h.conversationId)}
            >
              <span className="chat-title">{h.title}</span>
              <span className="chat-time">{h.sentAt ? listTime(h.sentAt) : ''}</span>
              <span className="chat-last">{h.text ?? 'Chat'}</span>
            </button>
          </li>
        ))}
      </ul>
    </>
  );
}

/** The requests, each with what it says and the user's answers. */
function Requests(props: {
  model: AppModel;
  requests: ConversationView[];
  onOpen: (id: string) => void;
}) {
  const { model } = props;
  const [error, setError] = useState<string>();
  const act = (work: () => Promise<void>) => {
    setError(undefined);
    work().catch((e: unknown) => setError(describeError(e)));
  };
  return (
    <section aria-labelledby="requests-title" className="requests panel">
      <h2 id="requests-title">Message requests</h2>
      <p className="hint">
        From people who are not in your contacts. They do not see that you read their messages, or
        when you are online, until you accept.
      </p>
      <Alert message={error} />
      <ul className="request-list">
        {props.requests.map((r) => {
          const from = model.nameOf(r.request!);
          return (
            <li key={r.id} className="request">
              <button type="button" className="chat-item" onClick={() => props.onOpen(r.id)}>
                <span className="chat-title">{from}</span>
                <span className="chat-last">
                  {r.last ? model.messageText(r.last) : 'No messages yet'}
                </span>
                {r.unread > 0 && (
                  <span className="unread">
                    {r.unread}
                    <span className="visually-hidden"> unread</span>
                  </span>
                )}
              </button>
              <fieldset className="actions">
                <legend className="visually-hidden">Answer {from}</legend>
                <button
                  type="button"
                  className="primary"
                  onClick={() => act(() => model.acceptRequest(r.id))}
                >
                  Accept
                </button>
                <button type="button" onClick={() => act(() => model.deleteRequest(r.id))}>
                  Delete
                </button>
                <button type="button" onClick={() => act(() => model.blockRequest(r.id))}>
                  Block
                </button>
                <button type="button" onClick={() => act(() => model.reportRequest(r.id, false))}>
                  Report spam
                </button>
              </fieldset>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
