/**
 * The operator as adversary, in process: the fake server rewrites frames and injects entries
 * exactly as a modified server could, and the SDK must believe MLS only — who sent a message or
 * a Commit, who left, which device was signed out, who is typing or has read.
 */

import * as assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { type DeviceRef, encodeEnvelope } from '@parley/core';
import { eventually, FakeCast, type FakeMember, shownTexts } from '../testing/fake-member.js';
import { FakeServer } from '../testing/fake-server.js';
import * as mls from './mls.js';
import type { ChatMessage, StoredConversation } from './model.js';
import type { SecurityWarning } from './warnings.js';

let cast: FakeCast;
beforeEach(() => {
  cast = new FakeCast(new FakeServer());
});
afterEach(() => cast.stop());

const ref = (m: FakeMember): DeviceRef => ({
  accountId: m.device.accountId,
  deviceId: m.device.deviceId,
});

function warnings(member: FakeMember): SecurityWarning[] {
  const seen: SecurityWarning[] = [];
  member.messenger.on('warning', (w) => seen.push(w));
  return seen;
}

async function notices(member: FakeMember, conversationId: string): Promise<ChatMessage[]> {
  return (await member.messenger.history(conversationId)).filter((m) => m.kind === 'notice');
}

/** Resolves once the member's history holds a notice that passes `test`. */
async function noticeShown(
  member: FakeMember,
  conversationId: string,
  test: (m: ChatMessage) => boolean,
): Promise<ChatMessage> {
  await eventually(member.messenger, async () =>
    (await notices(member, conversationId)).some(test),
  );
  return (await notices(member, conversationId)).find(test)!;
}

describe('only MLS says who', () => {
  it('shows the MLS sender when the server rewrites `from`, and warns', async () => {
    const { members, conversation } = await cast.conversation(3);
    const [alice, bob, carol] = members as [FakeMember, FakeMember, FakeMember];
    const seen = warnings(bob);
    // The operator claims Carol wrote what Alice wrote.
    cast.server.rewrite((f) =>
      f.t === 'deliver' && f.kind === 'application' ? { ...f, from: ref(carol) } : f,
    );
    await alice.messenger.send(conversation.id, 'from alice');
    assert.deepEqual(await shownTexts(bob, conversation.id, 1), ['from alice']);
    const shown = (await bob.messenger.history(conversation.id)).find((m) => m.kind === 'text')!;
    assert.deepEqual(shown.from, ref(alice));
    assert.deepEqual(
      seen.map((w) => [w.code, w.conversationId, w.detail.claimed, w.detail.authenticated]),
      [['SENDER_MISMATCH', conversation.id, ref(carol), ref(alice)]],
    );
  });

  it('names the MLS committer in the notice when the server rewrites a Commit’s `from`', async () => {
    const { members, conversation } = await cast.conversation(2);
    const [alice, bob] = members as [FakeMember, FakeMember];
    const dave = await cast.member();
    const seen = warnings(bob);
    cast.server.rewrite((f) =>
      f.t === 'deliver' && f.kind === 'commit' ? { ...f, from: ref(dave) } : f,
    );
    await alice.messenger.addMembers(conversation.id, [dave.device.accountId]);
    const notice = await noticeShown(bob, conversation.id, (m) =>
      Boolean(m.notice?.accounts.includes(dave.device.accountId)),
    );
    assert.deepEqual(notice.notice, {
      change: 'added',
      by: ref(alice),
      accounts: [dave.device.accountId],
      devices: [ref(dave)],
    });
    assert.deepEqual(
      seen.map((w) => w.code),
      ['SENDER_MISMATCH'],
    );
  });
});

