/**
 * The operator as the adversary (issue 14): SDK clients talk to a real `parley serve` through
 * `MaliciousOperator`, which rewrites what the server sends exactly as a modified server could.
 * Every promise that must hold against a lying server is attacked here, and each attack must fail
 * visibly: the client shows the truth and says that it was lied to.
 *
 * The first cases check the harness itself (it passes everything through unchanged; its hooks
 * reach the SDK) and a tampered MLS payload. Then the attacks on who said what: a rewritten
 * `from`, a forged `leave`, a member's removal Commit, a forged typing signal.
 */

import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import {
  type ChatMessage,
  FileStore,
  type MembershipNotice,
  nodeSocket,
  ParleyClient,
  type SecurityWarning,
} from '@parley/client/node';
import { forgedKeyPackage } from '@parley/client/testing';
import {
  type DeviceRef,
  directoryFingerprint,
  filterRangeFor,
  fromBase64Url,
  loadOprf,
  type ParleyError,
  phoneNumberInput,
  toBase64Url,
} from '@parley/core';
import { encodeFilter } from '@parley/core/server';
import { MaliciousOperator } from './harness/malicious-operator.js';
import { directorySigner } from './harness/operator-keys.js';
import { reached, texts, until } from './harness/wait.js';

const NUMBERS = {
  alice: '+14155550911',
  bob: '+14155550922',
  carol: '+14155550933',
  dave: '+14155550944',
  erin: '+14155550955',
};

type Notice = MembershipNotice;
type Warning = SecurityWarning;

const kindOf = (m: ChatMessage) => m.kind;
const noticeOf = (m: ChatMessage) => (m.kind === 'notice' ? m.notice : undefined);

function onWarning(client: ParleyClient, listener: (w: Warning) => void): void {
  client.messenger.on('warning', listener);
}

// --- devices ---

interface Device {
  name: string;
  client: ParleyClient;
  ref: DeviceRef;
  inbox: ChatMessage[];
  errors: ParleyError[];
  warnings: Warning[];
  typing: Array<{ conversationId: string; from: DeviceRef }>;
}

const root = mkdtempSync(join(tmpdir(), 'parley-operator-'));
let operator: MaliciousOperator;

/** Opens a device's client through the operator (every request and socket goes through it). */
function openClient(name: string): Promise<ParleyClient> {
  return ParleyClient.open({
    serverUrl: operator.url,
    store: new FileStore(join(root, name)),
    socket: nodeSocket,
  });
}

/** A verification for the number, with the code the server texted (an SMS code is all it takes). */
async function smsCode(client: ParleyClient, number: string) {
  const { verificationId } = await client.requestCode(number);
  return { verificationId, code: await operator.server.codeFor(verificationId) };
}

/** Registers a device through the operator. */
async function register(name: string, number: string): Promise<Device> {
  const client = await openClient(name);
  await client.register({
    ...(await smsCode(client, number)),
    discoverable: true,
    presence: 'nobody',
    deviceName: name,
  });
  const { accountId, deviceId } = client.account!;
  const device: Device = {
    name,
    client,
    ref: { accountId, deviceId },
    inbox: [],
    errors: [],
    warnings: [],
    typing: [],
  };
  client.messenger.on('message', (m) => device.inbox.push(m));
  client.messenger.on('error', (e) => device.errors.push(e));
  client.messenger.on('typing', (t) => device.typing.push(t));
  onWarning(client, (w) => device.warnings.push(w));
  await client.messenger.start();
  return device;
}

/** What the device shows people said in a conversation (notices apart), in arrival order. */
const said = (d: Device, conversationId: string) =>
  texts(
    d.inbox.filter((m) => kindOf(m) !== 'notice'),
    conversationId,
  );

const sameDevice = (a: DeviceRef | undefined, b: DeviceRef) =>
  a?.accountId === b.accountId && a.deviceId === b.deviceId;

