/**
 * HTTPS served by the server itself (PARLEY_TLS_CERT, PARLEY_TLS_KEY), against a client that
 * trusts only the test's own CA (testing/test-ca.ts): responses carry HSTS; a renewed
 * certificate written over the files is taken without a restart, a connection opened before the
 * swap stays open and keeps working, and new connections get the new certificate; a half-written
 * renewal (a key that does not match) keeps the old pair until the rest arrives. A certificate
 * that does not load stops the start with a ConfigError naming the variable.
 */

import * as assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, type TLSSocket } from 'node:tls';
import WebSocket from 'ws';
import { ConfigError, loadConfig } from '../config/config.js';
import { startServer } from '../server.js';
import { createTestCa, OPENSSL, type TestCa, testServer } from '../testing/index.js';

const available = existsSync(OPENSSL);
if (!available && process.env.CI === 'true') {
  it('openssl is available (required under CI)', () => {
    assert.fail(`${OPENSSL} is missing; .ci/run installs it (Debian package openssl)`);
  });
}

/** A kept-alive TLS connection that trusts only `ca`, sending one request at a time. */
class Connection {
  private buffer = '';
  closed = false;
  private constructor(readonly socket: TLSSocket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.buffer += d;
    });
    socket.on('close', () => {
      this.closed = true;
    });
  }

  static async open(port: number, ca: string): Promise<Connection> {
    const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost' });
    await once(socket, 'secureConnect');
    return new Connection(socket);
  }

  get serial(): string {
    return this.socket.getPeerCertificate().serialNumber;
  }

  /** GET `path`; the status and headers of the answer (its body read and dropped). */
  async get(path: string): Promise<{ status: number; headers: Record<string, string> }> {
    this.buffer = '';
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
    for (;;) {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end >= 0) {
        const [statusLine, ...lines] = this.buffer.slice(0, end).split('\r\n');
        const headers: Record<string, string> = {};
        for (const line of lines) {
          const colon = line.indexOf(':');
          headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
        }
        const length = Number(headers['content-length'] ?? 0);
        if (this.buffer.length >= end + 4 + length) {
          return { status: Number(statusLine!.split(' ')[1]), headers };
        }
      }
      if (this.closed) throw new Error('connection closed');
      await once(this.socket, 'data');
    }
  }
}

