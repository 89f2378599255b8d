/**
 * Graceful shutdown, against a real `parley serve` process: a sender streams messages to a
 * receiver, the server gets SIGTERM mid-stream, a new server starts on the same data directory and
 * port, and the receiver ends up with every message exactly once, in order. The old server closed
 * the sockets with 1001 (going away), exited 0, and said so. Connections with nothing in flight (a
 * browser's spare ones) do not hold the shutdown; a page loaded while it runs is a page a person
 * can read, an API call gets the typed JSON error.
 */

import * as assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type ChatMessage, FileStore, ParleyClient, type SocketFactory } from '@parley/client/node';
import { browserMissing, launchChromium } from './harness/browser.js';
import { ServerProcess } from './harness/server-process.js';
import { tappedSocket } from './harness/tapped-socket.js';
import { reached, until } from './harness/wait.js';

const root = mkdtempSync(join(tmpdir(), 'parley-shutdown-'));

/** A raw connection to `server`, open once connected. */
async function rawConnection(server: ServerProcess) {
  const socket = connect(Number(server.port), '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  let received = '';
  socket.on('data', (d: Buffer) => {
    received += d.toString('latin1');
  });
  socket.on('error', () => {});
  return { socket, received: () => received };
}

/** A socket factory that records the close codes its sockets see and the `stored` answers. */
function watched() {
  const closes: number[] = [];
  const stored: string[] = [];
  const factory: SocketFactory = (url) =>
    tappedSocket(url, {
      close: (code) => closes.push(code),
      frame: (line) => {
        const frame = JSON.parse(line) as { t: string; id?: string };
        if (frame.t === 'stored') stored.push(frame.id!);
        return true;
      },
    });
  return { factory, closes, stored };
}

describe('graceful shutdown (real server process)', { timeout: 120_000 }, () => {
  let server: ServerProcess;
  const clients: ParleyClient[] = [];

  after(async () => {
    for (const c of clients) c.close();
    await server?.stop('SIGKILL');
  });

  async function device(name: string, number: string, socket: SocketFactory) {
    const client = await ParleyClient.open({
      serverUrl: server.url,
      store: new FileStore(join(root, name)),
      socket,
    });
    clients.push(client);
    const { verificationId } = await client.requestCode(number);
    await client.register({
      verificationId,
      code: await server.codeFor(verificationId),
      discoverable: true,
      presence: 'nobody',
      deviceName: name,
    });
    await client.messenger.start();
    return client;
  }

  it('SIGTERM mid-stream: every message arrives once, in order, after a restart', async () => {
    server = await ServerProcess.start({ PARLEY_LOG_LEVEL: 'info' });
    const aliceSocket = watched();
    const bobSocket = watched();
    const alice = await device('alice', '+14155550411', aliceSocket.factory);
    const bob = await device('bob', '+14155550422', bobSocket.factory);
    const inbox: ChatMessage[] = [];
    bob.messenger.on('message', (m) => {
      if (m.kind === 'text') inbox.push(m);
    });
    const conversation = await alice.messenger.createConversation([bob.account!.accountId]);

    // The stream: one send every few milliseconds, whatever the server is doing.
    const total = 400;
    const sent = Array.from({ length: total }, (_, i) => `m${i}`);
    const answered: Promise<ChatMessage>[] = [];
    const stream = (async () => {
      for (const text of sent) {
        answered.push(alice.messenger.send(conversation.id, text));
        await new Promise((r) => setTimeout(r, 3));
      }
    })();

    await until('a part of the stream to be stored', () => aliceSocket.stored.length >= 100);
    const port = server.port;
    const dataDir = server.dataDir;
    const old = server;
    await old.stop('SIGTERM');
    const storedBeforeStop = aliceSocket.stored.length;
    assert.ok(storedBeforeStop < total, 'the stream was still going when the server stopped');
    assert.equal(old.exitCode, 0, old.output);
    assert.match(old.output, /"msg":"shutting down"/);
    assert.match(old.output, /Parley server stopped \(SIGTERM, \d+ ms\)/);
    assert.ok(aliceSocket.closes.includes(1001), `alice saw ${aliceSocket.closes}`);
    assert.ok(bobSocket.closes.includes(1001), `bob saw ${bobSocket.closes}`);

    server = await ServerProcess.start({ PARLEY_LOG_LEVEL: 'warn', PARLEY_PORT: port }, dataDir);
    await stream;
    const messages = await Promise.all(answered);
    assert.ok(
      messages.every((m) => reached(m.status, 'stored')),
      messages.map((m) => m.status).join(),
    );
    await until('every message at bob', () => inbox.length >= total, 60_000);
    await new Promise((r) => setTimeout(r, 500)); // room for a duplicate to show up
    assert.deepEqual(
      inbox.map((m) => m.text),
      sent,
    );
    // Every answer the old server gave is among them (durable), and no id was stored twice.
    const ids = new Set(messages.map((m) => m.id));
    assert.ok(aliceSocket.stored.slice(0, storedBeforeStop).every((id) => ids.has(id)));
  });

  it('a request in flight when SIGTERM comes is answered before the server exits', async () => {
    const busy = await ServerProcess.start({ PARLEY_LOG_LEVEL: 'info' });
    const socket = connect(Number(new URL(busy.url).port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    let response = '';
    socket.on('data', (d: Buffer) => {
      response += d.toString();
    });
    const body = JSON.stringify({ phoneNumber: '+14155550433' });
    socket.write(
      'POST /v1/verifications HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
        `Content-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`,
    );
    await until('the request to arrive', () => busy.output.includes('incoming request'));
    const exited = busy.stop('SIGTERM');
    await until('the shutdown to begin', () => busy.output.includes('"msg":"shutting down"'));
    socket.write(body.slice(5));
    await exited;
    assert.match(response, /^HTTP\/1\.1 201 /, response);
    assert.match(response, /"verificationId"/);
    assert.match(
      response,
      /\r\nconnection: close\r\n/i,
      'the answer closes the kept-alive connection',
    );
    assert.equal(busy.exitCode, 0, busy.output);
    socket.destroy();
  });

  it('a request that never finishes cannot hold the shutdown past its time limit', async () => {
    const stuck = await ServerProcess.start({
      PARLEY_LOG_LEVEL: 'info',
      PARLEY_SHUTDOWN_TIMEOUT_SECONDS: '1',
    });
    const { port } = new URL(stuck.url);
    // Headers promise a body that never comes: the request stays in flight.
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(
      'POST /v1/verifications HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
        'Content-Length: 100\r\n\r\n{',
    );
    await until('the request to arrive', () => stuck.output.includes('incoming request'));
    const signalledAt = Date.now();
    await stuck.stop('SIGTERM');
    const took = Date.now() - signalledAt;
    socket.destroy();
    assert.equal(stuck.exitCode, 1);
    assert.match(stuck.output, /"reason":"not done after 1 s","msg":"shutdown cut short"/);
    // Cut short by the 1 s timeout, not left hanging (the bound is loose: machines are noisy).
    assert.ok(took >= 900 && took < 15_000, `stopped after ${took} ms`);
  });

  it("connections with nothing in flight (a browser's spare ones) do not hold the shutdown", async () => {
    const idle = await ServerProcess.start({ PARLEY_LOG_LEVEL: 'info' });
    // Browsers open connections ahead of need and may never send on them, or leave one kept
    // alive after a response; one here has sent half a request line when the signal comes.
    const unused = await rawConnection(idle);
    const keptAlive = await rawConnection(idle);
    keptAlive.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await until('the kept-alive answer', () => keptAlive.received().includes('"status":"ok"'));
    const halfSent = await rawConnection(idle);
    halfSent.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    await idle.stop('SIGTERM');
    for (const c of [unused, keptAlive, halfSent]) c.socket.destroy();
    assert.equal(idle.exitCode, 0, idle.output);
    assert.doesNotMatch(idle.output, /shutdown cut short/);
    assert.match(idle.output, /Parley server stopped \(SIGTERM, \d+ ms\)/);
  });

  it('a page loaded while the server shuts down is a page to read; an API call gets JSON', {
    skip: browserMissing(),
  }, async () => {
    const closing = await ServerProcess.start({ PARLEY_LOG_LEVEL: 'info' });
    // A WebSocket that never answers the close handshake keeps the drain going (until the
    // server stops waiting for it): meanwhile the server is shutting down and still listening.
    const ws = await rawConnection(closing);
    ws.socket.write(
      'GET /v1/socket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    await until('the upgrade', () => ws.received().startsWith('HTTP/1.1 101 '));
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(closing.url);
      const exited = closing.stop('SIGTERM');
      await until('the shutdown to begin', () => closing.output.includes('"msg":"shutting down"'));
      const [reloaded, api] = await Promise.all([
        page.reload(),
        fetch(new URL('/v1/verifications', closing.url), {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ phoneNumber: '+14155550444' }),
        }),
      ]);
      assert.equal(reloaded?.status(), 503);
      assert.match(reloaded?.headers()['content-type'] ?? '', /^text\/html/);
      await page.getByRole('heading', { name: 'Parley is restarting' }).waitFor();
      assert.doesNotMatch((await page.locator('body').textContent()) ?? '', /statusCode|"error"/);
      assert.equal(api.status, 503);
      assert.equal(((await api.json()) as { code: string }).code, 'SERVICE_UNAVAILABLE');
      await exited;
      assert.equal(closing.exitCode, 0, closing.output);
      assert.doesNotMatch(closing.output, /shutdown cut short/);
    } finally {
      ws.socket.destroy();
      await browser.close();
      await closing.stop('SIGKILL');
    }
  });
});
