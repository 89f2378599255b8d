/**
 * `parley serve` configured for each SMS provider the way docs/operations.md says (only the base
 * URL points at a local stand-in of the provider, testing/sms-stand-in.ts, which checks every
 * request against the provider's documented format): a code requested in German arrives as the
 * German text and checks; the provider's refusals reach the client as typed errors (bad number,
 * out of credit, throttled with Retry-After, down after retries) and are counted in /metrics; and
 * the server's whole output, at the most verbose log level, holds neither a number nor a code
 * (the run's secrets scan reads the same output for every test number).
 */

import * as assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  type SmsProtocol,
  SmsStandIn,
  type StandInReply,
  type StandInRequest,
  sinchError,
  sinchProtocol,
  twilioError,
  twilioProtocol,
  vonageError,
  vonageProtocol,
} from '@parley/server/testing';
import { ServerProcess } from './harness/server-process.js';

const SID = `AC${'5a'.repeat(16)}`;

interface Provider {
  name: string;
  protocol: SmsProtocol;
  env: Record<string, string>;
  text(request: StandInRequest): string;
  numberRejected: StandInReply;
  outOfCredit: StandInReply;
  throttled: StandInReply;
}

const PROVIDERS: Provider[] = [
  {
    name: 'twilio',
    protocol: twilioProtocol(SID, SID, 'twilio-auth-token'),
    env: {
      PARLEY_SMS_TWILIO_ACCOUNT_SID: SID,
      PARLEY_SMS_TWILIO_AUTH_TOKEN: 'twilio-auth-token',
      PARLEY_SMS_FROM: '+15005550006',
    },
    text: (r) => String(r.fields.Body),
    numberRejected: twilioError(
      400,
      21211,
      "The 'To' number +14155550171 is not a valid phone number.",
    ),
    outOfCredit: twilioError(401, 20005, 'Account not active'),
    throttled: {
      ...twilioError(429, 20429, 'Too Many Requests'),
      headers: { 'retry-after': '3600' },
    },
  },
  {
    name: 'vonage',
    protocol: vonageProtocol('vonage-key', 'vonage-secret'),
    env: {
      PARLEY_SMS_VONAGE_API_KEY: 'vonage-key',
      PARLEY_SMS_VONAGE_API_SECRET: 'vonage-secret',
      PARLEY_SMS_FROM: 'Parley',
    },
    text: (r) => String(r.fields.text),
    numberRejected: vonageError('7', 'Number barred: 14155550171'),
    outOfCredit: vonageError('9', 'Partner quota exceeded'),
    throttled: { status: 429, headers: { 'retry-after': '3600' } },
  },
  {
    name: 'sinch',
    protocol: sinchProtocol('plan42', 'sinch-api-token'),
    env: {
      PARLEY_SMS_SINCH_SERVICE_PLAN_ID: 'plan42',
      PARLEY_SMS_SINCH_API_TOKEN: 'sinch-api-token',
      PARLEY_SMS_FROM: '+447700900100',
    },
    text: (r) => String(r.fields.body),
    numberRejected: sinchError(403, 'illegal_number_type', 'Illegal number type: +14155550171'),
    outOfCredit: sinchError(403, 'blocked_account', 'Account blocked'),
    throttled: { status: 429, headers: { 'retry-after': '3600' } },
  },
];

const NUMBERS = ['+14155550171', '+14155550172', '+14155550173', '+14155550174', '+14155550175'];

