/**
 * Sinch's SMS REST API, "Send": `POST {base}/xms/v1/{service_plan_id}/batches` with
 * `Authorization: Bearer {API token}` and a JSON batch `{ from, to: [E.164], body }`; the base is
 * the account's region (`https://{us|eu|au|br|ca}.sms.api.sinch.com`). 201 with the batch (its
 * `id`) is success; a refusal is 400 or 403 with `{ code, text }`, `code` one of Sinch's names
 * (`illegal_number_type`, `blocked_account`, `syntax_invalid_parameter_format`, …).
 */

import { type MessageConfig, renderSms } from './messages.js';
import {
  byStatus,
  DEFAULT_RETRY,
  field,
  type ProviderReply,
  postToProvider,
  type RetryPolicy,
  refuse,
  type Verdict,
} from './provider-request.js';
import type { SmsProvider, VerificationSms } from './sms-provider.js';

export const SINCH_REGIONS = ['us', 'eu', 'au', 'br', 'ca'] as const;

export function sinchBaseUrl(region: (typeof SINCH_REGIONS)[number]): string {
  return `https://${region}.sms.api.sinch.com`;
}

export interface SinchOptions {
  servicePlanId: string;
  apiToken: string;
  baseUrl: string;
  timeoutMs: number;
  /** Its `from` is required: a number of the service plan, a short code or an alphanumeric id. */
  messages: MessageConfig;
  retry?: RetryPolicy;
}

export class SinchSmsProvider implements SmsProvider {
  readonly name = 'sinch';

  constructor(private readonly options: SinchOptions) {}

  async sendVerification(sms: VerificationSms): Promise<void> {
    const { text, from } = renderSms(this.options.messages, sms.code, sms.languages);
    await postToProvider(
      {
        url: `${this.options.baseUrl}/xms/v1/${encodeURIComponent(this.options.servicePlanId)}/batches`,
        headers: {
          authorization: `Bearer ${this.options.apiToken}`,
          'content-type': 'application/json',
          accept: 'application/json',
        },
        body: JSON.stringify({ from, to: [sms.to], body: text }),
      },
      {
        provider: this.name,
        timeoutMs: this.options.timeoutMs,
        retry: this.options.retry ?? DEFAULT_RETRY,
      },
      judgeSinch,
    );
  }
}

export function judgeSinch(reply: ProviderReply): Verdict {
  if (reply.status === 200 || reply.status === 201) {
    if (typeof field(reply.json, 'id') === 'string') return { ok: true };
    return refuse('SMS_DELIVERY_FAILED', {
      provider: 'sinch',
      httpStatus: reply.status,
      reason: 'the answer is not a batch',
    });
  }
  const code = field(reply.json, 'code');
  const providerCode = typeof code === 'string' ? code.slice(0, 64) : undefined;
  const details = {
    provider: 'sinch',
    httpStatus: reply.status,
    ...(providerCode ? { providerCode } : {}),
  };
  if (code === 'illegal_number_type') {
    return refuse('SMS_NUMBER_REJECTED', { ...details, reason: 'the number cannot receive SMS' });
  }
  if (code === 'blocked_account') {
    return refuse('SMS_PROVIDER_OUT_OF_CREDIT', { ...details, reason: 'account blocked' });
  }
  return byStatus('sinch', reply, providerCode);
}
