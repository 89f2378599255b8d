import * as assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { testServer } from '../testing/index.js';
import { MAX_WAITING_SENDS } from './mailbox.js';

describe('device queues', () => {
  let t: Awaited<ReturnType<typeof testServer>>;
  /** The server's clock: entries expire when the test moves it, not while the machine is slow. */
  let now = Date.now();
  const device = (r: { accountId: string; deviceId: string }) => ({
    accountId: r.accountId,
    deviceId: r.deviceId,
  });

  /** Two registered devices, A and B, in a group A created (epoch 1 after the Commit). */
  async function pairInGroup(numbers: [string, string], letter: string) {
    const a = device(await t.register(numbers[0]));
    const b = device(await t.register(numbers[1]));
    const groupId = letter.repeat(22);
    const created = await t.server.services.groups.commit(a, groupId, {
      epoch: 0,
      commit: 'AAAA',
      welcome: 'AAAA',
      add: [{ deviceId: b.deviceId, keyPackageId: `kp-${letter}-0001` }],
      remove: [],
    });
    return { a, b, groupId, created, ...t.server.services };
  }

  before(async () => {
    t = await testServer({ PARLEY_MESSAGE_TTL_SECONDS: '1' }, { clock: () => now });
  });
  after(async () => t.server.close());

  it('stores once per id, refuses a reused id, and lets queued entries expire', async () => {
    const { a, b, groupId, created, mailbox } = await pairInGroup(
      ['+14155550201', '+14155550202'],
      'G',
    );
    assert.equal(created.epoch, 1);
    assert.deepEqual(
      created.members.map((m) => m.deviceId).sort(),
      [a.deviceId, b.deviceId].sort(),
    );
    const frame = { t: 'send' as const, id: 'M'.repeat(22), groupId, epoch: 1, payload: 'AQID' };
    assert.deepEqual(await mailbox.store(a, frame), { duplicate: false });
    assert.deepEqual(await mailbox.store(a, frame), { duplicate: true });
    await assert.rejects(mailbox.store(a, { ...frame, payload: 'BAUG' }), {
      code: 'MESSAGE_ID_REUSED',
    });
    await assert.rejects(mailbox.store(a, { ...frame, id: 'N'.repeat(22), epoch: 0 }), {
      code: 'EPOCH_CONFLICT',
    });
    const queued = await mailbox.pending(b.deviceId, 0, 10);
    assert.deepEqual(
      queued.map((f) => f.kind),
      ['welcome', 'application'],
    );
    assert.equal(queued[1]!.payload, 'AQID');
    // An ack for another device's entries deletes nothing.
    assert.equal(await mailbox.ack(a, [queued[1]!.seq]), 0);
    assert.equal(await mailbox.depth(b.deviceId), 2);

    now += 1100; // the TTL (1 s) passes on the server's clock, however slow the machine
    assert.deepEqual(await mailbox.pending(b.deviceId, 0, 10), [], 'expired entries are not sent');
    assert.equal(await mailbox.sweep(), 2);
    assert.equal(await mailbox.depth(b.deviceId), 0);
  });

  it('an acknowledged message becomes a delivery receipt for its sender', async () => {
    const { a, b, groupId, mailbox } = await pairInGroup(['+14155550203', '+14155550204'], 'H');
    await mailbox.store(a, { t: 'send', id: 'R'.repeat(22), groupId, epoch: 1, payload: 'AQID' });
    const queued = await mailbox.pending(b.deviceId, 0, 10);
    assert.equal(
      await mailbox.ack(
        b,
        queued.map((f) => f.seq),
      ),
      2,
    );
    const receipts = await mailbox.pending(a.deviceId, 0, 10);
    assert.deepEqual(
      receipts.map((r) => [r.kind, r.id, r.from.deviceId]),
      [['receipt', 'R'.repeat(22), b.deviceId]],
    );
  });

  it('one acknowledgement of several messages comes back as one receipt naming them all', async () => {
    const { a, b, groupId, mailbox } = await pairInGroup(['+14155550205', '+14155550206'], 'J');
    const ids = ['X', 'Y', 'Z'].map((c) => c.repeat(22));
    await Promise.all(
      ids.map((id) => mailbox.store(a, { t: 'send', id, groupId, epoch: 1, payload: 'AQID' })),
    );
    const queued = await mailbox.pending(b.deviceId, 0, 10);
    assert.equal(
      await mailbox.ack(
        b,
        queued.map((f) => f.seq),
      ),
      4,
    );
    const receipts = await mailbox.pending(a.deviceId, 0, 10);
    assert.equal(receipts.length, 1);
    assert.equal(receipts[0]!.kind, 'receipt');
    assert.deepEqual([...(receipts[0]!.ids ?? [])].sort(), ids); // RETURNING has no order
  });

  it('refuses sends past its bound with SERVER_BUSY at once, stores every send it took, and takes sends again once drained', async () => {
    const { a, b, groupId, mailbox } = await pairInGroup(['+14155550207', '+14155550208'], 'K');
    const id = (n: number) => `k${String(n).padStart(21, '0')}`;
    // Handed over in one turn of the event loop, before the writer starts: more than may wait.
    const offered = MAX_WAITING_SENDS + 20;
    const answers = await Promise.allSettled(
      Array.from({ length: offered }, (_, n) =>
        mailbox.store(a, { t: 'send', id: id(n), groupId, epoch: 1, payload: 'AQID' }),
      ),
    );
    const refused = answers.flatMap((r, n) =>
      r.status === 'rejected' ? [{ n, error: r.reason }] : [],
    );
    assert.equal(refused.length, 20);
    for (const { n, error } of refused) {
      assert.ok(n >= MAX_WAITING_SENDS, 'the first ones offered were taken');
      assert.equal(error.code, 'SERVER_BUSY');
      assert.equal(error.status, 503);
      assert.ok(error.retryAfterMs > 0, 'a refusal says when to come back');
    }
    const queued = await mailbox.depth(b.deviceId);
    assert.equal(queued, 1 + MAX_WAITING_SENDS, 'the Welcome and every send taken');
    assert.equal(mailbox.stats.refusedBusy, 20);
    // Drained: the refused ones sent again, with the same ids, are stored.
    for (const { n } of refused) {
      assert.deepEqual(
        await mailbox.store(a, { t: 'send', id: id(n), groupId, epoch: 1, payload: 'AQID' }),
        { duplicate: false },
      );
    }
    assert.equal(await mailbox.depth(b.deviceId), 1 + offered);
  });
});
