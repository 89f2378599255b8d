import * as assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { FakeCast, shownTexts } from '../testing/fake-member.js';
import { FakeServer } from '../testing/fake-server.js';
import { BUSY_HINT_MAX_MS, BUSY_RETRY_MAX_MS, busyBackoffMs } from './outbox.js';

let cast: FakeCast;
beforeEach(() => {
  cast = new FakeCast(new FakeServer());
});
afterEach(() => cast.stop());

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
    const { server, alice, bob, conversation } = await cast.chat();
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
    assert.deepEqual(await shownTexts(bob, conversation.id, 1), ['hello']);
  });

  it('resends a send refused with SERVER_BUSY with the same id, round after round, and the server stores it once', async () => {
    const { server, alice, bob, conversation } = await cast.chat();
    const { sends, stores } = record(server);
    server.refuseSends(3, 'SERVER_BUSY');
    const sent = await alice.messenger.send(conversation.id, 'when you can');
    assert.equal(sent.status, 'stored');
    assert.deepEqual(sends, [sent.id, sent.id, sent.id, sent.id]);
    assert.deepEqual(stores, [{ id: sent.id, duplicate: false }]);
    assert.deepEqual(await shownTexts(bob, conversation.id, 1), ['when you can']);
  });

  it('backs off after SERVER_BUSY: doubling per round, jittered, capped, never under the hint', () => {
    // The jitter's two ends (random 0 and just under 1) bound every wait.
    const bounds = (round: number, hint = 0) => [
      busyBackoffMs(round, 250, hint, 0),
      busyBackoffMs(round, 250, hint, 0.999999),
    ];
    assert.deepEqual(bounds(1), [125, 250]);
    assert.deepEqual(bounds(2), [250, 500]);
    assert.deepEqual(bounds(3), [500, 1000]);
    assert.deepEqual(bounds(30), [BUSY_RETRY_MAX_MS / 2, BUSY_RETRY_MAX_MS]);
    assert.deepEqual(bounds(1, 400), [400, 400]);
    assert.deepEqual(bounds(3, 400), [500, 1000]);
  });

  it("caps a lying server's SERVER_BUSY hint at a minute, so a huge or bogus hint neither parks sends forever nor spins", () => {
    for (const hint of [2 ** 31, 2 ** 53, Number.MAX_VALUE, Number.POSITIVE_INFINITY]) {
      assert.equal(busyBackoffMs(1, 250, hint, 0), BUSY_HINT_MAX_MS);
    }
    for (const hint of [-5, Number.NaN, Number.NEGATIVE_INFINITY]) {
      assert.deepEqual(
        [busyBackoffMs(1, 250, hint, 0), busyBackoffMs(1, 250, hint, 0.999999)],
        [125, 250],
      );
    }
  });

  it('resends a send lost with its socket before it was stored, with the same id, after reconnecting', async () => {
    const { server, alice, bob, conversation } = await cast.chat();
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
    const { server, alice, bob, conversation } = await cast.chat();
    const { sends, stores } = record(server);
    let shown = 0;
    bob.messenger.on('message', (m) => {
      if (m.kind === 'text') shown++;
    });
    server.dropOnSend(1, 'after-store');
    const first = await alice.messenger.send(conversation.id, 'once');
    assert.deepEqual(sends, [first.id, first.id]);
    assert.deepEqual(stores, [
      { id: first.id, duplicate: false },
      { id: first.id, duplicate: true },
    ]);
    // A second message behind it: once Bob has it, he has had every copy of the first.
    const second = await alice.messenger.send(conversation.id, 'twice?');
    assert.deepEqual(await shownTexts(bob, conversation.id, 2), ['once', 'twice?']);
    assert.deepEqual(
      (await bob.messenger.history(conversation.id))
        .filter((m) => m.kind === 'text')
        .map((m) => m.id),
      [first.id, second.id],
    );
    assert.equal(shown, 2);
  });

  it('encrypts a send refused with EPOCH_CONFLICT again in the new epoch; the new member reads it', async () => {
    const { server, alice, bob, conversation } = await cast.chat();
    const carol = await cast.member();
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
    assert.deepEqual(await shownTexts(carol, conversation.id, 1), ['did I miss anything?']);
  });

  it('keeps a message sent while offline as "sending" and sends it on connect', async () => {
    const { alice, bob, conversation } = await cast.chat();
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
