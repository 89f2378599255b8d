/** What a person sees when something fails: the SDK's typed message, or a plain fallback. */

import { ParleyError } from '@parley/client';
import { formatWait } from '@parley/core';

export function describeError(error: unknown): string {
  if (error instanceof ParleyError) {
    const wait = error.retryAfterMs ? ` Try again in ${formatWait(error.retryAfterMs)}.` : '';
    return `${error.message}${wait}`;
  }
  if (error instanceof TypeError) return 'The server cannot be reached. Check your connection.';
  return error instanceof Error ? error.message : String(error);
}

/** The catalog code of an SDK error (e.g. 'REGISTRATION_LOCKED'), undefined for anything else. */
export function errorCode(error: unknown): string | undefined {
  return error instanceof ParleyError ? error.code : undefined;
}

/** The details an SDK error carries (e.g. `{ attemptsLeft, unlocksAt }`), or an empty object. */
export function errorDetails(error: unknown): Record<string, unknown> {
  return error instanceof ParleyError && error.details && typeof error.details === 'object'
    ? (error.details as Record<string, unknown>)
    : {};
}

/** How long a rate limit asks to wait, in milliseconds; undefined when it is not one. */
export function retryAfterMs(error: unknown): number | undefined {
  return error instanceof ParleyError ? error.retryAfterMs : undefined;
}
