import * as assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { MESSAGE_CHANGE_WINDOW_MS, type MessageChangeEnvelope, ParleyError } from '@parley/core';
import { eventually, FakeCast, type FakeMember, shownTexts } from '../testing/fake-member.js';
import { FakeServer } from '../testing/fake-server.js';
import type { ChatMessage } from './model.js';
import type { Outbox } from './outbox.js';

let cast: FakeCast;
beforeEach(() => {
  cast = new FakeCast(new FakeServer());
});
afterEach(() => cast.stop());

/** What a person sees of a message: the parts every device must agree on. */
async function seen(member: FakeMember, conversationId: string, id: string) {
  const m = (await member.messenger.history(conversationId)).find((h) => h.id === id);
  if (!m) return undefined;
  const { text, replyTo, reactions, editedAt, deletedAt } = m;
  return { text, replyTo, reactions, editedAt, deletedAt };
}

/** Waits until `member` sees message `id` as `expected` (every field compared). */
async function until(
  member: FakeMember,
  conversationId: string,
  id: string,
  expected: Awaited<ReturnType<typeof seen>>,
) {
  let last: unknown;
  await eventually(member.messenger, async () => {
    last = await seen(member, conversationId, id);
    return JSON.stringify(last) === JSON.stringify(expected);
  }).catch(() => assert.deepEqual(last, expected));
}

/** Sends a change as a member whose own checks were bypassed (a modified client). */
function sendRaw(member: FakeMember, conversationId: string, change: MessageChangeEnvelope) {
  const { outbox } = member.messenger as unknown as { outbox: Outbox };
  return outbox.sendChange(conversationId, change, async () => ({}) as ChatMessage);
}

describe('replies, reactions, edits and deletes', () => {
  it('reach every device, one offline through all four included, and look the same everywhere', async () => {
    const { alice, laptop, bob, conversation } = await cast.chatWithLaptop();
    const c = conversation.id;
    const question = await alice.messenger.send(c, 'Lunch at noon?');
    await shownTexts(laptop, c, 1);
    await shownTexts(bob, c, 1);
    laptop.messenger.stop();

    const answer = await bob.messenger.send(c, 'Yes!', { replyTo: question.id });
    assert.deepEqual(answer.replyTo, {
      id: question.id,
      from: alice.device.accountId,
      text: 'Lunch at noon?',
    });
    await bob.messenger.react(c, question.id, '👍');
    await bob.messenger.react(c, question.id, '❤️'); // one per person: replaces the first
    const edited = await alice.messenger.edit(c, question.id, 'Lunch at 12:30?');
    await alice.messenger.react(c, answer.id, '🎉');
    const typo = await alice.messenger.send(c, 'sorry, wrong chat');
    const deleted = await alice.messenger.deleteForEveryone(c, typo.id);
    assert.ok(deleted.deletedAt);

    const expected = {
      question: {
        text: 'Lunch at 12:30?',
        replyTo: undefined,
        reactions: { [bob.device.accountId]: '❤️' },
        editedAt: edited.editedAt,
        deletedAt: undefined,
      },
      answer: {
        text: 'Yes!',
        replyTo: { id: question.id, from: alice.device.accountId, text: 'Lunch at noon?' },
        reactions: { [alice.device.accountId]: '🎉' },
        editedAt: undefined,
        deletedAt: undefined,
      },
    };
    assert.ok(edited.editedAt);
    // The laptop comes back: the queue brings all of it, in order.
    await laptop.messenger.start();
    for (const member of [alice, laptop, bob]) {
      await until(member, c, question.id, expected.question);
      await until(member, c, answer.id, expected.answer);
      await until(member, c, typo.id, {
        text: '',
        replyTo: undefined,
        reactions: undefined,
        editedAt: undefined,
        deletedAt: deleted.deletedAt,
      });
    }

    // A reaction taken back is gone everywhere.
    await bob.messenger.react(c, question.id, '');
    for (const member of [alice, laptop, bob]) {
      await until(member, c, question.id, { ...expected.question, reactions: undefined });
    }
  });

  it('refuses, on the sender’s device, a change it may not make, with a typed error', async () => {
    const { alice, bob, conversation } = await cast.chat();
    const c = conversation.id;
    const mine = await alice.messenger.send(c, 'mine');
    await shownTexts(bob, c, 1);
    const code = (e: unknown) => (e instanceof ParleyError ? e.code : String(e));
    await assert.rejects(bob.messenger.edit(c, mine.id, 'hijacked'), (e) => {
      assert.equal(code(e), 'MESSAGE_CHANGE_REFUSED');
      return true;
    });
    await assert.rejects(bob.messenger.deleteForEveryone(c, mine.id), (e) => {
      assert.equal(code(e), 'MESSAGE_CHANGE_REFUSED');
      return true;
    });
    await assert.rejects(bob.messenger.react(c, mine.id, 'like'), (e) => {
      assert.equal(code(e), 'MESSAGE_CHANGE_REFUSED');
      return true;
    });
    await assert.rejects(bob.messenger.react(c, 'no-such-message', '👍'), (e) => {
      assert.equal(code(e), 'MESSAGE_NOT_FOUND');
      return true;
    });
    await assert.rejects(bob.messenger.send(c, 're', { replyTo: 'no-such-message' }), (e) => {
      assert.equal(code(e), 'MESSAGE_NOT_FOUND');
      return true;
    });
    await alice.messenger.deleteForEveryone(c, mine.id);
    await assert.rejects(alice.messenger.edit(c, mine.id, 'back again'), (e) => {
      assert.equal(code(e), 'MESSAGE_CHANGE_REFUSED');
      return true;
    });
  });

  it('ignores a member’s forged edit or delete of someone else’s message, and one outside the window', async () => {
    const { members, conversation } = await cast.conversation(3);
    const [alice, bob] = members;
    const carol = members[2]!;
    const c = conversation.id;
    const original = await alice.messenger.send(c, 'the plan');
    await shownTexts(bob, c, 1);
    await shownTexts(carol, c, 1);
    const later = new Date(Date.parse(original.sentAt) + MESSAGE_CHANGE_WINDOW_MS + 1000);
    // Bob's client lets through what the rules forbid; MLS says it is Bob's.
    await sendRaw(bob, c, {
      v: 1,
      type: 'edit',
      target: original.id,
      text: 'no plan',
      sentAt: original.sentAt,
    });
    await sendRaw(bob, c, { v: 1, type: 'delete', target: original.id, sentAt: original.sentAt });
    // Alice's own edit, dated past the window (a client with a lying clock, say).
    await sendRaw(alice, c, {
      v: 1,
      type: 'edit',
      target: original.id,
      text: 'too late',
      sentAt: later.toISOString(),
    });
    // A marker after them: once Carol has it, she has applied (or refused) everything before.
    await bob.messenger.send(c, 'marker');
    await shownTexts(carol, c, 2);
    assert.deepEqual(await seen(carol, c, original.id), {
      text: 'the plan',
      replyTo: undefined,
      reactions: undefined,
      editedAt: undefined,
      deletedAt: undefined,
    });
  });
});
