/**
 * What an unexpected error means to a client, whatever the transport: a ParleyError stands as it
 * is; storage that cannot serve right now is SERVICE_UNAVAILABLE (the client retries); anything
 * else is INTERNAL. The HTTP edge adds its own cases first (http/errors.ts).
 */

import { ParleyError } from '@parley/core';
import { storageUnavailable } from './db/database.js';

export function asParleyError(error: unknown): ParleyError {
  if (error instanceof ParleyError) return error;
  if (storageUnavailable(error)) {
    return new ParleyError('SERVICE_UNAVAILABLE', { retryAfterMs: 2_000, cause: error });
  }
  return new ParleyError('INTERNAL', { cause: error });
}
