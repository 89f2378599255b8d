/**
 * The SMS provider's settings (PARLEY_SMS_*), validated at start: a missing credential, a sender
 * id no provider accepts, a text without its code or another provider's setting stops the server
 * with a message naming the variable. Secret values (tokens, secrets) are never quoted back.
 */

import {
  CODE_PLACEHOLDER,
  DEFAULT_TEXT,
  isSenderId,
  type LocaleMessage,
  type MessageConfig,
} from '../infra/sms/messages.js';
import { DEFAULT_RETRY, type RetryPolicy } from '../infra/sms/provider-request.js';
import { SINCH_REGIONS, sinchBaseUrl } from '../infra/sms/sinch.js';
import { TWILIO_BASE_URL } from '../infra/sms/twilio.js';
import { VONAGE_BASE_URL } from '../infra/sms/vonage.js';
import { ConfigError, type Env, integer, oneOf } from './env.js';

export const SMS_PROVIDERS = ['console', 'http', 'twilio', 'vonage', 'sinch'] as const;
export type SmsProviderName = (typeof SMS_PROVIDERS)[number];

/** Each provider's own settings; setting one of another provider's is refused. */
const PROVIDER_SETTINGS: Record<SmsProviderName, string[]> = {
  console: [],
  http: ['PARLEY_SMS_HTTP_URL', 'PARLEY_SMS_HTTP_TOKEN', 'PARLEY_SMS_HTTP_TIMEOUT_MS'],
  twilio: [
    'PARLEY_SMS_TWILIO_ACCOUNT_SID',
    'PARLEY_SMS_TWILIO_AUTH_TOKEN',
    'PARLEY_SMS_TWILIO_API_KEY_SID',
    'PARLEY_SMS_TWILIO_API_KEY_SECRET',
    'PARLEY_SMS_TWILIO_MESSAGING_SERVICE_SID',
  ],
  vonage: ['PARLEY_SMS_VONAGE_API_KEY', 'PARLEY_SMS_VONAGE_API_SECRET'],
  sinch: [
    'PARLEY_SMS_SINCH_SERVICE_PLAN_ID',
    'PARLEY_SMS_SINCH_API_TOKEN',
    'PARLEY_SMS_SINCH_REGION',
  ],
};

/** Settings for every provider that sends a text. */
const COMMON = [
  'PARLEY_SMS_TIMEOUT_MS',
  'PARLEY_SMS_ATTEMPTS',
  'PARLEY_SMS_BASE_URL',
  'PARLEY_SMS_FROM',
  'PARLEY_SMS_TEXT',
  'PARLEY_SMS_MESSAGES',
];

export const SMS_SETTINGS: readonly string[] = [
  'PARLEY_SMS_PROVIDER',
  ...COMMON,
  ...Object.values(PROVIDER_SETTINGS).flat(),
];

interface Sending {
  timeoutMs: number;
  retry: RetryPolicy;
  messages: MessageConfig;
}

export type SmsConfig =
  | { provider: 'console' }
  | ({ provider: 'http'; url: string; token: string | undefined } & Sending)
  | ({
      provider: 'twilio';
      accountSid: string;
      authToken: string;
      apiKey: { sid: string; secret: string } | undefined;
      messagingServiceSid: string | undefined;
      baseUrl: string;
    } & Sending)
  | ({ provider: 'vonage'; apiKey: string; apiSecret: string; baseUrl: string } & Sending)
  | ({ provider: 'sinch'; servicePlanId: string; apiToken: string; baseUrl: string } & Sending);

