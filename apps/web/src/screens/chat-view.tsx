/**
 * One conversation: its messages, live, with their sent/delivered/read state, a separator for each
 * day, links that open, who is typing, and the composer (Enter sends, Shift+Enter breaks the line;
 * on touch screens the return key breaks the line and the button sends); a banner for each member
 * whose safety number changed (accept it, or verify), and in a one-to-one chat the way to the
 * contact's safety number. Escape goes back to the chats. A message's menu (message-bubble.tsx)
 * replies, reacts, edits and deletes; a reply or an edit is shown above the composer until sent
 * or cancelled. Files: the Attach button sends one (encrypted on this device, a thumbnail made
 * here for images, with a progress bar), and each attachment shows as
 * components/attachment-view.tsx. A message request shows its answers above the messages; a
 * member who is not a contact shows by their profile name, with "Add to contacts".
 */

import { type FormEvent, type KeyboardEvent, useEffect, useRef, useState } from 'react';
import { Alert } from '../components/alert.js';
import { GroupInfo } from '../components/group-info.js';
import { type MessageActions, MessageBubble } from '../components/message-bubble.js';
import { TimerChoice } from '../components/timer-choice.js';
import { thumbnailOf } from '../model/attachments.js';
import { describeError, errorCode, errorDetails } from '../model/errors.js';
import { type AppModel, useModel } from '../model/model.js';
import { dayKey, dayLabel } from '../model/reading.js';
import { go } from '../model/route.js';
import type { ChatMessage } from '../model/sdk.js';

/** A phone's keyboard has no Shift+Enter to speak of: there return breaks the line. */
const touchKeyboard = () => globalThis.matchMedia?.('(pointer: coarse)').matches ?? false;

