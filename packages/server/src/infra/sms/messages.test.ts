/** Which text and sender a verification SMS gets: Accept-Language against the configured locales. */

import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  acceptedLanguages,
  isGsm7,
  isSenderId,
  type MessageConfig,
  renderSms,
} from './messages.js';

const config: MessageConfig = {
  text: 'Your Parley code is {code}.',
  from: 'Parley',
  locales: {
    de: { text: 'Ihr Parley-Code: {code}' },
    'pt-br': { text: 'Seu código Parley: {code}', from: 'ParleyBR' },
    pt: { text: 'O seu código Parley: {code}' },
  },
};

describe('SMS text per locale', () => {
  it('orders Accept-Language by q, keeping the header’s order on ties, dropping q=0 and *', () => {
    assert.deepEqual(acceptedLanguages('fr;q=0.5, de-CH, en;q=0.9, *;q=0.1, it;q=0'), [
      'de-ch',
      'en',
      'fr',
    ]);
    assert.deepEqual(acceptedLanguages(undefined), []);
    assert.deepEqual(acceptedLanguages('<script>, en'), ['en']);
  });

  it('matches a tag exactly, then by its language, then falls back to the default', () => {
    assert.deepEqual(renderSms(config, '123456', ['pt-br']), {
      text: 'Seu código Parley: 123456',
      from: 'ParleyBR',
    });
    assert.deepEqual(renderSms(config, '123456', ['pt-pt']), {
      text: 'O seu código Parley: 123456',
      from: 'Parley',
    });
    assert.deepEqual(renderSms(config, '123456', ['fr', 'de-at']), {
      text: 'Ihr Parley-Code: 123456',
      from: 'Parley',
    });
    assert.deepEqual(renderSms(config, '123456', ['fr']), {
      text: 'Your Parley code is 123456.',
      from: 'Parley',
    });
  });

  it('knows sender ids and the GSM alphabet', () => {
    for (const ok of ['Parley', '+14155550100', '447700900100', 'My App 2', '12345'])
      assert.ok(isSenderId(ok), ok);
    for (const bad of ['Parley Messenger', '12', 'Parley!', '']) assert.ok(!isSenderId(bad), bad);
    assert.ok(isGsm7('Ihr Parley-Code: 123456 {€}'));
    assert.ok(!isGsm7('Ваш код Parley: 123456'));
  });
});
