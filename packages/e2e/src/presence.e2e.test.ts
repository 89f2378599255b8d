/**
 * Presence for my contacts only, against a real `parley serve`: a stranger who resolved Alice's
 * number sees nothing; Bob, in Alice's address book, sees her online once her discovery ran; and
 * the KeyPackage drain-and-poll oracle learns nothing — a spy's claims return the same whether
 * the owner came online in between or not (docs/security.md, "Presence" and "KeyPackages").
 */

import * as assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FileStore, nodeSocket, ParleyClient } from '@parley/client/node';
import { ServerProcess } from './harness/server-process.js';
import { until } from './harness/wait.js';

const NUMBERS = {
  alice: '+14155550611',
  bob: '+14155550622',
  stranger: '+14155550633',
  olivia: '+14155550644',
  spy: '+14155550655',
};

const root = mkdtempSync(join(tmpdir(), 'parley-presence-'));
let server: ServerProcess;

const open = (name: string) =>
  ParleyClient.open({
    serverUrl: server.url,
    store: new FileStore(join(root, name)),
    socket: nodeSocket,
  });

async function register(name: string, number: string, presence: 'nobody' | 'contacts') {
  const client = await open(name);
  const { verificationId } = await client.requestCode(number);
  await client.register({
    verificationId,
    code: await server.codeFor(verificationId),
    discoverable: true,
    presence,
    deviceName: name,
  });
  return client;
}

describe('presence for my contacts only (real server process)', { timeout: 120_000 }, () => {
  before(async () => {
    server = await ServerProcess.start({ PARLEY_LOG_LEVEL: 'warn' });
  });
  after(async () => {
    await server.stop();
  });

  it('a stranger who resolved Alice’s number sees nothing; Bob in her address book sees her online', async () => {
    const alice = await register('alice', NUMBERS.alice, 'contacts');
    const bob = await register('bob', NUMBERS.bob, 'nobody');
    const stranger = await register('stranger', NUMBERS.stranger, 'nobody');
    try {
      // The stranger has Alice's number and resolves it: that grants nothing.
      const found = await stranger.lookupNumber(NUMBERS.alice);
      assert.equal(found.status, 'on-parley');
      const aliceId = found.accountId!;
      // Alice has Bob in her address book; her discovery puts him on her allow-list.
      await alice.consent.grant();
      await alice.contacts.add('Bob', NUMBERS.bob);
      const { contacts } = await alice.discover();
      assert.deepEqual(
        contacts.map((c) => c.status),
        ['on-parley'],
      );
      const seen = { bob: [] as boolean[], stranger: [] as boolean[] };
      for (const [name, client] of [
        ['bob', bob],
        ['stranger', stranger],
      ] as const) {
        client.messenger.on('presence', (p) => {
          if (p.accountId === aliceId) seen[name].push(p.online);
        });
        await client.messenger.start();
        assert.ok(client.messenger.watchPresence([aliceId]));
      }
      await alice.messenger.start();
      await until('Bob to see Alice online', () => seen.bob.includes(true));
      // The stranger watched as long as Bob did, and through Alice coming online.
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(seen.stranger, [], 'the stranger is told nothing at all');
      // Withdrawing the consent takes Bob off her list: he is told she is not shown online.
      const told = seen.bob.length;
      await alice.consent.withdraw();
      await until('Bob to stop seeing Alice', () => seen.bob.slice(told).includes(false));
    } finally {
      for (const c of [alice, bob, stranger]) c.close();
    }
  });

  it('the drain-and-poll oracle learns nothing: claims read the same whether Olivia came online or not', async () => {
    // Olivia shows her presence to nobody; her device stocks KeyPackages, then goes offline.
    let olivia = await register('olivia', NUMBERS.olivia, 'nobody');
    await olivia.messenger.start();
    await olivia.messenger.ensureKeyPackages();
    const oliviaId = olivia.account!.accountId;
    olivia.close();
    const spy = await register('spy', NUMBERS.spy, 'nobody');
    const claim = async (): Promise<string[]> => {
      const response = await fetch(new URL('/v1/keys/claim', server.url), {
        method: 'POST',
        headers: {
          authorization: `Bearer ${spy.account!.credential}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ accountIds: [oliviaId] }),
      });
      assert.equal(response.status, 200, 'no claim is refused');
      const body = (await response.json()) as {
        keyPackages: Array<{ deviceId: string; keyPackageId: string; keyPackage: string }>;
      };
      return body.keyPackages.map((k) => `${k.deviceId}/${k.keyPackageId}/${k.keyPackage}`);
    };
    // The drain: 45 claims from one account while she is offline.
    const drained = new Set<string>();
    for (let i = 0; i < 45; i++) for (const k of await claim()) drained.add(k);
    const offline = await claim();
    // She comes online: her device checks its stock on connect and tops it up if it must.
    olivia = await open('olivia');
    let connected = false;
    olivia.messenger.on('connected', () => {
      connected = true;
    });
    await olivia.messenger.start();
    await until('Olivia connected', () => connected);
    await olivia.messenger.ensureKeyPackages();
    const online = await claim();
    olivia.close();
    // Offline again: still the same.
    const afterwards = await claim();
    assert.deepEqual(online, offline, 'the poll reads the same with the owner online');
    assert.deepEqual(afterwards, offline);
    assert.deepEqual([...drained], offline, 'every claim of the drain read the same too');
    spy.close();
  });
});
