/**
 * Every SMS adapter against a local stand-in of its provider (testing/sms-stand-in.ts), one shared
 * suite: the request is exactly the documented one (method, path, authentication, content type,
 * every field), the text and sender follow the requester's language, each documented error maps
 * to its typed Parley error with neither the number nor the code in it, a provider that is down
 * or throttling is retried with backoff, and wrong credentials are not retried.
 */

import * as assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type ErrorCode, ParleyError } from '@parley/core';
import {
  httpGatewayProtocol,
  type SmsProtocol,
  SmsStandIn,
  type StandInReply,
  sinchError,
  sinchProtocol,
  twilioError,
  twilioProtocol,
  vonageError,
  vonageProtocol,
} from '../../testing/sms-stand-in.js';
import { HttpSmsProvider } from './http-provider.js';
import { acceptedLanguages, DEFAULT_TEXT, type MessageConfig } from './messages.js';
import type { RetryPolicy } from './provider-request.js';
import { SinchSmsProvider } from './sinch.js';
import type { SmsProvider, VerificationSms } from './sms-provider.js';
import { TwilioSmsProvider } from './twilio.js';
import { VonageSmsProvider } from './vonage.js';

const retry: RetryPolicy = { attempts: 3, baseDelayMs: 5, maxWaitMs: 5_000 };
const timeoutMs = 10_000;

const messages: MessageConfig = {
  text: DEFAULT_TEXT,
  from: 'Parley',
  locales: {
    de: { text: 'Ihr Parley-Code: {code}', from: 'ParleyDE' },
    ru: { text: 'Ваш код Parley: {code}' },
  },
};

const sms: VerificationSms = {
  to: '+14155550123',
  code: '493817',
  verificationId: 'verification-id-1',
  expiresAt: new Date(Date.now() + 600_000),
};

const ACCOUNT_SID = `AC${'0123456789abcdef'.repeat(2)}`;

interface ErrorCase {
  label: string;
  reply: StandInReply;
  code: ErrorCode;
  /** Requests the adapter makes: 1 when final, every attempt when retried. */
  tries: number;
  retryAfterMs?: number;
}

interface ProviderCase {
  name: string;
  protocol: SmsProtocol;
  make(baseUrl: string, wrongSecret?: boolean): SmsProvider;
  /** The fields the provider must receive for `sms` with this text and sender. */
  fields(text: string, from: string): Record<string, unknown>;
  errors: ErrorCase[];
}

