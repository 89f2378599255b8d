/**
 * Acceptance test for end-to-end encrypted messaging, against a real `parley serve` process over
 * HTTP and WebSockets: a one-to-one chat and a group across several devices, a device offline for
 * 100 messages, a server killed with SIGKILL before delivery, a send whose answer was lost,
 * concurrent Commits in one epoch, presence by the owner's setting, KeyPackage stock, and a look
 * into the database for any plaintext.
 */

import * as assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type ChatMessage,
  FileStore,
  nodeSocket,
  ParleyClient,
  type SocketFactory,
} from '@parley/client/node';
import WebSocket from 'ws';
import { linkDevice } from './harness/link.js';
import { ServerProcess } from './harness/server-process.js';
import { tappedSocket } from './harness/tapped-socket.js';
import { reached, texts, until } from './harness/wait.js';

const NUMBERS = {
  alice: '+14155550111',
  bob: '+14155550122',
  carol: '+14155550133',
  dave: '+14155550144',
  erin: '+14155550155',
  mallory: '+14155550166',
  stranger: '+14155550177',
};

interface Device {
  client: ParleyClient;
  dir: string;
  inbox: ChatMessage[];
  errors: string[];
}

const root = mkdtempSync(join(tmpdir(), 'parley-messaging-'));
let server: ServerProcess;
const commitConflicts: string[] = [];

/** Counts the EPOCH_CONFLICT answers the SDK gets, so the test knows a race really happened. */
const countingFetch: typeof fetch = async (input, init) => {
  const response = await fetch(input, init);
  if (response.status === 409 && String(input).includes('/commits')) {
    commitConflicts.push(String(input));
  }
  return response;
};

async function open(dir: string, socket: SocketFactory = nodeSocket): Promise<Device> {
  const client = await ParleyClient.open({
    serverUrl: server.url,
    store: new FileStore(dir),
    socket,
    fetch: countingFetch,
  });
  const device: Device = { client, dir, inbox: [], errors: [] };
  return device;
}

/** Records what the device receives and the errors it reports. */
function listen(device: Device): Device {
  device.client.messenger.on('message', (m) => device.inbox.push(m));
  device.client.messenger.on('error', (e) => device.errors.push(`${e.code}: ${e.message}`));
  return device;
}

async function connect(device: Device): Promise<Device> {
  listen(device);
  await device.client.messenger.start();
  return device;
}

async function register(
  name: string,
  number: string,
  presence: 'nobody' | 'contacts' = 'nobody',
  socket?: SocketFactory,
): Promise<Device> {
  const device = await open(join(root, name), socket);
  const { verificationId } = await device.client.requestCode(number);
  await device.client.register({
    verificationId,
    code: await server.codeFor(verificationId),
    discoverable: true,
    presence,
    deviceName: name,
  });
  return connect(device);
}

/** Restarts a device: a new client over the same state directory. */
async function restart(device: Device): Promise<Device> {
  device.client.close();
  return connect(await open(device.dir));
}

const accountOf = (d: Device) => d.client.account!.accountId;

async function conversationOn(device: Device, id: string) {
  await until('the conversation to arrive', async () =>
    (await device.client.messenger.conversations()).some((c) => c.id === id),
  );
  return device.client.messenger.conversation(id);
}

