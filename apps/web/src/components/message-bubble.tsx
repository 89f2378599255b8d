/**
 * One message in a chat: who sent it, the message it answers (quoted), its text with links, an
 * "edited" mark or "This message was deleted", its reactions, time and state, and a menu of what
 * can be done with it — reply, react, and for one's own messages edit and delete for everyone.
 * The menu is a disclosure of plain buttons, so keyboards and screen readers reach every action.
 */

import { useState } from 'react';
import type { AppModel } from '../model/model.js';
import { type ChatMessage, type MessageStatus, timerText } from '../model/sdk.js';
import { AttachmentView } from './attachment-view.js';
import { MessageText } from './message-text.js';

/** The reactions offered; any single emoji works through the SDK. */
export const QUICK_REACTIONS = ['👍', '❤️', '😂', '😮', '😢', '🙏'] as const;

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

/** Within the window the SDK allows edits and deletes in (24 hours), as this device's clock has it. */
const changeable = (m: ChatMessage) => Date.now() - Date.parse(m.sentAt) < 24 * 60 * 60 * 1000;

export interface MessageActions {
  reply(m: ChatMessage): void;
  edit(m: ChatMessage): void;
  react(m: ChatMessage, emoji: string): void;
  remove(m: ChatMessage): void;
}

export function MessageBubble(props: {
  model: AppModel;
  message: ChatMessage;
  self: string;
  actions: MessageActions;
}) {
  const { model, message: m, self, actions } = props;
  const [open, setOpen] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const mine = m.from.accountId === self;
  const sender = mine ? 'you' : model.nameOf(m.from.accountId);
  const menuId = `actions-${m.id}`;
  const close = () => {
    setOpen(false);
    setConfirming(false);
  };
  const reactions = Object.entries(m.reactions ?? {});
  const counts = new Map<string, string[]>();
  for (const [accountId, emoji] of reactions) {
    counts.set(emoji, [
      ...(counts.get(emoji) ?? []),
      accountId === self ? 'you' : model.nameOf(accountId),
    ]);
  }

  return (
    <li className={mine ? 'message mine' : 'message'}>
      {!mine && <span className="from">{sender}</span>}
      {m.replyTo && !m.deletedAt && (
        <blockquote className="quote">
          {m.replyTo.text ? (
            <>
              <span className="quote-from">
                {m.replyTo.from === self ? 'You' : model.nameOf(m.replyTo.from)}
              </span>
              <span className="quote-text">{m.replyTo.text}</span>
            </>
          ) : (
            <span className="quote-text">Original message not found</span>
          )}
        </blockquote>
      )}
      {m.deletedAt ? (
        <span className="text deleted">This message was deleted</span>
      ) : (
        <>
          {m.kind === 'attachment' && <AttachmentView model={model} message={m} />}
          {(m.kind !== 'attachment' || m.text) && (
            <span className={m.kind === 'unsupported' ? 'text unsupported' : 'text'}>
              {m.kind === 'text' || m.kind === 'attachment' ? (
                <MessageText text={m.text} />
              ) : (
                model.messageText(m)
              )}
            </span>
          )}
        </>
      )}
      {counts.size > 0 && (
        <ul className="reactions" aria-label="Reactions">
          {[...counts].map(([emoji, who]) => (
            <li key={emoji} aria-label={`${emoji} from ${who.join(', ')}`}>
              {emoji}
              {who.length > 1 ? ` ${who.length}` : ''}
            </li>
          ))}
        </ul>
      )}
      <span className="meta">
        {time(m.sentAt)}
        {m.editedAt && !m.deletedAt && ' · edited'}
        {m.expiresIn !== undefined && (
          <span title={`Disappears ${timerText(m.expiresIn)} after it is read`}>
            {' · '}⏱<span className="visually-hidden"> disappears</span>
          </span>
        )}
        {mine && <span className={`state state-${m.status}`}> · {STATUS_TEXT[m.status]}</span>}
        {(m.kind === 'text' || m.kind === 'attachment') && !m.deletedAt && (
          <button
            type="button"
            className="message-menu-button"
            aria-expanded={open}
            aria-controls={menuId}
            aria-label={`Actions for ${mine ? 'your' : `${sender}’s`} message`}
            onClick={() => (open ? close() : setOpen(true))}
          >
            ⋯
          </button>
        )}
      </span>
      {open && (
        <div className="message-menu" id={menuId}>
          <button
            type="button"
            onClick={() => {
              close();
              actions.reply(m);
            }}
          >
            Reply
          </button>
          {QUICK_REACTIONS.map((emoji) => {
            const chosen = m.reactions?.[self] === emoji;
            return (
              <button
                key={emoji}
                type="button"
                aria-pressed={chosen}
                aria-label={chosen ? `Take back ${emoji}` : `React ${emoji}`}
                onClick={() => {
                  close();
                  actions.react(m, chosen ? '' : emoji);
                }}
              >
                {emoji}
              </button>
            );
          })}
          {mine && changeable(m) && (
            <>
              {m.kind === 'text' && (
                <button
                  type="button"
                  onClick={() => {
                    close();
                    actions.edit(m);
                  }}
                >
                  Edit
                </button>
              )}
              {confirming ? (
                <>
                  <button
                    type="button"
                    className="destructive"
                    onClick={() => {
                      close();
                      actions.remove(m);
                    }}
                  >
                    Yes, delete for everyone
                  </button>
                  <button type="button" onClick={() => setConfirming(false)}>
                    Keep it
                  </button>
                </>
              ) : (
                <button type="button" onClick={() => setConfirming(true)}>
                  Delete for everyone
                </button>
              )}
            </>
          )}
        </div>
      )}
    </li>
  );
}