const CASES: ProviderCase[] = [
  {
    name: 'twilio',
    protocol: twilioProtocol(ACCOUNT_SID, ACCOUNT_SID, 'auth-token'),
    make: (baseUrl, wrong) =>
      new TwilioSmsProvider({
        accountSid: ACCOUNT_SID,
        authToken: wrong ? 'not-the-token' : 'auth-token',
        baseUrl,
        timeoutMs,
        messages,
        retry,
      }),
    fields: (text, from) => ({ To: '+14155550123', Body: text, From: from }),
    errors: [
      {
        label: '21211 invalid To',
        reply: twilioError(400, 21211, "The 'To' number +14155550123 is not a valid phone number."),
        code: 'SMS_NUMBER_REJECTED',
        tries: 1,
      },
      {
        label: '21614 not a mobile number',
        reply: twilioError(400, 21614, "'To' number +14155550123 is not a valid mobile number"),
        code: 'SMS_NUMBER_REJECTED',
        tries: 1,
      },
      {
        label: '21610 unsubscribed recipient',
        reply: twilioError(400, 21610, 'Attempt to send to unsubscribed recipient'),
        code: 'SMS_NUMBER_REJECTED',
        tries: 1,
      },
      {
        label: '20429 with a long Retry-After',
        reply: {
          ...twilioError(429, 20429, 'Too Many Requests'),
          headers: { 'retry-after': '3600' },
        },
        code: 'SMS_PROVIDER_RATE_LIMITED',
        tries: 1,
        retryAfterMs: 3_600_000,
      },
      {
        label: '20429 without Retry-After',
        reply: twilioError(429, 20429, 'Too Many Requests'),
        code: 'SMS_PROVIDER_RATE_LIMITED',
        tries: 3,
        retryAfterMs: 60_000,
      },
      {
        label: '20005 account not active',
        reply: twilioError(401, 20005, 'Account not active'),
        code: 'SMS_PROVIDER_OUT_OF_CREDIT',
        tries: 1,
      },
      {
        label: '20500 internal error',
        reply: twilioError(500, 20500, 'Internal Server Error'),
        code: 'SMS_PROVIDER_UNAVAILABLE',
        tries: 3,
      },
      {
        label: '21606 From not SMS-capable',
        reply: twilioError(
          400,
          21606,
          "The 'From' phone number provided is not a valid message-capable Twilio phone number for this destination.",
        ),
        code: 'SMS_DELIVERY_FAILED',
        tries: 1,
      },
    ],
  },
  {
    name: 'vonage',
    protocol: vonageProtocol('vonage-key', 'vonage-secret'),
    make: (baseUrl, wrong) =>
      new VonageSmsProvider({
        apiKey: 'vonage-key',
        apiSecret: wrong ? 'not-the-secret' : 'vonage-secret',
        baseUrl,
        timeoutMs,
        messages,
        retry,
      }),
    fields: (text, from) => ({
      api_key: 'vonage-key',
      api_secret: 'vonage-secret',
      from,
      to: '14155550123',
      text,
    }),
    errors: [
      {
        label: 'status 6, unrecognised prefix',
        reply: vonageError('6', 'Invalid Message'),
        code: 'SMS_NUMBER_REJECTED',
        tries: 1,
      },
      {
        label: 'status 7, number barred',
        reply: vonageError('7', 'Number barred: 14155550123'),
        code: 'SMS_NUMBER_REJECTED',
        tries: 1,
      },
      {
        label: 'status 1, throttled',
        reply: vonageError('1', 'Throughput Rate Exceeded - please wait [ 10 ] and retry'),
        code: 'SMS_PROVIDER_RATE_LIMITED',
        tries: 3,
        retryAfterMs: 60_000,
      },
      {
        label: 'status 9, out of credit',
        reply: vonageError('9', 'Partner quota exceeded'),
        code: 'SMS_PROVIDER_OUT_OF_CREDIT',
        tries: 1,
      },
      {
        label: 'status 5, internal error',
        reply: vonageError('5', 'Internal Error'),
        code: 'SMS_PROVIDER_UNAVAILABLE',
        tries: 3,
      },
      {
        label: 'status 15, invalid sender',
        reply: vonageError('15', 'Illegal Sender Address - rejected'),
        code: 'SMS_DELIVERY_FAILED',
        tries: 1,
      },
      {
        label: 'HTTP 503',
        reply: { status: 503 },
        code: 'SMS_PROVIDER_UNAVAILABLE',
        tries: 3,
      },
    ],
  },
  {
    name: 'sinch',
    protocol: sinchProtocol('plan1234', 'sinch-token'),
    make: (baseUrl, wrong) =>
      new SinchSmsProvider({
        servicePlanId: 'plan1234',
        apiToken: wrong ? 'not-the-token' : 'sinch-token',
        baseUrl,
        timeoutMs,
        messages,
        retry,
      }),
    fields: (text, from) => ({ from, to: ['+14155550123'], body: text }),
    errors: [
      {
        label: '403 illegal_number_type',
        reply: sinchError(403, 'illegal_number_type', 'Illegal number type: +14155550123'),
        code: 'SMS_NUMBER_REJECTED',
        tries: 1,
      },
      {
        label: '403 blocked_account',
        reply: sinchError(403, 'blocked_account', 'Account is blocked'),
        code: 'SMS_PROVIDER_OUT_OF_CREDIT',
        tries: 1,
      },
      {
        label: '400 syntax_invalid_parameter_format',
        reply: sinchError(400, 'syntax_invalid_parameter_format', 'Invalid from: Parley'),
        code: 'SMS_DELIVERY_FAILED',
        tries: 1,
      },
      {
        label: '429 with Retry-After 1',
        reply: { status: 429, headers: { 'retry-after': '1' } },
        code: 'SMS_PROVIDER_RATE_LIMITED',
        tries: 3,
        retryAfterMs: 1_000,
      },
      { label: '503', reply: { status: 503 }, code: 'SMS_PROVIDER_UNAVAILABLE', tries: 3 },
    ],
  },
  {
    name: 'http',
    protocol: httpGatewayProtocol('/send', 'gateway-token'),
    make: (baseUrl, wrong) =>
      new HttpSmsProvider({
        url: `${baseUrl}/send`,
        token: wrong ? 'not-the-token' : 'gateway-token',
        timeoutMs,
        messages,
        retry,
      }),
    fields: (text, from) => ({
      to: '+14155550123',
      text,
      reference: 'verification-id-1',
      from,
    }),
    errors: [
      {
        label: '402',
        reply: { status: 402 },
        code: 'SMS_PROVIDER_OUT_OF_CREDIT',
        tries: 1,
      },
      { label: '429', reply: { status: 429 }, code: 'SMS_PROVIDER_RATE_LIMITED', tries: 3 },
      { label: '502', reply: { status: 502 }, code: 'SMS_PROVIDER_UNAVAILABLE', tries: 3 },
      { label: '400', reply: { status: 400 }, code: 'SMS_DELIVERY_FAILED', tries: 1 },
    ],
  },
];

/** Neither the number (in any form) nor the code appears anywhere in the error. */
function assertClean(error: unknown): void {
  assert.ok(error instanceof ParleyError);
  const text = `${JSON.stringify(error.toBody())}\n${error.message}\n${error.stack}\n${String(error.cause)}`;
  for (const secret of ['4155550123', '493817']) {
    assert.ok(!text.includes(secret), `${secret} in the error: ${text}`);
  }
}

