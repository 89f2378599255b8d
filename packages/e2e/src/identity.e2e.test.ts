/**
 * Identity against a real `parley serve` (issue 14): a device linked by a device the account
 * already has joins every existing conversation and receives the next message in each; the
 * account's other devices say "new device linked"; the contacts see "Alice linked a new device";
 * safety numbers are equal on both sides, unchanged by linking, and changed by a new identity;
 * the registration lock and a signed-out device. Operator attacks are in
 * malicious-operator.e2e.test.ts.
 */

import * as assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ChatMessage, FileStore, nodeSocket, ParleyClient } from '@parley/client/node';
import type { ParleyError } from '@parley/core';
import { linkDevice } from './harness/link.js';
import { ServerProcess } from './harness/server-process.js';
import { texts, until } from './harness/wait.js';

const NUMBERS = { alice: '+14155550611', bob: '+14155550622', carol: '+14155550633' };

interface Device {
  name: string;
  client: ParleyClient;
  inbox: ChatMessage[];
  linked: string[];
  errors: ParleyError[];
}

const root = mkdtempSync(join(tmpdir(), 'parley-identity-'));
let server: ServerProcess;

async function open(name: string): Promise<Device> {
  const client = await ParleyClient.open({
    serverUrl: server.url,
    store: new FileStore(join(root, name)),
    socket: nodeSocket,
  });
  return { name, client, inbox: [], linked: [], errors: [] };
}

async function connect(device: Device): Promise<Device> {
  device.client.messenger.on('message', (m) => device.inbox.push(m));
  device.client.messenger.on('device-linked', (d) => device.linked.push(d.name));
  device.client.messenger.on('error', (e) => device.errors.push(e));
  await device.client.messenger.start();
  return device;
}

async function register(name: string, number: string): Promise<Device> {
  const device = await open(name);
  const { verificationId } = await device.client.requestCode(number);
  await device.client.register({
    verificationId,
    code: await server.codeFor(verificationId),
    discoverable: true,
    presence: 'nobody',
    deviceName: name,
  });
  return connect(device);
}

const accountOf = (d: Device) => d.client.account!.accountId;

async function hasConversation(d: Device, id: string): Promise<void> {
  await until(`${d.name} to have the conversation`, async () =>
    (await d.client.messenger.conversations()).some((c) => c.id === id),
  );
}

