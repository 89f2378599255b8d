/**
 * "Export my data" and "delete my account" from the terminal, against a real `parley serve`:
 * the export holds the account, consent, contacts, discovery results, the transparency log, the
 * presence allow-list and the conversation history, and no credential or key; deletion erases the
 * device's state, the credential is refused, the other member is told and the filter no longer
 * lists the number —
 * and then, with the server stopped, not one byte of the account's ids, credential hash or
 * directory entry is left in any file of its data directory.
 */

import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type Conversation,
  type DataExport,
  MemoryStore,
  ParleyClient,
  type ParleyError,
} from '@parley/client';
import { nodeSocket } from '@parley/client/node';
import { directoryTableName } from '@parley/server/testing';
import SQLite from 'better-sqlite3';
import { CliProcess } from './harness/cli-process.js';
import { linkDevice } from './harness/link.js';
import { ServerProcess } from './harness/server-process.js';
import { until } from './harness/wait.js';

/** Which of `needles` occur anywhere in the files under `dir`, by name. */
function findInFiles(dir: string, needles: Record<string, Uint8Array>): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      found.push(...findInFiles(path, needles));
      continue;
    }
    const bytes = readFileSync(path);
    for (const [what, needle] of Object.entries(needles)) {
      if (bytes.includes(Buffer.from(needle))) found.push(`${what} in ${name}`);
    }
  }
  return found;
}

