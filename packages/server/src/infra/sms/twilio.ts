/**
 * Twilio's Programmable Messaging, "Create a Message resource":
 * `POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`, HTTP Basic auth (Account SID and
 * Auth Token, or an API key SID and secret), form-encoded `To`, `Body` and `From` or
 * `MessagingServiceSid`. 201 with the Message resource (its `sid`) is success; an error is a JSON
 * `{ code, message, more_info, status }` whose `code` is one of Twilio's error numbers.
 */

import { type MessageConfig, renderSms } from './messages.js';
import {
  basicAuth,
  byStatus,
  DEFAULT_RETRY,
  field,
  type ProviderReply,
  postToProvider,
  type RetryPolicy,
  refuse,
  throttled,
  type Verdict,
} from './provider-request.js';
import type { SmsProvider, VerificationSms } from './sms-provider.js';

export const TWILIO_BASE_URL = 'https://api.twilio.com';

export interface TwilioOptions {
  accountSid: string;
  authToken: string;
  /** An API key (`SK…`) and its secret to authenticate with instead of the Auth Token. */
  apiKey?: { sid: string; secret: string } | undefined;
  /** A Messaging Service (`MG…`) picks the sender when no `from` is configured. */
  messagingServiceSid?: string | undefined;
  baseUrl: string;
  timeoutMs: number;
  messages: MessageConfig;
  retry?: RetryPolicy;
}

/** Twilio error codes that mean the recipient cannot get an SMS from us. */
const NUMBER_REJECTED = new Set([
  21211, // invalid 'To' phone number
  21217, // phone number does not appear to be valid
  21265, // 'To' number cannot be a short code
  21610, // the recipient replied STOP to this sender
  21612, // the 'To' number is not reachable through this route
  21614, // 'To' number is not a mobile number
]);

const RATE_LIMITED = new Set([20429, 14107]);
/** The account cannot pay or is not active. */
const OUT_OF_CREDIT = new Set([20005]);

export class TwilioSmsProvider implements SmsProvider {
  readonly name = 'twilio';

  constructor(private readonly options: TwilioOptions) {}

  async sendVerification(sms: VerificationSms): Promise<void> {
    const { text, from } = renderSms(this.options.messages, sms.code, sms.languages);
    const form = new URLSearchParams({ To: sms.to, Body: text });
    if (from) form.set('From', from);
    else if (this.options.messagingServiceSid) {
      form.set('MessagingServiceSid', this.options.messagingServiceSid);
    }
    const { accountSid, authToken, apiKey } = this.options;
    await postToProvider(
      {
        url: `${this.options.baseUrl}/2010-04-01/Accounts/${encodeURIComponent(accountSid)}/Messages.json`,
        headers: {
          authorization: apiKey
            ? basicAuth(apiKey.sid, apiKey.secret)
            : basicAuth(accountSid, authToken),
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
      judgeTwilio,
    );
  }
}

export function judgeTwilio(reply: ProviderReply): Verdict {
  if (reply.status === 200 || reply.status === 201) {
    if (typeof field(reply.json, 'sid') === 'string') return { ok: true };
    return refuse('SMS_DELIVERY_FAILED', {
      provider: 'twilio',
      httpStatus: reply.status,
      reason: 'the answer is not a Message resource',
    });
  }
  const code = field(reply.json, 'code');
  const providerCode = typeof code === 'number' ? String(code) : undefined;
  const details = {
    provider: 'twilio',
    httpStatus: reply.status,
    ...(providerCode ? { providerCode } : {}),
  };
  if (typeof code === 'number') {
    if (NUMBER_REJECTED.has(code)) {
      return refuse('SMS_NUMBER_REJECTED', { ...details, reason: 'the number cannot receive SMS' });
    }
    if (RATE_LIMITED.has(code)) {
      return throttled({ ...details, reason: 'too many requests' }, reply.headers);
    }
    if (OUT_OF_CREDIT.has(code)) {
      return refuse('SMS_PROVIDER_OUT_OF_CREDIT', { ...details, reason: 'account not active' });
    }
  }
  return byStatus('twilio', reply, providerCode);
}