describe('membership changes come only from Commits', () => {
  it('a forged `leave` changes nothing and warns; a real leave shows "left" to everyone', async () => {
    const server = cast.server;
    const { members, conversation } = await cast.conversation(3);
    const [alice, bob, carol] = members as [FakeMember, FakeMember, FakeMember];
    const aliceWarned = warnings(alice);
    const bobWarned = warnings(bob);
    const commits: string[] = [];
    server.on('commit', (c) => commits.push(c.from.deviceId));
    // The operator tells Alice and Bob that Carol left; Carol said nothing.
    for (const m of [alice, bob]) {
      server.inject({
        deviceId: m.device.deviceId,
        kind: 'leave',
        groupId: conversation.id,
        from: ref(carol),
        epoch: 1,
      });
    }
    // A message behind the forged entries: once both have it, both have applied them.
    await carol.messenger.send(conversation.id, 'still here');
    await shownTexts(alice, conversation.id, 1);
    await shownTexts(bob, conversation.id, 1);
    for (const seen of [aliceWarned, bobWarned]) {
      assert.deepEqual(
        seen.map((w) => [w.code, w.detail.claimed]),
        [['UNVERIFIED_LEAVE', ref(carol)]],
      );
    }
    assert.deepEqual(commits, []);
    assert.equal((await alice.messenger.conversation(conversation.id)).members.length, 3);

    // Carol really leaves: her devices are removed by a Commit, shown as "left" to everyone.
    await carol.messenger.leave(conversation.id);
    for (const m of [alice, bob]) {
      const notice = await noticeShown(m, conversation.id, (n) => n.notice?.change === 'left');
      assert.deepEqual(notice.notice?.accounts, [carol.device.accountId]);
      assert.deepEqual(notice.notice?.devices, [ref(carol)]);
      assert.ok([alice.device.deviceId, bob.device.deviceId].includes(notice.from.deviceId));
    }
    assert.equal(commits.length, 1);
    assert.deepEqual(
      (await bob.messenger.conversation(conversation.id)).members.map((m) => m.accountId).sort(),
      [alice.device.accountId, bob.device.accountId].sort(),
    );
    // The server's `leave` entries that followed the real leave raised no warning.
    assert.equal(aliceWarned.length + bobWarned.length, 2);
  });

  it('a forged `removed` changes nothing and warns', async () => {
    const { server, laptop, bob, conversation } = await cast.chatWithLaptop();
    const seen = warnings(bob);
    server.inject({
      deviceId: bob.device.deviceId,
      kind: 'removed',
      groupId: conversation.id,
      from: ref(laptop),
      epoch: 1,
    });
    await laptop.messenger.send(conversation.id, 'the laptop is fine');
    await shownTexts(bob, conversation.id, 1);
    assert.deepEqual(
      seen.map((w) => [w.code, w.detail.claimed]),
      [['UNVERIFIED_REMOVAL', ref(laptop)]],
    );
    assert.equal((await bob.messenger.conversation(conversation.id)).members.length, 3);
  });

  it("a member's removal Commit shows a notice to every member, the removed one too", async () => {
    const { members, conversation } = await cast.conversation(3);
    const [alice, bob, carol] = members as [FakeMember, FakeMember, FakeMember];
    await alice.messenger.removeMembers(conversation.id, [carol.device.accountId]);
    const expected = {
      change: 'removed',
      by: ref(alice),
      accounts: [carol.device.accountId],
      devices: [ref(carol)],
    };
    for (const m of [alice, bob, carol]) {
      const notice = await noticeShown(m, conversation.id, (n) => n.notice?.change === 'removed');
      assert.deepEqual(notice.notice, expected);
    }
    assert.equal((await carol.messenger.conversation(conversation.id)).active, false);
  });

  it('joining by Welcome shows who added this device (MLS GroupInfo signer)', async () => {
    const { alice, bob, conversation } = await cast.chat();
    const [notice] = await notices(bob, conversation.id);
    assert.deepEqual(notice?.notice, {
      change: 'added',
      by: ref(alice),
      accounts: [bob.device.accountId],
      devices: [ref(bob)],
    });
    // The creator's own Commit is in its history too.
    const [own] = await notices(alice, conversation.id);
    assert.deepEqual(own?.notice?.change, 'added');
    assert.deepEqual(own?.notice?.accounts, [bob.device.accountId]);
  });
});

