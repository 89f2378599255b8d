import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HELP, parse, UsageError } from './usage.js';

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

describe('the help text', () => {
  it('names every option the client commands take', async () => {
    const { OPTIONS } = await import('./commands/client.js');
    for (const name of Object.keys(OPTIONS)) {
      assert.ok(HELP.includes(`--${name}`), `the help does not mention --${name}`);
    }
  });

  it('names the commands for linking, safety numbers and the registration lock', () => {
    for (const command of [
      'parley link',
      'parley devices approve CODE',
      'parley safety-number CONTACT',
      'parley account lock',
      'parley account unlock',
    ]) {
      assert.ok(HELP.includes(command), `the help does not mention ${command}`);
    }
  });
});
