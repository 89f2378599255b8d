/**
 * Profiles, message requests and blocks through the `parley` command, against a real server
 * process: a profile name chosen at registration shows (marked `~`, not a contact) when the
 * other side listens; a stranger's conversation is listed by `parley requests` and accepted;
 * a spam report reaches `parley admin reports` with the account only, or with the texts when
 * attached; `parley block` makes the stranger's `parley send` fail with BLOCKED, `parley unblock`
 * undoes it; `parley profile set` changes the name.
 */

import * as assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ServerProcess } from './harness/server-process.js';

describe('parley profile, requests, block (real server process)', () => {
  let server: ServerProcess;
  const dir = mkdtempSync(join(tmpdir(), 'parley-cli-people-'));
  const state = (name: string) => join(dir, name);
  const parley = async (name: string, args: string[]) => {
    const result = await server.cli([...args, '--state', state(name)]);
    return result;
  };
  const ok = async (name: string, args: string[]) => {
    const result = await parley(name, args);
    assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
    return result.stdout;
  };
  const ids: Record<string, string> = {};

  before(async () => {
    server = await ServerProcess.start({ PARLEY_LOG_LEVEL: 'warn' });
    for (const [name, number, profile] of [
      ['alice', '+14155550311', 'Alice Ardent'],
      ['bob', '+14155550322', 'Bob Brightwater'],
    ] as const) {
      const registered = await server.cli(
        [
          'register',
          number,
          '--discoverable',
          'yes',
          '--presence',
          'contacts',
          '--profile-name',
          profile,
          '--state',
          state(name),
        ],
        true,
      );
      assert.equal(registered.code, 0, registered.stderr);
      ids[name] = (
        JSON.parse(await ok(name, ['account', '--json'])) as { accountId: string }
      ).accountId;
    }
  });
  after(() => server?.stop());

  it('a stranger’s first message shows their profile name and waits as a request', async () => {
    assert.equal(await ok('alice', ['profile']), 'Alice Ardent\n');
    await ok('alice', ['send', `account:${ids.bob}`, 'hello from a stranger']);
    const heard = await ok('bob', ['listen', '--count', '1', '--timeout', '60']);
    assert.match(heard, /~Alice Ardent: hello from a stranger/);
    const listed = JSON.parse(await ok('bob', ['requests', '--json'])) as Array<{
      conversationId: string;
      from: string;
      name: string;
      messages: number;
    }>;
    assert.equal(listed.length, 1);
    assert.equal(listed[0]!.from, ids.alice);
    assert.equal(listed[0]!.name, '~Alice Ardent');
    assert.equal(listed[0]!.messages, 1);
    // Reported as spam without the messages: the operator gets the account and the fact only.
    await ok('bob', ['requests', 'report', listed[0]!.conversationId]);
    const reports = JSON.parse(
      (await server.cli(['admin', 'reports', '--json', '--data', server.dataDir])).stdout,
    ) as Array<{ accountId: string; messages?: string[] }>;
    assert.deepEqual(
      reports.map((r) => [r.accountId, r.messages]),
      [[ids.alice, undefined]],
    );
    await ok('bob', ['requests', 'report', listed[0]!.conversationId, '--attach']);
    const withTexts = JSON.parse(
      (await server.cli(['admin', 'reports', '--json', '--data', server.dataDir])).stdout,
    ) as Array<{ accountId: string; messages?: string[] }>;
    assert.deepEqual(withTexts[0]?.messages, ['hello from a stranger']);
    const accepted = await ok('bob', ['requests', 'accept', listed[0]!.conversationId.slice(0, 8)]);
    assert.match(accepted, /Accepted/);
    assert.match(await ok('bob', ['requests']), /No message requests\./);
    // Accepting gave Alice Bob's profile.
    await ok('bob', ['send', `account:${ids.alice}`, 'hi alice']);
    const back = await ok('alice', ['listen', '--count', '1', '--timeout', '60']);
    assert.match(back, /~Bob Brightwater: hi alice/);
  });

  it('block refuses the stranger’s sends with BLOCKED; unblock lets them through', async () => {
    assert.match(await ok('bob', ['block', `account:${ids.alice}`]), /Blocked ~Alice Ardent/);
    const refused = await parley('alice', ['send', `account:${ids.bob}`, 'still there?']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /BLOCKED/);
    await ok('bob', ['unblock', `account:${ids.alice}`]);
    await ok('alice', ['send', `account:${ids.bob}`, 'after unblock']);
    const heard = await ok('bob', ['listen', '--count', '1', '--timeout', '60']);
    assert.match(heard, /~Alice Ardent: after unblock/);
    assert.doesNotMatch(heard, /still there\?/);
  });

  it('profile set changes the name the others see', async () => {
    assert.match(await ok('alice', ['profile', 'set', 'Alice', 'Renamed']), /Alice Renamed/);
    await ok('alice', ['send', `account:${ids.bob}`, 'new name']);
    const heard = await ok('bob', ['listen', '--count', '1', '--timeout', '60']);
    assert.match(heard, /~Alice Renamed: new name/);
  });
});
