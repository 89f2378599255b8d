/**
 * Acceptance test for profile names, message requests and blocking, against a real `parley
 * serve` process: a group of three where two are strangers to the third shows everyone's profile
 * names, and the database holds none of them in clear; a server serving a wrong or oversized
 * profile is caught; a stranger's conversation arrives as a request and gets no read receipt
 * before it is accepted; a blocked account's sends and invitations are refused with BLOCKED and
 * nothing reaches the blocker; unblocking lets them through again; in a group the two share with
 * others, the blocked member's messages are hidden instead.
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
  ParleyError,
} from '@parley/client/node';
import { linkDevice } from './harness/link.js';
import { ServerProcess } from './harness/server-process.js';
import { texts, until } from './harness/wait.js';

const NAMES = { alice: 'Alice Ardent', bob: 'Bob Brightwater', carol: 'Carol Quillfeather' };

interface Device {
  client: ParleyClient;
  inbox: ChatMessage[];
  errors: ParleyError[];
}

const root = mkdtempSync(join(tmpdir(), 'parley-people-'));
let server: ServerProcess;
/** What the server serves for GET …/profile, rewritten when a test sets it (a lying operator). */
let rewriteProfile: ((accountId: string, body: Record<string, unknown>) => unknown) | undefined;

const operatorFetch: typeof fetch = async (input, init) => {
  const response = await fetch(input, init);
  const match = /\/v1\/accounts\/([^/]+)\/profile$/.exec(new URL(String(input)).pathname);
  if (!match || !rewriteProfile || !response.ok) return response;
  const body = (await response.json()) as Record<string, unknown>;
  return new Response(JSON.stringify(rewriteProfile(match[1]!, body)), {
    status: 200,
    headers: { 'content-type': 'application/json' },
  });
};

async function register(name: string, number: string, profileName?: string): Promise<Device> {
  const client = await ParleyClient.open({
    serverUrl: server.url,
    store: new FileStore(join(root, name)),
    socket: nodeSocket,
    fetch: operatorFetch,
  });
  const { verificationId } = await client.requestCode(number);
  await client.register({
    verificationId,
    code: await server.codeFor(verificationId),
    discoverable: true,
    presence: 'contacts',
    deviceName: name,
    ...(profileName ? { profileName } : {}),
  });
  const device: Device = { client, inbox: [], errors: [] };
  client.messenger.on('message', (m) => device.inbox.push(m));
  client.messenger.on('error', (e) => device.errors.push(e));
  await client.messenger.start();
  return device;
}

const idOf = (d: Device) => d.client.account!.accountId;

async function conversationOn(device: Device, id: string) {
  await until('the conversation to arrive', async () =>
    (await device.client.messenger.conversations()).some((c) => c.id === id),
  );
  return device.client.messenger.conversation(id);
}

