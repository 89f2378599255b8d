/**
 * A writer pass full of acknowledgements: many devices acking windows of entries at once, some
 * naming other devices' seqs, some naming seqs already acknowledged, some naming a seq twice. The
 * pass deletes them in one statement; this pins that exactly the acknowledging devices' own
 * entries go, that each acknowledgement is answered with what it deleted, and that each sender
 * gets one receipt per conversation naming every message acknowledged at once.
 */

import * as assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type DeliverFrame, type DeviceRef, MESSAGING_LIMITS } from '@parley/core';
import { testServer } from '../testing/index.js';

describe('a batch of acknowledgements', () => {
  let t: Awaited<ReturnType<typeof testServer>>;
  before(async () => {
    t = await testServer();
  });
  after(async () => t.server.close());

  const device = (r: DeviceRef): DeviceRef => ({ accountId: r.accountId, deviceId: r.deviceId });
  /** The ids a receipt names (one id travels as the entry's own id). */
  const named = (f: DeliverFrame) => f.ids ?? [f.id];

  it('deletes exactly the acknowledging devices’ own entries and queues one receipt per sender and conversation', async () => {
    const { mailbox, groups } = t.server.services;
    const person = async (i: number) => device(await t.register(`+1415555030${i}`));
    const [s1, s2, s3, r1, r2, r3] = [
      await person(0),
      await person(1),
      await person(2),
      await person(3),
      await person(4),
      await person(5),
    ];
    // Two conversations: s1 and s2 write to r1, r2, r3 (and each other); s3 writes to r1, r2.
    const conversations = [
      { groupId: 'P'.repeat(22), creator: s1, others: [s2, r1, r2, r3], senders: [s1, s2] },
      { groupId: 'Q'.repeat(22), creator: s3, others: [r1, r2], senders: [s3] },
    ];
    for (const c of conversations) {
      await groups.commit(c.creator, c.groupId, {
        epoch: 0,
        commit: 'AAAA',
        welcome: 'AAAA',
        add: c.others.map((d, i) => ({
          deviceId: d.deviceId,
          keyPackageId: `kp-${c.groupId}-${i}`,
        })),
        remove: [],
      });
    }
    const sends: Array<Promise<unknown>> = [];
    for (const c of conversations) {
      for (const sender of c.senders) {
        for (let n = 0; n < 130; n++) {
          const id = `${sender.deviceId.slice(0, 8)}${c.groupId.slice(0, 1)}${String(n).padStart(13, '0')}`;
          sends.push(
            mailbox.store(sender, { t: 'send', id, groupId: c.groupId, epoch: 1, payload: 'AQID' }),
          );
        }
      }
    }
    await Promise.all(sends);

    const queueOf = async (d: DeviceRef) => mailbox.pending(d.deviceId, 0, 100_000);
    const recipients = [r1, r2, r3];
    const queues = new Map<string, DeliverFrame[]>();
    for (const r of recipients) queues.set(r.deviceId, await queueOf(r));
    const queued = (d: DeviceRef) => queues.get(d.deviceId) ?? [];
    const total = [...queues.values()].reduce((n, q) => n + q.length, 0);
    assert.ok(total >= 1000, `${total} entries queued for the recipients`);

    // Already acknowledged before the batch: r1's first 40 entries.
    const earlier = queued(r1).slice(0, 40);
    assert.equal(
      await mailbox.ack(
        r1,
        earlier.map((f) => f.seq),
      ),
      40,
    );
    const senders = [s1, s2, s3];
    const receiptsBefore = new Map<string, Set<number>>();
    for (const s of senders) {
      receiptsBefore.set(s.deviceId, new Set((await queueOf(s)).map((f) => f.seq)));
    }
    const acknowledgedBefore = mailbox.stats.acknowledged;

    // The batch. r1 acks everything it was ever sent (the first 40 again), r2 everything, r3 every
    // other entry of its queue; r2's windows also name the rest of r3's and s2's entries, which
    // must stay. r1 names some seqs twice, across windows.
    const seqs = (frames: DeliverFrame[]) => frames.map((f) => f.seq);
    const r3Queue = queued(r3);
    const r3Acked = r3Queue.filter((_, i) => i % 2 === 0);
    const r3Kept = r3Queue.filter((_, i) => i % 2 === 1);
    const s2Queue = await queueOf(s2);
    const windows: Array<{ device: DeviceRef; seqs: number[] }> = [];
    const window = (d: DeviceRef, all: number[]) => {
      for (let i = 0; i < all.length; i += 200)
        windows.push({ device: d, seqs: all.slice(i, i + 256) });
    };
    window(r1, seqs(queued(r1))); // overlapping windows: 200 apart, 256 long
    window(r2, [...seqs(queued(r2)), ...seqs(r3Kept), ...seqs(s2Queue)]);
    window(r3, seqs(r3Acked));

    // What each acknowledgement should delete: its device's own live seqs not named earlier.
    const live = new Map<string, Set<number>>();
    for (const r of recipients) live.set(r.deviceId, new Set(seqs(queued(r))));
    for (const seq of seqs(earlier)) live.get(r1.deviceId)?.delete(seq);
    const expectedCounts = windows.map(({ device: d, seqs: s }) => {
      const own = live.get(d.deviceId) ?? new Set<number>();
      let count = 0;
      for (const seq of new Set(s)) if (own.delete(seq)) count += 1;
      return count;
    });

    // Handed over in one turn, so one writer pass takes them all.
    const counts = await Promise.all(windows.map((w) => mailbox.ack(w.device, w.seqs)));
    assert.deepEqual(counts, expectedCounts);
    const deleted = expectedCounts.reduce((a, b) => a + b, 0);
    assert.equal(mailbox.stats.acknowledged - acknowledgedBefore, deleted);

    assert.deepEqual(await queueOf(r1), []);
    assert.deepEqual(await queueOf(r2), []);
    assert.deepEqual(seqs(await queueOf(r3)), seqs(r3Kept), 'r2 named them, r3 did not');
    const s2After = new Set(seqs(await queueOf(s2)));
    assert.ok(
      s2Queue.every((f) => s2After.has(f.seq)),
      'another device’s acknowledgement deletes nothing',
    );

    // The receipts: for each (recipient, sender, conversation) whose application messages went
    // in the batch, exactly one new entry naming all of them.
    const expected = new Map<string, string[]>();
    const acked = new Map([
      [r1.deviceId, queued(r1).slice(40)],
      [r2.deviceId, queued(r2)],
      [r3.deviceId, r3Acked],
    ]);
    for (const [recipient, frames] of acked) {
      for (const f of frames) {
        if (f.kind !== 'application') continue;
        const key = `${f.from.deviceId} ${recipient} ${f.groupId}`;
        expected.set(key, [...(expected.get(key) ?? []), f.id]);
      }
    }
    const got = new Map<string, string[]>();
    for (const s of senders) {
      for (const f of await queueOf(s)) {
        if (f.kind !== 'receipt' || receiptsBefore.get(s.deviceId)?.has(f.seq)) continue;
        const key = `${s.deviceId} ${f.from.deviceId} ${f.groupId}`;
        assert.ok(!got.has(key), `one receipt for ${key}`);
        got.set(key, named(f));
      }
    }
    const sorted = (m: Map<string, string[]>) =>
      new Map([...m].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, [...v].sort()]));
    assert.deepEqual(sorted(got), sorted(expected));
    // (s1, s2) × (r1, r2, r3) in the first conversation, s3 × (r1, r2) in the second.
    assert.equal(got.size, 8);
  });
  it('splits a receipt that would name more than a delivery window of messages', async () => {
    const { mailbox, groups } = t.server.services;
    const sender = device(await t.register('+14155550310'));
    const reader = device(await t.register('+14155550311'));
    const groupId = 'W'.repeat(22);
    await groups.commit(sender, groupId, {
      epoch: 0,
      commit: 'AAAA',
      welcome: 'AAAA',
      add: [{ deviceId: reader.deviceId, keyPackageId: 'kp-window-0' }],
      remove: [],
    });
    const window = MESSAGING_LIMITS.deliveryWindow;
    const count = window + 44;
    const ids = Array.from({ length: count }, (_, n) => `win${String(n).padStart(19, '0')}`);
    for (const id of ids) {
      await mailbox.store(sender, { t: 'send', id, groupId, epoch: 1, payload: 'AQID' });
    }
    const queued = await mailbox.pending(reader.deviceId, 0, 100_000);
    const before = (await mailbox.pending(sender.deviceId, 0, 100_000)).length;
    // Two acknowledgements in one writer pass: together they cover more than a window.
    const seqs = queued.map((f) => f.seq);
    const half = Math.ceil(seqs.length / 2);
    await Promise.all([
      mailbox.ack(reader, seqs.slice(0, half)),
      mailbox.ack(reader, seqs.slice(half)),
    ]);
    const receipts = (await mailbox.pending(sender.deviceId, 0, 100_000))
      .slice(before)
      .filter((f) => f.kind === 'receipt');
    assert.ok(receipts.length >= 2, `${receipts.length} receipts`);
    for (const r of receipts) assert.ok(named(r).length <= window, `${named(r).length} ids`);
    assert.deepEqual(receipts.flatMap(named).sort(), [...ids].sort(), 'every message, once');
  });
});
