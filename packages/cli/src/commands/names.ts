/**
 * Names for accounts, as the terminal shows senders: the address book's name of each contact that
 * discovery found on Parley, kept in the CLI's state beside the SDK's (it is derived from the
 * address book, so withdrawing consent erases it with the book). An account without one shows
 * the profile name it shared, marked `~` (not in your contacts), and one without either the
 * first characters of its id: withdrawing consent never leaves a conversation nameless.
 */

import type { ClientStore, Messenger } from '@parley/client';
import { short } from './people.js';

const KEY = 'cli-names';

/** Remembers the name of every contact found on Parley (`accountId` known). */
export async function rememberNames(
  store: ClientStore,
  contacts: ReadonlyArray<{ name: string; accountId?: string | undefined }>,
): Promise<void> {
  const names = (await store.get<Record<string, string>>(KEY)) ?? {};
  for (const c of contacts) if (c.accountId && c.name) names[c.accountId] = c.name;
  await store.set(KEY, names);
}

export function forgetNames(store: ClientStore): Promise<void> {
  return store.delete(KEY);
}

/** accountId → how to show it: the contact's name, else `~` and its profile name, else its short id. */
export async function namer(
  store: ClientStore,
  messenger?: Pick<Messenger, 'people' | 'on'>,
): Promise<(accountId: string) => string> {
  const names = (await store.get<Record<string, string>>(KEY)) ?? {};
  const profiles = messenger ? await messenger.people.names() : {};
  // Names read while the command runs (`listen`) show at once.
  messenger?.on('profile', ({ accountId, name }) => {
    profiles[accountId] = name;
  });
  return (accountId) =>
    names[accountId] ?? (profiles[accountId] ? `~${profiles[accountId]}` : short(accountId));
}