for (const c of CASES) {
  describe(`SMS provider ${c.name} against its stand-in`, () => {
    let standIn: SmsStandIn;
    before(async () => {
      standIn = await SmsStandIn.start(c.protocol);
    });
    after(() => standIn.close());

    function reset(): void {
      standIn.received.length = 0;
      standIn.violations.length = 0;
      standIn.queued.length = 0;
      standIn.count = 0;
    }

    it('sends exactly the documented request', async () => {
      reset();
      await c.make(standIn.url).sendVerification(sms);
      assert.deepEqual(standIn.violations, []);
      assert.equal(standIn.received.length, 1);
      assert.deepEqual(
        standIn.received[0]!.fields,
        c.fields('Your Parley code is 493817. Do not share it with anyone.', 'Parley'),
      );
    });

    it('takes the text and the sender of the requester’s language', async () => {
      reset();
      const provider = c.make(standIn.url);
      await provider.sendVerification({ ...sms, languages: acceptedLanguages('de-CH, en;q=0.5') });
      // A locale without a sender of its own keeps the default one; Cyrillic goes as Unicode.
      await provider.sendVerification({ ...sms, languages: ['ru'] });
      assert.deepEqual(standIn.violations, []);
      assert.deepEqual(
        standIn.received[0]!.fields,
        c.fields('Ihr Parley-Code: 493817', 'ParleyDE'),
      );
      const russian = c.fields('Ваш код Parley: 493817', 'Parley');
      if (c.name === 'vonage') russian.type = 'unicode';
      assert.deepEqual(standIn.received[1]!.fields, russian);
    });

    for (const e of c.errors) {
      it(`maps ${e.label} to ${e.code}`, async () => {
        reset();
        for (let i = 0; i < e.tries; i++) standIn.queued.push(e.reply);
        const error = await c
          .make(standIn.url)
          .sendVerification(sms)
          .then(
            () => assert.fail('sent'),
            (err: unknown) => err,
          );
        assert.ok(error instanceof ParleyError, String(error));
        assert.equal(error.code, e.code);
        assert.equal(standIn.count, e.tries, 'requests made');
        assert.deepEqual(standIn.violations, []);
        if (e.retryAfterMs !== undefined) assert.equal(error.retryAfterMs, e.retryAfterMs);
        assertClean(error);
      });
    }

    it('retries a provider that is down and sends once it answers', async () => {
      reset();
      standIn.queued.push('drop', { status: 503 });
      await c.make(standIn.url).sendVerification(sms);
      assert.equal(standIn.count, 3);
      assert.deepEqual(standIn.violations, []);
    });

    it('gives up on an unreachable provider with SMS_PROVIDER_UNAVAILABLE', async () => {
      const error = await c
        .make('http://127.0.0.1:1')
        .sendVerification(sms)
        .then(
          () => assert.fail('sent'),
          (err: unknown) => err,
        );
      assert.ok(error instanceof ParleyError && error.code === 'SMS_PROVIDER_UNAVAILABLE');
      assertClean(error);
    });

    it('does not retry wrong credentials', async () => {
      reset();
      const error = await c
        .make(standIn.url, true)
        .sendVerification(sms)
        .then(
          () => assert.fail('sent'),
          (err: unknown) => err,
        );
      assert.ok(
        error instanceof ParleyError && error.code === 'SMS_DELIVERY_FAILED',
        String(error),
      );
      assert.equal(standIn.count, 1);
      assert.match(standIn.violations.join('\n'), /authentication/);
      assertClean(error);
    });
  });
}

describe('Twilio senders and keys', () => {
  const MG = `MG${'fedcba9876543210'.repeat(2)}`;
  const SK = `SK${'00112233445566778899aabbccddeeff'}`;

  it('a Messaging Service picks the sender when none is configured', async () => {
    const standIn = await SmsStandIn.start(twilioProtocol(ACCOUNT_SID, ACCOUNT_SID, 'auth-token'));
    try {
      await new TwilioSmsProvider({
        accountSid: ACCOUNT_SID,
        authToken: 'auth-token',
        messagingServiceSid: MG,
        baseUrl: standIn.url,
        timeoutMs,
        messages: { ...messages, from: undefined, locales: {} },
        retry,
      }).sendVerification(sms);
      assert.deepEqual(standIn.violations, []);
      assert.deepEqual(standIn.received[0]!.fields, {
        To: '+14155550123',
        Body: 'Your Parley code is 493817. Do not share it with anyone.',
        MessagingServiceSid: MG,
      });
    } finally {
      await standIn.close();
    }
  });

  it('an API key authenticates in place of the Auth Token, on the account’s path', async () => {
    const standIn = await SmsStandIn.start(twilioProtocol(ACCOUNT_SID, SK, 'key-secret'));
    try {
      await new TwilioSmsProvider({
        accountSid: ACCOUNT_SID,
        authToken: '',
        apiKey: { sid: SK, secret: 'key-secret' },
        baseUrl: standIn.url,
        timeoutMs,
        messages,
        retry,
      }).sendVerification(sms);
      assert.deepEqual(standIn.violations, []);
      assert.equal(standIn.received.length, 1);
    } finally {
      await standIn.close();
    }
  });
});