for (const p of PROVIDERS) {
  describe(`parley serve with PARLEY_SMS_PROVIDER=${p.name}`, () => {
    let standIn: SmsStandIn;
    let server: ServerProcess;
    const codes: string[] = [];

    before(async () => {
      standIn = await SmsStandIn.start(p.protocol);
      server = await ServerProcess.start({
        PARLEY_SMS_PROVIDER: p.name,
        PARLEY_SMS_BASE_URL: standIn.url,
        PARLEY_SMS_MESSAGES: JSON.stringify({ de: { text: 'Ihr Parley-Code: {code}' } }),
        PARLEY_LOG_LEVEL: 'trace',
        ...p.env,
      });
    });
    after(async () => {
      await server?.stop();
      await standIn?.close();
    });

    async function requestCode(phoneNumber: string) {
      const response = await fetch(`${server.url}/v1/verifications`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'accept-language': 'de-DE, en;q=0.8' },
        body: JSON.stringify({ phoneNumber }),
      });
      return {
        status: response.status,
        retryAfter: response.headers.get('retry-after'),
        body: (await response.json()) as Record<string, unknown>,
      };
    }

    it('sends the code in the requester’s language, and it checks', async () => {
      const started = await requestCode(NUMBERS[0]!);
      assert.equal(started.status, 201, JSON.stringify(started.body));
      assert.deepEqual(standIn.violations, []);
      const text = p.text(standIn.received.at(-1)!);
      const code = /^Ihr Parley-Code: (\d{6})$/.exec(text)?.[1];
      assert.ok(code, text);
      codes.push(code);
      const check = await fetch(`${server.url}/v1/verifications/check`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ verificationId: started.body.verificationId, code }),
      });
      assert.equal(check.status, 200);
    });

    it('tells the client what the provider refused, as typed errors', async () => {
      const cases: [StandInReply | 'drop', number, string, number][] = [
        [p.numberRejected, 1, 'SMS_NUMBER_REJECTED', 422],
        [p.outOfCredit, 1, 'SMS_PROVIDER_OUT_OF_CREDIT', 503],
        [p.throttled, 1, 'SMS_PROVIDER_RATE_LIMITED', 503],
        ['drop', 3, 'SMS_PROVIDER_UNAVAILABLE', 503],
      ];
      for (const [i, [reply, times, code, status]] of cases.entries()) {
        for (let n = 0; n < times; n++) standIn.queued.push(reply);
        const before = standIn.count;
        const answer = await requestCode(NUMBERS[i + 1]!);
        assert.equal(answer.status, status, JSON.stringify(answer.body));
        assert.equal(answer.body.code, code);
        assert.equal(standIn.count - before, times, `${code}: requests to the provider`);
        if (code === 'SMS_PROVIDER_RATE_LIMITED') assert.equal(answer.retryAfter, '3600');
        for (const n of NUMBERS) assert.ok(!JSON.stringify(answer.body).includes(n.slice(1)));
      }
      assert.deepEqual(standIn.violations, []);
      // The codes of the refused requests were in the texts the provider got and refused.
      for (const r of standIn.received.slice(1)) codes.push(/(\d{6})$/.exec(p.text(r))![1]!);
    });

    it('counts the failures in /metrics', async () => {
      const response = await fetch(`${server.url}/metrics`, {
        headers: { authorization: `Bearer ${server.adminToken()}` },
      });
      const text = await response.text();
      for (const code of [
        'SMS_NUMBER_REJECTED',
        'SMS_PROVIDER_OUT_OF_CREDIT',
        'SMS_PROVIDER_RATE_LIMITED',
        'SMS_PROVIDER_UNAVAILABLE',
      ]) {
        assert.match(text, new RegExp(`parley_sms_failures_total\\{code="${code}"\\} 1\\n`));
      }
    });

    it('logs each failure for the operator with neither a number nor a code', async () => {
      await server.stop();
      const warnings = server.output
        .split('\n')
        .filter((l) => l.includes('verification SMS not sent'));
      assert.equal(warnings.length, 4, server.output);
      assert.ok(warnings.every((l) => l.includes(`"provider":"${p.name}"`)));
      assert.ok(codes.length >= 2, 'codes were sent');
      for (const n of NUMBERS.flatMap((n) => [n, n.slice(1), n.slice(2)])) {
        assert.ok(!server.output.includes(n), `${n} in the server's output`);
      }
      // A code alone, not as digits inside a longer run (a timestamp may hold any six digits).
      for (const code of codes) {
        assert.doesNotMatch(server.output, new RegExp(`(?<!\\d)${code}(?!\\d)`));
      }
    });
  });
}
