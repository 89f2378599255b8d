/**
 * One conversation: its messages, live, with their sent/delivered/read state, who is typing, and
 * the composer; a banner for each member whose safety number changed (accept it, or verify), and
 * in a one-to-one chat the way to the contact's safety number. A message request shows its
 * answers above the messages; a member who is not a contact shows by their profile name, with
 * "Add to contacts".
 */

import { type FormEvent, useEffect, useRef, useState } from 'react';
import { Alert } from '../components/alert.js';
import { describeError, errorCode, errorDetails } from '../model/errors.js';
import { type AppModel, useModel } from '../model/model.js';
import { go } from '../model/route.js';
import type { ChatMessage, MessageStatus } from '../model/sdk.js';

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
  const others = [
    ...new Set((view?.members ?? []).map((d) => d.accountId).filter((a) => a !== self)),
  ];
  // A contact whose key changed may have left the group (signed out by a new registration): the
  // notice in the history still names them.
  const named = history.flatMap((m) =>
    m.notice?.change === 'identity-changed' ? m.notice.accounts : [],
  );
  const concerned = [...new Set([...others, ...named])].filter((a) => a !== self);
  const changes = concerned.flatMap((a) => (model.keyChanges[a] ? [model.keyChanges[a]] : []));
  const strangers = others.filter((a) => !model.isContact(a));
  const concernedKey = concerned.join(',');

  // After a reload the banner comes back for a verified contact whose new key waits.
  useEffect(() => {
    if (concernedKey) void model.checkKeyChanges(concernedKey.split(','));
  }, [model, concernedKey]);

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
      if (errorCode(err) === 'SAFETY_NUMBER_CHANGED') {
        // Nothing was sent: the text waits in the composer until the new number is accepted.
        const ids = errorDetails(err).accountIds;
        model.noteKeyChange(Array.isArray(ids) ? ids.map(String) : concerned, true);
        setText(body);
      }
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
        {others.length === 1 && (
          <button type="button" onClick={() => go(`safety/${encodeURIComponent(others[0]!)}`)}>
            Verify safety number
          </button>
        )}
      </div>
      {changes.map((c) => (
        <div key={c.accountId} className="key-change" role="alert">
          <p>
            {model.nameOf(c.accountId)}’s safety number changed.{' '}
            {c.blocked
              ? 'You had verified them: nothing is sent to them until you accept the new number or verify it.'
              : 'They may have a new phone, or someone may be posing as them: verify it to be sure.'}
          </p>
          <div className="actions">
            <button
              type="button"
              onClick={() =>
                void model.acceptKeyChange(c.accountId).then(
                  () => setError(undefined),
                  (e: unknown) => setError(describeError(e)),
                )
              }
            >
              Accept
            </button>
            <button type="button" onClick={() => go(`safety/${encodeURIComponent(c.accountId)}`)}>
              Verify
            </button>
          </div>
        </div>
      ))}
      {view?.request && view.active && (
        <RequestAnswers
          model={model}
          conversationId={conversationId}
          from={view.request}
          onGone={props.onBack}
          onError={setError}
        />
      )}
      {!view?.request &&
        strangers.map((a) => (
          <p key={a} className="stranger">
            {model.profileNames[a] ?? model.nameOf(a)} is not in your contacts.{' '}
            <button
              type="button"
              onClick={() => {
                model.addToContacts(a);
                go('contacts');
              }}
            >
              Add to contacts
            </button>
          </p>
        ))}
      {view && !view.active && <p className="hint">You are no longer in this chat.</p>}
      {(model.warnings[conversationId] ?? []).map((w) => (
        <p key={w} className="security-warning" role="alert">
          {w}
        </p>
      ))}
      <ol className="messages" aria-label="Messages" aria-live="polite">
        {history.map((m) => {
          if (m.kind === 'notice') {
            return (
              <li key={m.id} className="notice">
                {model.messageText(m)}
              </li>
            );
          }
          const mine = m.from.accountId === self;
          return (
            <li key={m.id} className={mine ? 'message mine' : 'message'}>
              {!mine && <span className="from">{model.nameOf(m.from.accountId)}</span>}
              <span className={m.kind === 'unsupported' ? 'text unsupported' : 'text'}>
                {model.messageText(m)}
              </span>
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

/** The answers to a message request: accept, delete, block, report as spam. */
function RequestAnswers(props: {
  model: AppModel;
  conversationId: string;
  from: string;
  onGone: () => void;
  onError: (message: string | undefined) => void;
}) {
  const { model, conversationId } = props;
  const [attach, setAttach] = useState(false);
  const act = (work: () => Promise<void>, gone: boolean) => {
    props.onError(undefined);
    work().then(
      () => gone && props.onGone(),
      (e: unknown) => props.onError(describeError(e)),
    );
  };
  return (
    <section className="request-banner panel" aria-labelledby="request-title">
      <h2 id="request-title">Message request from {model.nameOf(props.from)}</h2>
      <p>
        They are not in your contacts. Until you accept, they do not see that you read their
        messages, that you are typing, or when you are online, and they do not get your profile
        name. Answering accepts.
      </p>
      <div className="actions">
        <button
          type="button"
          className="primary"
          onClick={() => act(() => model.acceptRequest(conversationId), false)}
        >
          Accept
        </button>
        <button type="button" onClick={() => act(() => model.deleteRequest(conversationId), true)}>
          Delete
        </button>
        <button type="button" onClick={() => act(() => model.blockRequest(conversationId), true)}>
          Block
        </button>
        <button
          type="button"
          onClick={() => act(() => model.reportRequest(conversationId, attach), false)}
        >
          Report spam
        </button>
      </div>
      <label className="check">
        <input type="checkbox" checked={attach} onChange={(e) => setAttach(e.target.checked)} />{' '}
        Attach their messages to the report (otherwise the server learns only who they are)
      </label>
    </section>
  );
}
