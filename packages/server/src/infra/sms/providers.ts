/** The SMS provider PARLEY_SMS_PROVIDER names, built from its validated settings. */

import type { SmsConfig } from '../../config/sms-config.js';
import { ConsoleSmsProvider } from './console-provider.js';
import { HttpSmsProvider } from './http-provider.js';
import { SinchSmsProvider } from './sinch.js';
import type { SmsProvider } from './sms-provider.js';
import { TwilioSmsProvider } from './twilio.js';
import { VonageSmsProvider } from './vonage.js';

export function createSmsProvider(config: SmsConfig): SmsProvider {
  switch (config.provider) {
    case 'console':
      return new ConsoleSmsProvider();
    case 'http':
      return new HttpSmsProvider(config);
    case 'twilio':
      return new TwilioSmsProvider(config);
    case 'vonage':
      return new VonageSmsProvider(config);
    case 'sinch':
      return new SinchSmsProvider(config);
  }
}
