/**
 * Sends one wake-up to one push service (RFC 8030 §5), and says how it went. The request is built
 * by `web-push` (the payload encrypted per RFC 8291 with aes128gcm, the VAPID JWT of RFC 8292
 * signed with the server's key: docs/design.md says why this library), and sent here with
 * Node's fetch, so the retry policy is ours and certificates are always checked:
 *
 * - 2xx: accepted. 404 / 410: the subscription is gone (RFC 8030 §6.2, §7.3): the caller drops it.
 * - 429 and 5xx, or no answer: tried again after the push service's Retry-After when it gives
 *   one (never sooner; a wait longer than MAX_RETRY_AFTER_MS gives up instead), else after an
 *   exponential backoff with jitter, up to `attempts` tries in all.
 * - Anything else (400, 401, 403, 413): refused for good; nothing a retry would change.
 */

import { PUSH_TOPIC, PUSH_WAKE_PAYLOAD } from '@parley/core';
import webPush from 'web-push';
import type { PushTarget } from './subscriptions.js';
import type { VapidKey } from './vapid-key.js';

export type PushOutcome = 'sent' | 'gone' | 'refused' | 'failed';

export interface SenderOptions {
  contact: string;
  ttlSeconds: number;
  urgency: 'very-low' | 'low' | 'normal' | 'high';
  attempts: number;
  /** The first backoff; each retry doubles it (tests shorten it). */
  backoffMs?: number;
  /** Called as each request leaves (the benchmark's clock, metrics). */
  onRequest?: (target: PushTarget) => void;
}

/** The longest Retry-After honoured; a push service asking for more is given up on. */
export const MAX_RETRY_AFTER_MS = 60_000;
/** The longest backoff between tries without a Retry-After. */
const MAX_BACKOFF_MS = 30_000;
/** A push service that has not answered by then is counted as unreachable (and retried). */
const REQUEST_TIMEOUT_MS = 15_000;

/** Retry-After as seconds or an HTTP date (RFC 9110 §10.2.3), in milliseconds from now. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export class PushSender {
  private readonly backoffMs: number;
  /** Aborted by stop(): requests in flight end, retries are given up. */
  private readonly stopping = new AbortController();

  constructor(
    private readonly key: VapidKey,
    private readonly options: SenderOptions,
  ) {
    this.backoffMs = options.backoffMs ?? 1000;
  }

  /** Shutdown: open requests are cancelled and nothing is retried (counted as failed). */
  stop(): void {
    this.stopping.abort();
  }

  /** Sends the wake-up to `target`, retrying as the top of this file says. */
  async send(target: PushTarget): Promise<{ outcome: PushOutcome; status?: number }> {
    let status: number | undefined;
    for (let attempt = 1; ; attempt++) {
      let wait: number | undefined;
      try {
        const response = await this.post(target);
        status = response.status;
        await response.body?.cancel();
        if (status >= 200 && status < 300) return { outcome: 'sent', status };
        if (status === 404 || status === 410) return { outcome: 'gone', status };
        if (status !== 429 && status < 500) return { outcome: 'refused', status };
        wait = retryAfterMs(response.headers.get('retry-after'));
        if (wait !== undefined && wait > MAX_RETRY_AFTER_MS) return { outcome: 'failed', status };
      } catch {
        status = undefined; // unreachable or timed out: retried like a 5xx
      }
      if (attempt >= this.options.attempts || this.stopping.signal.aborted) {
        return status === undefined ? { outcome: 'failed' } : { outcome: 'failed', status };
      }
      const backoff = Math.min(MAX_BACKOFF_MS, this.backoffMs * 2 ** (attempt - 1));
      // Full jitter, so many devices' retries after one outage do not arrive together.
      const delay = wait ?? backoff / 2 + Math.random() * (backoff / 2);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.stopping.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  private post(target: PushTarget): Promise<Response> {
    const details = webPush.generateRequestDetails(
      { endpoint: target.endpoint, keys: { p256dh: target.p256dh, auth: target.auth } },
      PUSH_WAKE_PAYLOAD,
      {
        vapidDetails: {
          subject: this.options.contact,
          publicKey: this.key.publicKey,
          privateKey: this.key.privateKey,
        },
        TTL: this.options.ttlSeconds,
        urgency: this.options.urgency,
        topic: PUSH_TOPIC,
        contentEncoding: 'aes128gcm',
      },
    );
    const headers = new Headers();
    for (const [name, value] of Object.entries(details.headers)) {
      // fetch sets the length of the body itself.
      if (name.toLowerCase() !== 'content-length') headers.set(name, String(value));
    }
    this.options.onRequest?.(target);
    return fetch(details.endpoint, {
      method: 'POST',
      headers,
      body: details.body,
      redirect: 'error',
      signal: AbortSignal.any([this.stopping.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
    });
  }
}
