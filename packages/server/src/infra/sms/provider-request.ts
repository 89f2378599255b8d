/**
 * One request to an SMS provider, retried with backoff while the provider is down or throttling,
 * and its answer judged by the adapter into success or a typed Parley error. What the provider
 * says is never passed on or logged as it is (its messages quote the number, e.g. "The 'To'
 * number +1… is not valid"): only its HTTP status and its error code travel, in `details`.
 */

import { type ErrorCode, ParleyError } from '@parley/core';

export interface ProviderReply {
  status: number;
  headers: Headers;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

/** `waitMs`: how long the provider asked to wait before a retry (Retry-After), if it said. */
export type Verdict =
  | { ok: true }
  | { ok: false; error: ParleyError; retry: boolean; waitMs?: number | undefined };

export interface RetryPolicy {
  /** Tries in all, the first included. */
  attempts: number;
  /** The wait before the second try; it doubles for each later one (with jitter). */
  baseDelayMs: number;
  /** A provider asking for a longer wait (Retry-After) is not waited for: the user is told. */
  maxWaitMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 3, baseDelayMs: 500, maxWaitMs: 5_000 };

export interface ProviderRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** What a provider's error says, reduced to what may be logged and shown. */
export interface FailureDetails {
  provider: string;
  reason: string;
  httpStatus?: number;
  providerCode?: string;
}

export function failure(
  code: ErrorCode,
  details: FailureDetails,
  retryAfterMs?: number,
): ParleyError {
  return new ParleyError(code, {
    details,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });
}

/** Seconds or an HTTP date, as Retry-After carries them; undefined when absent or unreadable. */
export function retryAfterMs(headers: Headers, now = Date.now()): number | undefined {
  const raw = headers.get('retry-after');
  if (!raw) return undefined;
  if (/^\d+$/.test(raw.trim())) return Number(raw.trim()) * 1000;
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The meaning of an HTTP status alone, for answers the provider's own codes do not explain. */
export function byStatus(provider: string, reply: ProviderReply, providerCode?: string): Verdict {
  const base = { provider, httpStatus: reply.status, ...(providerCode ? { providerCode } : {}) };
  const { status } = reply;
  if (status === 401 || status === 403) {
    return refuse('SMS_DELIVERY_FAILED', {
      ...base,
      reason: 'the provider refused the credentials',
    });
  }
  if (status === 402) {
    return refuse('SMS_PROVIDER_OUT_OF_CREDIT', { ...base, reason: 'payment required' });
  }
  if (status === 429) return throttled({ ...base, reason: 'too many requests' }, reply.headers);
  if (status === 408 || status >= 500) return unavailable({ ...base, reason: 'provider error' });
  return refuse('SMS_DELIVERY_FAILED', { ...base, reason: 'the provider refused the request' });
}

/** Throttled: retried after what the provider asked (or the backoff); the user waits a minute. */
export function throttled(details: FailureDetails, headers?: Headers): Verdict {
  const waitMs = headers ? retryAfterMs(headers) : undefined;
  return {
    ok: false,
    retry: true,
    waitMs,
    error: failure('SMS_PROVIDER_RATE_LIMITED', details, waitMs ?? 60_000),
  };
}

/** The provider is down or failing: retried with backoff. */
export function unavailable(details: FailureDetails): Verdict {
  return { ok: false, retry: true, error: failure('SMS_PROVIDER_UNAVAILABLE', details) };
}

export function refuse(code: ErrorCode, details: FailureDetails): Verdict {
  return { ok: false, retry: false, error: failure(code, details) };
}

export interface SendOptions {
  provider: string;
  timeoutMs: number;
  retry: RetryPolicy;
  /** How a wait happens (tests keep it short through `retry`, never by faking time). */
  sleep?: (ms: number) => Promise<void>;
}

/**
 * POSTs `request` until the provider's answer is judged final or the tries run out. Connection
 * failures and timeouts count as the provider being down. A POST that timed out may have been
 * taken: a retry can then send the code twice, the same code, which is harmless.
 */
export async function postToProvider(
  request: ProviderRequest,
  options: SendOptions,
  judge: (reply: ProviderReply) => Verdict,
): Promise<void> {
  const sleep = options.sleep ?? ((ms) => new Promise<void>((r) => setTimeout(r, ms)));
  let last: ParleyError | undefined;
  let asked: number | undefined;
  for (let attempt = 1; attempt <= options.retry.attempts; attempt++) {
    if (last) {
      if (asked !== undefined && asked > options.retry.maxWaitMs) throw last;
      const backoff = options.retry.baseDelayMs * 2 ** (attempt - 2);
      await sleep(asked ?? backoff * (0.5 + Math.random() / 2));
    }
    let reply: ProviderReply;
    try {
      const response = await fetch(request.url, {
        method: 'POST',
        headers: request.headers,
        body: request.body,
        redirect: 'error',
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      const text = await response.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {}
      reply = { status: response.status, headers: response.headers, json };
    } catch (error) {
      const timedOut = error instanceof Error && error.name === 'TimeoutError';
      asked = undefined;
      last = failure('SMS_PROVIDER_UNAVAILABLE', {
        provider: options.provider,
        reason: timedOut ? 'timed out' : 'unreachable',
      });
      continue;
    }
    const verdict = judge(reply);
    if (verdict.ok) return;
    if (!verdict.retry) throw verdict.error;
    last = verdict.error;
    asked = verdict.waitMs;
  }
  throw last;
}

/** `user:password` as HTTP Basic credentials. */
export function basicAuth(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** A property of a JSON object, when `value` is one. */
export function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null
    ? (value as Record<string, unknown>)[name]
    : undefined;
}