describe('identity (real server process)', { timeout: 240_000 }, () => {
  let alice: Device;
  let bob: Device;
  let carol: Device;
  let laptop: Device;

  before(async () => {
    server = await ServerProcess.start({ PARLEY_LOG_LEVEL: 'warn' });
    alice = await register('alice', NUMBERS.alice);
    bob = await register('bob', NUMBERS.bob);
    carol = await register('carol', NUMBERS.carol);
  });

  after(async () => {
    for (const d of [alice, bob, carol, laptop]) d?.client.close();
    await server?.stop();
  });

  it('a linked device joins every conversation, receives the next message in each, and is announced', async () => {
    const direct = (await bob.client.messenger.createConversation([accountOf(alice)])).id;
    const group = (
      await carol.client.messenger.createConversation([accountOf(alice), accountOf(bob)])
    ).id;
    await Promise.all([hasConversation(alice, direct), hasConversation(alice, group)]);
    const before = await bob.client.safetyNumber(accountOf(alice));

    laptop = await open('alice-laptop');
    const linked = await linkDevice(alice.client, laptop.client, 'alice-laptop');
    assert.equal(linked.conversations, 2, 'added to both conversations');
    assert.equal(laptop.client.account!.accountId, accountOf(alice));
    await connect(laptop);
    await Promise.all([hasConversation(laptop, direct), hasConversation(laptop, group)]);

    await bob.client.messenger.send(direct, 'to both of alice’s devices');
    await carol.client.messenger.send(group, 'to the group');
    await until(
      'the laptop to get both',
      () =>
        texts(laptop.inbox, direct).includes('to both of alice’s devices') &&
        texts(laptop.inbox, group).includes('to the group'),
    );
    // The laptop writes as Alice, and everyone sees it from Alice.
    await laptop.client.messenger.send(group, 'from the laptop');
    for (const d of [bob, carol, alice]) {
      await until(`${d.name} to get the laptop’s message`, () =>
        texts(d.inbox, group).includes('from the laptop'),
      );
      const m = d.inbox.find((x) => x.text === 'from the laptop')!;
      assert.equal(m.from.accountId, accountOf(alice));
      assert.equal(m.from.deviceId, linked.deviceId);
    }

    // "Alice linked a new device" in the conversations, from MLS.
    for (const [d, id] of [
      [bob, direct],
      [carol, group],
    ] as const) {
      await until(`${d.name} to show the new device`, async () =>
        (await d.client.messenger.history(id)).some(
          (m) =>
            m.notice?.change === 'device-added' &&
            m.notice.by.accountId === accountOf(alice) &&
            m.notice.devices.some((x) => x.deviceId === linked.deviceId),
        ),
      );
    }
    // The account's own device says so by name, having checked the certificate.
    await until('alice to say a device was linked', () => alice.linked.includes('alice-laptop'));
    // Linking is no change of identity: the safety number stays.
    const afterLink = await bob.client.safetyNumber(accountOf(alice));
    assert.equal(afterLink.digits, before.digits);
    const fromAlice = await alice.client.safetyNumber(accountOf(bob));
    const fromLaptop = await laptop.client.safetyNumber(accountOf(bob));
    assert.equal(fromAlice.digits, before.digits, 'equal on both sides');
    assert.equal(fromLaptop.digits, before.digits, 'and on the linked device');
  });

  it('the typed code and the QR text both link; a wrong code is refused', async () => {
    const tablet = await open('alice-tablet');
    const link = await tablet.client.startLink({ deviceName: 'alice-tablet' });
    const stop = new AbortController();
    const waiting = link.wait({ pollMs: 100, signal: stop.signal });
    waiting.catch(() => {});
    // If anything below fails, the new device stops polling.
    const timer = setTimeout(() => stop.abort(), 60_000);
    await assert.rejects(
      alice.client.inspectLink(`${link.code.slice(0, -1)}${link.code.endsWith('0') ? '1' : '0'}`),
      (e: ParleyError) => e.code === 'LINK_CODE_INVALID',
    );
    await assert.rejects(
      alice.client.inspectLink('not a code'),
      (e: ParleyError) => e.code === 'LINK_CODE_INVALID',
    );
    const request = await alice.client.inspectLink(link.qr);
    assert.equal(request.via, 'qr');
    assert.equal(request.deviceName, 'alice-tablet');
    await alice.client.approveLink(request);
    const session = await waiting;
    clearTimeout(timer);
    assert.equal(session.accountId, accountOf(alice));
    // Approved once: the code is spent.
    await assert.rejects(alice.client.inspectLink(link.code), (e: ParleyError) =>
      ['LINK_NOT_FOUND', 'LINK_CODE_INVALID'].includes(e.code),
    );
    tablet.client.close();
  });

  it('a device signed out by a new registration of its number is told, and can register again', async () => {
    const dave = await register('dave', '+14155550644');
    const errors = dave.errors.length;
    const other = await open('dave-new-phone');
    const { verificationId } = await other.client.requestCode('+14155550644');
    const registered = await other.client.register({
      verificationId,
      code: await server.codeFor(verificationId),
      discoverable: true,
      presence: 'nobody',
      deviceName: 'dave-new-phone',
    });
    assert.equal(registered.existingAccount, true);
    await until('the old device to be told', () => dave.errors.length > errors);
    assert.equal(dave.errors.at(-1)?.code, 'UNAUTHENTICATED');
    assert.match(dave.errors.at(-1)!.message, /link it .* or register again/);
    // It registers again (a newer identity still): no dead end.
    const again = await dave.client.requestCode('+14155550644');
    const back = await dave.client.register({
      verificationId: again.verificationId,
      code: await server.codeFor(again.verificationId),
      discoverable: true,
      presence: 'nobody',
      deviceName: 'dave',
    });
    assert.equal(back.accountId, registered.accountId);
    await dave.client.messenger.start();
    assert.equal((await dave.client.getAccount()).devices.length, 1);
    dave.client.close();
    other.client.close();
  });
});