const warned = (d: Device, code: Warning['code'], conversationId: string) =>
  d.warnings.some((w) => w.code === code && w.conversationId === conversationId);

async function hasConversation(d: Device, id: string): Promise<void> {
  await until(`${d.name} to join the conversation`, async () =>
    (await d.client.messenger.conversations()).some((c) => c.id === id),
  );
}

describe('a malicious operator (real server process behind a rewriting proxy)', {
  timeout: 300_000,
}, () => {
  let alice: Device;
  let bob: Device;
  let carol: Device;

  /** A new group of Alice, Bob and Carol, made by Bob, that every one of them has joined. */
  async function group(): Promise<string> {
    const { id } = await bob.client.messenger.createConversation([
      alice.ref.accountId,
      carol.ref.accountId,
    ]);
    await Promise.all([alice, carol].map((d) => hasConversation(d, id)));
    return id;
  }

  before(async () => {
    operator = await MaliciousOperator.start({ PARLEY_LOG_LEVEL: 'warn' });
    alice = await register('alice', NUMBERS.alice);
    bob = await register('bob', NUMBERS.bob);
    carol = await register('carol', NUMBERS.carol);
  });

  afterEach(() => operator.reset());

  after(async () => {
    for (const d of [alice, bob, carol]) d?.client.close();
    await operator?.close();
  });

  it('passes everything through unchanged: a chat arrives once each, in order', async () => {
    // Every frame to Bob goes through a hook that returns it as it was: the batches are split
    // into frames and put back, byte for byte.
    const toBob: string[] = [];
    operator.onServerFrame((conn, frame) => {
      if (conn.deviceId === bob.ref.deviceId && frame.t === 'deliver') toBob.push(frame.id);
      return frame;
    });
    assert.equal(operator.connections(alice.ref.deviceId).length, 1);
    assert.equal(operator.connections(bob.ref.deviceId).length, 1);
    assert.equal(operator.connections(bob.ref.deviceId)[0]!.accountId, bob.ref.accountId);

    const { id } = await alice.client.messenger.createConversation([bob.ref.accountId]);
    await hasConversation(bob, id);
    const sent: ChatMessage[] = [];
    for (let i = 1; i <= 5; i++) sent.push(await alice.client.messenger.send(id, `a${i}`));
    for (let i = 1; i <= 3; i++) await bob.client.messenger.send(id, `b${i}`);
    // The last of each side arrives after every earlier one, or not in order.
    await until('bob to get a5', () => said(bob, id).includes('a5'));
    await until('alice to get b3', () => said(alice, id).includes('b3'));
    assert.deepEqual(said(bob, id), ['a1', 'a2', 'a3', 'a4', 'a5']);
    assert.deepEqual(said(alice, id), ['b1', 'b2', 'b3']);
    for (const m of sent) assert.equal(toBob.filter((x) => x === m.id).length, 1, 'once each');
    await until('delivery receipts through the operator', async () =>
      (await alice.client.messenger.history(id))
        .filter((m) => m.kind === 'text' && sameDevice(m.from, alice.ref))
        .every((m) => reached(m.status, 'delivered')),
    );
    assert.deepEqual([...alice.errors, ...bob.errors], []);
    assert.deepEqual([...alice.warnings, ...bob.warnings], []);
  });

  it('rewrites what the SDK reads over HTTP', async () => {
    assert.equal((await bob.client.getAccount()).discoverable, true);
    operator.onResponse('GET', '/v1/account', (_req, status, json) =>
      status === 200 ? { ...(json as object), discoverable: false } : json,
    );
    assert.equal((await bob.client.getAccount()).discoverable, false, 'the operator’s answer');
    operator.reset();
    assert.equal((await bob.client.getAccount()).discoverable, true, 'the server’s again');
  });

  it('a tampered MLS payload is refused, shown as an error, and blocks nothing', async () => {
    const { id } = await alice.client.messenger.createConversation([bob.ref.accountId]);
    await hasConversation(bob, id);
    let tampered: { id: string; seq: number } | undefined;
    const acked: number[] = [];
    operator.onServerFrame((conn, frame) => {
      if (
        tampered ||
        conn.deviceId !== bob.ref.deviceId ||
        frame.t !== 'deliver' ||
        frame.kind !== 'application' ||
        frame.groupId !== id ||
        !frame.payload
      ) {
        return frame;
      }
      tampered = { id: frame.id, seq: frame.seq };
      const bytes = new Uint8Array(fromBase64Url(frame.payload)!);
      bytes[bytes.length - 1]! ^= 0x01; // the last byte of the AEAD tag
      return { ...frame, payload: toBase64Url(bytes) };
    });
    operator.onClientFrame((conn, frame) => {
      if (conn.deviceId === bob.ref.deviceId && frame.t === 'ack') {
        acked.push(...(frame.seqs as number[]));
      }
      return frame;
    });
    const errorsBefore = bob.errors.length;
    const first = await alice.client.messenger.send(id, 'tampered');
    await alice.client.messenger.send(id, 'after');
    await until('bob to get the next message', () => said(bob, id).includes('after'));
    assert.equal(tampered?.id, first.id);
    assert.deepEqual(said(bob, id), ['after'], 'nothing corrupted is shown');
    assert.ok(!(await bob.client.messenger.history(id)).some((m) => m.id === first.id));
    assert.ok(
      bob.errors.slice(errorsBefore).some((e) => e.code === 'MLS_FAILED'),
      'the failure is reported',
    );
    // Let go, not retried forever: the queue behind it moves on.
    await until('bob to acknowledge the tampered entry', () => acked.includes(tampered!.seq));
    await bob.client.messenger.send(id, 'reply');
    await until('alice to get the reply', () => said(alice, id).includes('reply'));
    assert.deepEqual(alice.errors, []);
  });

  it('a rewritten `from`: the sender shown is the MLS sender, and the lie is reported', async () => {
    const id = await group();
    const rewritten: string[] = [];
    operator.onServerFrame((conn, frame) => {
      if (
        conn.deviceId !== bob.ref.deviceId ||
        frame.t !== 'deliver' ||
        frame.kind !== 'application' ||
        frame.groupId !== id ||
        frame.from.deviceId !== alice.ref.deviceId
      ) {
        return frame;
      }
      rewritten.push(frame.id);
      return { ...frame, from: carol.ref };
    });
    const sent = await alice.client.messenger.send(id, 'from alice');
    await until('bob to get it', () => bob.inbox.some((m) => m.id === sent.id));
    assert.ok(rewritten.includes(sent.id), 'the operator named Carol');
    const shown = bob.inbox.find((m) => m.id === sent.id)!;
    assert.ok(sameDevice(shown.from, alice.ref), `shown from ${JSON.stringify(shown.from)}`);
    const stored = (await bob.client.messenger.history(id)).find((m) => m.id === sent.id);
    assert.ok(sameDevice(stored?.from, alice.ref), 'and so in the history');
    await until('a SENDER_MISMATCH warning', () => warned(bob, 'SENDER_MISMATCH', id));
    // The read receipt answers the MLS sender.
    await bob.client.messenger.markRead(id, [sent.id]);
    await until('alice to see bob read it', async () =>
      (await alice.client.messenger.history(id))
        .find((m) => m.id === sent.id)!
        .readBy.includes(bob.ref.accountId),
    );
    // Carol, whom the operator named, got the message from Alice, unchanged.
    await until('carol to get it', () => carol.inbox.some((m) => m.id === sent.id));
    assert.ok(sameDevice(carol.inbox.find((m) => m.id === sent.id)!.from, alice.ref));
  });

  it('a forged `leave`: nobody removes the member, and the lie is reported', async () => {
    const id = await group();
    // A modified server rewrites a real queued entry (here the first receipt each of Bob and
    // Carol gets in this conversation) into "Alice left", under the entry's own seq.
    const forged = new Map<string, number>();
    const handled = new Set<string>();
    operator.onServerFrame((conn, frame) => {
      const to = conn.deviceId;
      if (
        !to ||
        to === alice.ref.deviceId ||
        forged.has(to) ||
        frame.t !== 'deliver' ||
        frame.kind !== 'receipt' ||
        frame.groupId !== id
      ) {
        return frame;
      }
      forged.set(to, frame.seq);
      return {
        t: 'deliver',
        seq: frame.seq,
        kind: 'leave',
        id: frame.id,
        groupId: id,
        from: alice.ref,
        epoch: frame.epoch,
        sentAt: frame.sentAt,
      };
    });
    operator.onClientFrame((conn, frame) => {
      const seq = conn.deviceId === undefined ? undefined : forged.get(conn.deviceId);
      if (frame.t === 'ack' && seq !== undefined && (frame.seqs as number[]).includes(seq)) {
        handled.add(conn.deviceId!);
      }
      return frame;
    });
    await bob.client.messenger.send(id, 'bob, before');
    await carol.client.messenger.send(id, 'carol, before');
    await until('the forged leave to reach bob and carol', () => forged.size === 2);
    for (const d of [bob, carol]) {
      await until(
        `${d.name} to handle it`,
        () => handled.has(d.ref.deviceId) || d.warnings.length > 0,
      );
      assert.ok(warned(d, 'UNVERIFIED_LEAVE', id), `${d.name} reports the unverified leave`);
    }
    // Alice is still a member everywhere: her next message reaches both, theirs reach her.
    await alice.client.messenger.send(id, 'alice, still here');
    for (const d of [bob, carol]) {
      await until(`${d.name} to get alice’s message`, () =>
        said(d, id).includes('alice, still here'),
      );
    }
    await bob.client.messenger.send(id, 'bob, after');
    await carol.client.messenger.send(id, 'carol, after');
    await until('alice to get both', () =>
      ['bob, after', 'carol, after'].every((t) => said(alice, id).includes(t)),
    );
    for (const d of [alice, bob, carol]) {
      const conversation = await d.client.messenger.conversation(id);
      assert.ok(conversation.active, `${d.name}: still active`);
      assert.ok(
        conversation.members.some((m) => sameDevice(m, alice.ref)),
        `${d.name}: alice still listed`,
      );
      const notices = (await d.client.messenger.history(id)).map(noticeOf).filter(Boolean);
      assert.ok(
        !notices.some((n) => n!.change === 'removed' || n!.change === 'left'),
        `${d.name}: no removal shown`,
      );
    }
  });

  it('a member’s removal Commit is shown to every member and to the one removed', async () => {
    const id = await group();
    await carol.client.messenger.removeMembers(id, [alice.ref.accountId]);
    await until(
      'alice’s client to show she was removed',
      async () => !(await alice.client.messenger.conversation(id)).active,
    );
    const removal = (n: Notice | undefined) =>
      n?.change === 'removed' &&
      sameDevice(n.by, carol.ref) &&
      n.accounts.length === 1 &&
      n.accounts[0] === alice.ref.accountId;
    for (const d of [bob, carol]) {
      await until(`${d.name} to show “Carol removed Alice”`, async () =>
        (await d.client.messenger.history(id)).some((m) => removal(noticeOf(m))),
      );
      const conversation = await d.client.messenger.conversation(id);
      assert.ok(!conversation.members.some((m) => m.accountId === alice.ref.accountId));
    }
  });

  it('a forged typing signal is not shown, and the forgery is reported', async () => {
    const id = await group();
    const fromCarol = () =>
      bob.typing.filter((t) => t.conversationId === id && sameDevice(t.from, carol.ref)).length;
    const fromAlice = () =>
      bob.typing.filter((t) => t.conversationId === id && sameDevice(t.from, alice.ref)).length;

    // 1. A payload the operator made, under the conversation's current epoch, naming Alice.
    const epoch = (await bob.client.messenger.conversation(id)).epoch;
    const payload = new Uint8Array(8 + 12 + 32);
    new DataView(payload.buffer).setBigUint64(0, BigInt(epoch));
    payload.set(crypto.getRandomValues(new Uint8Array(44)), 8);
    const signal = { t: 'signal', groupId: id, from: alice.ref, payload: toBase64Url(payload) };
    assert.equal(operator.inject(bob.ref.deviceId, signal), 1, 'bob is connected');
    // Carol's real typing comes after it on Bob's socket: once it is shown, the forgery was read.
    const seen = fromCarol();
    await carol.client.messenger.typing(id);
    await until('bob to see carol typing', () => fromCarol() > seen);
    assert.equal(fromAlice(), 0, 'no typing shown from alice');
    assert.ok(warned(bob, 'SIGNAL_FORGED', id), 'the forged signal is reported');

    // 2. Carol's real signal, relayed to Bob as Alice's: authenticated by the sending leaf.
    const warnings = bob.warnings.length;
    let relabelled = false;
    operator.onServerFrame((conn, frame) => {
      if (relabelled || conn.deviceId !== bob.ref.deviceId || frame.t !== 'signal') return frame;
      relabelled = true;
      return { ...frame, from: alice.ref };
    });
    const before = fromCarol();
    await carol.client.messenger.typing(id);
    await carol.client.messenger.typing(id);
    await until('bob to see carol typing again', () => relabelled && fromCarol() > before);
    assert.equal(fromAlice(), 0, 'still no typing shown from alice');
    assert.ok(
      bob.warnings
        .slice(warnings)
        .some(
          (w) =>
            w.conversationId === id && (w.code === 'SIGNAL_FORGED' || w.code === 'SENDER_MISMATCH'),
        ),
      'the relabelled signal is reported',
    );
  });

  it('a KeyPackage the operator made under Alice’s device name: refused, nothing encrypted, a warning', async () => {
    // Bob has met Alice: her identity key is pinned.
    const { id: first } = await bob.client.messenger.createConversation([alice.ref.accountId]);
    await hasConversation(alice, first);
    const forged = await forgedKeyPackage(alice.ref);
    operator.onResponse('POST', '/v1/keys/claim', (_req, status, json) => {
      if (status !== 200) return json;
      const body = json as { keyPackages: Array<{ accountId: string; keyPackage: string }> };
      return {
        keyPackages: body.keyPackages.map((k) =>
          k.accountId === alice.ref.accountId ? { ...k, keyPackage: forged } : k,
        ),
      };
    });
    const commits: string[] = [];
    operator.onResponse('POST', /^\/v1\/groups\/[^/]+\/commits$/, (req, _status, json) => {
      commits.push(req.path);
      return json;
    });
    const warnings = bob.warnings.length;
    await assert.rejects(
      bob.client.messenger.createConversation([alice.ref.accountId]),
      (e: ParleyError) => e.code === 'IDENTITY_REFUSED',
    );
    assert.deepEqual(commits, [], 'no Commit or Welcome went out: nothing was encrypted to it');
    assert.ok(
      bob.warnings.slice(warnings).some((w) => w.code === 'KEY_REFUSED'),
      'the refusal is reported',
    );
  });

  it('a typed link code whose key the server swapped is refused; so is a swapped QR key', async () => {
    const fresh = await openClient('alice-tablet');
    const link = await fresh.startLink({ deviceName: 'tablet' });
    // The operator answers the lookup with a key of its own: it could then read the envelope.
    operator.onResponse('GET', /^\/v1\/links\/[0-9A-Z]{8}$/, (_req, status, json) =>
      status === 200
        ? {
            ...(json as object),
            publicKey: toBase64Url(crypto.getRandomValues(new Uint8Array(32))),
          }
        : json,
    );
    for (const text of [link.code, link.qr]) {
      await assert.rejects(
        alice.client.inspectLink(text),
        (e: ParleyError) => e.code === 'LINK_CODE_INVALID',
        'the code commits to the new device’s key',
      );
    }
    operator.reset();
    // Unswapped, the same code reads: the refusal was the swap's doing.
    const request = await alice.client.inspectLink(link.code);
    assert.equal(request.deviceName, 'tablet');
    assert.equal(request.via, 'typed');
  });

  it('an SMS code alone: with a registration lock, refused until the PIN; without, a new identity everyone is told of', async () => {
    const dave = await register('dave', NUMBERS.dave);
    const erin = await register('erin', NUMBERS.erin);
    const { id } = await erin.client.messenger.createConversation([dave.ref.accountId]);
    await hasConversation(dave, id);
    await dave.client.updateAccount({ presence: 'contacts' });
    await dave.client.setRegistrationLock('4321-lock');
    const before = await dave.client.getAccount();
    assert.equal(before.registrationLock, true);

    // A SIM swapper (or the operator) receives Dave's code: the lock refuses it.
    const swapper = await openClient('dave-swapped');
    const attempt = await smsCode(swapper, NUMBERS.dave);
    const answers = { discoverable: false, presence: 'nobody' as const, deviceName: 'swapped' };
    await assert.rejects(
      swapper.register({ ...attempt, ...answers }),
      (e: ParleyError) => e.code === 'REGISTRATION_LOCKED',
    );
    await assert.rejects(
      swapper.register({ ...attempt, ...answers, registrationLockPin: '0000-wrong' }),
      (e: ParleyError) => e.code === 'REGISTRATION_LOCKED',
    );
    const unchanged = await dave.client.getAccount();
    assert.deepEqual(
      {
        discoverable: unchanged.discoverable,
        presence: unchanged.presence,
        devices: unchanged.devices.length,
      },
      { discoverable: before.discoverable, presence: before.presence, devices: 1 },
      'nothing of Dave’s changed, no device was added',
    );
    const sentBefore = await erin.client.messenger.send(id, 'only for dave');
    await until('dave to get it', () => said(dave, id).includes('only for dave'));
    assert.equal(sentBefore.text, 'only for dave');

    // Erin has verified Dave's safety number; both sides show the same one.
    const erinSees = await erin.client.safetyNumber(dave.ref.accountId);
    const daveSees = await dave.client.safetyNumber(erin.ref.accountId);
    assert.equal(erinSees.digits, daveSees.digits);
    assert.match(erinSees.digits, /^[0-9]{60}$/);
    await erin.client.verifySafetyNumber(dave.ref.accountId, daveSees.scannable);

    // With the PIN, the registration goes through: a new identity; Dave's old device is out.
    const daveErrors = dave.errors.length;
    const registered = await swapper.register({
      ...(await smsCode(swapper, NUMBERS.dave)),
      ...answers,
      registrationLockPin: '4321-lock',
    });
    assert.equal(registered.existingAccount, true);
    assert.equal(registered.accountId, dave.ref.accountId, 'the account id stays');
    await assert.rejects(
      dave.client.getAccount(),
      (e: ParleyError) => e.code === 'UNAUTHENTICATED',
    );
    await until(
      'dave’s old device to be told it is signed out',
      () => dave.errors.length > daveErrors,
    );
    const newcomer = (await swapper.getAccount()).devices;
    assert.deepEqual(
      newcomer.map((d) => d.name),
      ['swapped'],
      'no device of the old identity',
    );
    assert.deepEqual(
      await swapper.messenger.conversations(),
      [],
      'no conversation of the old identity',
    );

    // Erin never encrypts to the new identity unseen: the change is shown first, and as Dave
    // was verified, nothing goes to him until Erin accepts the new key.
    const changes: string[] = [];
    erin.client.messenger.on('identity', (e) => changes.push(e.accountId));
    await assert.rejects(
      erin.client.messenger.createConversation([dave.ref.accountId]),
      (e: ParleyError) => e.code === 'SAFETY_NUMBER_CHANGED',
    );
    assert.deepEqual(changes, [dave.ref.accountId]);
    await until('erin’s old conversation to say Dave’s safety number changed', async () =>
      (await erin.client.messenger.history(id)).some(
        (m) => noticeOf(m)?.change === 'identity-changed',
      ),
    );
    const changed = await erin.client.safetyNumber(dave.ref.accountId);
    assert.notEqual(changed.digits, erinSees.digits, 'a new safety number');
    assert.equal(changed.blocked, true);
    await erin.client.acceptSafetyNumber(dave.ref.accountId);
    // What Erin writes in the conversation she had with Dave's old identity reaches nobody new.
    await erin.client.messenger.send(id, 'meant for the old dave');
    const fresh = await erin.client.messenger.createConversation([dave.ref.accountId]);
    assert.ok(fresh.members.some((m) => m.accountId === dave.ref.accountId));
    await swapper.messenger.start();
    await until('the new identity to join the new conversation', async () =>
      (await swapper.messenger.conversations()).some((c) => c.id === fresh.id),
    );
    assert.deepEqual(
      (await swapper.messenger.conversations()).map((c) => c.id),
      [fresh.id],
      'the old conversation never reaches the new identity',
    );
    for (const d of [dave, erin]) d.client.close();
    swapper.close();
  });

  it('a doctored filter of honest size listing non-users: stopped at the first unconfirmed match, one token out', async () => {
    // The operator holds the OPRF key and the directory signing key (both in its data
    // directory): it lists non-users' numbers in a filter of honest size and signs it.
    const nonUsers = ['+14155550971', '+14155550972', '+14155550973', '+14155550974'];
    const dir = operator.server.dataDir;
    const { keys } = JSON.parse(readFileSync(join(dir, 'oprf-keys.json'), 'utf8')) as {
      keys: Array<{ id: string; secret: string }>;
    };
    const resign = directorySigner(dir);
    const oprf = await loadOprf();
    let doctored: Uint8Array | undefined;
    operator.onResponse('GET', '/v1/directory', (_req, status, json) => {
      if (status !== 200) return json;
      const honest = json as { keyId: string; version: number; count: number; publicKey?: string };
      const secret = Buffer.from(keys.find((k) => k.id === honest.keyId)!.secret, 'base64');
      const fingerprints = nonUsers.map((n) =>
        directoryFingerprint(
          oprf.sha512,
          honest.keyId,
          oprf.scalarMult(secret, oprf.hashToGroup(phoneNumberInput(n))),
        ),
      );
      const range = filterRangeFor(1024);
      doctored = encodeFilter(fingerprints, range);
      const version = honest.version + 1000;
      const digest = createHash('sha256').update(doctored).digest();
      return resign({
        type: 'snapshot' as const,
        keyId: honest.keyId,
        ...(honest.publicKey ? { publicKey: honest.publicKey } : {}),
        version,
        count: nonUsers.length,
        range: String(range),
        bytes: doctored.length,
        path: `/v1/directory/snapshots/${honest.keyId}/${version}`,
        digest: toBase64Url(digest),
      });
    });
    operator.onRawResponse('GET', /^\/v1\/directory\/snapshots\//, () => doctored!);
    const tokensSent: string[] = [];
    operator.onResponse('POST', '/v1/discovery/resolve', (req, _status, json) => {
      tokensSent.push(...((req.body as { tokens: string[] }).tokens ?? []));
      return json;
    });

    const victim = await register('victim', '+14155550979');
    // Signed with the server's own directory key: every check of size and signature passes.
    await victim.client.consent.grant();
    for (const [i, n] of nonUsers.entries()) await victim.client.contacts.add(`friend ${i}`, n);
    await assert.rejects(
      victim.client.discover(),
      (e: ParleyError) => e.code === 'FILTER_REFUSED',
      'the first listed match the server does not confirm stops discovery',
    );
    assert.equal(tokensSent.length, 1, 'one number out, not four');
    victim.client.close();
  });
});