describe('authenticated signals', () => {
  it('drops a typing notice or read receipt that does not verify as the device named', async () => {
    const { members, conversation } = await cast.conversation(3);
    const [alice, bob, carol] = members as [FakeMember, FakeMember, FakeMember];
    const mine = await alice.messenger.send(conversation.id, 'read me');
    await shownTexts(bob, conversation.id, 1);
    await shownTexts(carol, conversation.id, 1);
    const bobWarned = warnings(bob);
    const aliceWarned = warnings(alice);
    const typing: string[] = [];
    bob.messenger.on('typing', (t) => typing.push(t.from.deviceId));
    // Carol (a member, holding the group's signal key) speaks as Alice, helped by the server.
    cast.server.rewrite((f) => (f.t === 'signal' ? { ...f, from: ref(alice) } : f));
    const forged = bob.messenger.next('warning', () => true);
    const forgedAtAlice = alice.messenger.next('warning', () => true);
    await carol.messenger.typing(conversation.id);
    assert.equal((await forged).code, 'SIGNAL_FORGED');
    assert.equal((await forgedAtAlice).code, 'SIGNAL_FORGED');
    // ... and says Bob read Alice's message.
    cast.server.rewrite((f) => (f.t === 'signal' ? { ...f, from: ref(bob) } : f));
    const forgedRead = alice.messenger.next('warning', () => true);
    const forgedAtBob = bob.messenger.next('warning', () => true);
    await carol.messenger.markRead(conversation.id, [mine.id]);
    assert.equal((await forgedRead).code, 'SIGNAL_FORGED');
    assert.equal((await forgedAtBob).code, 'SIGNAL_FORGED');
    const [held] = (await alice.messenger.history(conversation.id)).filter((m) => m.id === mine.id);
    assert.deepEqual(held?.readBy, []);

    // Genuine signals pass.
    cast.server.rewrite(undefined);
    const genuine = bob.messenger.next('typing', () => true);
    await alice.messenger.typing(conversation.id);
    assert.deepEqual((await genuine).from, ref(alice));
    assert.deepEqual(typing, [alice.device.deviceId]);
    // Bob was sent the forged read receipt too (in his own name): dropped as well.
    assert.deepEqual(
      bobWarned.map((w) => w.code),
      ['SIGNAL_FORGED', 'SIGNAL_FORGED'],
    );
    // Alice was sent the forged typing notice (in her own name) too.
    assert.deepEqual(
      aliceWarned.map((w) => w.code),
      ['SIGNAL_FORGED', 'SIGNAL_FORGED'],
    );
  });
});

describe('the message envelope', () => {
  it('keeps an unknown envelope type as a placeholder, shows it and acknowledges it', async () => {
    const { server, alice, bob, conversation } = await cast.chat();
    // Alice's client, a newer version, sends a reaction (a type this version does not know).
    const stored = (await alice.store.get<StoredConversation>(`conv-${conversation.id}`))!;
    const { payload } = await mls.encrypt(
      await mls.decodeState(stored.state),
      encodeEnvelope({ v: 1, type: 'reaction', emoji: '👍' } as never),
    );
    const shown = bob.messenger.next('message', (m) => m.kind === 'unsupported');
    const seq = server.inject({
      deviceId: bob.device.deviceId,
      kind: 'application',
      id: 'AAAAAAAAAAAAAAAAAAAAAA',
      groupId: conversation.id,
      from: ref(alice),
      epoch: stored.epoch,
      payload,
    });
    const acked = server.next('ack', (a) => a.seqs.includes(seq));
    const message = await shown;
    await acked;
    assert.deepEqual(
      [message.kind, message.contentType, message.text, message.from],
      ['unsupported', 'reaction', '', ref(alice)],
    );
    assert.deepEqual(
      (await bob.messenger.history(conversation.id)).map((m) => m.kind),
      ['notice', 'unsupported'],
    );
    assert.deepEqual(server.queue(bob.device.deviceId), []);
  });
});