describe('HTTPS with certificate reload', {
  skip: !available && 'openssl is not installed',
}, () => {
  let ca: TestCa;
  let dir: string;
  let certPath: string;
  let keyPath: string;
  let t: Awaited<ReturnType<typeof testServer>>;
  let port: number;

  const install = (pair: { certPem: string; keyPem: string }, which: 'both' | 'cert' | 'key') => {
    if (which !== 'cert') writeFileSync(keyPath, pair.keyPem, { mode: 0o600 });
    if (which !== 'key') writeFileSync(certPath, pair.certPem);
  };

  before(async () => {
    ca = createTestCa();
    dir = mkdtempSync(join(tmpdir(), 'parley-tls-'));
    certPath = join(dir, 'cert.pem');
    keyPath = join(dir, 'key.pem');
    install(ca.issue('1001'), 'both');
    t = await testServer({ PARLEY_TLS_CERT: certPath, PARLEY_TLS_KEY: keyPath });
    port = Number(new URL(t.server.url).port);
  });
  after(() => t.server.close());

  it('serves HTTPS with HSTS', async () => {
    assert.match(t.server.url, /^https:\/\//);
    const connection = await Connection.open(port, ca.caPem);
    assert.equal(connection.serial, '1001');
    const answer = await connection.get('/healthz');
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['strict-transport-security'], 'max-age=31536000');
    connection.socket.end();
    // Devices' sockets come over the same TLS.
    const ws = new WebSocket(`${t.server.url.replace('https', 'wss')}/v1/socket`, { ca: ca.caPem });
    await once(ws, 'open');
    ws.close();
    await once(ws, 'close');
  });

  it('takes a renewed certificate without dropping open connections', async () => {
    const before = await Connection.open(port, ca.caPem);
    assert.equal((await before.get('/healthz')).status, 200);
    const reloaded = once(t.server.certificates!, 'reload');
    install(ca.issue('1002'), 'both');
    assert.deepEqual(await reloaded, ['1002']);
    // The connection from before is still open, still on its certificate, and still answers.
    assert.equal(before.closed, false);
    assert.equal((await before.get('/healthz')).status, 200);
    assert.equal(before.serial, '1001');
    const after = await Connection.open(port, ca.caPem);
    assert.equal(after.serial, '1002');
    assert.equal((await after.get('/healthz')).status, 200);
    before.socket.end();
    after.socket.end();
  });

  it('keeps the old pair while a renewal is half written', async () => {
    const next = ca.issue('1003');
    const rejected = once(t.server.certificates!, 'rejected');
    install(next, 'cert'); // the new certificate beside the old key
    const [reason] = await rejected;
    assert.match(String(reason), /PARLEY_TLS_KEY: .* is not the PEM private key/);
    const during = await Connection.open(port, ca.caPem);
    assert.equal(during.serial, '1002');
    during.socket.end();
    const reloaded = once(t.server.certificates!, 'reload');
    install(next, 'key');
    assert.deepEqual(await reloaded, ['1003']);
    const after = await Connection.open(port, ca.caPem);
    assert.equal(after.serial, '1003');
    after.socket.end();
  });

  it('refuses to start on a certificate that does not load, naming the variable', async () => {
    const other = ca.issue('2001');
    const bad = mkdtempSync(join(tmpdir(), 'parley-tls-bad-'));
    writeFileSync(join(bad, 'cert.pem'), other.certPem);
    writeFileSync(join(bad, 'garbage.pem'), 'not a certificate');
    writeFileSync(join(bad, 'other.key'), ca.issue('2002').keyPem);
    const start = (cert: string, key: string) =>
      startServer(
        loadConfig({
          PARLEY_DATA_DIR: mkdtempSync(join(tmpdir(), 'parley-server-test-')),
          PARLEY_PORT: '0',
          PARLEY_TLS_CERT: join(bad, cert),
          PARLEY_TLS_KEY: join(bad, key),
        }),
      );
    await assert.rejects(
      start('cert.pem', 'other.key'),
      (e: unknown) =>
        e instanceof ConfigError &&
        /^PARLEY_TLS_KEY: .* is not the PEM private key/.test(e.message),
    );
    await assert.rejects(
      start('garbage.pem', 'other.key'),
      (e: unknown) =>
        e instanceof ConfigError && /^PARLEY_TLS_CERT: .* is not a PEM certificate/.test(e.message),
    );
    await assert.rejects(
      start('missing.pem', 'other.key'),
      (e: unknown) => e instanceof ConfigError && /^PARLEY_TLS_CERT: cannot read/.test(e.message),
    );
  });
});

describe('TLS settings', () => {
  it('go together, and HSTS only with them', () => {
    assert.equal(loadConfig({}).tls, undefined);
    assert.throws(
      () => loadConfig({ PARLEY_TLS_CERT: '/etc/parley/cert.pem' }),
      /PARLEY_TLS_CERT and PARLEY_TLS_KEY go together/,
    );
    assert.throws(
      () => loadConfig({ PARLEY_HSTS_MAX_AGE_SECONDS: '60' }),
      /PARLEY_HSTS_MAX_AGE_SECONDS needs PARLEY_TLS_CERT/,
    );
    assert.deepEqual(
      loadConfig({
        PARLEY_TLS_CERT: '/c.pem',
        PARLEY_TLS_KEY: '/k.pem',
        PARLEY_HSTS_MAX_AGE_SECONDS: '0',
      }).tls,
      { certPath: '/c.pem', keyPath: '/k.pem', hstsMaxAgeSeconds: 0 },
    );
  });
});
