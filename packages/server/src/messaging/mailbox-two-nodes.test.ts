/**
 * Two nodes writing the same device queues at once, on one PostgreSQL: thousands of sends through
 * each node's mailbox, interleaved, while a reader on either node streams one recipient's queue
 * after the last seq it got (acknowledging as it goes, which writes receipts into the senders'
 * queues at the same time). Every entry arrives exactly once and in seq order; no entry commits
 * below a seq a reader has already passed (the streaming reader would miss it); and reading after
 * any seq of the complete queue gives exactly the entries behind it. A message sent through
 * both nodes at once is stored once. Needs the PostgreSQL at
 * 127.0.0.1:5432 (skipped without it, failed under CI); SQLite is one node and has no peers.
 */

import * as assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DeliverFrame, DeviceRef } from '@parley/core';
import { type TestServer, testCluster } from '../testing/index.js';
import {
  createPostgresDatabase,
  dropPostgresDatabases,
  POSTGRES_ADMIN_URL,
  postgresReachable,
} from '../testing/test-databases.js';

/** Sends per node. */
const SENDS = 2000;
/** Sends each node has in flight at once: enough for batches of many to interleave. */
const IN_FLIGHT = 64;

const reachable = await postgresReachable();

describe('two nodes writing one device queue', {
  skip: !reachable && process.env.CI !== 'true' ? `no PostgreSQL at ${POSTGRES_ADMIN_URL}` : false,
}, () => {
  type Node = TestServer;
  let a: Node;
  let b: Node;

  before(async () => {
    assert.ok(
      reachable,
      `PostgreSQL is not reachable at ${POSTGRES_ADMIN_URL} (required under CI)`,
    );
    const url = await createPostgresDatabase();
    [a, b] = await testCluster(url);
  });

  after(async () => {
    await Promise.all([a?.server.close(), b?.server.close()]);
    await dropPostgresDatabases();
  });

  const ref = (d: DeviceRef) => ({ accountId: d.accountId, deviceId: d.deviceId });

  it('stores a message sent through both nodes at once one time: one node stores it, the other answers duplicate', async () => {
    const sender = ref(await a.register('+14155550305'));
    const recipient = ref(await b.register('+14155550306'));
    const groupId = 'C'.repeat(22);
    await a.server.services.groups.commit(sender, groupId, {
      epoch: 0,
      commit: 'AAAA',
      welcome: 'AAAA',
      add: [{ deviceId: recipient.deviceId, keyPackageId: 'kp-c' }],
      remove: [],
    });
    const ids = Array.from({ length: 300 }, (_, n) => `c${String(n).padStart(21, '0')}`);
    // The same send, the same bytes, through each node, all at once (a resend after a lost
    // answer may reach the other node while the first copy is still being stored).
    const send = (node: Node, id: string) =>
      node.server.services.mailbox.store(sender, {
        t: 'send',
        id,
        groupId,
        epoch: 1,
        payload: Buffer.from(id).toString('base64url'),
      });
    const answers = await Promise.all(ids.map((id) => Promise.all([send(a, id), send(b, id)])));
    for (const [first, second] of answers) {
      assert.deepEqual(
        [first.duplicate, second.duplicate].sort(),
        [false, true],
        'one copy stored, the other recognised',
      );
    }
    const queued = (await a.server.services.mailbox.pending(recipient.deviceId, 0, 1000)).filter(
      (f) => f.kind === 'application',
    );
    assert.deepEqual(queued.map((f) => f.id).sort(), ids, 'each message queued exactly once');
  });

  it('delivers every entry once, in seq order, with no gap a reader could skip', async () => {
    const s1 = ref(await a.register('+14155550301'));
    const s2 = ref(await b.register('+14155550302'));
    // r1 streams and acknowledges; r2 keeps everything, to be read after every seq at the end.
    const r1 = ref(await a.register('+14155550303'));
    const r2 = ref(await b.register('+14155550304'));
    const groups = a.server.services.groups;
    for (const [sender, groupId] of [
      [s1, 'A'.repeat(22)],
      [s2, 'B'.repeat(22)],
    ] as const) {
      await groups.commit(sender, groupId, {
        epoch: 0,
        commit: 'AAAA',
        welcome: 'AAAA',
        add: [r1, r2].map((r) => ({ deviceId: r.deviceId, keyPackageId: `kp-${r.deviceId}` })),
        remove: [],
      });
    }

    let sending = true;
    /** Sends `SENDS` messages through one node, IN_FLIGHT at a time. */
    const sendAll = async (node: Node, sender: DeviceRef, groupId: string, tag: string) => {
      let next = 0;
      const lane = async () => {
        while (next < SENDS) {
          const n = next++;
          const id = `${tag}${String(n).padStart(21, '0')}`;
          const payload = Buffer.from(`${tag}${n}`).toString('base64url');
          // A node refusing under load is a valid answer: the SDK sends again, and so does this.
          for (;;) {
            try {
              await node.server.services.mailbox.store(sender, {
                t: 'send',
                id,
                groupId,
                epoch: 1,
                payload,
              });
              break;
            } catch (error) {
              if ((error as { code?: string }).code !== 'SERVER_BUSY') throw error;
              await new Promise((resolve) => setTimeout(resolve, 10));
            }
          }
        }
      };
      await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
    };

    /** r1's reader: after the last seq it got, on node A and B by turns, acknowledging each read. */
    const streamed: DeliverFrame[] = [];
    const stream = async () => {
      let last = 0;
      let turn = 0;
      for (;;) {
        const done = !sending;
        const node = turn++ % 2 === 0 ? a : b;
        const frames = await node.server.services.mailbox.pending(r1.deviceId, last, 256);
        for (const f of frames) {
          assert.ok(f.seq > last, `seq ${f.seq} read after ${last}`);
          last = f.seq;
        }
        streamed.push(...frames);
        if (frames.length > 0) {
          await node.server.services.mailbox.ack(
            r1,
            frames.map((f) => f.seq),
          );
        } else if (done) return;
        else await new Promise((resolve) => setImmediate(resolve));
      }
    };

    const reading = stream();
    await Promise.all([
      sendAll(a, s1, 'A'.repeat(22), 'a'),
      sendAll(b, s2, 'B'.repeat(22), 'b'),
    ]).finally(() => {
      sending = false;
    });
    await reading;

    const expected = new Set<string>();
    for (const tag of ['a', 'b']) {
      for (let n = 0; n < SENDS; n++) expected.add(`${tag}${String(n).padStart(21, '0')}`);
    }
    const check = (frames: DeliverFrame[], who: string) => {
      const ids = frames.filter((f) => f.kind === 'application').map((f) => f.id);
      assert.equal(ids.length, expected.size, `${who}: every message, none twice`);
      assert.deepEqual(new Set(ids), expected, `${who}: exactly the messages sent`);
      for (let i = 1; i < frames.length; i++) {
        assert.ok(frames[i]!.seq > frames[i - 1]!.seq, `${who}: seqs increase`);
      }
    };
    check(streamed, 'r1 streaming');
    assert.equal(await a.server.services.mailbox.depth(r1.deviceId), 0, 'r1 acknowledged all');

    // r2's whole queue, read in windows from both nodes, then after every seq in it.
    const all: DeliverFrame[] = [];
    for (let last = 0, turn = 0; ; turn++) {
      const node = turn % 2 === 0 ? a : b;
      const frames = await node.server.services.mailbox.pending(r2.deviceId, last, 256);
      if (frames.length === 0) break;
      all.push(...frames);
      last = frames.at(-1)!.seq;
    }
    check(all, 'r2 complete');
    assert.equal(all.filter((f) => f.kind === 'welcome').length, 2);
    for (let i = 0; i < all.length; i++) {
      const node = i % 2 === 0 ? a : b;
      const behind = await node.server.services.mailbox.pending(r2.deviceId, all[i]!.seq, 2);
      assert.deepEqual(
        behind.map((f) => f.seq),
        all.slice(i + 1, i + 3).map((f) => f.seq),
        `after seq ${all[i]!.seq}`,
      );
    }
    // Reading after any seq below the first, or between two, starts at the next one.
    assert.deepEqual(
      (await b.server.services.mailbox.pending(r2.deviceId, 0, 1)).map((f) => f.seq),
      [all[0]!.seq],
    );

    // The senders got a delivery receipt for every message r1 acknowledged, none twice.
    for (const [node, sender] of [
      [a, s1],
      [b, s2],
    ] as const) {
      const receipts = (await node.server.services.mailbox.pending(sender.deviceId, 0, 100_000))
        .filter((f) => f.kind === 'receipt')
        .flatMap((f) => f.ids ?? [f.id]);
      assert.equal(receipts.length, SENDS);
      assert.equal(new Set(receipts).size, SENDS);
    }
  });
});
