/**
 * Log settings: pino JSON lines that never carry a phone number, a credential or a code. Requests
 * are logged by route pattern, not URL (a query string or a mistyped path could hold a number);
 * bodies and headers are never logged; error messages and stacks have anything that looks like a
 * phone number masked, because a parser or driver message may quote its input.
 */

import type { FastifyRequest, FastifyServerOptions } from 'fastify';
import type { ServerConfig } from './config.js';

/** Runs of digits with the separators people write numbers with: 7 or more digits is masked. */
const NUMBER_LIKE = /\+?\d[\d ()-]*\d/g;

export function maskNumberLike(text: string): string {
  return text.replace(NUMBER_LIKE, (run) =>
    run.replace(/\D/g, '').length >= 7 ? '[number?]' : run,
  );
}

interface LoggedError {
  type: string;
  message: string;
  stack: string;
  [key: string]: unknown;
}

function serializeError(error: unknown): LoggedError {
  if (!(error instanceof Error)) {
    return { type: typeof error, message: maskNumberLike(String(error)), stack: '' };
  }
  const out: LoggedError = {
    type: error.constructor.name,
    message: maskNumberLike(error.message),
    stack: maskNumberLike(error.stack ?? ''),
  };
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') out.code = code;
  if (error.cause !== undefined) out.cause = serializeError(error.cause);
  return out;
}

export function loggerOptions(level: ServerConfig['logLevel']): FastifyServerOptions['logger'] {
  return {
    level,
    redact: { paths: ['req.headers.authorization'], censor: '[redacted]' },
    serializers: {
      req: (request: FastifyRequest) => ({
        method: request.method,
        route: request.routeOptions?.url ?? '(no route)',
        remoteAddress: request.ip,
      }),
      err: serializeError,
    },
  };
}
