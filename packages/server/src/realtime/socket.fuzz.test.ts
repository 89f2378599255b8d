/**
 * Property-based tests of the WebSocket at /v1/socket on a real listening server: frames of every
 * kind (valid JSON of the wrong shape, garbage, binary, oversized, many at once, before and after
 * authentication). Every bad frame is answered with a typed `error` frame; protocol violations
 * close with the documented code (design.md: 1009 over 1 MiB, 1007 for text that is not UTF-8,
 * 4401 for a failed authentication); the fuzzed connection survives everything else; and another
 * device keeps receiving a conversation's messages, in order, all the while.
 */

import * as assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  ClientFrame,
  ERROR_CATALOG,
  isErrorCode,
  MESSAGING_LIMITS,
  ServerFrame,
  type ServerFrame as ServerFrameType,
} from '@parley/core';
import { arbitraryFor, fuzz, fuzzSettings, mutationOf, oddValue } from '@parley/core/testing/fuzz';
import { Value } from '@sinclair/typebox/value';
import fc from 'fast-check';
import { WebSocket } from 'ws';
import { testServer } from '../testing/index.js';

const WAIT_MS = 10_000;

/** One client connection that records every frame the server sends, one JSON text per line. */
class Peer {
  readonly frames: ServerFrameType[] = [];
  readonly closed: Promise<number>;
  private listeners: (() => void)[] = [];
  isClosed = false;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      for (const line of data.toString('utf8').split('\n')) {
        const frame = JSON.parse(line) as ServerFrameType;
        assert.ok(Value.Check(ServerFrame, frame), `server frame off schema: ${line}`);
        this.frames.push(frame);
      }
      this.notify();
    });
    this.closed = new Promise((resolve) =>
      ws.on('close', (code) => {
        this.isClosed = true;
        this.notify();
        resolve(code);
      }),
    );
  }

  static async open(url: string, credential?: string): Promise<Peer> {
    const ws = new WebSocket(url, { maxPayload: 8 * 1024 * 1024 });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const peer = new Peer(ws);
    if (credential !== undefined) {
      ws.send(JSON.stringify({ t: 'auth', credential }));
      await peer.until((f) => f.t === 'ready');
    }
    return peer;
  }

  private notify(): void {
    for (const listener of this.listeners) listener();
  }

  /** Waits for a frame (from index `from` on) matching `match`, or for the close if `orClose`. */
  until(
    match: (frame: ServerFrameType) => boolean,
    from = 0,
    orClose = false,
  ): Promise<ServerFrameType | undefined> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.frames.slice(from).find(match);
        if (found || (orClose && this.isClosed)) {
          done();
          resolve(found);
        } else if (this.isClosed) {
          done();
          reject(new Error('connection closed while waiting'));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no answer in ${WAIT_MS} ms`));
      }, WAIT_MS);
      const done = () => {
        clearTimeout(timer);
        this.listeners = this.listeners.filter((l) => l !== check);
      };
      this.listeners.push(check);
      check();
    });
  }

  /** Sends a frame the server cannot take for a real one and waits for its error: a barrier. */
  async sync(label: string): Promise<void> {
    const from = this.frames.length;
    this.ws.send(JSON.stringify({ t: 'sync', id: label }));
    await this.until((f) => f.t === 'error' && f.ref === label, from);
  }
}

interface Frame {
  data: string | Buffer;
  binary: boolean;
  /** The server must answer it with an error frame. */
  bad: boolean;
}

/** A frame of the right shape is still refused (FRAME_TOO_LARGE) past the messaging limit. */
const tooLarge = (data: string) => Buffer.byteLength(data) > MESSAGING_LIMITS.frameBytes;

function framesFor(hints: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<Frame> {
  const shaped = arbitraryFor(ClientFrame, hints);
  const json = (value: unknown): Frame => {
    const data = JSON.stringify(value) ?? 'undefined';
    return { data, binary: false, bad: tooLarge(data) || !Value.Check(ClientFrame, value) };
  };
  const text = (data: string): Frame => {
    let bad = tooLarge(data);
    try {
      bad ||= !Value.Check(ClientFrame, JSON.parse(data));
    } catch {
      bad = true;
    }
    return { data, binary: false, bad };
  };
  return fc.oneof(
    { weight: 2, arbitrary: shaped.map(json) },
    { weight: 4, arbitrary: mutationOf(shaped).map(json) },
    oddValue.map(json),
    fc.string({ unit: 'binary', maxLength: 200 }).map(text),
    fc.constantFrom('', '{', '[]', 'null', '{"t":"send"}', '{"t":null}', '{"t":"auth"}').map(text),
    fc
      .uint8Array({ maxLength: 200 })
      .map((b) => ({ data: Buffer.from(b), binary: true, bad: true })),
    fc
      .integer({ min: 1, max: 100_000 })
      .map((depth) => text('['.repeat(depth) + ']'.repeat(depth))),
    // Between the messaging limit and ws's maxPayload: FRAME_TOO_LARGE, and the socket stays.
    fc
      .integer({ min: MESSAGING_LIMITS.frameBytes + 1, max: 1024 * 1024 })
      .map((n) => ({ data: `"${'a'.repeat(n - 2)}"`, binary: false, bad: true })),
  );
}

function checkErrors(frames: readonly ServerFrameType[]): void {
  for (const frame of frames) {
    if (frame.t !== 'error') continue;
    assert.ok(isErrorCode(frame.code), `error frame without a catalog code: ${frame.code}`);
    assert.notEqual(frame.code, 'INTERNAL', `INTERNAL error frame: ${JSON.stringify(frame)}`);
    assert.ok(ERROR_CATALOG[frame.code].status >= 400);
  }
}

describe('WebSocket under fuzzing', () => {
  let t: Awaited<ReturnType<typeof testServer>>;
  let url: string;
  let fuzzer: { credential: string; accountId: string; deviceId: string };
  let hints: Record<string, fc.Arbitrary<unknown>>;
  let sender: Peer;
  let receiver: Peer;
  const groupId = 'BBBBBBBBBBBBBBBBBBBBBB';
  /** Message ids stay unique across tests: a reused id is answered as a duplicate, not delivered. */
  let messageCount = 0;

  before(async () => {
    t = await testServer();
    url = `${t.server.url.replace(/^http/, 'ws')}/v1/socket`;
    fuzzer = await t.register('+14155550111');
    const alice = await t.register('+14155550112');
    const bob = await t.register('+14155550113');
    // Alice's conversation with Bob: the server does not read MLS, so any bytes do.
    const created = await t.call('POST', `/v1/groups/${groupId}/commits`, {
      token: alice.credential,
      body: {
        epoch: 0,
        commit: 'Y29tbWl0',
        welcome: 'd2VsY29tZQ',
        add: [{ deviceId: bob.deviceId, keyPackageId: 'kp-00000001' }],
        remove: [],
      },
    });
    assert.equal(created.status, 200, JSON.stringify(created.json));
    sender = await Peer.open(url, alice.credential);
    receiver = await Peer.open(url, bob.credential);
    hints = {
      credential: fc.constantFrom(fuzzer.credential, alice.credential),
      groupId: fc.constant(groupId),
      accountIds: fc.array(fc.constantFrom(fuzzer.accountId, alice.accountId, bob.accountId), {
        maxLength: 3,
      }),
      seqs: fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 5 }),
    };
  });
  after(async () => {
    sender.ws.close();
    receiver.ws.close();
    await t.server.close();
  });

  /**
   * Runs `body` while Alice sends to Bob; afterwards every message Alice had stored must have
   * reached Bob exactly once, in the order she sent them.
   */
  async function whileAliceTalksToBob(body: () => Promise<void>): Promise<number> {
    let running = true;
    const sent: string[] = [];
    const acked = new Set<number>();
    // Only this run's deliveries count (a failed run before may have left some behind).
    receiver.frames.length = 0;
    sender.frames.length = 0;
    // Both devices acknowledge what they get, as the SDK does (Alice gets Bob's receipts).
    const ackLoop = setInterval(() => {
      for (const peer of [receiver, sender]) {
        const seqs = peer.frames
          .filter((f) => f.t === 'deliver' && !acked.has(f.seq))
          .map((f) => (f.t === 'deliver' ? f.seq : 0))
          .slice(0, MESSAGING_LIMITS.deliveryWindow);
        for (const seq of seqs) acked.add(seq);
        if (seqs.length > 0) peer.ws.send(JSON.stringify({ t: 'ack', seqs }));
      }
    }, 20);
    try {
      const loop = (async () => {
        while (running) {
          const id = `m${String(messageCount++).padStart(21, '0')}`;
          const from = sender.frames.length;
          sender.ws.send(JSON.stringify({ t: 'send', id, groupId, epoch: 1, payload: 'aGVsbG8' }));
          const answer = await sender.until(
            (f) => (f.t === 'stored' && f.id === id) || (f.t === 'error' && f.ref === id),
            from,
          );
          assert.equal(answer?.t, 'stored', JSON.stringify(answer));
          sent.push(id);
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      })();
      try {
        await body();
      } finally {
        running = false;
        await loop;
      }
      const last = sent.at(-1);
      if (last !== undefined) {
        await receiver.until((f) => f.t === 'deliver' && f.kind === 'application' && f.id === last);
      }
    } finally {
      clearInterval(ackLoop);
    }
    const received = receiver.frames
      .filter((f) => f.t === 'deliver' && f.kind === 'application')
      .map((f) => (f.t === 'deliver' ? f.id : ''));
    assert.deepEqual(received, sent, 'Bob did not get Alice’s messages once each, in order');
    receiver.frames.length = 0;
    sender.frames.length = 0;
    return sent.length;
  }

  test('after authentication: every bad frame gets a typed error and the socket stays', async (tc) => {
    const peer = await Peer.open(url, fuzzer.credential);
    let run = 0;
    const delivered = await whileAliceTalksToBob(() =>
      fuzz(
        'socket: frames after auth',
        fc.asyncProperty(
          fc.array(framesFor(hints), { minLength: 1, maxLength: 6 }),
          async (frames) => {
            const from = peer.frames.length;
            for (const frame of frames) peer.ws.send(frame.data, { binary: frame.binary });
            await peer.sync(`sync-${run++}`);
            const answers = peer.frames.slice(from);
            checkErrors(answers);
            const errors = answers.filter(
              (f) => f.t === 'error' && !(f.ref ?? '').startsWith('sync-'),
            ).length;
            const bad = frames.filter((f) => f.bad).length;
            assert.ok(errors >= bad, `${bad} bad frames, ${errors} error frames`);
            assert.equal(peer.isClosed, false);
          },
        ),
        fuzzSettings(200),
        (line) => tc.diagnostic(line),
      ),
    );
    assert.equal(peer.isClosed, false);
    peer.ws.close();
    tc.diagnostic(`Bob received all ${delivered} of Alice’s messages in order meanwhile`);
  });

  test('before authentication: an error frame, and a close 4401 only for a failed auth', async (tc) => {
    let run = 0;
    await whileAliceTalksToBob(() =>
      fuzz(
        'socket: first frames before auth',
        fc.asyncProperty(framesFor(hints), async (frame) => {
          const peer = await Peer.open(url);
          try {
            peer.ws.send(frame.data, { binary: frame.binary });
            const label = `sync-${run++}`;
            peer.ws.send(JSON.stringify({ t: 'sync', id: label }));
            const last = await peer.until(
              (f) => f.t === 'ready' || (f.t === 'error' && f.ref === label),
              0,
              true,
            );
            checkErrors(peer.frames);
            if (peer.isClosed) {
              assert.equal(await peer.closed, 4401);
              assert.ok(
                peer.frames.some((f) => f.t === 'error' && f.code === 'WEBSOCKET_AUTH_REQUIRED'),
              );
            } else if (last?.t !== 'ready') {
              assert.ok(frame.bad, 'a good frame before auth must authenticate or close');
              assert.ok(
                peer.frames.some((f) => f.t === 'error' && f.code !== 'WEBSOCKET_AUTH_REQUIRED'),
              );
            }
          } finally {
            peer.ws.terminate();
          }
        }),
        fuzzSettings(100, 0.1),
        (line) => tc.diagnostic(line),
      ),
    );
  });

  test('protocol violations close with the documented code; the server goes on', async (tc) => {
    const violation = fc.oneof(
      // Not UTF-8 in a text frame: RFC 6455 §8.1, close 1007.
      fc
        .constantFrom(
          [0xff],
          [0xc0, 0xaf],
          [0xed, 0xa0, 0x80],
          [0xe2, 0x82],
          [0xf8, 0x88, 0x80, 0x80, 0x80],
        )
        .chain((bad) =>
          fc.tuple(fc.string({ maxLength: 20 }), fc.string({ maxLength: 20 })).map(([a, b]) => ({
            data: Buffer.concat([Buffer.from(a), Buffer.from(bad), Buffer.from(b)]),
            binary: false,
            code: 1007,
          })),
        ),
      // Over ws's maxPayload of 1 MiB: close 1009.
      fc.constantFrom(true, false).map((binary) => ({
        data: Buffer.alloc(1024 * 1024 + 1, 0x61),
        binary,
        code: 1009,
      })),
    );
    await whileAliceTalksToBob(() =>
      fuzz(
        'socket: protocol violations',
        fc.asyncProperty(violation, fc.boolean(), async (v, authenticated) => {
          const peer = await Peer.open(url, authenticated ? fuzzer.credential : undefined);
          peer.ws.send(v.data, { binary: v.binary });
          assert.equal(await peer.closed, v.code);
        }),
        fuzzSettings(30, 0.01),
        (line) => tc.diagnostic(line),
      ),
    );
  });
});
