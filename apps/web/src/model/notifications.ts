/**
 * What a notification says, shared by the app and the service worker (no DOM, no React): the
 * notification settings kept in the SDK's store, the sender's name, and the notification for a
 * message. The service worker builds it from what it decrypted itself; the push carried nothing.
 */

import type { ChatMessage, ClientStore } from '@parley/client';

export interface NotificationSettings {
  /** This device has a push subscription stored with the server. */
  enabled: boolean;
  /** Notifications name the sender only, never the text. */
  hideText: boolean;
}

const SETTINGS_KEY = 'web-notifications';
/** Where the app keeps the people behind account ids (model.ts, `KEYS.people`). */
const PEOPLE_KEY = 'web-people';

export async function readNotificationSettings(store: ClientStore): Promise<NotificationSettings> {
  return (
    (await store.get<NotificationSettings>(SETTINGS_KEY)) ?? { enabled: false, hideText: false }
  );
}

export async function writeNotificationSettings(
  store: ClientStore,
  settings: NotificationSettings,
): Promise<void> {
  await store.set(SETTINGS_KEY, settings);
}

/**
 * The name a notification shows for a sender: the user's own name for them (address book, or
 * typed in by hand) as the chat list shows it, else the profile name they chose (marked, as the
 * app marks people who are not contacts), else "Someone".
 */
export async function senderName(
  store: ClientStore,
  accountId: string,
  profileNames: Record<string, string> = {},
): Promise<string> {
  const people = (await store.get<Array<{ accountId?: string; name: string }>>(PEOPLE_KEY)) ?? [];
  const own = people.find((p) => p.accountId === accountId)?.name;
  if (own) return own;
  const profile = profileNames[accountId];
  return profile ? `${profile} (not in contacts)` : 'Someone';
}

/** The app's address of a conversation (route.ts). */
export function chatPath(conversationId: string): string {
  return `/#/chat/${encodeURIComponent(conversationId)}`;
}

/** The notification of one received message. */
export function messageNotification(
  message: ChatMessage,
  name: string,
  hideText: boolean,
): { title: string; options: NotificationOptions } {
  return {
    title: name,
    options: {
      body: hideText
        ? 'New message'
        : message.kind === 'attachment' && !message.text
          ? `📎 ${message.attachment?.name ?? 'A file'}`
          : message.text,
      // One notification per conversation: a newer message replaces the one before.
      tag: `chat-${message.conversationId}`,
      data: { conversationId: message.conversationId, messageId: message.id },
      icon: '/icons/icon-192.png',
    },
  };
}
