/**
 * Chats: the conversation list with unread counts, a conversation with live messages and their
 * sent/delivered/read state, typing, and starting a group.
 */

import type { ChatMessage, MessageStatus } from '@parley/client';
import { type FormEvent, useEffect, useRef, useState } from 'react';
import { Alert } from '../components/alert.js';
import { describeError } from '../model/errors.js';
import { type AppModel, useModel } from '../model/model.js';

const STATUS_TEXT: Record<MessageStatus, string> = {
  sending: 'Sending…',
  stored: 'Sent',
  delivered: 'Delivered',
  read: 'Read',
  failed: 'Not sent',
  received: '',
};

const time = (iso: string) =>
  iso ? new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : '';

export function ChatList(props: {
  model: AppModel;
  onOpen: (id: string) => void;
  onNewGroup: () => void;
}) {
  const model = useModel(props.model);
  return (
    <section aria-labelledby="chats-title" className="chats">
      <div className="title-row">
        <h1 id="chats-title">Chats</h1>
        <button type="button" onClick={props.onNewGroup}>
          New group
        </button>
      </div>
      {model.conversations.length === 0 ? (
        <p className="empty">No chats yet. Open Contacts and message someone on Parley.</p>
      ) : (
        <ul className="chat-list">
          {model.conversations.map((c) => (
            <li key={c.id}>
              <button type="button" className="chat-item" onClick={() => props.onOpen(c.id)}>
                <span className="chat-title">{c.title}</span>
                <span className="chat-last">{c.last ? c.last.text : 'No messages yet'}</span>
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

export function ChatView(props: { model: AppModel; conversationId: string; onBack: () => void }) {
  const model = useModel(props.model);
  const { conversationId } = props;
  const [history, setHistory] = useState<ChatMessage[]>([]);
  const [text, setText] = useState('');
  const [typing, setTyping] = useState<string>();
  const [error, setError] = useState<string>();
  const lastTyping = useRef(0);
  const bottom = useRef<HTMLLIElement>(null);
  const self = model.client.account!.accountId;
  const view = model.conversations.find((c) => c.id === conversationId);

  useEffect(() => {
    const m = model.client.messenger;
    let alive = true;
    let typingTimer: ReturnType<typeof setTimeout> | undefined;
    const reload = async () => {
      const h = await m.history(conversationId);
      if (!alive) return;
      setHistory(h);
      if (document.visibilityState === 'visible') await model.markSeen(conversationId, h);
    };
    const onChange = (msg: ChatMessage) => {
      if (msg.conversationId === conversationId) void reload();
    };
    const onTyping = (t: { conversationId: string; from: { accountId: string } }) => {
      if (t.conversationId !== conversationId) return;
      setTyping(`${model.nameOf(t.from.accountId)} is typing…`);
      clearTimeout(typingTimer);
      typingTimer = setTimeout(() => setTyping(undefined), 4000);
    };
    const onVisible = () => void reload();
    const offs = [m.on('message', onChange), m.on('status', onChange), m.on('typing', onTyping)];
    document.addEventListener('visibilitychange', onVisible);
    void reload();
    return () => {
      alive = false;
      clearTimeout(typingTimer);
      for (const off of offs) off();
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, [model, conversationId]);

  useEffect(() => {
    bottom.current?.scrollIntoView?.({ block: 'end' });
  }, [history.length]);

  const send = async (e: FormEvent) => {
    e.preventDefault();
    const body = text.trim();
    if (!body) return;
    setText('');
    setError(undefined);
    try {
      await model.client.messenger.send(conversationId, body);
    } catch (err) {
      setError(describeError(err));
    }
  };

  const onInput = (value: string) => {
    setText(value);
    const now = Date.now();
    if (value && now - lastTyping.current > 3000) {
      lastTyping.current = now;
      void model.client.messenger.typing(conversationId).catch(() => {});
    }
  };

  return (
    <section className="chat" aria-labelledby="chat-title">
      <div className="title-row">
        <button type="button" className="back" onClick={props.onBack} aria-label="Back to chats">
          ←
        </button>
        <h1 id="chat-title">{view?.title ?? 'Chat'}</h1>
      </div>
      {view && !view.active && <p className="hint">You are no longer in this chat.</p>}
      <ol className="messages" aria-label="Messages" aria-live="polite">
        {history.map((m) => {
          const mine = m.from.accountId === self;
          return (
            <li key={m.id} className={mine ? 'message mine' : 'message'}>
              {!mine && <span className="from">{model.nameOf(m.from.accountId)}</span>}
              <span className="text">{m.text}</span>
              <span className="meta">
                {time(m.sentAt)}
                {mine && (
                  <span className={`state state-${m.status}`}> · {STATUS_TEXT[m.status]}</span>
                )}
              </span>
            </li>
          );
        })}
        <li ref={bottom} aria-hidden="true" className="end" />
      </ol>
      <p className="typing" role="status">
        {typing}
      </p>
      <Alert message={error} />
      <form className="composer" onSubmit={(e) => void send(e)}>
        <label htmlFor="composer-text" className="visually-hidden">
          Message
        </label>
        <input
          id="composer-text"
          autoComplete="off"
          placeholder="Message (end-to-end encrypted)"
          value={text}
          maxLength={10000}
          disabled={view !== undefined && !view.active}
          onChange={(e) => onInput(e.target.value)}
        />
        <button type="submit" className="primary" disabled={!text.trim()}>
          Send
        </button>
      </form>
    </section>
  );
}

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
