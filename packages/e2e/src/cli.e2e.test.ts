/**
 * The `parley` command as a person or a script uses it: register (typing the code at the prompt),
 * consent, import a contacts file, discover (--json), the transparency log, withdrawal, and the
 * admin commands — all against a real server process.
 */

import * as assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ServerProcess } from './harness/server-process.js';

describe('parley CLI (real server process)', () => {
  let server: ServerProcess;
  const dir = mkdtempSync(join(tmpdir(), 'parley-cli-'));
  const state = (name: string) => join(dir, name);

  const parley = (args: string[], answerCode = false) => server.cli(args, answerCode);

  before(async () => {
    server = await ServerProcess.start();
  });
  after(() => server?.stop());

  it('registers at the prompt, with an explicit discoverability choice', async () => {
    const missing = await parley(['register', '+14152223344', '--state', state('alice')]);
    assert.equal(missing.code, 64);
    assert.match(
      missing.stderr,
      /--discoverable must be 'yes' or 'no' \(it has no default: choose\)/,
    );

    const alice = await parley(
      [
        'register',
        '+14152223344',
        '--discoverable',
        'yes',
        '--presence',
        'contacts',
        '--state',
        state('alice'),
      ],
      true,
    );
    assert.equal(alice.code, 0, alice.stderr);
    assert.match(
      alice.stdout,
      /Registered: account \S+, device \S+\. People who have your number can find you; people who have your number and found you can see when you are online\./,
    );
    const bob = await parley(
      [
        'register',
        '+12125551234',
        '--discoverable',
        'no',
        '--presence',
        'nobody',
        '--state',
        state('bob'),
        '--name',
        'bob-laptop',
      ],
      true,
    );
    assert.equal(bob.code, 0, bob.stderr);
  });

  it('refuses to import before consent, then imports, discovers and logs', async () => {
    const file = join(dir, 'google.csv');
    writeFileSync(
      file,
      'Name,Given Name,Phone 1 - Type,Phone 1 - Value\r\nAlice,Alice,Mobile,(415) 222-3344\r\nNobody,Nobody,Mobile,+1 305 222 1111\r\nBad,Bad,Mobile,12\r\n',
    );
    const refused = await parley(['import', file, '--state', state('bob')]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /CONSENT_REQUIRED/);

    const grant = await parley(['consent', 'grant', '--state', state('bob')]);
    assert.equal(grant.code, 0);
    assert.match(grant.stdout, /What leaves this device:/);
    assert.match(grant.stdout, /Blinded phone numbers/);

    const imported = await parley(['import', file, '--region', 'US', '--state', state('bob')]);
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stdout, /Imported 2 contacts from 3 entries \(csv\)/);
    assert.match(imported.stdout, /entry 3 \(Bad\)/);

    const discovered = await parley(['discover', '--json', '--state', state('bob')]);
    assert.equal(discovered.code, 0, discovered.stderr);
    const json = JSON.parse(discovered.stdout) as {
      contacts: { name: string; phoneNumber: string; status: string }[];
      stats: { evaluated: number };
    };
    assert.deepEqual(
      json.contacts.map((c) => [c.name, c.phoneNumber, c.status]),
      [
        ['Alice', '+14152223344', 'on-parley'],
        ['Nobody', '+13052221111', 'not-on-parley'],
      ],
    );
    assert.equal(json.stats.evaluated, 2);

    const table = await parley(['discover', '--state', state('bob')]);
    assert.match(table.stdout, /Alice\s+\+14152223344\s+free messages/);
    assert.match(table.stdout, /Sent 0 blinded numbers \(2 already known\)/);

    const log = await parley(['log', '--json', '--state', state('bob')]);
    const entries = JSON.parse(log.stdout) as { kind: string; items: number; blinded: boolean }[];
    assert.deepEqual(
      entries.map((e) => [e.kind, e.items, e.blinded]),
      [
        ['own-phone-number', 1, false],
        ['verification-code', 1, false],
        // This device's public MLS keys (40 one-time and one last-resort KeyPackage).
        ['mls-key-packages', 41, false],
        ['blinded-contact-numbers', 2, true],
        ['match-lookup-tokens', 1, false],
        ['match-lookup-tokens', 1, false],
      ],
    );
  });

  it('withdraws consent and the admin commands work', async () => {
    const withdrawn = await parley(['consent', 'withdraw', '--state', state('bob')]);
    assert.equal(withdrawn.code, 0);
    const after = await parley(['discover', '--state', state('bob')]);
    assert.equal(after.code, 1);
    assert.match(after.stderr, /CONSENT_REQUIRED/);

    const stats = await parley(['admin', 'stats', '--json', '--data', server.dataDir]);
    assert.equal(stats.code, 0, stats.stderr);
    const s = JSON.parse(stats.stdout) as {
      accounts: number;
      discoverableAccounts: number;
      evaluations: number;
    };
    assert.equal(s.accounts, 2);
    assert.equal(s.discoverableAccounts, 1);
    assert.equal(s.evaluations, 2);

    const wrongDir = await parley(['admin', 'stats', '--data', join(dir, 'nowhere')]);
    assert.equal(wrongDir.code, 64);
    assert.match(wrongDir.stderr, /cannot read .*admin-token/);
  });

  it('bad input gets a clear message, not a stack trace', async () => {
    const unknown = await parley(['frobnicate', '--state', state('x')]);
    assert.equal(unknown.code, 64);
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
    const badNumber = await parley([
      'register',
      'not-a-number',
      '--discoverable',
      'yes',
      '--presence',
      'nobody',
      '--state',
      state('x'),
    ]);
    assert.equal(badNumber.code, 1);
    assert.match(badNumber.stderr, /INVALID_PHONE_NUMBER/);
    assert.doesNotMatch(badNumber.stderr, /\n\s+at /);
  });

  it('sends, listens and lists conversations; a non-user gets an sms: link', async () => {
    for (const [name, number] of [
      ['carl', '+14155550188'],
      ['dana', '+14155550189'],
    ] as const) {
      const r = await parley(
        [
          'register',
          number,
          '--discoverable',
          'yes',
          '--presence',
          'nobody',
          '--state',
          state(name),
        ],
        true,
      );
      assert.equal(r.code, 0, r.stderr);
    }
    assert.equal((await parley(['consent', 'grant', '--state', state('carl')])).code, 0);
    const sent = await parley([
      'send',
      '+14155550189',
      'hello dana',
      '--json',
      '--state',
      state('carl'),
    ]);
    assert.equal(sent.code, 0, sent.stderr);
    const receipt = JSON.parse(sent.stdout) as { sent: boolean; conversationId: string };
    assert.equal(receipt.sent, true);
    const heard = await parley([
      'listen',
      '--count',
      '1',
      '--timeout',
      '20',
      '--json',
      '--state',
      state('dana'),
    ]);
    assert.equal(heard.code, 0, heard.stderr);
    // Dana also sees who added her (a notice line, not counted by --count).
    const lines = heard.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { conversationId: string; kind: string; text: string });
    assert.deepEqual(
      lines.map((l) => l.kind),
      ['notice', 'text'],
    );
    const message = lines.at(-1)!;
    assert.deepEqual(
      [message.conversationId, message.text],
      [receipt.conversationId, 'hello dana'],
    );
    const listed = await parley(['conversations', '--json', '--state', state('dana')]);
    const conversations = JSON.parse(listed.stdout) as Array<{ id: string; messages: number }>;
    assert.deepEqual(
      conversations.map((c) => [c.id, c.messages]),
      [[receipt.conversationId, 1]],
    );
    const reply = await parley([
      'send',
      // The id may start with '-': given with '=', it cannot be taken for an option.
      `--conversation=${receipt.conversationId}`,
      'hi carl',
      '--state',
      state('dana'),
    ]);
    assert.match(reply.stdout, /^Sent \((stored|delivered|read)\) in conversation /);

    const outsider = await parley([
      'send',
      '+14155550198',
      'dinner at 8?',
      '--state',
      state('carl'),
    ]);
    assert.equal(outsider.code, 0, outsider.stderr);
    assert.match(outsider.stdout, /is not on Parley/);
    assert.match(outsider.stdout, /^sms:\+14155550198\?body=dinner%20at%208%3F%0A%0A/m);
  });
});
