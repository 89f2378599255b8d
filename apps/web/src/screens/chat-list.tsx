/**
 * The list of chats, newest first, with each one's last message, its time and unread count; and
 * a search across every chat's title and messages, run on this device only.
 */

import { useEffect, useState } from 'react';
import { type AppModel, useModel } from '../model/model.js';
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

  return (
    <section aria-labelledby="chats-title" className="chats">
      <div className="title-row">
        <h1 id="chats-title">Chats</h1>
        <button type="button" onClick={props.onNewGroup}>
          New group
        </button>
      </div>
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
      ) : model.conversations.length === 0 ? (
        <p className="empty">No chats yet. Open Contacts and message someone on Parley.</p>
      ) : (
        <ul className="chat-list">
          {model.conversations.map((c) => (
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
