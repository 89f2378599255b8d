import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse, UsageError } from './usage.js';

const options = {
  conversation: { type: 'string' },
  json: { type: 'boolean' },
  tag: { type: 'string', multiple: true },
} as const;

describe('argument parsing', () => {
  it('takes an id that begins with "-" as an id, as a positional and as an option value', () => {
    const id = '-AbCdEfGhIjKlMnOpQrStU';
    const other = '-_yxwvutsrqponmlkjihgf';
    const parsed = parse(['remove', id, '--conversation', other, '--json', '--tag', id], options);
    assert.deepEqual(parsed.positionals, ['remove', id]);
    assert.equal(parsed.values.conversation, other);
    assert.equal(parsed.values.json, true);
    assert.deepEqual(parsed.values.tag, [id]);
  });

  it('still refuses unknown options, with a usage error', () => {
    assert.throws(() => parse(['-x'], options), UsageError);
    assert.throws(() => parse(['--nope'], options), UsageError);
    // Not an id's length: read as options, and refused.
    assert.throws(() => parse(['-AbCdEf'], options), UsageError);
  });

  it('leaves ordinary arguments as they are', () => {
    const parsed = parse(['send', '+14155550123', 'hello -there', '--conversation=abc'], options);
    assert.deepEqual(parsed.positionals, ['send', '+14155550123', 'hello -there']);
    assert.equal(parsed.values.conversation, 'abc');
  });
});