describe('profiles, message requests and blocks (real server process)', {
  timeout: 240_000,
}, () => {
  let alice: Device;
  let bob: Device;
  let carol: Device;
  let mallory: Device;
  let group: string;

  before(async () => {
    server = await ServerProcess.start({ PARLEY_LOG_LEVEL: 'warn' });
    alice = await register('alice', '+14155550211', NAMES.alice);
    bob = await register('bob', '+14155550222', NAMES.bob);
    carol = await register('carol', '+14155550233', NAMES.carol);
    mallory = await register('mallory', '+14155550244', 'Totally Your Bank');
  });

  after(async () => {
    for (const d of [alice, bob, carol, mallory]) d?.client.close();
    await server?.stop();
  });

  it('a group of three: the two strangers to Carol show by their profile names', async () => {
    // Alice started it; Bob and Carol know neither Alice nor each other.
    group = (await alice.client.messenger.createConversation([idOf(bob), idOf(carol)])).id;
    const onCarol = await conversationOn(carol, group);
    await conversationOn(bob, group);
    assert.equal(onCarol.request, idOf(alice), 'a stranger’s conversation is a request');
    await until(
      'carol to read alice’s profile name',
      async () => (await carol.client.messenger.people.nameOf(idOf(alice))) === NAMES.alice,
    );
    // Accepting shares one's own profile key with the group.
    await bob.client.messenger.people.accept(group);
    await carol.client.messenger.people.accept(group);
    await until(
      'carol to read bob’s profile name',
      async () => (await carol.client.messenger.people.nameOf(idOf(bob))) === NAMES.bob,
    );
    await until(
      'bob to read carol’s profile name',
      async () => (await bob.client.messenger.people.nameOf(idOf(carol))) === NAMES.carol,
    );
    await until('alice to read both', async () => {
      const names = await alice.client.messenger.people.names();
      return names[idOf(bob)] === NAMES.bob && names[idOf(carol)] === NAMES.carol;
    });
    assert.deepEqual(carol.errors, []);
  });

  it('a changed name reaches the members; the database never holds a name in clear', async () => {
    await bob.client.messenger.people.setName('Bob B. Renamed');
    await until(
      'carol to read bob’s new name',
      async () => (await carol.client.messenger.people.nameOf(idOf(bob))) === 'Bob B. Renamed',
    );
    const files = readdirSync(server.dataDir).filter((f) => f.startsWith('parley.sqlite'));
    assert.ok(files.length > 0);
    for (const f of files) {
      const bytes = readFileSync(join(server.dataDir, f));
      for (const name of [...Object.values(NAMES), 'Bob B. Renamed', 'Totally Your Bank']) {
        assert.equal(bytes.includes(Buffer.from(name)), false, `${f} holds "${name}" in clear`);
      }
    }
  });

  it('a profile the server swaps or pads is refused with a typed error; the name is kept', async () => {
    const aliceId = idOf(alice);
    // Served: Bob's sealed profile under Alice's id (it opens under no key but Bob's, for Bob).
    const bobsProfile = (await fetch(`${server.url}/v1/accounts/${idOf(bob)}/profile`, {
      headers: { authorization: `Bearer ${carol.client.account!.credential}` },
    }).then((r) => r.json())) as { version: number; ciphertext: string };
    rewriteProfile = (accountId, body) =>
      accountId === aliceId ? { ...body, ciphertext: bobsProfile.ciphertext, version: 99 } : body;
    await alice.client.messenger.people.setName('Alice Again');
    await until('carol to refuse the swapped profile', () =>
      carol.errors.some((e) => e.code === 'PROFILE_UNREADABLE'),
    );
    assert.equal(await carol.client.messenger.people.nameOf(aliceId), NAMES.alice);
    rewriteProfile = (accountId, body) =>
      accountId === aliceId ? { ...body, ciphertext: 'A'.repeat(4000), version: 100 } : body;
    await alice.client.messenger.people.setName('Alice Thrice');
    await until('carol to refuse the oversized profile', () =>
      carol.errors.some((e) => e.code === 'PROFILE_TOO_LARGE'),
    );
    assert.equal(await carol.client.messenger.people.nameOf(aliceId), NAMES.alice);
    rewriteProfile = undefined;
    carol.errors.length = 0;
  });

  it('a stranger’s message arrives as a request: no read receipt before it is accepted', async () => {
    const chat = (await mallory.client.messenger.createConversation([idOf(bob)])).id;
    const first = await mallory.client.messenger.send(chat, 'you won a prize');
    const onBob = await conversationOn(bob, chat);
    assert.equal(onBob.request, idOf(mallory));
    assert.deepEqual(
      (await bob.client.messenger.people.requests()).map((r) => r.id),
      [chat],
    );
    await until('bob to get the first text', () => texts(bob.inbox, chat).length === 1);
    // Read while still a request: nothing goes to Mallory.
    await bob.client.messenger.markRead(chat, [first.id]);
    await bob.client.messenger.people.accept(chat);
    assert.deepEqual(await bob.client.messenger.people.requests(), []);
    const second = await mallory.client.messenger.send(chat, 'claim it now');
    await until('bob to get the second text', () => texts(bob.inbox, chat).length === 2);
    await bob.client.messenger.markRead(chat, [second.id]);
    await until('mallory to see the second one read', async () =>
      (await mallory.client.messenger.history(chat)).some(
        (m) => m.id === second.id && m.status === 'read',
      ),
    );
    // Signals travel in order: a receipt for the first would have come before this one.
    const firstNow = (await mallory.client.messenger.history(chat)).find((m) => m.id === first.id);
    assert.notEqual(firstNow?.status, 'read');
    assert.deepEqual(firstNow?.readBy, []);
  });

  it('after a block the stranger’s sends and invitations are refused; unblock works', async () => {
    const chat = (await mallory.client.messenger.conversations()).find(
      (c) => c.active && c.members.some((m) => m.accountId === idOf(bob)) && c.members.length === 2,
    )!.id;
    await bob.client.messenger.people.block(idOf(mallory));
    await assert.rejects(mallory.client.messenger.send(chat, 'blocked text'), (error) => {
      assert.ok(error instanceof ParleyError);
      assert.equal(error.code, 'BLOCKED');
      return true;
    });
    // No new conversation either: Bob's KeyPackages are not handed out to Mallory.
    await assert.rejects(mallory.client.messenger.createConversation([idOf(bob)]), (error) => {
      assert.ok(error instanceof ParleyError);
      assert.equal(error.code, 'BLOCKED');
      return true;
    });
    // Nor an invitation into a group of Mallory's.
    const malloryGroup = (await mallory.client.messenger.createConversation([idOf(carol)])).id;
    await assert.rejects(
      mallory.client.messenger.addMembers(malloryGroup, [idOf(bob)]),
      (error) => error instanceof ParleyError && error.code === 'BLOCKED',
    );
    await bob.client.messenger.people.unblock(idOf(mallory));
    await mallory.client.messenger.send(chat, 'after unblock');
    await until('bob to get the text sent after unblocking', () =>
      texts(bob.inbox, chat).includes('after unblock'),
    );
    // In order per conversation: the refused text would have come before it.
    assert.equal(texts(bob.inbox, chat).includes('blocked text'), false);
  });

  it('in a group shared with others, a blocked member’s messages are hidden, not refused', async () => {
    const shared = (await alice.client.messenger.createConversation([idOf(bob), idOf(mallory)])).id;
    await conversationOn(bob, shared);
    await conversationOn(mallory, shared);
    await bob.client.messenger.people.block(idOf(mallory));
    await mallory.client.messenger.send(shared, 'mallory in the group');
    await alice.client.messenger.send(shared, 'alice after mallory');
    await until('bob to get alice’s text', () =>
      texts(bob.inbox, shared).includes('alice after mallory'),
    );
    assert.equal(texts(bob.inbox, shared).includes('mallory in the group'), false);
    await until('alice to get mallory’s text', () =>
      texts(alice.inbox, shared).includes('mallory in the group'),
    );
    await bob.client.messenger.people.unblock(idOf(mallory));
  });

  it('a newly linked device learns its own profile and the names of the people it meets', async () => {
    const carol2: Device = {
      client: await ParleyClient.open({
        serverUrl: server.url,
        store: new FileStore(join(root, 'carol2')),
        socket: nodeSocket,
      }),
      inbox: [],
      errors: [],
    };
    const linked = await linkDevice(carol.client, carol2.client, 'carol2');
    assert.ok(linked.conversations >= 1);
    carol2.client.messenger.on('error', (e) => carol2.errors.push(e));
    await carol2.client.messenger.start();
    try {
      await conversationOn(carol2, group);
      await until(
        'carol2 to read its own name',
        async () => (await carol2.client.messenger.people.nameOf(idOf(carol))) === NAMES.carol,
      );
      await until(
        'carol2 to read bob’s name',
        async () => (await carol2.client.messenger.people.nameOf(idOf(bob))) === 'Bob B. Renamed',
      );
      assert.deepEqual(carol2.errors, []);
    } finally {
      carol2.client.close();
    }
  });
});