describe('messaging (real server process)', { timeout: 240_000 }, () => {
  let alice1: Device;
  let alice2: Device;
  let bob: Device;
  let carol: Device;
  let direct: string;
  let group: string;

  before(async () => {
    server = await ServerProcess.start({ PARLEY_LOG_LEVEL: 'warn' });
    alice1 = await register('alice1', NUMBERS.alice);
    // A second device is linked by the first, never registered by SMS.
    alice2 = await open(join(root, 'alice2'));
    await linkDevice(alice1.client, alice2.client, 'alice2');
    await connect(alice2);
    bob = await register('bob', NUMBERS.bob, 'contacts');
    carol = await register('carol', NUMBERS.carol);
    assert.equal(accountOf(alice1), accountOf(alice2));
  });

  after(async () => {
    for (const d of [alice1, alice2, bob, carol]) d?.client.close();
    await server?.stop();
  });

  it('a one-to-one chat reaches every device of both people, in order, once', async () => {
    const conversation = await alice1.client.messenger.createConversation([accountOf(bob)]);
    direct = conversation.id;
    assert.equal(conversation.members.length, 3, 'alice’s two devices and bob’s one');
    await conversationOn(bob, direct);
    await conversationOn(alice2, direct);
    const sent: string[] = [];
    for (let i = 1; i <= 5; i++) {
      const m = await alice1.client.messenger.send(direct, `a${i}`);
      // Stored at least: Bob's receipt may already have made it 'delivered'.
      assert.ok(reached(m.status, 'stored'), m.status);
      sent.push(`a${i}`);
    }
    for (let i = 1; i <= 3; i++) await bob.client.messenger.send(direct, `b${i}`);
    await until('bob to get a1..a5', () => texts(bob.inbox, direct).length >= 5);
    await until('alice1 to get b1..b3', () => texts(alice1.inbox, direct).length >= 3);
    await until('alice2 to get all 8', () => texts(alice2.inbox, direct).length >= 8);
    await new Promise((r) => setTimeout(r, 300)); // room for any duplicate to show up
    assert.deepEqual(texts(bob.inbox, direct), sent);
    assert.deepEqual(texts(alice1.inbox, direct), ['b1', 'b2', 'b3']);
    assert.deepEqual(texts(alice2.inbox, direct), [...sent, 'b1', 'b2', 'b3']);
    await until('delivery receipts', async () =>
      (await alice1.client.messenger.history(direct))
        .filter((m) => m.kind === 'text' && m.from.deviceId === alice1.client.account!.deviceId)
        .every((m) => reached(m.status, 'delivered')),
    );
    assert.deepEqual(alice1.errors, []);
    assert.deepEqual(bob.errors, []);
  });

  it('typing and read receipts arrive end-to-end encrypted, live only', async () => {
    const typing: string[] = [];
    bob.client.messenger.on('typing', (t) => {
      if (t.conversationId === direct) typing.push(t.from.deviceId);
    });
    await alice1.client.messenger.typing(direct);
    await until('bob sees alice typing', () => typing.length > 0);
    assert.deepEqual(typing, [alice1.client.account!.deviceId]);
    const mine = (await alice1.client.messenger.history(direct)).filter(
      (m) => m.kind === 'text' && m.from.deviceId === alice1.client.account!.deviceId,
    );
    await bob.client.messenger.markRead(
      direct,
      mine.map((m) => m.id),
    );
    await until('alice sees them read', async () =>
      (await alice1.client.messenger.history(direct))
        .filter((m) => mine.some((x) => x.id === m.id))
        .every((m) => m.status === 'read' && m.readBy.includes(accountOf(bob))),
    );
    // Never stored: a signal sent while Bob is offline never reaches him.
    bob.client.close();
    await alice1.client.messenger.typing(direct);
    bob = await restart(bob);
    const late: string[] = [];
    bob.client.messenger.on('typing', (t) => late.push(t.from.deviceId));
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(late, []);
  });

  it('a group of three: everyone gets everyone else’s messages once, in one order', async () => {
    const conversation = await bob.client.messenger.createConversation([
      accountOf(alice1),
      accountOf(carol),
    ]);
    group = conversation.id;
    assert.equal(conversation.members.length, 4);
    for (const d of [alice1, alice2, carol]) await conversationOn(d, group);
    const senders = [alice1, bob, carol];
    await Promise.all(
      senders.map(async (d, n) => {
        for (let i = 1; i <= 4; i++) await d.client.messenger.send(group, `g${n}-${i}`);
      }),
    );
    const everyone = [alice1, alice2, bob, carol];
    const expectedCount = (d: Device) => (d === alice2 ? 12 : 12 - 4); // alice2 also receives alice1's messages
    for (const d of everyone) {
      await until('group messages', () => texts(d.inbox, group).length >= expectedCount(d));
    }
    await new Promise((r) => setTimeout(r, 300));
    for (const d of everyone) {
      const got = texts(d.inbox, group);
      assert.equal(got.length, expectedCount(d), 'each message exactly once');
      assert.equal(new Set(got).size, got.length);
      for (let n = 0; n < 3; n++) {
        const mine = got.filter((t) => t.startsWith(`g${n}-`));
        if (senders[n] !== d)
          assert.deepEqual(
            mine,
            [1, 2, 3, 4].map((i) => `g${n}-${i}`),
          );
      }
    }
    // The server sequences the group: any two devices see common messages in the same order.
    const order = texts(alice2.inbox, group);
    for (const d of [bob, carol]) {
      const got = texts(d.inbox, group);
      const common = order.filter((t) => got.includes(t));
      assert.deepEqual(
        got.filter((t) => common.includes(t)),
        common,
      );
    }
  });

  it('a device offline during 100 messages gets all 100 in order; the database holds no plaintext', async () => {
    carol.client.close();
    const marker = 'PLAINTEXT-MARKER';
    const sent = Array.from({ length: 100 }, (_, i) => `${marker}-${i}`);
    await Promise.all(sent.map((t) => alice1.client.messenger.send(group, t)));
    // Stored for carol, not yet delivered: look at every byte the server wrote.
    const files = readdirSync(server.dataDir).filter((f) => f.startsWith('parley.sqlite'));
    assert.ok(files.length > 0);
    for (const f of files) {
      const bytes = readFileSync(join(server.dataDir, f));
      assert.equal(bytes.includes(marker), false, `${f} holds a message plaintext`);
    }
    carol = await restart(carol);
    await until('carol’s backlog', () => texts(carol.inbox, group).length >= 100, 60_000);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(texts(carol.inbox, group), sent);
  });

  it('messages stored before a SIGKILL are delivered exactly once after the restart', async () => {
    bob.client.close();
    const sent = ['k1', 'k2', 'k3', 'k4', 'k5'];
    for (const t of sent) await alice1.client.messenger.send(direct, t);
    const port = server.port;
    const dataDir = server.dataDir;
    await server.stop('SIGKILL');
    server = await ServerProcess.start({ PARLEY_LOG_LEVEL: 'warn', PARLEY_PORT: port }, dataDir);
    bob = await restart(bob);
    await until('bob’s messages after the restart', () => texts(bob.inbox, direct).length >= 5);
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(texts(bob.inbox, direct), sent);
    // alice's devices reconnected by themselves.
    await until('alice1 to reconnect', () => alice1.client.messenger.connected);
  });

  it('a send retried after its answer was lost is stored once', async () => {
    const answers: Array<{ id: string; duplicate: boolean }> = [];
    let dropped = false;
    // Drops the first "stored" answer and the connection with it, as a network failure would.
    const lossy: SocketFactory = (url) =>
      tappedSocket(url, {
        frame: (line, inner) => {
          const frame = JSON.parse(line) as { t: string; id: string; duplicate: boolean };
          if (frame.t === 'stored') answers.push({ id: frame.id, duplicate: frame.duplicate });
          if (frame.t === 'stored' && !dropped) {
            dropped = true;
            inner.close(4000, 'the test drops this answer');
            return 'stop';
          }
          return true;
        },
      });
    alice1.client.close();
    alice1 = await connect(await open(alice1.dir, lossy));
    const message = await alice1.client.messenger.send(direct, 'once-only');
    // Bob may have received it (and his receipt arrived) before the retried send was answered.
    assert.ok(reached(message.status, 'stored'), message.status);
    assert.equal(answers.length, 2, 'the first answer was lost, the retry answered');
    assert.deepEqual(
      answers.map((a) => a.duplicate),
      [false, true],
    );
    assert.equal(answers[0]!.id, answers[1]!.id);
    await until('bob gets it', () => texts(bob.inbox, direct).includes('once-only'));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(texts(bob.inbox, direct).filter((t) => t === 'once-only').length, 1);
  });

  it('two members commit in the same epoch: one wins, the other catches up and retries', async () => {
    const dave = await register('dave', NUMBERS.dave);
    const erin = await register('erin', NUMBERS.erin);
    try {
      const epoch = (await alice1.client.messenger.conversation(group)).epoch;
      assert.equal((await bob.client.messenger.conversation(group)).epoch, epoch);
      // Bob is offline, so he cannot see Alice's Commit before making his own for the same epoch.
      bob.client.close();
      bob = listen(await open(bob.dir));
      const conflictsBefore = commitConflicts.length;
      await alice1.client.messenger.addMembers(group, [accountOf(dave)]);
      const bobsChange = bob.client.messenger.addMembers(group, [accountOf(erin)]);
      await until('bob’s commit to be refused', () => commitConflicts.length > conflictsBefore);
      await bob.client.messenger.start();
      const after = await bobsChange;
      assert.equal(after.epoch, epoch + 2);
      await until('alice1 to reach the same epoch', async () => {
        return (await alice1.client.messenger.conversation(group)).epoch === epoch + 2;
      });
      const members = (await alice1.client.messenger.conversation(group)).members.map(
        (m) => m.accountId,
      );
      assert.ok(members.includes(accountOf(dave)) && members.includes(accountOf(erin)));
      await conversationOn(dave, group);
      await conversationOn(erin, group);
      await until('dave at the final epoch', async () => {
        return (await dave.client.messenger.conversation(group)).epoch === epoch + 2;
      });
      await dave.client.messenger.send(group, 'from dave');
      await erin.client.messenger.send(group, 'from erin');
      await bob.client.messenger.send(group, 'from bob after the race');
      await until('erin hears dave and bob', () => texts(erin.inbox, group).length >= 2);
      await until('dave hears erin and bob', () => texts(dave.inbox, group).length >= 2);
      await until('alice hears all three', () =>
        ['from dave', 'from erin', 'from bob after the race'].every((t) =>
          texts(alice1.inbox, group).includes(t),
        ),
      );
      assert.deepEqual([...dave.errors, ...erin.errors, ...bob.errors], []);
    } finally {
      dave.client.close();
      erin.client.close();
    }
  });

  it('presence follows the owner’s setting', async () => {
    // Bob (contacts) has Alice in his address book: his discovery puts her on his allow-list.
    await bob.client.consent.grant();
    await bob.client.contacts.add('Alice', NUMBERS.alice);
    await bob.client.discover();
    // Alice resolves Bob's number and Carol's (nobody) in discovery.
    await alice1.client.consent.grant();
    await alice1.client.contacts.add('Bob', NUMBERS.bob);
    await alice1.client.contacts.add('Carol', NUMBERS.carol);
    const { contacts } = await alice1.client.discover();
    assert.equal(contacts.filter((c) => c.status === 'on-parley').length, 2);
    const seen: Array<{ accountId: string; online: boolean }> = [];
    alice1.client.messenger.on('presence', (p) => seen.push(p));
    assert.ok(alice1.client.messenger.watchPresence([accountOf(bob), accountOf(carol)]));
    await until('bob online', () => seen.some((p) => p.accountId === accountOf(bob) && p.online));
    bob.client.close();
    await until('bob offline', () => seen.some((p) => p.accountId === accountOf(bob) && !p.online));
    const wentOffline = seen.findIndex((p) => p.accountId === accountOf(bob) && !p.online);
    assert.equal(
      seen.some((p) => p.accountId === accountOf(carol)),
      false,
      'carol shows her status to nobody',
    );
    // A stranger who never resolved Bob's number sees nothing either.
    const watcher = await register('stranger', NUMBERS.stranger);
    const strangerSaw: unknown[] = [];
    watcher.client.messenger.on('presence', (p) => strangerSaw.push(p));
    watcher.client.messenger.watchPresence([accountOf(bob), accountOf(alice1)]);
    bob = await restart(bob);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(strangerSaw, []);
    watcher.client.close();
    // Switching to 'nobody' takes effect at once for those already watching.
    await until('alice sees bob back online', () =>
      seen.slice(wentOffline + 1).some((p) => p.accountId === accountOf(bob) && p.online),
    );
    const before = seen.length;
    await bob.client.updateAccount({ presence: 'nobody' });
    await until('alice told bob is hidden', () =>
      seen.slice(before).some((p) => p.accountId === accountOf(bob) && !p.online),
    );
    const hidden = seen.length;
    bob = await restart(bob);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(seen.length, hidden, 'no presence updates once hidden');
  });

  it('one-time KeyPackages go out once, and a device refills its stock when told it is low', async () => {
    const mallory = await register('mallory', NUMBERS.mallory);
    try {
      const claim = async () => {
        const response = await fetch(new URL('/v1/keys/claim', server.url), {
          method: 'POST',
          headers: {
            authorization: `Bearer ${mallory.client.account!.credential}`,
            'content-type': 'application/json',
          },
          body: JSON.stringify({ accountIds: [accountOf(carol)] }),
        });
        assert.equal(response.status, 200);
        return ((await response.json()) as { keyPackages: Array<{ keyPackageId: string }> })
          .keyPackages[0]!.keyPackageId;
      };
      const stock = async () => {
        const response = await fetch(new URL('/v1/keys/packages', server.url), {
          headers: { authorization: `Bearer ${carol.client.account!.credential}` },
        });
        return (await response.json()) as { oneTime: number; low: boolean };
      };
      // Only accounts on Carol's allow-list take one-time packages: she starts a chat with Mallory.
      await carol.client.messenger.createConversation([accountOf(mallory)]);
      const start = (await stock()).oneTime;
      const ids = new Set<string>();
      // Drain below the low-water mark; Carol's device is connected and hears about it.
      for (let i = 0; i < start - 5; i++) ids.add(await claim());
      assert.equal(ids.size, start - 5, 'no KeyPackage handed out twice');
      // Without the refill 5 would be left; the device topped its stock up when told it was low.
      await until('carol to refill', async () => !(await stock()).low);
      assert.ok((await stock()).oneTime >= 10);
    } finally {
      mallory.client.close();
    }
  });

  it('bad frames and requests get typed errors, and nobody else notices', async () => {
    const url = new URL('/v1/socket', server.url);
    url.protocol = 'ws:';
    const frames = (ws: WebSocket) => {
      const got: Array<Record<string, unknown>> = [];
      // One WebSocket message may carry several frames, one JSON text per line.
      ws.on('message', (d) => {
        for (const line of String(d).split('\n'))
          got.push(JSON.parse(line) as Record<string, unknown>);
      });
      return got;
    };
    const opened = async () => {
      const ws = new WebSocket(url);
      await new Promise((r) => ws.once('open', r));
      return ws;
    };
    // Not authenticated: a frame other than auth closes the socket with 4401.
    const anon = await opened();
    const anonFrames = frames(anon);
    const anonClosed = new Promise<number>((r) => anon.once('close', (code) => r(code)));
    anon.send(JSON.stringify({ t: 'ack', seqs: [1] }));
    assert.equal(await anonClosed, 4401);
    assert.equal(anonFrames[0]?.code, 'WEBSOCKET_AUTH_REQUIRED');
    // A wrong credential closes it too.
    const wrong = await opened();
    const wrongClosed = new Promise<number>((r) => wrong.once('close', (code) => r(code)));
    wrong.send(JSON.stringify({ t: 'auth', credential: `abcdefgh.${'x'.repeat(43)}` }));
    assert.equal(await wrongClosed, 4401);

    // Carol's credential on a raw socket: each bad frame gets an error and the socket stays.
    const ws = await opened();
    const got = frames(ws);
    ws.send(JSON.stringify({ t: 'auth', credential: carol.client.account!.credential }));
    await until('ready', () => got.some((f) => f.t === 'ready'));
    const expectError = async (send: () => void, code: string) => {
      const before = got.filter((f) => f.t === 'error').length;
      send();
      await until(`error ${code}`, () => got.filter((f) => f.t === 'error').length > before);
      const error = got.filter((f) => f.t === 'error').at(-1)!;
      assert.equal(error.code, code, JSON.stringify(error));
      assert.equal(typeof error.message, 'string');
      return error;
    };
    await expectError(() => ws.send('{not json'), 'FRAME_INVALID');
    const unknown = await expectError(
      () => ws.send(JSON.stringify({ t: 'bogus' })),
      'FRAME_INVALID',
    );
    assert.deepEqual(unknown.details, { reason: 'unknown frame type', type: 'bogus' });
    await expectError(() => ws.send(JSON.stringify({ t: 'send', id: 'x' })), 'FRAME_INVALID');
    await expectError(() => ws.send(Buffer.from([1, 2, 3])), 'FRAME_INVALID');
    await expectError(
      () => ws.send(JSON.stringify({ t: 'signal', groupId: direct, payload: 'x'.repeat(200_000) })),
      'FRAME_TOO_LARGE',
    );
    const notMine = await expectError(
      () =>
        ws.send(
          JSON.stringify({
            t: 'send',
            id: 'A'.repeat(22),
            groupId: direct,
            epoch: 1,
            payload: 'AAAA',
          }),
        ),
      'NOT_GROUP_MEMBER',
    );
    assert.equal(notMine.ref, 'A'.repeat(22));
    // Acknowledging another device's queue entries touches nothing: Bob, offline, keeps his.
    bob.client.close();
    await alice1.client.messenger.send(direct, 'still queued for bob');
    ws.send(JSON.stringify({ t: 'ack', seqs: Array.from({ length: 256 }, (_, i) => i + 1) }));
    ws.send(
      JSON.stringify({
        t: 'ack',
        seqs: Array.from({ length: 256 }, (_, i) => i + 257),
      }),
    );
    await new Promise((r) => setTimeout(r, 200));
    ws.close();

    // HTTP: typed errors too.
    const call = async (method: string, path: string, body?: unknown, token?: string) => {
      const response = await fetch(new URL(path, server.url), {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: response.status, json: (await response.json()) as { code: string } };
    };
    const carolToken = carol.client.account!.credential;
    assert.equal((await call('GET', `/v1/groups/${direct}`)).json.code, 'UNAUTHENTICATED');
    const foreign = await call('GET', `/v1/groups/${direct}`, undefined, carolToken);
    assert.deepEqual([foreign.status, foreign.json.code], [403, 'NOT_GROUP_MEMBER']);
    const commit = await call(
      'POST',
      `/v1/groups/${direct}/commits`,
      { epoch: 99, commit: 'AAAA', add: [], remove: [] },
      carolToken,
    );
    assert.deepEqual([commit.status, commit.json.code], [403, 'NOT_GROUP_MEMBER']);
    const badKp = await call(
      'POST',
      '/v1/keys/packages',
      { keyPackages: [{ id: 'abcdefghij', keyPackage: 'AAAAAAAA' }] },
      carolToken,
    );
    assert.deepEqual([badKp.status, badKp.json.code], [400, 'KEY_PACKAGE_INVALID']);
    // A genuine KeyPackage of another device is refused: nobody plants keys for someone else.
    const bobsKp = await call(
      'POST',
      '/v1/keys/claim',
      { accountIds: [accountOf(bob)] },
      carolToken,
    );
    const stolen = (bobsKp.json as unknown as { keyPackages: Array<{ keyPackage: string }> })
      .keyPackages[0]!.keyPackage;
    const planted = await call(
      'POST',
      '/v1/keys/packages',
      { keyPackages: [{ id: 'abcdefghij', keyPackage: stolen }] },
      carolToken,
    );
    assert.deepEqual([planted.status, planted.json.code], [400, 'KEY_PACKAGE_INVALID']);
    const nobody = await call(
      'POST',
      '/v1/keys/claim',
      { accountIds: ['nosuchaccount'] },
      carolToken,
    );
    assert.deepEqual([nobody.status, nobody.json.code], [404, 'ACCOUNT_NOT_FOUND']);
    const extra = await call('POST', '/v1/keys/claim', { accountIds: [], extra: 1 }, carolToken);
    assert.deepEqual([extra.status, extra.json.code], [400, 'VALIDATION_FAILED']);

    // Meanwhile Bob's queue is intact and the others talk on.
    bob = await restart(bob);
    await until('bob’s queued message', () =>
      texts(bob.inbox, direct).includes('still queued for bob'),
    );
    await bob.client.messenger.send(direct, 'bob is fine');
    await until('alice hears bob', () => texts(alice2.inbox, direct).includes('bob is fine'));
  });

  it('a member who leaves gets nothing more and is removed from the MLS group', async () => {
    const before = (await alice1.client.messenger.conversation(direct)).epoch;
    const left = await bob.client.messenger.leave(direct);
    assert.equal(left.active, false);
    await until('a remaining device to commit the removal', async () => {
      const c = await alice1.client.messenger.conversation(direct);
      return c.epoch === before + 1 && !c.members.some((m) => m.accountId === accountOf(bob));
    });
    await until('alice2 to follow', async () => {
      return (await alice2.client.messenger.conversation(direct)).epoch === before + 1;
    });
    await alice1.client.messenger.send(direct, 'after bob left');
    await until('alice2 hears it', () => texts(alice2.inbox, direct).includes('after bob left'));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(texts(bob.inbox, direct).includes('after bob left'), false);
    await assert.rejects(bob.client.messenger.send(direct, 'let me back in'), {
      code: 'NOT_GROUP_MEMBER',
    });
    assert.deepEqual([...alice1.errors, ...alice2.errors], []);
  });

  it('a device signed out by its owner is removed from the MLS group by a remaining member', async () => {
    const devicesOf = async (d: Device) =>
      (await d.client.messenger.conversation(group)).members.map((m) => m.deviceId);
    const gone = alice2.client.account!.deviceId;
    assert.ok((await devicesOf(carol)).includes(gone), 'alice2 is in the group');
    // The remaining device with the lowest id commits the removal, when it is online: Dave and
    // Erin (members since the race above) come back online, so whichever it is, it is there.
    const back = [
      await connect(await open(join(root, 'dave'))),
      await connect(await open(join(root, 'erin'))),
    ];
    const before = (await carol.client.messenger.conversation(group)).epoch;
    await alice1.client.removeDevice(gone);
    await until('alice2 to be told it was signed out', () =>
      alice2.errors.some((e) => e.startsWith('UNAUTHENTICATED')),
    );
    await until('a remaining device to commit the removal of its leaf', async () => {
      const c = await carol.client.messenger.conversation(group);
      return c.epoch > before && !c.members.some((m) => m.deviceId === gone);
    });
    await until('alice1 to follow', async () => !(await devicesOf(alice1)).includes(gone));
    await carol.client.messenger.send(group, 'after alice2 was signed out');
    await until('alice1 hears it', () =>
      texts(alice1.inbox, group).includes('after alice2 was signed out'),
    );
    assert.equal(texts(alice2.inbox, group).includes('after alice2 was signed out'), false);
    assert.deepEqual([...alice1.errors, ...carol.errors, ...back.flatMap((d) => d.errors)], []);
    for (const d of back) d.client.close();
  });
});
