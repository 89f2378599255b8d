/**
 * Vonage's SMS API: `POST {base}/sms/json`, form-encoded `api_key`, `api_secret`, `from`, `to`
 * (international digits, no `+`), `text`, and `type=unicode` when the text needs more than the GSM
 * alphabet. Vonage answers HTTP 200 even when it refuses: each part of the message carries its own
 * `status`, "0" for success and a documented number otherwise (1 throttled, 6 unrecognised number
 * prefix, 7 number barred, 9 out of credit, …), with an `error-text` that is never passed on.
 */

import { isGsm7, type MessageConfig, renderSms } from './messages.js';
import {
  byStatus,
  DEFAULT_RETRY,
  field,
  type ProviderReply,
  postToProvider,
  type RetryPolicy,
  refuse,
  throttled,
  unavailable,
  type Verdict,
} from './provider-request.js';
import type { SmsProvider, VerificationSms } from './sms-provider.js';

export const VONAGE_BASE_URL = 'https://rest.nexmo.com';

export interface VonageOptions {
  apiKey: string;
  apiSecret: string;
  baseUrl: string;
  timeoutMs: number;
  /** Its `from` is required: Vonage has no default sender. */
  messages: MessageConfig;
  retry?: RetryPolicy;
}

export class VonageSmsProvider implements SmsProvider {
  readonly name = 'vonage';

  constructor(private readonly options: VonageOptions) {}

  async sendVerification(sms: VerificationSms): Promise<void> {
    const { text, from } = renderSms(this.options.messages, sms.code, sms.languages);
    const form = new URLSearchParams({
      api_key: this.options.apiKey,
      api_secret: this.options.apiSecret,
      from: (from ?? '').replace(/^\+/, ''),
      to: sms.to.replace(/^\+/, ''),
      text,
    });
    if (!isGsm7(text)) form.set('type', 'unicode');
    await postToProvider(
      {
        url: `${this.options.baseUrl}/sms/json`,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: form.toString(),
      },
      {
        provider: this.name,
        timeoutMs: this.options.timeoutMs,
        retry: this.options.retry ?? DEFAULT_RETRY,
      },
      judgeVonage,
    );
  }
}

/** Per-message statuses (Vonage's "SMS API errors" table) and what they mean here. */
const STATUS: Record<string, 'number' | 'throttled' | 'credit' | 'down'> = {
  '1': 'throttled', // sending faster than the account's limit
  '5': 'down', // internal error
  '6': 'number', // invalid message: unrecognised number prefix
  '7': 'number', // number barred
  '8': 'credit', // account barred (suspended)
  '9': 'credit', // partner quota violation: not enough credit
  '10': 'throttled', // too many existing binds
  '22': 'number', // invalid network code
  '29': 'number', // non-whitelisted destination (trial accounts)
  '33': 'number', // number de-activated
};

export function judgeVonage(reply: ProviderReply): Verdict {
  if (reply.status !== 200) return byStatus('vonage', reply);
  const messages = field(reply.json, 'messages');
  if (!Array.isArray(messages) || messages.length === 0) {
    return refuse('SMS_DELIVERY_FAILED', {
      provider: 'vonage',
      httpStatus: 200,
      reason: 'the answer lists no message',
    });
  }
  // A long text goes as several parts: it is sent when every part is.
  const failed = messages.find((m) => field(m, 'status') !== '0');
  if (failed === undefined) return { ok: true };
  const status = String(field(failed, 'status'));
  const details = { provider: 'vonage', httpStatus: 200, providerCode: status.slice(0, 8) };
  switch (STATUS[status]) {
    case 'number':
      return refuse('SMS_NUMBER_REJECTED', { ...details, reason: 'the number cannot receive SMS' });
    case 'throttled':
      return throttled({ ...details, reason: 'throttled' }, reply.headers);
    case 'credit':
      return refuse('SMS_PROVIDER_OUT_OF_CREDIT', {
        ...details,
        reason: 'out of credit or account barred',
      });
    case 'down':
      return unavailable({ ...details, reason: 'provider internal error' });
    default:
      return refuse('SMS_DELIVERY_FAILED', {
        ...details,
        reason: 'the provider refused the request',
      });
  }
}
