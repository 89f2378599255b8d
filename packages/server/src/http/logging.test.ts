import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { phoneNumberForms } from '@parley/core';
import { maskNumberLike, serializeError } from './logging.js';

describe('log redaction', () => {
  it('masks every form of a phone number', () => {
    for (const n of ['+14155550123', '+4930123456', '+447911123456']) {
      for (const form of phoneNumberForms(n)) {
        const masked = maskNumberLike(`could not handle ${form} today`);
        assert.equal(masked, 'could not handle [number?] today', form);
      }
    }
  });

  it('leaves addresses, ports, short numbers and timestamps readable', () => {
    const text = 'connect ECONNREFUSED 127.0.0.1:5432 after 3 tries, 250 ms; v1.2.3 at 12:30:45';
    assert.equal(maskNumberLike(text), text);
  });

  it('masks error messages, stacks and causes', () => {
    const error = new Error('Unexpected token in JSON: "{"phoneNumber": "+14155550123","', {
      cause: new TypeError('bad value 415-555-0123'),
    });
    const logged = serializeError(error);
    assert.equal(logged.type, 'Error');
    assert.ok(!JSON.stringify(logged).includes('555'), JSON.stringify(logged));
    assert.match(logged.message, /\[number\?\]/);
    assert.match(logged.stack, /^Error: Unexpected token/);
    assert.equal((logged.cause as { type: string }).type, 'TypeError');
  });
});
