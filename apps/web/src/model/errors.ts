/** What a person sees when something fails: the SDK's typed message, or a plain fallback. */

import { ParleyError } from '@parley/client';

export function describeError(error: unknown): string {
  if (error instanceof ParleyError) {
    const wait = error.retryAfterMs
      ? ` Try again in ${Math.ceil(error.retryAfterMs / 1000)} s.`
      : '';
    return `${error.message}${wait}`;
  }
  if (error instanceof TypeError) return 'The server cannot be reached. Check your connection.';
  return error instanceof Error ? error.message : String(error);
}