export function ChatView(props: { model: AppModel; conversationId: string; onBack: () => void }) {
  const model = useModel(props.model);
  const { conversationId } = props;
  const [history, setHistory] = useState<ChatMessage[]>([]);
  const [text, setText] = useState('');
  /** What the composer's text will be: a reply to a message, or a message's new text. */
  const [mode, setMode] = useState<{ kind: 'reply' | 'edit'; message: ChatMessage }>();
  const [typing, setTyping] = useState<string>();
  const [error, setError] = useState<string>();
  const [upload, setUpload] = useState<{ name: string; progress: number }>();
  const lastTyping = useRef(0);
  const bottom = useRef<HTMLLIElement>(null);
  const composer = useRef<HTMLTextAreaElement>(null);
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
    const onExpired = (e: { conversationId: string }) => {
      if (e.conversationId === conversationId) void reload();
    };
    const offs = [
      m.on('message', onChange),
      m.on('status', onChange),
      m.on('typing', onTyping),
      m.on('expired', onExpired),
    ];
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

  // Opening a chat is for writing in it; on a touch screen the keyboard would hide the history.
  useEffect(() => {
    if (!touchKeyboard()) composer.current?.focus();
  }, []);

  // Escape closes the chat, wherever the focus is in it (not while an input method composes).
  // With a reply or an edit under way, Escape cancels that first.
  const { onBack } = props;
  const replying = mode !== undefined;
  useEffect(() => {
    const onKey = (e: globalThis.KeyboardEvent) => {
      if (e.key !== 'Escape' || e.isComposing || e.defaultPrevented) return;
      if (replying) {
        setMode(undefined);
        return;
      }
      onBack();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [onBack, replying]);

  const onComposerKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key !== 'Enter' || e.shiftKey || e.nativeEvent.isComposing || touchKeyboard()) return;
    e.preventDefault();
    e.currentTarget.form?.requestSubmit();
  };

  const messenger = model.client.messenger;
  /** Runs a change of a message; a refusal shows as the chat's error. */
  const attempt = (work: Promise<unknown>) => {
    setError(undefined);
    work.catch((err: unknown) => setError(describeError(err)));
  };
  const actions: MessageActions = {
    reply: (m) => {
      setMode({ kind: 'reply', message: m });
      composer.current?.focus();
    },
    edit: (m) => {
      setMode({ kind: 'edit', message: m });
      setText(m.text);
      composer.current?.focus();
    },
    react: (m, emoji) => attempt(messenger.react(conversationId, m.id, emoji)),
    remove: (m) => attempt(messenger.deleteForEveryone(conversationId, m.id)),
  };
  const cancelMode = () => {
    if (mode?.kind === 'edit') setText('');
    setMode(undefined);
  };

  const send = async (e: FormEvent) => {
    e.preventDefault();
    const body = text.trim();
    if (!body) return;
    const was = mode;
    setText('');
    setMode(undefined);
    setError(undefined);
    try {
      if (was?.kind === 'edit') await messenger.edit(conversationId, was.message.id, body);
      else {
        await messenger.send(
          conversationId,
          body,
          was?.kind === 'reply' ? { replyTo: was.message.id } : {},
        );
      }
    } catch (err) {
      if (errorCode(err) === 'SAFETY_NUMBER_CHANGED') {
        // Nothing was sent: the text waits in the composer until the new number is accepted.
        const ids = errorDetails(err).accountIds;
        model.noteKeyChange(Array.isArray(ids) ? ids.map(String) : concerned, true);
        setText(body);
        setMode(was);
      }
      setError(describeError(err));
    }
  };

  const attach = async (file: File | undefined) => {
    if (!file) return;
    setError(undefined);
    setUpload({ name: file.name, progress: 0 });
    try {
      const thumbnail = await thumbnailOf(file);
      await model.client.messenger.sendFile(
        conversationId,
        new Uint8Array(await file.arrayBuffer()),
        {
          name: file.name,
          type: file.type,
          ...(thumbnail ? { thumbnail } : {}),
          onProgress: (done, total) => setUpload({ name: file.name, progress: done / total }),
        },
      );
    } catch (err) {
      setError(describeError(err));
    } finally {
      setUpload(undefined);
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
      {view?.active && (others.length > 1 || view.name) && (
        <GroupInfo
          model={model}
          conversationId={conversationId}
          name={view.name ?? ''}
          members={others}
          attempt={attempt}
          onLeft={props.onBack}
        />
      )}
      {view?.active && (
        <TimerChoice
          seconds={view.timer ?? 0}
          onChange={(seconds) => attempt(messenger.setTimer(conversationId, seconds))}
        />
      )}
      {view && !view.active && <p className="hint">You are no longer in this chat.</p>}
      {(model.warnings[conversationId] ?? []).map((w) => (
        <p key={w} className="security-warning" role="alert">
          {w}
        </p>
      ))}
      <ol className="messages" aria-label="Messages" aria-live="polite">
        {history.flatMap((m, i) => {
          const day = dayKey(m.sentAt);
          const separator =
            day && day !== dayKey(history[i - 1]?.sentAt ?? '')
              ? [
                  <li key={`day-${day}`} className="day">
                    <span>{dayLabel(m.sentAt)}</span>
                  </li>,
                ]
              : [];
          if (m.kind === 'notice') {
            return [
              ...separator,
              <li key={m.id} className="notice">
                {model.messageText(m)}
              </li>,
            ];
          }
          return [
            ...separator,
            <MessageBubble key={m.id} model={model} message={m} self={self} actions={actions} />,
          ];
        })}
        <li ref={bottom} aria-hidden="true" className="end" />
      </ol>
      <p className="typing" role="status">
        {typing}
      </p>
      <Alert message={error} />
      {mode && (
        <div className="composing" role="status">
          <span>
            {mode.kind === 'reply'
              ? `Replying to ${mode.message.from.accountId === self ? 'yourself' : model.nameOf(mode.message.from.accountId)}: `
              : 'Editing your message: '}
            <q>{mode.message.text.slice(0, 80)}</q>
          </span>
          <button type="button" onClick={cancelMode}>
            {mode.kind === 'reply' ? 'Cancel reply' : 'Cancel edit'}
          </button>
        </div>
      )}
      {upload && (
        <p className="upload" role="status">
          Sending {upload.name}{' '}
          <progress value={upload.progress} max={1} aria-label={`Uploading ${upload.name}`} />
        </p>
      )}
      <form className="composer" onSubmit={(e) => void send(e)}>
        <label className="attach button">
          Attach
          <input
            type="file"
            className="visually-hidden"
            aria-label="Attach a file"
            disabled={upload !== undefined || (view !== undefined && !view.active)}
            onChange={(e) => {
              const file = e.target.files?.[0];
              e.target.value = '';
              void attach(file);
            }}
          />
        </label>
        <label htmlFor="composer-text" className="visually-hidden">
          Message
        </label>
        <textarea
          id="composer-text"
          ref={composer}
          autoComplete="off"
          rows={Math.min(6, text.split('\n').length)}
          placeholder="Message (end-to-end encrypted)"
          aria-describedby="composer-keys"
          value={text}
          maxLength={10000}
          disabled={view !== undefined && !view.active}
          onChange={(e) => onInput(e.target.value)}
          onKeyDown={onComposerKey}
        />
        <span id="composer-keys" className="visually-hidden">
          Enter sends; Shift+Enter starts a new line.
        </span>
        <button type="submit" className="primary" disabled={!text.trim()}>
          {mode?.kind === 'edit' ? 'Save' : 'Send'}
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
