import * as assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ParleyError } from '@parley/core';
import { eventually, FakeCast, type FakeMember, shownTexts } from '../testing/fake-member.js';
import { FakeServer } from '../testing/fake-server.js';
import { timerText } from './notices.js';

let cast: FakeCast;
beforeEach(() => {
  cast = new FakeCast(new FakeServer());
});
afterEach(() => cast.stop());

const texts = async (member: FakeMember, conversationId: string) =>
  (await member.messenger.history(conversationId))
    .filter((m) => m.kind === 'text')
    .map((m) => m.text);

describe('disappearing messages', () => {
  it('a timer set by one member reaches all; a message goes from each device once read there, not before', async () => {
    const { alice, bob, conversation } = await cast.chat();
    const c = conversation.id;
    const expired: string[] = [];
    alice.messenger.on('expired', (e) => expired.push(...e.ids));

    await alice.messenger.setTimer(c, 1);
    await eventually(bob.messenger, async () => (await bob.messenger.conversation(c)).timer === 1);
    const notices = (await bob.messenger.history(c)).filter((m) => m.notice?.change === 'timer');
    assert.deepEqual(
      notices.map((n) => [n.notice?.by.accountId, n.notice?.seconds]),
      [[alice.device.accountId, 1]],
    );

    const secret = await alice.messenger.send(c, 'gone soon');
    assert.equal(secret.expiresIn, 1);
    assert.ok(secret.expiresAt, 'one’s own message counts from sending');
    await shownTexts(bob, c, 1);
    const received = (await bob.messenger.history(c)).find((m) => m.id === secret.id)!;
    assert.equal(received.expiresIn, 1);
    assert.equal(received.expiresAt, undefined, 'not read yet: no clock');

    // Alice's copy goes; Bob has not read his, so his stays.
    await eventually(alice.messenger, async () => expired.includes(secret.id));
    assert.deepEqual(await texts(alice, c), []);
    assert.deepEqual(await texts(bob, c), ['gone soon']);

    // Bob reads it: then it goes from his device too.
    await bob.messenger.markRead(c, [secret.id]);
    await eventually(bob.messenger, async () => (await texts(bob, c)).length === 0);

    // Turned off: what is sent next stays.
    await bob.messenger.setTimer(c, 0);
    await eventually(alice.messenger, async () => !(await alice.messenger.conversation(c)).timer);
    const kept = await alice.messenger.send(c, 'here to stay');
    assert.equal(kept.expiresIn, undefined);
    assert.equal(kept.expiresAt, undefined);
  });

  it('a message whose time ran out while the messenger was stopped is gone when it starts', async () => {
    const { alice, bob, conversation } = await cast.chat();
    const c = conversation.id;
    await alice.messenger.setTimer(c, 1);
    await eventually(bob.messenger, async () => (await bob.messenger.conversation(c)).timer === 1);
    const sent = await alice.messenger.send(c, 'read and stop');
    await shownTexts(bob, c, 1);
    await bob.messenger.markRead(c, [sent.id]);
    bob.messenger.stop();
    const at = (await bob.messenger.history(c)).find((m) => m.id === sent.id)?.expiresAt;
    assert.ok(at);
    // Wait (on the clock, not on a timer) until it is due, then start again.
    while (Date.now() <= Date.parse(at)) await new Promise((r) => setTimeout(r, 50));
    await bob.messenger.start();
    await eventually(bob.messenger, async () => (await texts(bob, c)).length === 0);
  });

  it('refuses a timer out of range with a typed error, and says timers in words', async () => {
    const { alice, conversation } = await cast.chat();
    for (const bad of [-1, 0.5, 29 * 24 * 3600]) {
      await assert.rejects(alice.messenger.setTimer(conversation.id, bad), (e) => {
        assert.ok(e instanceof ParleyError);
        assert.equal(e.code, 'TIMER_INVALID');
        return true;
      });
    }
    assert.deepEqual([30, 60, 300, 3600, 86_400, 604_800, 90].map(timerText), [
      '30 seconds',
      '1 minute',
      '5 minutes',
      '1 hour',
      '1 day',
      '1 week',
      '90 seconds',
    ]);
  });
});
