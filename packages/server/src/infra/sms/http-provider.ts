/**
 * Posts verification messages to an SMS gateway of the operator's own: `POST <url>` with JSON
 * `{ "to": "+E164", "text": "...", "reference": "<verification id>" }` (and `"from"` when a sender
 * is configured) and, when configured, `Authorization: Bearer <token>`. Any 2xx is success; other
 * answers map by HTTP status (429 throttled, 402 out of credit, 5xx or no answer down and retried,
 * the rest SMS_DELIVERY_FAILED), and the gateway's answer is never logged, since it may echo the
 * number.
 */

import { type MessageConfig, renderSms } from './messages.js';
import { byStatus, DEFAULT_RETRY, postToProvider, type RetryPolicy } from './provider-request.js';
import type { SmsProvider, VerificationSms } from './sms-provider.js';

export interface HttpSmsOptions {
  url: string;
  token: string | undefined;
  timeoutMs: number;
  messages: MessageConfig;
  retry?: RetryPolicy;
}

export class HttpSmsProvider implements SmsProvider {
  readonly name = 'http';

  constructor(private readonly options: HttpSmsOptions) {}

  async sendVerification(sms: VerificationSms): Promise<void> {
    const { text, from } = renderSms(this.options.messages, sms.code, sms.languages);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    await postToProvider(
      {
        url: this.options.url,
        headers,
        body: JSON.stringify({
          to: sms.to,
          text,
          reference: sms.verificationId,
          ...(from ? { from } : {}),
        }),
      },
      {
        provider: this.name,
        timeoutMs: this.options.timeoutMs,
        retry: this.options.retry ?? DEFAULT_RETRY,
      },
      (reply) =>
        reply.status >= 200 && reply.status < 300 ? { ok: true } : byStatus(this.name, reply),
    );
  }
}
