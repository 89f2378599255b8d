/**
 * The cases every bus implementation must pass, run by bus.inprocess.test.ts and
 * bus.redis.test.ts. Each case gets two buses standing for two server nodes: two connections to
 * one Redis, or one process-level instance for the in-process bus.
 */

import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DeliverFrame, ServerFrame } from '@parley/core';
import { ParleyError } from '@parley/core';
import { VerificationService } from '../identity/verification.js';
import type { Bucket, Bus, BusEvent } from '../infra/bus/bus.js';
import { type DeviceConnection, Hub } from '../realtime/hub.js';
import { InboxSmsProvider } from './index.js';

export interface TwoNodes {
  a: Bus;
  b: Bus;
}

const unique = (name: string) => `${name}-${randomBytes(4).toString('hex')}`;

/** Resolves with the first event for which `match` holds, or rejects after `ms`. */
function eventually(
  events: BusEvent[],
  match: (e: BusEvent) => boolean,
  ms = 5_000,
): Promise<BusEvent> {
  const deadline = Date.now() + ms;
  return (async () => {
    for (;;) {
      const found = events.find(match);
      if (found) return found;
      if (Date.now() > deadline) throw new Error('the event did not arrive');
      await sleep(5);
    }
  })();
}

/** A device socket that records what the hub does to it. */
function device(accountId: string, deviceId: string) {
  const seen = {
    wakes: 0,
    offered: [] as DeliverFrame[][],
    after: [] as Array<number | undefined>,
    frames: [] as ServerFrame[],
    ended: 0,
  };
  const conn: DeviceConnection = {
    accountId,
    deviceId,
    wake: () => {
      seen.wakes += 1;
    },
    offer: (frames, after) => {
      seen.offered.push(frames);
      seen.after.push(after);
    },
    push: (frame) => {
      seen.frames.push(frame);
    },
    end: () => {
      seen.ended += 1;
    },
  };
  return { conn, seen };
}

/** Two hubs (two nodes' connection tables) joined over the two buses. */
async function twoHubs({ a, b }: TwoNodes) {
  const hubA = new Hub();
  const hubB = new Hub();
  const nodeA = await a.join((e) => hubA.receive(e));
  const nodeB = await b.join((e) => hubB.receive(e));
  hubA.join(nodeA);
  hubB.join(nodeB);
  return {
    hubA,
    hubB,
    leave: async () => {
      await nodeA.leave();
      await nodeB.leave();
    },
  };
}

async function until(check: () => boolean, ms = 5_000): Promise<void> {
  await waitFor(async () => check(), ms);
}