export function smsConfig(env: Env): SmsConfig {
  const provider = oneOf(env, 'PARLEY_SMS_PROVIDER', 'console', SMS_PROVIDERS);
  for (const [other, names] of Object.entries(PROVIDER_SETTINGS)) {
    if (other === provider) continue;
    for (const name of names) {
      if (env[name]) {
        throw new ConfigError(
          `${name} is a setting of PARLEY_SMS_PROVIDER=${other}, but PARLEY_SMS_PROVIDER is ${provider}: remove it or choose that provider.`,
        );
      }
    }
  }
  if (env.PARLEY_SMS_BASE_URL && (provider === 'http' || provider === 'console')) {
    throw new ConfigError(
      'PARLEY_SMS_BASE_URL is for twilio, vonage and sinch; the http provider takes PARLEY_SMS_HTTP_URL.',
    );
  }
  if (provider === 'console') return { provider };
  const sending = sendingConfig(env);
  switch (provider) {
    case 'http':
      return {
        provider,
        url: httpUrl('PARLEY_SMS_HTTP_URL', env.PARLEY_SMS_HTTP_URL, 'the SMS gateway'),
        token: env.PARLEY_SMS_HTTP_TOKEN || undefined,
        ...sending,
      };
    case 'twilio': {
      const accountSid = sid(env, 'PARLEY_SMS_TWILIO_ACCOUNT_SID', 'AC', true)!;
      const keySid = sid(env, 'PARLEY_SMS_TWILIO_API_KEY_SID', 'SK', false);
      const keySecret = env.PARLEY_SMS_TWILIO_API_KEY_SECRET;
      if (Boolean(keySid) !== Boolean(keySecret)) {
        throw new ConfigError(
          'PARLEY_SMS_TWILIO_API_KEY_SID and PARLEY_SMS_TWILIO_API_KEY_SECRET go together: set both (an API key of the Twilio console) or neither.',
        );
      }
      const authToken = env.PARLEY_SMS_TWILIO_AUTH_TOKEN ?? '';
      if (!keySid && !authToken) {
        throw new ConfigError(
          'PARLEY_SMS_TWILIO_AUTH_TOKEN must be set (the Auth Token of the Twilio console), or an API key with PARLEY_SMS_TWILIO_API_KEY_SID and PARLEY_SMS_TWILIO_API_KEY_SECRET.',
        );
      }
      const messagingServiceSid = sid(env, 'PARLEY_SMS_TWILIO_MESSAGING_SERVICE_SID', 'MG', false);
      if (!messagingServiceSid)
        requireSender(sending.messages, provider, ' or PARLEY_SMS_TWILIO_MESSAGING_SERVICE_SID');
      return {
        provider,
        accountSid,
        authToken,
        apiKey: keySid && keySecret ? { sid: keySid, secret: keySecret } : undefined,
        messagingServiceSid,
        baseUrl: baseUrl(env, TWILIO_BASE_URL),
        ...sending,
      };
    }
    case 'vonage':
      requireSender(sending.messages, provider);
      return {
        provider,
        apiKey: required(env, 'PARLEY_SMS_VONAGE_API_KEY', 'the API key of the Vonage dashboard'),
        apiSecret: required(
          env,
          'PARLEY_SMS_VONAGE_API_SECRET',
          'the API secret of the Vonage dashboard',
        ),
        baseUrl: baseUrl(env, VONAGE_BASE_URL),
        ...sending,
      };
    case 'sinch': {
      requireSender(sending.messages, provider);
      const region = oneOf(env, 'PARLEY_SMS_SINCH_REGION', 'us', SINCH_REGIONS);
      const servicePlanId = required(
        env,
        'PARLEY_SMS_SINCH_SERVICE_PLAN_ID',
        'the service plan id of the Sinch dashboard',
      );
      if (!/^[A-Za-z0-9]{1,64}$/.test(servicePlanId)) {
        throw new ConfigError(
          'PARLEY_SMS_SINCH_SERVICE_PLAN_ID must be letters and digits, as the Sinch dashboard shows it.',
        );
      }
      return {
        provider,
        servicePlanId,
        apiToken: required(env, 'PARLEY_SMS_SINCH_API_TOKEN', 'the API token of the service plan'),
        baseUrl: baseUrl(env, sinchBaseUrl(region)),
        ...sending,
      };
    }
  }
}

function sendingConfig(env: Env): Sending {
  if (env.PARLEY_SMS_HTTP_TIMEOUT_MS && env.PARLEY_SMS_TIMEOUT_MS) {
    throw new ConfigError(
      'Set PARLEY_SMS_TIMEOUT_MS (PARLEY_SMS_HTTP_TIMEOUT_MS is its older name), not both.',
    );
  }
  const timeoutName = env.PARLEY_SMS_HTTP_TIMEOUT_MS
    ? 'PARLEY_SMS_HTTP_TIMEOUT_MS'
    : 'PARLEY_SMS_TIMEOUT_MS';
  return {
    timeoutMs: integer(env, timeoutName, 10_000, 100, 120_000),
    retry: {
      ...DEFAULT_RETRY,
      attempts: integer(env, 'PARLEY_SMS_ATTEMPTS', DEFAULT_RETRY.attempts, 1, 5),
    },
    messages: messagesConfig(env),
  };
}