describe('parley export and parley account delete (real server process)', () => {
  let server: ServerProcess;
  const dir = mkdtempSync(join(tmpdir(), 'parley-account-'));
  const state = (name: string) => join(dir, name);

  const parley = (args: string[], answerCode = false) => server.cli(args, answerCode);

  async function ok(args: string[], answerCode = false): Promise<string> {
    const r = await parley(args, answerCode);
    assert.equal(r.code, 0, `parley ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  }

  // Removals are forgotten at once, so nothing at all is left when the others have their entries.
  before(async () => {
    server = await ServerProcess.start({ PARLEY_DELETION_TOMBSTONE_HOURS: '0' });
  });
  after(() => server?.stop());

  it('lists the devices, signs one out, then every other one (parley devices)', async () => {
    const phone = state('gil-phone');
    const laptop = state('gil-laptop');
    const tablet = state('gil-tablet');
    await ok(
      [
        'register',
        '+14155550179',
        '--discoverable',
        'no',
        '--presence',
        'nobody',
        '--name',
        'phone',
        '--state',
        phone,
      ],
      true,
    );
    // The laptop and the tablet are linked by the phone: an SMS code alone adds no device.
    for (const [s, name] of [
      [laptop, 'laptop'],
      [tablet, 'tablet'],
    ] as const) {
      const link = CliProcess.start(server.url, ['link', '--name', name, '--state', s]);
      try {
        const [, code] = await link.waitFor(/^Code: (\S+)$/m, `${name}'s link code`);
        await ok(['devices', 'approve', code!, '--yes', '--state', phone]);
        assert.equal((await link.exited).code, 0);
      } finally {
        link.kill();
      }
    }
    const listed = JSON.parse(await ok(['devices', '--json', '--state', phone])) as Array<{
      deviceId: string;
      name: string;
      current: boolean;
    }>;
    assert.deepEqual(listed.map((d) => d.name).sort(), ['laptop', 'phone', 'tablet']);
    assert.deepEqual(
      listed.filter((d) => d.current).map((d) => d.name),
      ['phone'],
    );
    const laptopId = listed.find((d) => d.name === 'laptop')!.deviceId;
    // Ids are random base64url: one starting with '-' is passed after '--', as the CLI tells.
    assert.match(await ok(['devices', 'remove', '--state', phone, '--', laptopId]), /signed out/);
    // The laptop's credential is refused now.
    const refused = await parley(['account', '--state', laptop]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /UNAUTHENTICATED/);
    assert.match(await ok(['devices', 'sign-out-others', '--state', phone]), /Signed out 1 other/);
    assert.match((await parley(['account', '--state', tablet])).stderr, /UNAUTHENTICATED/);
    const left = JSON.parse(await ok(['devices', '--json', '--state', phone])) as unknown[];
    assert.equal(left.length, 1);
    const unknown = await parley(['devices', 'remove', 'nosuchdevice00', '--state', phone]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /DEVICE_NOT_FOUND/);
    // Signing out this device itself: its credential and its local data go.
    const phoneId = listed.find((d) => d.name === 'phone')!.deviceId;
    assert.match(
      await ok(['devices', 'remove', '--state', phone, '--', phoneId]),
      /This device .* signed out/,
    );
    const after = await parley(['account', '--state', phone]);
    assert.equal(after.code, 1);
    assert.match(after.stderr, /NOT_REGISTERED/);
  });

  it('exports everything but secrets, then deletes the account without a trace', async () => {
    const erin = state('erin');
    const finn = state('finn');
    for (const [s, number] of [
      [erin, '+14155550177'],
      [finn, '+14155550178'],
    ] as const) {
      await ok(
        ['register', number, '--discoverable', 'yes', '--presence', 'contacts', '--state', s],
        true,
      );
    }
    await ok(['consent', 'grant', '--yes', '--state', finn]);
    await ok(['add', 'Erin', '+14155550177', '--state', finn]);
    const sent = JSON.parse(
      await ok(['send', '+14155550177', 'hi erin', '--json', '--state', finn]),
    ) as { conversationId: string };
    await ok(['listen', '--count', '1', '--timeout', '20', '--state', erin]);
    await ok(['consent', 'grant', '--yes', '--state', erin]);
    await ok(['add', 'Finn', '+14155550178', '--state', erin]);
    await ok(['discover', '--json', '--state', erin]);
    await ok(['send', `--conversation=${sent.conversationId}`, 'hi finn', '--state', erin]);

    // --- export ---
    const file = join(dir, 'erin-export.json');
    assert.match(
      await ok(['export', '--out', file, '--state', erin]),
      /^Exported to .*: 1 contact, 1 conversation, \d+ uploads\./,
    );
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const text = readFileSync(file, 'utf8');
    const data = JSON.parse(text) as DataExport;
    const session = JSON.parse(readFileSync(join(erin, 'session.json'), 'utf8')) as {
      accountId: string;
      deviceId: string;
      credential: string;
    };
    assert.equal(data.format, 'parley-data-export');
    assert.equal(data.server, server.url);
    assert.ok(Date.parse(data.exportedAt) > 0);
    assert.equal(data.account.accountId, session.accountId);
    assert.deepEqual(
      data.account.devices.map((d) => d.deviceId),
      [session.deviceId],
    );
    assert.equal(data.account.discoverable, true);
    assert.equal(data.consent?.server, server.url);
    assert.deepEqual(
      data.contacts.map((c) => [c.name, c.phoneNumbers]),
      [['Finn', ['+14155550178']]],
    );
    assert.deepEqual(data.discovery?.numbers, [{ phoneNumber: '+14155550178', listed: true }]);
    assert.ok(data.transparencyLog.some((e) => e.kind === 'blinded-contact-numbers'));
    // The presence allow-list the server keeps: Finn, found in the book and answered.
    const finnId = (
      JSON.parse(readFileSync(join(finn, 'session.json'), 'utf8')) as { accountId: string }
    ).accountId;
    assert.deepEqual(data.presenceAllowList, [
      { accountId: finnId, book: ['+14155550178'], conversation: true },
    ]);
    assert.equal(data.conversations.length, 1);
    assert.equal(data.conversations[0]!.id, sent.conversationId);
    assert.deepEqual(
      data.conversations[0]!.messages.filter((m) => m.kind === 'text').map((m) => m.text),
      ['hi erin', 'hi finn'],
    );
    // No credential, no private key of any kind.
    const signature = JSON.parse(readFileSync(join(erin, 'mls-signature.json'), 'utf8')) as {
      signKey: string;
    };
    const packages = JSON.parse(readFileSync(join(erin, 'mls-key-packages.json'), 'utf8'));
    const privateValues = [
      session.credential,
      session.credential.split('.')[1]!,
      signature.signKey,
      ...Object.values(packages as Record<string, { hpkePrivateKey: string }>).map(
        (p) => p.hpkePrivateKey,
      ),
    ];
    for (const secret of privateValues) assert.equal(text.includes(secret), false);
    assert.doesNotMatch(text, /signKey|PrivateKey|credential|"state"/);
    const toStdout = JSON.parse(await ok(['export', '--state', erin])) as DataExport;
    assert.equal(toStdout.account.accountId, session.accountId);

    // What identifies the account on the server, read from its database before deletion.
    const db = new SQLite(join(server.dataDir, 'parley.sqlite'), { readonly: true });
    // The entry lives in the current OPRF key's own directory table (directory_<key id>).
    const { value: keyId } = db
      .prepare("select value from meta where name = 'current_key_id'")
      .get() as { value: string };
    const row = db
      .prepare(
        `select element, fingerprint, token from accounts
          join "${directoryTableName(keyId)}" on account_seq = accounts.seq where accounts.id = ?`,
      )
      .get(session.accountId) as Record<string, Buffer>;
    db.close();
    const needles: Record<string, Uint8Array> = {
      'account id': Buffer.from(session.accountId),
      'device id': Buffer.from(session.deviceId),
      'credential hash': createHash('sha256').update(session.credential.split('.')[1]!).digest(),
      element: row.element!,
      fingerprint: row.fingerprint!,
      token: row.token!,
    };
    assert.ok(
      findInFiles(server.dataDir, needles).length >= 4,
      'the scan finds the account while it exists',
    );

    // --- delete ---
    const unconfirmed = await parley(['account', 'delete', '--state', erin]);
    assert.equal(unconfirmed.code, 64);
    assert.match(unconfirmed.stderr, /Add --yes to do it/);
    assert.ok(readdirSync(erin).includes('session.json'), 'nothing happened without --yes');
    assert.match(
      await ok(['account', 'delete', '--yes', '--state', erin]),
      new RegExp(`^Account ${session.accountId} deleted`),
    );
    assert.deepEqual(readdirSync(erin), [], "this device's Parley state is erased");
    const gone = await parley(['account', '--state', erin]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /NOT_REGISTERED/);
    const refused = await fetch(new URL('/v1/account', server.url), {
      headers: { authorization: `Bearer ${session.credential}` },
    });
    assert.equal(refused.status, 401);
    assert.equal(((await refused.json()) as { code: string }).code, 'UNAUTHENTICATED');

    // While the server runs: its secrets and directory entry are off the disk already (the WAL
    // was truncated, deleted cells zeroed); its ids remain only in the entry that tells Finn.
    const { 'account id': _id, 'device id': _device, ...secrets } = needles;
    assert.deepEqual(findInFiles(server.dataDir, secrets), []);

    // The other member hears it left and commits its removal; the filter no longer lists it.
    // Finn's device listens a few seconds at a time until it has (a loaded machine takes longer).
    const conversationsOfFinn = async () =>
      JSON.parse(await ok(['conversations', '--json', '--state', finn])) as Array<{
        id: string;
        members: Array<{ accountId: string }>;
      }>;
    await until(
      "Finn's device to commit Erin's removal",
      async () => {
        await ok(['listen', '--timeout', '3', '--state', finn]);
        const [conversation] = await conversationsOfFinn();
        return !conversation!.members.some((m) => m.accountId === session.accountId);
      },
      90_000,
    );
    assert.deepEqual(
      (await conversationsOfFinn()).map((c) => c.id),
      [sent.conversationId],
    );
    const discovered = JSON.parse(await ok(['discover', '--json', '--state', finn])) as {
      contacts: Array<{ phoneNumber: string; status: string }>;
    };
    assert.deepEqual(
      discovered.contacts.map((c) => [c.phoneNumber, c.status]),
      [['+14155550177', 'not-on-parley']],
    );

    // Not a byte of it in any file of the data directory.
    await server.stop();
    assert.deepEqual(findInFiles(server.dataDir, needles), []);
  });
});

