/**
 * Posts verification messages to an SMS gateway: `POST <url>` with JSON
 * `{ "to": "+E164", "text": "...", "reference": "<verification id>" }` and, when configured,
 * `Authorization: Bearer <token>`. Any 2xx is success; anything else (or a timeout) is
 * SMS_DELIVERY_FAILED, and the gateway's answer is never logged, since it may echo the number.
 */

import { ParleyError } from '@parley/core';
import { type SmsProvider, type VerificationSms, verificationText } from './sms-provider.js';

export class HttpSmsProvider implements SmsProvider {
  readonly name = 'http';

  constructor(
    private readonly options: { url: string; token: string | undefined; timeoutMs: number },
  ) {}

  async sendVerification(sms: VerificationSms): Promise<void> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    let response: Response;
    try {
      response = await fetch(this.options.url, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          to: sms.to,
          text: verificationText(sms.code),
          reference: sms.verificationId,
        }),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      await response.arrayBuffer();
    } catch {
      throw new ParleyError('SMS_DELIVERY_FAILED', {
        details: { reason: 'gateway unreachable or timed out' },
      });
    }
    if (!response.ok) {
      throw new ParleyError('SMS_DELIVERY_FAILED', {
        details: { reason: `gateway answered HTTP ${response.status}` },
      });
    }
  }
}
