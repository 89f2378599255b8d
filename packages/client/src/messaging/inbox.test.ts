import * as assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { MemoryStore } from '../store/store.js';
import { eventually, FakeCast, shownTexts, startConversation } from '../testing/fake-member.js';
import { FakeServer } from '../testing/fake-server.js';

let cast: FakeCast;
beforeEach(() => {
  cast = new FakeCast(new FakeServer());
});
afterEach(() => cast.stop());

/** A store whose next write of a key with this prefix fails, as a full disk would. */
class FlakyStore extends MemoryStore {
  failing: string | undefined;
  override async set<T>(key: string, value: T): Promise<void> {
    if (this.failing !== undefined && key.startsWith(this.failing)) {
      this.failing = undefined;
      throw new Error('disk full');
    }
    await super.set(key, value);
  }
}

describe('inbox', () => {
  it('applies and shows an entry redelivered with the same seq once, in order', async () => {
    const server = cast.server;
    const alice = await cast.member();
    const bob = await cast.member();
    let shown = 0;
    bob.messenger.on('message', (m) => {
      if (m.kind === 'text') shown++;
    });
    // Every ack of Bob's is lost: the Welcome and both messages come again.
    server.loseAcks(bob.device.deviceId);
    const conversation = await startConversation([alice, bob]);
    await alice.messenger.send(conversation.id, 'one');
    await alice.messenger.send(conversation.id, 'two');
    await shownTexts(bob, conversation.id, 2);
    assert.deepEqual(
      server.queue(bob.device.deviceId).map((e) => e.kind),
      ['welcome', 'application', 'application'],
    );
    server.loseAcks(bob.device.deviceId, false);
    const acked = server.next('ack', (a) => a.seqs.length === 3 && !a.lost);
    server.redeliver(bob.device.deviceId);
    await acked;
    assert.deepEqual(server.queue(bob.device.deviceId), []);
    assert.deepEqual(await shownTexts(bob, conversation.id, 2), ['one', 'two']);
    assert.equal(shown, 2);
  });

  it('applies and shows an entry queued again under a new seq (same message id) once', async () => {
    const { server, alice, bob, conversation } = await cast.chat();
    let shown = 0;
    bob.messenger.on('message', (m) => {
      if (m.kind === 'text') shown++;
    });
    server.hold(bob.device.deviceId);
    const one = await alice.messenger.send(conversation.id, 'one');
    server.duplicate(bob.device.deviceId, server.queue(bob.device.deviceId)[0]!.seq);
    const two = await alice.messenger.send(conversation.id, 'two');
    assert.deepEqual(
      server.queue(bob.device.deviceId).map((e) => e.id),
      [one.id, one.id, two.id],
    );
    const acked = server.next('ack', (a) => a.from.deviceId === bob.device.deviceId);
    server.release(bob.device.deviceId);
    assert.equal((await acked).seqs.length, 3, 'the copy is acknowledged too');
    assert.deepEqual(await shownTexts(bob, conversation.id, 2), ['one', 'two']);
    assert.equal(shown, 2);
  });

  it('acknowledges an entry only after the message is saved on the device', async () => {
    const journal: string[] = [];
    class JournalStore extends MemoryStore {
      override async set<T>(key: string, value: T): Promise<void> {
        await super.set(key, value);
        if (JSON.stringify(value).includes('"text":"hi"')) journal.push(`saved ${key}`);
      }
    }
    const { server, alice, bob, conversation } = await cast.chat({ store: new JournalStore() });
    server.hold(bob.device.deviceId);
    await alice.messenger.send(conversation.id, 'hi');
    const seq = server.queue(bob.device.deviceId).at(-1)!.seq;
    server.on('ack', (a) => {
      if (a.seqs.includes(seq)) journal.push(`ack ${seq}`);
    });
    const acked = server.next('ack', (a) => a.seqs.includes(seq));
    server.release(bob.device.deviceId);
    await acked;
    assert.deepEqual(journal, [`saved hist-${conversation.id}`, `ack ${seq}`]);
  });

  it('does not acknowledge an entry whose apply failed; it is applied when delivered again', async () => {
    const store = new FlakyStore();
    const { server, alice, bob, conversation } = await cast.chat({ store });
    const log: string[] = [];
    server.on('ready', (d) => {
      if (d.deviceId === bob.device.deviceId) log.push('ready');
    });
    server.on('ack', (a) => {
      if (a.from.deviceId === bob.device.deviceId) log.push(`ack ${a.seqs.join(',')}`);
    });
    store.failing = `hist-${conversation.id}`;
    const failed = bob.messenger.next('error', () => true);
    const sent = await alice.messenger.send(conversation.id, 'hi');
    await failed;
    const entry = server.queue(bob.device.deviceId).find((e) => e.id === sent.id);
    assert.ok(entry, 'still queued on the server');
    assert.deepEqual(await shownTexts(bob, conversation.id, 0), []);
    // The next connection delivers it again, and this time it is saved.
    const acked = server.next('ack', (a) => a.seqs.includes(entry.seq));
    server.dropSocket(bob.device.deviceId);
    await acked;
    const told = log.filter((l) => l === 'ready' || l.split(/[ ,]/).includes(String(entry.seq)));
    assert.deepEqual(told, ['ready', `ack ${entry.seq}`]);
    assert.deepEqual(await shownTexts(bob, conversation.id, 1), ['hi']);
  });

  it('acknowledges and reports an entry that can never be processed, so it does not block', async () => {
    const { server, alice, bob, conversation } = await cast.chat();
    const reported = bob.messenger.next('error', () => true);
    const seq = server.inject({
      deviceId: bob.device.deviceId,
      kind: 'application',
      groupId: conversation.id,
      from: { accountId: alice.device.accountId, deviceId: alice.device.deviceId },
      epoch: 1,
      payload: 'bm90IGFuIE1MUyBtZXNzYWdl',
    });
    const acked = server.next('ack', (a) => a.seqs.includes(seq));
    assert.equal((await reported).code, 'MLS_FAILED');
    await acked;
    await alice.messenger.send(conversation.id, 'still here');
    assert.deepEqual(await shownTexts(bob, conversation.id, 1), ['still here']);
  });

  it('acknowledges a burst of entries in one frame, after applying them in order', async () => {
    const { server, alice, bob, conversation } = await cast.chat();
    server.hold(bob.device.deviceId);
    const words = ['one', 'two', 'three', 'four', 'five'];
    for (const word of words) await alice.messenger.send(conversation.id, word);
    const seqs = server.queue(bob.device.deviceId).map((e) => e.seq);
    assert.equal(seqs.length, words.length);
    const acks: number[][] = [];
    server.on('ack', (a) => {
      if (a.from.deviceId === bob.device.deviceId) acks.push(a.seqs);
    });
    server.release(bob.device.deviceId);
    await eventually(server, () => server.queue(bob.device.deviceId).length === 0, ['ack']);
    assert.deepEqual(acks, [seqs]);
    assert.deepEqual(await shownTexts(bob, conversation.id, words.length), words);
  });
});
