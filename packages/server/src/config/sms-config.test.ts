/**
 * The SMS settings: each provider's credentials and sender come from the environment with the
 * provider's real API as the default base URL; a missing or malformed setting stops the start with
 * a message naming the variable and never quoting a secret.
 */

import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from './config.js';

const SID = `AC${'0123456789abcdef'.repeat(2)}`;
const twilio = {
  PARLEY_SMS_PROVIDER: 'twilio',
  PARLEY_SMS_TWILIO_ACCOUNT_SID: SID,
  PARLEY_SMS_TWILIO_AUTH_TOKEN: 'tw-secret-token',
  PARLEY_SMS_FROM: '+14155550100',
};
const vonage = {
  PARLEY_SMS_PROVIDER: 'vonage',
  PARLEY_SMS_VONAGE_API_KEY: 'abc123',
  PARLEY_SMS_VONAGE_API_SECRET: 'vn-secret',
  PARLEY_SMS_FROM: 'Parley',
};
const sinch = {
  PARLEY_SMS_PROVIDER: 'sinch',
  PARLEY_SMS_SINCH_SERVICE_PLAN_ID: 'jd63jf88477ll123ab4567cd89012ef3',
  PARLEY_SMS_SINCH_API_TOKEN: 'sn-secret',
  PARLEY_SMS_FROM: '+447700900100',
};

