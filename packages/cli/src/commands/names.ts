/**
 * Names for accounts, as the terminal shows senders: the address book's name of each contact that
 * discovery found on Parley, kept in the CLI's state beside the SDK's (it is derived from the
 * address book, so withdrawing consent erases it with the book). Accounts without one are shown
 * by the first characters of their id.
 */

import type { ClientStore } from '@parley/client';
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

/** accountId → how to show it: the contact's name, else its short id. */
export async function namer(store: ClientStore): Promise<(accountId: string) => string> {
  const names = (await store.get<Record<string, string>>(KEY)) ?? {};
  return (accountId) => names[accountId] ?? short(accountId);
}
