/**
 * Attachments end to end, against a real `parley serve` process with SDK clients: a 10 MB file
 * from Alice to a group with Bob (two devices) and Carol arrives byte for byte with its name,
 * type and caption; the server's storage holds only ciphertext (the test searches it for the
 * plaintext and the file name); the blob is gone once every recipient device fetched it; an
 * oversized file gets a typed error before any byte is sent. Then the operator as the adversary
 * (harness/malicious-operator.ts): it serves other bytes, or cut ones, for a blob, and the
 * recipient gets ATTACHMENT_CORRUPT and no bytes.
 */

import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ChatMessage, FileStore, nodeSocket, ParleyClient } from '@parley/client/node';
import { attachmentCiphertextLength, type ParleyError } from '@parley/core';
import { linkDevice } from './harness/link.js';
import { MaliciousOperator } from './harness/malicious-operator.js';
import { registerThrough } from './harness/register.js';
import { ServerProcess } from './harness/server-process.js';
import { until } from './harness/wait.js';

const NUMBERS = {
  alice: '+14155550811',
  bob: '+14155550822',
  carol: '+14155550833',
  dave: '+14155550844',
};
const MB = 1024 * 1024;

interface Device {
  client: ParleyClient;
  inbox: ChatMessage[];
}

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe('attachments (real server process)', { timeout: 300_000 }, () => {
  const root = mkdtempSync(join(tmpdir(), 'parley-attachments-'));
  let server: ServerProcess;
  let operator: MaliciousOperator;
  let alice: Device;
  let bob: Device;
  let bob2: Device;
  let carol: Device;
  let group: string;

  async function open(name: string): Promise<Device> {
    const client = await ParleyClient.open({
      serverUrl: operator.url,
      store: new FileStore(join(root, name)),
      socket: nodeSocket,
    });
    return { client, inbox: [] };
  }

  /** Once it has an account: records what it receives, and connects. */
  async function start(device: Device): Promise<Device> {
    device.client.messenger.on('message', (m) => device.inbox.push(m));
    await device.client.messenger.start();
    return device;
  }

  async function register(name: string, number: string, fetch?: typeof globalThis.fetch) {
    return start({ client: await registerThrough(operator, root, name, number, fetch), inbox: [] });
  }

  const attachmentsOf = (d: Device) => d.inbox.filter((m) => m.kind === 'attachment');
  const storage = () => filesUnder(join(server.dataDir, 'attachments'));

  before(async () => {
    server = await ServerProcess.start({
      PARLEY_LOG_LEVEL: 'warn',
      PARLEY_ATTACHMENT_MAX_MB: '12',
    });
    operator = await MaliciousOperator.front(server);
    alice = await register('alice', NUMBERS.alice);
    bob = await register('bob', NUMBERS.bob);
    bob2 = await open('bob2');
    await linkDevice(bob.client, bob2.client, 'bob2');
    await start(bob2);
    carol = await register('carol', NUMBERS.carol);
    const accountOf = (d: Device) => d.client.account!.accountId;
    const created = await alice.client.messenger.createConversation([
      accountOf(bob),
      accountOf(carol),
    ]);
    group = created.id;
    for (const d of [bob, bob2, carol]) {
      await until('the group to arrive', async () =>
        (await d.client.messenger.conversations()).some((c) => c.id === group),
      );
    }
  });

  after(async () => {
    for (const d of [alice, bob, bob2, carol]) d?.client.close();
    await operator?.close();
    await server?.stop();
  });

  it('a 10 MB file reaches every recipient device byte for byte; the server holds only ciphertext, until all fetched it', async () => {
    // Recognisable plaintext: a phrase repeated, then random bytes (so no compression hides it).
    const marker = Buffer.from('PLAINTEXT-MARKER-the-quarterly-report-', 'utf8');
    const file = Buffer.concat([Buffer.alloc(MB, marker), randomBytes(9 * MB)]);
    const name = 'secret-quarterly-report.pdf';
    const progress: number[] = [];
    const sent = await alice.client.messenger.sendFile(group, file, {
      name,
      type: 'application/pdf',
      caption: 'the numbers',
      onProgress: (done, total) => {
        assert.equal(total, attachmentCiphertextLength(file.byteLength));
        progress.push(done);
      },
    });
    assert.equal(sent.kind, 'attachment');
    assert.equal(progress.at(-1), attachmentCiphertextLength(file.byteLength));
    assert.ok(
      progress.every((p, i) => i === 0 || p > progress[i - 1]!),
      'progress only grows',
    );

    // On the server: ciphertext files, without the plaintext or the name anywhere in storage.
    const stored = storage();
    assert.ok(stored.length >= 10, `chunks on disk: ${stored.length}`);
    const haystacks = [...stored, ...filesUnder(server.dataDir).filter((f) => !stored.includes(f))];
    for (const path of haystacks) {
      const bytes = readFileSync(path);
      assert.equal(bytes.indexOf(marker), -1, `plaintext found in ${path}`);
      assert.equal(bytes.indexOf(Buffer.from(name)), -1, `file name found in ${path}`);
      assert.equal(bytes.indexOf(Buffer.from('quarterly')), -1, `part of the name in ${path}`);
    }

    for (const d of [bob, bob2, carol]) {
      await until('the attachment message', () => attachmentsOf(d).length > 0);
      const [message] = attachmentsOf(d);
      assert.equal(message!.attachment!.name, name);
      assert.equal(message!.attachment!.contentType, 'application/pdf');
      assert.equal(message!.text, 'the numbers');
      assert.equal(message!.from.accountId, alice.client.account!.accountId);
    }
    // Bob's first device and Carol fetch it: still on the server for Bob's second device.
    for (const d of [bob, carol]) {
      const got = await d.client.messenger.fetchAttachment(attachmentsOf(d)[0]!);
      assert.ok(Buffer.from(got).equals(file), 'the same bytes');
    }
    assert.ok(storage().length > 0, 'kept for the device that has not fetched it');
    // The sender can look at its own copy without using up anyone's fetch.
    assert.ok(Buffer.from(await alice.client.messenger.fetchAttachment(sent)).equals(file));
    const downloaded: number[] = [];
    const last = await bob2.client.messenger.fetchAttachment(attachmentsOf(bob2)[0]!, {
      onProgress: (done) => downloaded.push(done),
    });
    assert.ok(Buffer.from(last).equals(file));
    assert.equal(downloaded.at(-1), attachmentCiphertextLength(file.byteLength));
    assert.deepEqual(storage(), [], 'deleted once every recipient device fetched it');
    await assert.rejects(alice.client.messenger.fetchAttachment(sent), {
      code: 'ATTACHMENT_NOT_FOUND',
    });
    // "Export my data" describes the file, without the key that opens it.
    const exported = JSON.stringify(await carol.client.exportData());
    assert.ok(exported.includes(name));
    assert.ok(!exported.includes(sent.attachment!.key), 'no attachment key in the export');
  });

  it('an oversized file gets ATTACHMENT_TOO_LARGE, and nothing is stored', async () => {
    await assert.rejects(
      alice.client.messenger.sendFile(group, new Uint8Array(13 * MB), { name: 'big.bin' }),
      (error: ParleyError) => {
        assert.equal(error.code, 'ATTACHMENT_TOO_LARGE');
        assert.equal(error.status, 413);
        return true;
      },
    );
    assert.deepEqual(storage(), []);
  });

  it('the operator serving other or cut bytes gets ATTACHMENT_CORRUPT, and no bytes reach the app', async () => {
    const photo = randomBytes(300_000);
    await alice.client.messenger.sendFile(group, photo, {
      name: 'photo.jpg',
      type: 'image/jpeg',
      thumbnail: Buffer.from('tiny jpeg').toString('base64'),
    });
    await until('carol gets the photo', () => attachmentsOf(carol).length > 1);
    const message = attachmentsOf(carol)[1]!;
    assert.equal(message.attachment!.thumbnail, Buffer.from('tiny jpeg').toString('base64'));
    const length = attachmentCiphertextLength(photo.byteLength);
    const path = new RegExp(`^/v1/attachments/${message.attachment!.id}$`);
    let stop = operator.onRawResponse('GET', path, () => randomBytes(length));
    await assert.rejects(carol.client.messenger.fetchAttachment(message), {
      code: 'ATTACHMENT_CORRUPT',
      details: { reason: 'digest' },
    });
    stop();
    stop = operator.onRawResponse('GET', path, () => randomBytes(length - 1000));
    await assert.rejects(carol.client.messenger.fetchAttachment(message), {
      code: 'ATTACHMENT_CORRUPT',
      details: { reason: 'length' },
    });
    stop();
    // The refused fetches were not confirmed: the real bytes are still there for Carol.
    const got = await carol.client.messenger.fetchAttachment(message);
    assert.ok(Buffer.from(got).equals(photo));
  });

  it('an upload whose answer was lost resumes from the chunks the server holds, sending none twice', async () => {
    const sent: string[] = [];
    let cut = false;
    // Dave's connection drops once, after the server stored chunk 2 and before its answer came.
    const flaky: typeof fetch = async (input, init) => {
      const url = new URL(String(input));
      const chunk = /\/chunks\/(\d+)$/.exec(url.pathname);
      if (init?.method === 'PUT' && chunk) sent.push(chunk[1]!);
      if (url.pathname.endsWith('/upload')) sent.push('status');
      const response = await fetch(input, init);
      if (chunk?.[1] === '2' && !cut) {
        cut = true;
        throw new TypeError('fetch failed: the connection was reset');
      }
      return response;
    };
    const dave = await register('dave', NUMBERS.dave, flaky);
    const chat = await dave.client.messenger.createConversation([bob.client.account!.accountId]);
    const file = randomBytes(3 * MB + 500_000);
    const message = await dave.client.messenger.sendFile(chat.id, file, { name: 'cut.bin' });
    // Each chunk went once (chunks travel a few at a time, so their order varies), and the cut
    // was followed by asking the server what it holds.
    assert.deepEqual(sent.filter((x) => x !== 'status').sort(), ['0', '1', '2', '3']);
    assert.equal(sent.filter((x) => x === 'status').length, 1);
    assert.ok(sent.indexOf('status') > sent.indexOf('2'));
    await until('bob gets the file', () => bob.inbox.some((m) => m.id === message.id));
    const got = await bob.client.messenger.fetchAttachment(
      bob.inbox.find((m) => m.id === message.id)!,
    );
    assert.ok(Buffer.from(got).equals(file));
    dave.client.close();
  });

  it('under a disappearing-message timer a file goes from every device once read there, and from the server once fetched', async () => {
    await alice.client.messenger.setTimer(group, 2);
    for (const d of [bob, bob2, carol]) {
      await until(
        'the timer',
        async () => (await d.client.messenger.conversation(group)).timer === 2,
      );
    }
    const sent = await alice.client.messenger.sendFile(group, randomBytes(50_000), {
      name: 'fleeting.bin',
    });
    assert.equal(sent.expiresIn, 2);
    const blob = sent.attachment!.id;
    const inHistory = async (d: Device) =>
      (await d.client.messenger.history(group)).some((m) => m.id === sent.id);
    for (const d of [bob, bob2, carol]) {
      await until('the file', () => attachmentsOf(d).some((m) => m.id === sent.id));
      const message = attachmentsOf(d).find((m) => m.id === sent.id)!;
      assert.equal(message.expiresIn, 2);
      await d.client.messenger.fetchAttachment(message);
      await d.client.messenger.markRead(group, [sent.id]);
    }
    // Gone from every device (the sender's counted from sending), key and all, and from storage.
    for (const d of [alice, bob, bob2, carol]) {
      await until('the file to disappear', async () => !(await inHistory(d)));
    }
    assert.deepEqual(
      storage().filter((path) => path.includes(blob)),
      [],
    );
    await alice.client.messenger.setTimer(group, 0);
  });
});
