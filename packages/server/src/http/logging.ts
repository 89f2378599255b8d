/**
 * Log settings: pino JSON lines that never carry a phone number, a credential or a code. Requests
 * are logged by route pattern, not URL (a query string or a mistyped path could hold a number);
 * bodies and headers are never logged. As a safety net for what libraries log (a parser message
 * quoting its input, a plugin logging a raw URL), anything that looks like a phone number is
 * masked in error messages and stacks, in log messages and in the top-level string fields.
 */

import type { FastifyRequest, FastifyServerOptions } from 'fastify';
import type { ServerConfig } from '../config/config.js';

/** Runs of digits with the separators people write numbers with: 7 or more digits is masked. */
const NUMBER_LIKE = /[+(]?\d[\d ()-]*\d/g;

export function maskNumberLike(text: string): string {
  const masked = mask(text);
  if (!text.includes('%')) return masked;
  // A URL may carry the number percent-encoded ("415%20555%200123").
  try {
    const decoded = decodeURIComponent(text);
    return mask(decoded) === decoded ? masked : mask(decoded);
  } catch {
    return masked;
  }
}

function mask(text: string): string {
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

/** pino's error serializer, with number-like text masked in the message, the stack and causes. */
export function serializeError(error: unknown): LoggedError {
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
    hooks: {
      logMethod(args, method) {
        const masked = args.map((a) => (typeof a === 'string' ? maskNumberLike(a) : a));
        return method.apply(this, masked as typeof args);
      },
    },
    formatters: {
      log(object: Record<string, unknown>) {
        let out = object;
        for (const [key, value] of Object.entries(object)) {
          if (typeof value !== 'string') continue;
          const masked = maskNumberLike(value);
          if (masked === value) continue;
          if (out === object) out = { ...object }; // the caller's object stays as it was
          out[key] = masked;
        }
        return out;
      },
    },
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
