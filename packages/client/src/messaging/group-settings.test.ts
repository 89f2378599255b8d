import * as assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ParleyError } from '@parley/core';
import { eventually, FakeCast, type FakeMember, shownTexts } from '../testing/fake-member.js';
import { FakeServer } from '../testing/fake-server.js';
import { describeNotice } from './notices.js';

let cast: FakeCast;
beforeEach(() => {
  cast = new FakeCast(new FakeServer());
});
afterEach(() => cast.stop());

/** The notices `member` shows in the conversation, in words, names from `names`. */
async function notices(member: FakeMember, conversationId: string, names: Map<string, string>) {
  return (await member.messenger.history(conversationId))
    .filter((m) => m.notice)
    .map((m) => describeNotice(m.notice!, (a) => names.get(a) ?? '?'));
}

describe('real groups: a name, adding, removing, leaving', () => {
  it('a name every member sees; a newcomer gets it without a second notice for the others; a removed member gets nothing after', async () => {
    const { members, conversation } = await cast.conversation(3);
    const [alice, bob] = members;
    const carol = members[2]!;
    const dave = await cast.member();
    const c = conversation.id;
    const names = new Map(
      [
        [alice, 'Alice'],
        [bob, 'Bob'],
        [carol, 'Carol'],
        [dave, 'Dave'],
      ].map(([m, n]) => [(m as FakeMember).device.accountId, n as string]),
    );

    await alice.messenger.nameConversation(c, '  Climbing 🧗  ');
    for (const m of [alice, bob, carol]) {
      await eventually(
        m.messenger,
        async () => (await m.messenger.conversation(c)).name === 'Climbing 🧗',
      );
    }
    await bob.messenger.setTimer(c, 3600);
    await eventually(
      alice.messenger,
      async () => (await alice.messenger.conversation(c)).timer === 3600,
    );

    // Dave joins: he learns the name and the timer; the others see only that he was added.
    await alice.messenger.addMembers(c, [dave.device.accountId]);
    await eventually(dave.messenger, async () => {
      const seen = await dave.messenger.conversation(c).catch(() => undefined);
      return seen?.name === 'Climbing 🧗' && seen.timer === 3600;
    });
    await alice.messenger.send(c, 'welcome Dave');
    await shownTexts(carol, c, 1);
    assert.deepEqual(await notices(carol, c, names), [
      'Alice added Carol',
      'Alice named the group “Climbing 🧗”',
      'Bob set disappearing messages to 1 hour',
      'Alice added Dave',
    ]);

    // Carol is removed: everyone is told; what is sent after never reaches her.
    await bob.messenger.removeMembers(c, [carol.device.accountId]);
    await eventually(carol.messenger, async () => !(await carol.messenger.conversation(c)).active);
    await alice.messenger.send(c, 'after Carol');
    await shownTexts(dave, c, 2);
    assert.deepEqual(
      (await carol.messenger.history(c)).filter((m) => m.kind === 'text').map((m) => m.text),
      ['welcome Dave'],
    );
    assert.ok((await notices(dave, c, names)).includes('Bob removed Carol'));

    // Dave leaves; the rest see it. Clearing the name is a notice too.
    await dave.messenger.leave(c);
    await eventually(alice.messenger, async () =>
      (await notices(alice, c, names)).includes('Dave left'),
    );
    await alice.messenger.nameConversation(c, '');
    await eventually(
      bob.messenger,
      async () => (await bob.messenger.conversation(c)).name === undefined,
    );
    assert.equal((await notices(bob, c, names)).at(-1), 'Alice removed the group name');
  });

  it('refuses a name that is too long or has a line break, with a typed error', async () => {
    const { alice, conversation } = await cast.chat();
    for (const bad of ['x'.repeat(101), 'two\nlines']) {
      await assert.rejects(alice.messenger.nameConversation(conversation.id, bad), (e) => {
        assert.ok(e instanceof ParleyError);
        assert.equal(e.code, 'GROUP_NAME_INVALID');
        return true;
      });
    }
  });
});