export function busCases(nodes: () => TwoNodes): void {
  it('a queue entry stored on node A wakes the device connected to node B at once', async () => {
    const { hubA, hubB, leave } = await twoHubs(nodes());
    try {
      const here = device(unique('acc'), unique('dev'));
      const noted = device(unique('acc'), unique('dev'));
      const there = device(unique('acc'), unique('dev'));
      const notedThere = device(unique('acc'), unique('dev'));
      hubA.attach(here.conn);
      hubA.attach(noted.conn);
      hubB.attach(there.conn);
      hubB.attach(notedThere.conn);
      const frame = { t: 'deliver', seq: 7 } as unknown as DeliverFrame;
      hubA.offer([
        { deviceId: here.conn.deviceId, frame },
        { deviceId: noted.conn.deviceId, frame, after: 5 },
        { deviceId: noted.conn.deviceId, frame: { ...frame, seq: 8 }, after: 6 },
        { deviceId: there.conn.deviceId, frame },
        { deviceId: notedThere.conn.deviceId, frame: { ...frame, seq: 9 }, after: 4 },
      ]);
      // With other nodes writing the same queues, a push could overtake another node's earlier
      // commit: without a note of what the queue held before, the local device reads its queue;
      // with one, it gets the frames and the earliest note, to check against what it sent.
      assert.equal(here.seen.offered.length, 0, 'nothing is pushed past the queue');
      assert.equal(here.seen.wakes, 1, 'the local device reads its queue');
      assert.deepEqual(
        noted.seen.offered.map((f) => f.map((x) => x.seq)),
        [[7, 8]],
      );
      assert.deepEqual(noted.seen.after, [5]);
      // Noted entries for a device on node B go to it over the bus, frames and note included.
      await until(() => notedThere.seen.offered.length === 1);
      assert.deepEqual(
        notedThere.seen.offered[0]!.map((f) => f.seq),
        [9],
      );
      assert.deepEqual(notedThere.seen.after, [4]);
      assert.equal(notedThere.seen.wakes, 0);
      await until(() => there.seen.wakes === 1);
      assert.equal(there.seen.offered.length, 0, 'the remote node reads its queue instead');
      hubA.wake([there.conn.deviceId]);
      await until(() => there.seen.wakes === 2);
      assert.equal(here.seen.wakes, 1);
    } finally {
      await leave();
    }
  });

  it('typing relayed on node A reaches a device on node B; closing reaches it too', async () => {
    const { hubA, hubB, leave } = await twoHubs(nodes());
    try {
      const there = device(unique('acc'), unique('dev'));
      hubB.attach(there.conn);
      const frame = {
        t: 'signal',
        from: { accountId: 'a', deviceId: 'd' },
        kind: 'typing',
      } as unknown as ServerFrame;
      hubA.relay([there.conn.deviceId], frame);
      await until(() => there.seen.frames.length === 1);
      assert.deepEqual(there.seen.frames[0], frame);
      hubA.disconnect([there.conn.deviceId], 4410, 'account deleted');
      await until(() => there.seen.ended === 1);
    } finally {
      await leave();
    }
  });

  it('presence crosses nodes: a watcher on A sees an account connect and leave on B', async () => {
    const { hubA, hubB, leave } = await twoHubs(nodes());
    try {
      const subject = unique('subject');
      const watcher = device(unique('viewer'), unique('dev'));
      const phone = device(subject, unique('dev'));
      hubA.attach(watcher.conn);
      hubB.attach(phone.conn);
      const online = () =>
        watcher.seen.frames.flatMap((f) =>
          f.t === 'presence' && f.accountId === subject ? [f.online] : [],
        );
      await waitFor(() => hubA.onlineAnywhere(subject));
      hubA.watch(watcher.conn, [subject]);
      await until(() => online().length === 1);
      assert.deepEqual(online(), [true], 'a watch started on A sees the device on B');
      hubB.detach(phone.conn);
      await until(() => online().length === 2);
      assert.deepEqual(online(), [true, false]);
      hubB.attach(phone.conn);
      await until(() => online().length === 3);
      assert.deepEqual(online(), [true, false, true]);
      hubB.unwatchAccount(subject);
      await until(() => online().length === 4);
      assert.deepEqual(online(), [true, false, true, false], 'unwatching reaches watchers on A');
    } finally {
      await leave();
    }
  });

  it('an event published on node A reaches node B, and not A itself', async () => {
    const { a, b } = nodes();
    const onA: BusEvent[] = [];
    const onB: BusEvent[] = [];
    const nodeA = await a.join((e) => onA.push(e));
    const nodeB = await b.join((e) => onB.push(e));
    try {
      assert.equal(nodeA.hasPeers, true);
      const device = unique('device');
      nodeA.publish({ t: 'wake', devices: [device] });
      const got = await eventually(onB, (e) => e.t === 'wake' && e.devices[0] === device);
      assert.deepEqual(got, { t: 'wake', devices: [device] });
      nodeB.publish({ t: 'disconnect', devices: [device], code: 4410, reason: 'gone' });
      await eventually(onA, (e) => e.t === 'disconnect' && e.devices[0] === device);
      assert.equal(onA.filter((e) => e.t === 'wake').length, 0, 'A got its own event back');
      assert.equal(onB.filter((e) => e.t === 'disconnect').length, 0, 'B got its own event back');
    } finally {
      await nodeA.leave();
      await nodeB.leave();
    }
  });

  it('a signal (typing) relayed on node A reaches node B with its frame intact', async () => {
    const { a, b } = nodes();
    const onB: BusEvent[] = [];
    const nodeA = await a.join(() => {});
    const nodeB = await b.join((e) => onB.push(e));
    try {
      const frame = { t: 'signal', from: { accountId: 'acc', deviceId: 'dev' }, kind: 'typing' };
      const device = unique('device');
      nodeA.publish({ t: 'relay', devices: [device], frame } as BusEvent);
      const got = await eventually(onB, (e) => e.t === 'relay');
      assert.deepEqual(got, { t: 'relay', devices: [device], frame });
    } finally {
      await nodeA.leave();
      await nodeB.leave();
    }
  });

  it('presence crosses nodes: an account online on A is online for B, until A says otherwise or leaves', async () => {
    const { a, b } = nodes();
    const nodeA = await a.join(() => {});
    const nodeB = await b.join(() => {});
    const account = unique('account');
    try {
      assert.equal(await nodeB.onlineElsewhere(account), false);
      nodeA.setOnline(account, true);
      await waitFor(() => nodeB.onlineElsewhere(account));
      assert.equal(await nodeA.onlineElsewhere(account), false, 'A counts only other nodes');
      nodeA.setOnline(account, false);
      await waitFor(async () => !(await nodeB.onlineElsewhere(account)));
      nodeA.setOnline(account, true);
      await waitFor(() => nodeB.onlineElsewhere(account));
      await nodeA.leave();
      assert.equal(await nodeB.onlineElsewhere(account), false, 'a node that left shows nobody');
    } finally {
      await nodeA.leave();
      await nodeB.leave();
    }
  });

  it('a rate limit spent on node A is spent on node B, with the same retry time', async () => {
    const { a, b } = nodes();
    const bucket: Bucket = { name: unique('verify'), capacity: 5, windowMs: 3_600_000 };
    for (let i = 0; i < 3; i++) assert.equal((await a.take(bucket, 'key')).allowed, true);
    for (let i = 0; i < 2; i++) assert.equal((await b.take(bucket, 'key')).allowed, true);
    for (const bus of [a, b]) {
      const refused = await bus.take(bucket, 'key');
      assert.equal(refused.allowed, false);
      // 5 per hour: the next token in about 12 minutes.
      assert.ok(Math.abs(refused.retryAfterMs - 720_000) < 5_000, `${refused.retryAfterMs}`);
    }
    assert.equal((await b.take(bucket, 'other')).allowed, true, 'another key is not affected');
    const big = await a.take(bucket, 'other', 5);
    assert.equal(big.allowed, false, 'a cost above what is left is refused whole');
    assert.equal((await a.take(bucket, 'other', 4)).allowed, true);
  });

  it('a refund on one node is usable on the other, never above capacity; forget resets', async () => {
    const { a, b } = nodes();
    const bucket: Bucket = { name: unique('claims'), capacity: 3, windowMs: 3_600_000 };
    assert.equal((await a.take(bucket, 'k', 3)).allowed, true);
    assert.equal((await b.take(bucket, 'k')).allowed, false);
    await a.refund(bucket, 'k', 1);
    assert.equal((await b.take(bucket, 'k')).allowed, true);
    assert.equal((await b.take(bucket, 'k')).allowed, false);
    await b.refund(bucket, 'k', 10);
    assert.equal((await a.take(bucket, 'k', 4)).allowed, false, 'refunds stop at capacity');
    assert.equal((await a.take(bucket, 'k', 3)).allowed, true);
    await b.forget(bucket, 'k');
    assert.equal((await a.take(bucket, 'k', 3)).allowed, true, 'a forgotten bucket is full');
  });

  it('a bucket refills with time', async () => {
    const { a, b } = nodes();
    // A token comes back every 2 s: long enough that the refusal below holds on a busy machine.
    const bucket: Bucket = { name: unique('refill'), capacity: 2, windowMs: 4_000 };
    assert.equal((await a.take(bucket, 'k', 2)).allowed, true);
    const refused = await b.take(bucket, 'k');
    assert.equal(refused.allowed, false);
    assert.ok(refused.retryAfterMs > 0 && refused.retryAfterMs <= 2_000, `${refused.retryAfterMs}`);
    await sleep(refused.retryAfterMs + 50);
    assert.equal((await b.take(bucket, 'k')).allowed, true);
  });

  it('many takes at once over both nodes never exceed the budget', async () => {
    const { a, b } = nodes();
    const bucket: Bucket = { name: unique('race'), capacity: 50, windowMs: 3_600_000 };
    const results = await Promise.all(
      Array.from({ length: 300 }, (_, i) => (i % 2 ? a : b).take(bucket, 'k')),
    );
    assert.equal(results.filter((r) => r.allowed).length, 50);
  });

  it('a verification session created on A is read, failed and consumed once on B', async () => {
    const { a, b } = nodes();
    const id = unique('session');
    await a.sessions.create(id, 'opaque', 60_000);
    assert.equal(await b.sessions.get(id), 'opaque');
    assert.equal(await b.sessions.fail(id), 1);
    assert.equal(await a.sessions.fail(id), 2, 'failures count across nodes');
    const consumed = await Promise.all([a.sessions.consume(id), b.sessions.consume(id)]);
    assert.deepEqual(consumed.sort(), [false, true], 'exactly one node consumes it');
    assert.equal(await a.sessions.get(id), undefined);
    assert.equal(await b.sessions.fail(id), 0, 'a gone session counts no failure');
  });

  it('a verification session expires by its TTL', async () => {
    const { a, b } = nodes();
    const id = unique('session');
    await a.sessions.create(id, 'short', 300);
    assert.equal(await b.sessions.get(id), 'short');
    await sleep(450);
    assert.equal(await b.sessions.get(id), undefined);
    assert.equal(await a.sessions.consume(id), false);
  });

  it('a verification started on node A is confirmed on node B; its limits are shared', async () => {
    const { a, b } = nodes();
    const inbox = new InboxSmsProvider();
    const limiterKey = randomBytes(32);
    const config = {
      codeTtlMs: 60_000,
      maxAttempts: 3,
      perNumber: 2,
      perNumberTotal: 60,
      perIp: 1000,
      perPrefix: 1000,
      windowMs: 3_600_000,
    };
    const onA = new VerificationService(config, inbox, Date.now, { bus: a, limiterKey });
    const onB = new VerificationService(config, inbox, Date.now, { bus: b, limiterKey });
    const ip = unique('ip');
    const number = `+1415${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;
    const { verificationId } = await onA.start(number, ip);
    const code = inbox.codeFor(verificationId);
    const wrong = code === '000000' ? '111111' : '000000';
    await assert.rejects(onB.confirm(verificationId, wrong), {
      code: 'VERIFICATION_CODE_INCORRECT',
    });
    await assert.rejects(onA.confirm(verificationId, wrong), (e: unknown) => {
      assert.ok(e instanceof ParleyError);
      assert.deepEqual(e.details, { attemptsLeft: 1 }, 'attempts count on both nodes');
      return true;
    });
    assert.equal(await onB.confirm(verificationId, code), number);
    await assert.rejects(onA.confirm(verificationId, code), { code: 'VERIFICATION_NOT_FOUND' });
    // Two codes per number per window, wherever they are asked for.
    await onB.start(number, ip);
    await assert.rejects(onA.start(number, ip), { code: 'VERIFICATION_RATE_LIMITED' });
    await assert.rejects(onB.start(number, ip), { code: 'VERIFICATION_RATE_LIMITED' });
  });

  it('reports itself ready', async () => {
    const { a, b } = nodes();
    assert.equal(await a.ready(), true);
    assert.equal(await b.ready(), true);
  });
}

async function waitFor(check: () => Promise<boolean>, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await sleep(5);
  }
}