describe('SMS configuration', () => {
  it('defaults to each provider’s real API', () => {
    const t = loadConfig(twilio).sms;
    assert.ok(t.provider === 'twilio');
    assert.equal(t.baseUrl, 'https://api.twilio.com');
    assert.equal(t.accountSid, SID);
    assert.equal(t.timeoutMs, 10_000);
    assert.equal(t.retry.attempts, 3);
    const v = loadConfig(vonage).sms;
    assert.ok(v.provider === 'vonage' && v.baseUrl === 'https://rest.nexmo.com');
    const s = loadConfig(sinch).sms;
    assert.ok(s.provider === 'sinch' && s.baseUrl === 'https://us.sms.api.sinch.com');
    const eu = loadConfig({ ...sinch, PARLEY_SMS_SINCH_REGION: 'eu' }).sms;
    assert.ok(eu.provider === 'sinch' && eu.baseUrl === 'https://eu.sms.api.sinch.com');
  });

  it('takes a base URL for a stand-in or a regional endpoint', () => {
    const t = loadConfig({ ...twilio, PARLEY_SMS_BASE_URL: 'http://127.0.0.1:9000/' }).sms;
    assert.ok(t.provider === 'twilio' && t.baseUrl === 'http://127.0.0.1:9000');
  });

  it('reads texts and senders per locale', () => {
    const config = loadConfig({
      ...vonage,
      PARLEY_SMS_TEXT: 'Parley: {code}',
      PARLEY_SMS_MESSAGES: JSON.stringify({
        de: { text: 'Ihr Parley-Code: {code}' },
        'pt-BR': { text: 'Seu código Parley: {code}', from: 'ParleyBR' },
      }),
    }).sms;
    assert.ok(config.provider === 'vonage');
    assert.deepEqual(config.messages, {
      text: 'Parley: {code}',
      from: 'Parley',
      locales: {
        de: { text: 'Ihr Parley-Code: {code}' },
        'pt-br': { text: 'Seu código Parley: {code}', from: 'ParleyBR' },
      },
    });
  });

  it('a Twilio Messaging Service stands in for a sender; an API key for the Auth Token', () => {
    const config = loadConfig({
      PARLEY_SMS_PROVIDER: 'twilio',
      PARLEY_SMS_TWILIO_ACCOUNT_SID: SID,
      PARLEY_SMS_TWILIO_API_KEY_SID: `SK${'ab'.repeat(16)}`,
      PARLEY_SMS_TWILIO_API_KEY_SECRET: 'key-secret',
      PARLEY_SMS_TWILIO_MESSAGING_SERVICE_SID: `MG${'cd'.repeat(16)}`,
    }).sms;
    assert.ok(config.provider === 'twilio');
    assert.deepEqual(config.apiKey, { sid: `SK${'ab'.repeat(16)}`, secret: 'key-secret' });
    assert.equal(config.messages.from, undefined);
  });

  const bad: [Record<string, string>, RegExp][] = [
    [
      { ...twilio, PARLEY_SMS_TWILIO_ACCOUNT_SID: 'AC123' },
      /PARLEY_SMS_TWILIO_ACCOUNT_SID must be AC followed by 32 hex digits/,
    ],
    [{ ...twilio, PARLEY_SMS_TWILIO_AUTH_TOKEN: '' }, /PARLEY_SMS_TWILIO_AUTH_TOKEN must be set/],
    [
      { ...twilio, PARLEY_SMS_FROM: '' },
      /PARLEY_SMS_FROM or PARLEY_SMS_TWILIO_MESSAGING_SERVICE_SID must be set/,
    ],
    [{ ...twilio, PARLEY_SMS_TWILIO_API_KEY_SID: `SK${'ab'.repeat(16)}` }, /go together/],
    [
      { ...vonage, PARLEY_SMS_FROM: '' },
      /PARLEY_SMS_FROM must be set for PARLEY_SMS_PROVIDER=vonage/,
    ],
    [{ ...vonage, PARLEY_SMS_VONAGE_API_SECRET: '' }, /PARLEY_SMS_VONAGE_API_SECRET must be set/],
    [
      { ...vonage, PARLEY_SMS_FROM: 'Parley Messenger' },
      /PARLEY_SMS_FROM must be a phone number .* or a name of 1 to 11/,
    ],
    [
      { ...vonage, PARLEY_SMS_TWILIO_AUTH_TOKEN: 'x' },
      /PARLEY_SMS_TWILIO_AUTH_TOKEN is a setting of PARLEY_SMS_PROVIDER=twilio, but PARLEY_SMS_PROVIDER is vonage/,
    ],
    [
      { ...sinch, PARLEY_SMS_SINCH_REGION: 'mars' },
      /PARLEY_SMS_SINCH_REGION must be one of us, eu, au, br, ca/,
    ],
    [{ ...sinch, PARLEY_SMS_SINCH_API_TOKEN: '' }, /PARLEY_SMS_SINCH_API_TOKEN must be set/],
    [{ ...sinch, PARLEY_SMS_TEXT: 'Your code' }, /PARLEY_SMS_TEXT must contain \{code\}/],
    [
      { ...sinch, PARLEY_SMS_MESSAGES: '{de: 1}' },
      /PARLEY_SMS_MESSAGES must be a JSON object .*not JSON/,
    ],
    [
      { ...sinch, PARLEY_SMS_MESSAGES: '{"de":{"text":"Code"}}' },
      /PARLEY_SMS_MESSAGES\["de"\].text must contain \{code\}/,
    ],
    [{ ...sinch, PARLEY_SMS_MESSAGES: '{"de":{"sender":"X"}}' }, /may hold only "text" and "from"/],
    [
      { ...sinch, PARLEY_SMS_MESSAGES: '{"german!":{"text":"{code}"}}' },
      /the key must be a language tag/,
    ],
    [{ ...sinch, PARLEY_SMS_BASE_URL: 'ftp://x' }, /PARLEY_SMS_BASE_URL must be the http\(s\) URL/],
    [{ ...sinch, PARLEY_SMS_BASE_URL: 'https://u:pw@x' }, /must not carry a user or password/],
    [{ ...sinch, PARLEY_SMS_ATTEMPTS: '9' }, /PARLEY_SMS_ATTEMPTS must be an integer from 1 to 5/],
    [
      { PARLEY_SMS_PROVIDER: 'console', PARLEY_SMS_BASE_URL: 'http://x' },
      /PARLEY_SMS_BASE_URL is for twilio/,
    ],
  ];
  for (const [env, message] of bad) {
    it(`refuses ${JSON.stringify(env)} with a clear message, no secret in it`, () => {
      assert.throws(
        () => loadConfig(env),
        (e: unknown) =>
          e instanceof ConfigError &&
          message.test(e.message) &&
          !/tw-secret-token|vn-secret|sn-secret|key-secret|pw@/.test(e.message),
      );
    });
  }
});