function messagesConfig(env: Env): MessageConfig {
  const text = env.PARLEY_SMS_TEXT || DEFAULT_TEXT;
  checkText('PARLEY_SMS_TEXT', text);
  const from = env.PARLEY_SMS_FROM || undefined;
  if (from !== undefined) checkSender('PARLEY_SMS_FROM', from);
  const locales: Record<string, LocaleMessage> = {};
  const raw = env.PARLEY_SMS_MESSAGES;
  if (raw) {
    const shape =
      'PARLEY_SMS_MESSAGES must be a JSON object from locale to text and sender, e.g. {"de":{"text":"Ihr Parley-Code: {code}"},"en-GB":{"from":"Parley"}}';
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new ConfigError(`${shape} (it is not JSON).`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ConfigError(`${shape}.`);
    }
    for (const [locale, value] of Object.entries(parsed)) {
      const where = `PARLEY_SMS_MESSAGES["${locale}"]`;
      if (!/^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$/.test(locale)) {
        throw new ConfigError(
          `${where}: the key must be a language tag such as de, pt-BR or zh-Hant.`,
        );
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw new ConfigError(`${where} must be an object with "text" and/or "from".`);
      }
      const entry: LocaleMessage = {};
      for (const [key, v] of Object.entries(value)) {
        if ((key !== 'text' && key !== 'from') || typeof v !== 'string') {
          throw new ConfigError(
            `${where} may hold only "text" and "from", each a string (got "${key}").`,
          );
        }
        if (key === 'text') checkText(`${where}.text`, v);
        else checkSender(`${where}.from`, v);
        entry[key] = v;
      }
      locales[locale.toLowerCase()] = entry;
    }
  }
  return { text, from, locales };
}

function checkText(name: string, text: string): void {
  if (!text.includes(CODE_PLACEHOLDER) || text.length > 320) {
    throw new ConfigError(
      `${name} must contain ${CODE_PLACEHOLDER}, where the code goes, and be at most 320 characters.`,
    );
  }
}

function checkSender(name: string, from: string): void {
  if (!isSenderId(from)) {
    throw new ConfigError(
      `${name} must be a phone number in international form (+14155550100), a short code, or a name of 1 to 11 letters, digits and spaces (got '${from}').`,
    );
  }
}

function requireSender(messages: MessageConfig, provider: string, alternative = ''): void {
  if (!messages.from) {
    throw new ConfigError(
      `PARLEY_SMS_FROM${alternative} must be set for PARLEY_SMS_PROVIDER=${provider}: the sender id, a number of your ${provider} account or an alphanumeric name where the destination allows one.`,
    );
  }
}

function required(env: Env, name: string, what: string): string {
  const value = env[name];
  if (!value) throw new ConfigError(`${name} must be set: ${what}.`);
  return value;
}

/** A Twilio SID: two letters and 32 hex digits. Not a secret, but only its shape is quoted. */
function sid(env: Env, name: string, prefix: string, mandatory: boolean): string | undefined {
  const value = env[name];
  if (!value) {
    if (mandatory)
      throw new ConfigError(`${name} must be set: the ${prefix}… SID of the Twilio console.`);
    return undefined;
  }
  if (!new RegExp(`^${prefix}[0-9a-fA-F]{32}$`).test(value)) {
    throw new ConfigError(
      `${name} must be ${prefix} followed by 32 hex digits, as the Twilio console shows it (got ${value.length} characters).`,
    );
  }
  return value;
}

function baseUrl(env: Env, fallback: string): string {
  const raw = env.PARLEY_SMS_BASE_URL;
  if (!raw) return fallback;
  return httpUrl('PARLEY_SMS_BASE_URL', raw, "the provider's API").replace(/\/+$/, '');
}

function httpUrl(name: string, url: string | undefined, what: string): string {
  let parsed: URL | undefined;
  try {
    parsed = url ? new URL(url) : undefined;
  } catch {}
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw new ConfigError(`${name} must be the http(s) URL of ${what} (got '${url ?? ''}').`);
  }
  // Credentials go in their own settings, never in a URL that might be printed.
  if (parsed.username || parsed.password) {
    throw new ConfigError(
      `${name} must not carry a user or password; use the provider's credential settings.`,
    );
  }
  return url!;
}
