import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inviteText, smsFallback, smsLink } from './sms.js';

describe('SMS fallback links', () => {
  it('opens the phone’s own SMS app with the number in E.164 and the text encoded', () => {
    assert.equal(
      smsLink('(415) 555-0123', 'Hi & bye?', 'US'),
      'sms:+14155550123?body=Hi%20%26%20bye%3F',
    );
  });

  it('appends the invitation to the message', () => {
    const link = smsFallback('+447911123456', 'See you at 8', {
      appUrl: 'https://parley.example',
      senderName: 'Ann',
    });
    const body = decodeURIComponent(link.split('?body=')[1]!);
    assert.equal(body, `See you at 8\n\n${inviteText('https://parley.example', 'Ann')}`);
    assert.match(body, /Ann uses Parley .* https:\/\/parley\.example$/);
  });

  it('refuses a number that is not one, with a typed error', () => {
    assert.throws(() => smsLink('not a number', 'x'), { code: 'INVALID_PHONE_NUMBER' });
  });
});
