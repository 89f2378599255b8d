/**
 * The app shell: onboarding until registered (or linked), then chats, contacts and privacy; the
 * signed-out screen once the server refuses this device; notices such as a newly linked device.
 */

import { useEffect, useState } from 'react';
import { Alert } from './components/alert.js';
import { describeError } from './model/errors.js';
import { type AppModel, useModel } from './model/model.js';
import type { CountryCode } from './model/phone.js';
import { go, useRoute } from './model/route.js';
import { ChatList } from './screens/chat-list.js';
import { ChatView } from './screens/chat-view.js';
import { ConsentScreen } from './screens/consent.js';
import { ContactsScreen } from './screens/contacts.js';
import { NewGroup } from './screens/new-group.js';
import { Onboarding } from './screens/onboarding.js';
import { PrivacyScreen } from './screens/privacy.js';
import { SafetyNumberScreen } from './screens/safety-number.js';
import { SignedOut } from './screens/signed-out.js';

export function App(props: { model: AppModel; region: CountryCode | undefined }) {
  const model = useModel(props.model);
  const route = useRoute();
  const [startError, setStartError] = useState<string>();
  const [everConnected, setEverConnected] = useState(false);
  /** On the signed-out screen: which way back the user chose. */
  const [again, setAgain] = useState<'link' | 'register'>();

  useEffect(() => {
    if (model.connected) setEverConnected(true);
  }, [model.connected]);

  useEffect(() => {
    const title = {
      chats: 'Chats',
      chat: 'Chat',
      'new-group': 'New group',
      contacts: 'Contacts',
      consent: 'Your contacts',
      privacy: 'Privacy',
      safety: 'Safety number',
    }[route.at];
    // The unread count leads the tab's title, so it shows in a row of tabs.
    const count = model.conversations.reduce((n, c) => n + c.unread, 0);
    document.title = model.signedOut
      ? 'Signed out · Parley'
      : model.client.registered
        ? `${count > 0 ? `(${count}) ` : ''}${title} · Parley`
        : 'Welcome · Parley';
  }, [route, model.client.registered, model.signedOut, model.conversations]);

  if (model.signedOut && !again) {
    return (
      <SignedOut
        reason={model.signedOut}
        onLink={() => setAgain('link')}
        onRegister={() => setAgain('register')}
      />
    );
  }

  if (!model.client.registered || model.signedOut) {
    const restarting = model.signedOut !== undefined;
    return (
      <Onboarding
        model={model}
        start={again ?? 'register'}
        {...(restarting ? { onBack: () => setAgain(undefined) } : {})}
        onDone={(how) => {
          // Linked: the conversations came along. Registered: a new identity starts with contacts.
          go(how === 'linked' ? 'chats' : 'contacts');
          setAgain(undefined);
          (restarting ? model.restart() : model.start()).catch((e) =>
            setStartError(describeError(e)),
          );
          model.changed();
        }}
      />
    );
  }

  const unread = model.conversations.reduce((n, c) => n + c.unread, 0);
  const tab =
    route.at === 'chat' || route.at === 'new-group' || route.at === 'safety'
      ? 'chats'
      : route.at === 'consent'
        ? 'contacts'
        : route.at;
  const openChatWith = async (accountId: string) => {
    try {
      const c = await model.conversationWith(accountId);
      go(`chat/${encodeURIComponent(c.id)}`);
    } catch (e) {
      setStartError(describeError(e));
    }
  };

  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <nav aria-label="Main" className="nav">
        <span className="brand" aria-hidden="true">
          Parley
        </span>
        <a href="#/chats" aria-current={tab === 'chats' ? 'page' : undefined}>
          Chats
          {unread > 0 && (
            <span className="unread">
              {unread}
              <span className="visually-hidden"> unread</span>
            </span>
          )}
        </a>
        <a href="#/contacts" aria-current={tab === 'contacts' ? 'page' : undefined}>
          Contacts
        </a>
        <a href="#/privacy" aria-current={tab === 'privacy' ? 'page' : undefined}>
          Privacy
        </a>
      </nav>
      <main id="main" tabIndex={-1}>
        {!model.connected && (
          <p className="offline" role="status">
            {everConnected
              ? 'Offline — reconnecting. What you send now goes out when you are back online.'
              : 'Connecting… What you send now goes out once connected.'}
          </p>
        )}
        <Alert message={model.problem} />
        <Alert message={startError} />
        <Toasts model={model} />
        {route.at === 'chats' && (
          <ChatList
            model={model}
            onOpen={(id) => go(`chat/${encodeURIComponent(id)}`)}
            onNewGroup={() => go('new-group')}
          />
        )}
        {route.at === 'chat' && (
          <ChatView
            key={route.id}
            model={model}
            conversationId={route.id}
            onBack={() => go('chats')}
          />
        )}
        {route.at === 'new-group' && (
          <NewGroup
            model={model}
            onCreated={(id) => go(`chat/${encodeURIComponent(id)}`)}
            onCancel={() => go('chats')}
          />
        )}
        {route.at === 'contacts' && (
          <ContactsScreen
            model={model}
            region={props.region}
            onAskConsent={() => go('consent')}
            onOpenChat={(p) => p.accountId && void openChatWith(p.accountId)}
          />
        )}
        {route.at === 'consent' && <ConsentScreen model={model} onDone={() => go('contacts')} />}
        {route.at === 'safety' && (
          <SafetyNumberScreen
            key={route.id}
            model={model}
            accountId={route.id}
            onBack={() => (history.length > 1 ? history.back() : go('chats'))}
          />
        )}
        {route.at === 'privacy' && (
          <PrivacyScreen
            model={model}
            onDeleted={() => {
              model.stop();
              location.hash = '';
              location.reload();
            }}
          />
        )}
      </main>
    </div>
  );
}

/** App-wide notices ("New device linked: …"), each until dismissed. */
function Toasts(props: { model: AppModel }) {
  const { model } = props;
  return (
    <ul className="toasts" aria-label="Notices" aria-live="polite">
      {model.toasts.map((t) => (
        <li key={t.id} className="toast">
          <span>{t.text}</span>
          <button
            type="button"
            onClick={() => model.dismissToast(t.id)}
            aria-label={`Dismiss: ${t.text}`}
          >
            ×
          </button>
        </li>
      ))}
    </ul>
  );
}
