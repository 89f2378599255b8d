/** The list of chats, newest first, with each one's last message and unread count. */

import { type AppModel, useModel } from '../model/model.js';

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
