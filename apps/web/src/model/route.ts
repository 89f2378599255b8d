/**
 * The app's routes, kept in the URL's hash (#/chats, #/chat/<id>, #/safety/<accountId>, …) so
 * that the server only ever serves one page: parsing the hash, going to a route, and a hook that
 * follows it.
 */

import { useEffect, useState } from 'react';

export type Route =
  | { at: 'chats' }
  | { at: 'chat'; id: string }
  | { at: 'new-group' }
  | { at: 'contacts' }
  | { at: 'consent' }
  | { at: 'privacy' }
  | { at: 'safety'; id: string };

export function parseRoute(hash: string): Route {
  const [, at, id] = hash.replace(/^#/, '').split('/');
  if (at === 'chat' && id) return { at: 'chat', id: decodeURIComponent(id) };
  if (at === 'safety' && id) return { at: 'safety', id: decodeURIComponent(id) };
  if (at === 'new-group' || at === 'contacts' || at === 'consent' || at === 'privacy')
    return { at };
  return { at: 'chats' };
}

export const go = (path: string) => {
  location.hash = `#/${path}`;
};

/** The current route, updated on every hash change. */
export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onHash = () => setRoute(parseRoute(location.hash));
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  return route;
}