describe('SDK: deleteAccount() and exportData() (real server process)', () => {
  let server: ServerProcess;
  const clients: ParleyClient[] = [];
  before(async () => {
    server = await ServerProcess.start();
  });
  after(async () => {
    for (const c of clients) c.close();
    await server?.stop();
  });

  async function device(phoneNumber: string) {
    const store = new MemoryStore();
    const client = await ParleyClient.open({ serverUrl: server.url, store, socket: nodeSocket });
    clients.push(client);
    const { verificationId } = await client.requestCode(phoneNumber);
    await client.register({
      verificationId,
      code: await server.codeFor(verificationId),
      discoverable: true,
      presence: 'contacts',
      deviceName: 'sdk test',
    });
    await client.messenger.start();
    return { client, store };
  }

  /** A second device of the account, linked by the first (an SMS code alone never adds one). */
  async function linked(existing: ParleyClient) {
    const store = new MemoryStore();
    const client = await ParleyClient.open({ serverUrl: server.url, store, socket: nodeSocket });
    clients.push(client);
    await linkDevice(existing, client, 'sdk phone');
    await client.messenger.start();
    return { client, store };
  }

  it('exports the conversations, then deletes everywhere and erases every local key', async () => {
    const gil = await device('+14155550166');
    const gilPhone = await linked(gil.client);
    const hal = await device('+14155550167');
    const gilId = gil.client.account!.accountId;
    const joined = new Promise<Conversation>((resolve) =>
      hal.client.messenger.on('conversation', resolve),
    );
    const conversation = await gil.client.messenger.createConversation([
      hal.client.account!.accountId,
    ]);
    await joined;
    const heard = new Promise((resolve) =>
      hal.client.messenger.on('message', (m) => {
        if (m.kind === 'text') resolve(m);
      }),
    );
    await gil.client.messenger.send(conversation.id, 'see you at noon');
    await heard;

    const data = await gil.client.exportData();
    assert.deepEqual(JSON.parse(JSON.stringify(data)), data, 'JSON-serialisable as it is');
    assert.equal(data.account.accountId, gilId);
    assert.equal(data.account.devices.length, 2);
    assert.equal(data.consent, null);
    assert.deepEqual(data.contacts, []);
    assert.equal(data.discovery, null);
    assert.ok(data.transparencyLog.length > 0);
    assert.deepEqual(
      data.conversations.map((c) => [
        c.id,
        c.messages.filter((m) => m.kind === 'text').map((m) => m.text),
      ]),
      [[conversation.id, ['see you at noon']]],
    );
    const text = JSON.stringify(data);
    const session = await gil.store.get<{ credential: string }>('session');
    const keys = await gil.store.get<{ signKey: string }>('mls-signature');
    assert.equal(text.includes(session!.credential.split('.')[1]!), false);
    assert.equal(text.includes(keys!.signKey), false);

    // The account's other device is told at once and stops reconnecting.
    const phoneError = new Promise<ParleyError>((resolve) =>
      gilPhone.client.messenger.on('error', resolve),
    );
    const left = new Promise<Conversation>((resolve) =>
      hal.client.messenger.on('conversation', (c) => {
        if (!c.members.some((m) => m.accountId === gilId)) resolve(c);
      }),
    );
    assert.ok(gil.store.keys().length > 5);
    await gil.client.deleteAccount();
    assert.deepEqual(gil.store.keys(), [], 'every key of the store is erased');
    assert.equal(gil.client.registered, false);
    assert.throws(() => gil.client.messenger, { code: 'NOT_REGISTERED' });
    await assert.rejects(gil.client.getAccount(), { code: 'NOT_REGISTERED' });
    const error = await phoneError;
    assert.equal(error.code, 'UNAUTHENTICATED');
    assert.deepEqual(error.details, { reason: 'account-deleted' });
    assert.equal(gilPhone.client.messenger.connected, false);

    // The other member removes it from the conversation (MLS Remove, committed by Hal).
    const after = await left;
    assert.equal(after.id, conversation.id);
    assert.deepEqual(
      after.members.map((m) => m.accountId),
      [hal.client.account!.accountId],
    );

    // The other device deletes too: the server already forgot it, the erasure still happens.
    await gilPhone.client.deleteAccount();
    assert.deepEqual(gilPhone.store.keys(), []);
  });
});
