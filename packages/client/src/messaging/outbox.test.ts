import * as assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import {
  eventually,
  type FakeMember,
  fakeConversation,
  fakeMember,
} from '../testing/fake-member.js';
import { FakeServer } from '../testing/fake-server.js';

const people: FakeMember[] = [];
afterEach(() => {
  for (const p of people.splice(0)) p.messenger.stop();
});

async function chat(server: FakeServer, count = 2) {
  const { members, conversation } = await fakeConversation(server, count);
  people.push(...members);
  return { members: members as [FakeMember, FakeMember, ...FakeMember[]], conversation };
}

/** Every send frame and every store the server saw, in order. */
function record(server: FakeServer) {
  const sends: string[] = [];
  const stores: Array<{ id: string; duplicate: boolean }> = [];
  server.on('send', (s) => sends.push(s.id));
  server.on('stored', (s) => stores.push({ id: s.id, duplicate: s.duplicate }));
  return { sends, stores };
}

describe('outbox', () => {
  it('resends a send answered SERVICE_UNAVAILABLE with the same id, and the server stores it once', async () => {
    const server = new FakeServer();
    const { members, conversation } = await chat(server);
    const [alice, bob] = members;
    const { sends, stores } = record(server);
    server.refuseSends(1, 'SERVICE_UNAVAILABLE');
    const refused = server.next('refused', () => true);
    const sent = await alice.messenger.send(conversation.id, 'hello');
    assert.equal(sent.status, 'stored');
    assert.deepEqual(await refused, {
      from: { accountId: alice.device.accountId, deviceId: alice.device.deviceId },
      id: sent.id,
      code: 'SERVICE_UNAVAILABLE',
    });
    assert.deepEqual(sends, [sent.id, sent.id]);
    assert.deepEqual(stores, [{ id: sent.id, duplicate: false }]);
    await eventually(
      bob.messenger,
      async () => (await bob.messenger.history(conversation.id)).length > 0,
    );
    assert.deepEqual(
      (await bob.messenger.history(conversation.id)).map((m) => m.text),
      ['hello'],
    );
  });

  it('resends a send lost with its socket before it was stored, with the same id, after reconnecting', async () => {
    const server = new FakeServer();
    const { members, conversation } = await chat(server);
    const [alice, bob] = members;
    const { sends, stores } = record(server);
    const readies: string[] = [];
    server.on('ready', (d) => readies.push(d.deviceId));
    server.dropOnSend(1, 'before-store');
    const sent = await alice.messenger.send(conversation.id, 'through the tunnel');
    assert.equal(sent.status, 'stored');
    assert.deepEqual(readies, [alice.device.deviceId], 'stored only after a reconnect');
    assert.deepEqual(sends, [sent.id, sent.id]);
    assert.deepEqual(stores, [{ id: sent.id, duplicate: false }]);
    const received = await bob.messenger.next('message', () => true);
    assert.equal(received.id, sent.id);
  });

  it('resends a send whose answer was lost; the server recognises it and delivers one copy', async () => {
    const server = new FakeServer();
    const { members, conversation } = await chat(server);
    const [alice, bob] = members;
    const { sends, stores } = record(server);
    let shown = 0;
    bob.messenger.on('message', () => shown++);
    server.dropOnSend(1, 'after-store');
    const first = await alice.messenger.send(conversation.id, 'once');
    assert.deepEqual(sends, [first.id, first.id]);
    assert.deepEqual(stores, [
      { id: first.id, duplicate: false },
      { id: first.id, duplicate: true },
    ]);
    // A second message behind it: once Bob has it, he has had every copy of the first.
    const second = await alice.messenger.send(conversation.id, 'twice?');
    await eventually(bob.messenger, async () =>
      (await bob.messenger.history(conversation.id)).some((m) => m.id === second.id),
    );
    assert.deepEqual(
      (await bob.messenger.history(conversation.id)).map((m) => m.id),
      [first.id, second.id],
    );
    assert.equal(shown, 2);
  });

  it('encrypts a send refused with EPOCH_CONFLICT again in the new epoch; the new member reads it', async () => {
    const server = new FakeServer();
    const { members, conversation } = await chat(server);
    const [alice, bob] = members;
    const carol = await fakeMember(server);
    people.push(carol);
    const { sends, stores } = record(server);
    // Alice does not yet see Bob's Commit when she sends.
    server.hold(alice.device.deviceId);
    const changed = await bob.messenger.addMembers(conversation.id, [carol.device.accountId]);
    assert.equal(changed.epoch, 2);
    const conflict = server.next('refused', (r) => r.code === 'EPOCH_CONFLICT');
    const sending = alice.messenger.send(conversation.id, 'did I miss anything?');
    const refusal = await conflict;
    server.release(alice.device.deviceId);
    const sent = await sending;
    assert.equal(refusal.id, sent.id);
    assert.deepEqual(sends, [sent.id, sent.id]);
    assert.deepEqual(stores, [{ id: sent.id, duplicate: false }]);
    assert.equal((await alice.messenger.conversation(conversation.id)).epoch, 2);
    await eventually(
      carol.messenger,
      async () =>
        (await carol.messenger.conversations()).length > 0 &&
        (await carol.messenger.history(conversation.id)).length > 0,
    );
    assert.deepEqual(
      (await carol.messenger.history(conversation.id)).map((m) => m.text),
      ['did I miss anything?'],
    );
  });

  it('keeps a message sent while offline as "sending" and sends it on connect', async () => {
    const server = new FakeServer();
    const { members, conversation } = await chat(server);
    const [alice, bob] = members;
    alice.messenger.stop();
    const shown = alice.messenger.next('status', (m) => m.status === 'sending');
    const sending = alice.messenger.send(conversation.id, 'later');
    assert.equal((await shown).text, 'later');
    await alice.messenger.start();
    const sent = await sending;
    assert.equal(sent.status, 'stored');
    assert.equal((await bob.messenger.next('message', () => true)).id, sent.id);
  });
});
