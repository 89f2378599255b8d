/**
 * No phone number, credential or verification code reaches the server's logs, even at `trace`:
 * a real `parley serve` process runs registration (with a wrong code and malformed requests that
 * carry a number), discovery, messaging, the admin endpoints and a graceful shutdown, and all it
 * printed is searched for every form of every number used, for the credentials and the admin
 * token, and for the codes. The console SMS provider is the one exception by design: it is the
 * development stand-in for the SMS channel, so its lines carry the code (and the number's last two
 * digits only); they are told apart by their prefix and nothing else may carry a code.
 */

import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MemoryStore, ParleyClient } from '@parley/client';
import { nodeSocket } from '@parley/client/node';
import { phoneNumberForms } from '@parley/core';
import WebSocket from 'ws';
import { ServerProcess } from './harness/server-process.js';
import { until } from './harness/wait.js';

const ALICE = '+14155550511';
const BOB = '+14155550522';
const STRANGER = '+14155550533'; // in Bob's address book, not on Parley
const MALFORMED = '+14155550544'; // only ever sent in broken requests
const SMS_LINE =
  /^\[parley\] verification code (\d{6}) for verification \S+ \(number ending …\d\d\)$/;

describe('logs at trace level (real server process)', { timeout: 120_000 }, () => {
  let server: ServerProcess;
  const codes: string[] = [];
  const secrets: string[] = [];
  const clients: ParleyClient[] = [];

  before(async () => {
    server = await ServerProcess.start({ PARLEY_LOG_LEVEL: 'trace' });
  });
  after(async () => {
    for (const c of clients) c.close();
    await server?.stop('SIGKILL');
  });

  async function register(number: string, name: string) {
    const client = await ParleyClient.open({
      serverUrl: server.url,
      store: new MemoryStore(),
      defaultRegion: 'US',
      socket: nodeSocket,
    });
    clients.push(client);
    const { verificationId } = await client.requestCode(number);
    const code = await server.codeFor(verificationId);
    codes.push(code);
    const wrong = code === '000000' ? '000001' : '000000';
    await assert.rejects(
      client.register({
        verificationId,
        code: wrong,
        discoverable: true,
        presence: 'contacts',
        deviceName: name,
      }),
      { code: 'VERIFICATION_CODE_INCORRECT' },
    );
    await client.register({
      verificationId,
      code,
      discoverable: true,
      presence: 'contacts',
      deviceName: name,
    });
    secrets.push(client.account!.credential);
    return client;
  }

  /** A request as a broken or hostile client might send it. */
  const raw = (method: string, path: string, body?: string, contentType = 'application/json') =>
    fetch(new URL(path, server.url), {
      method,
      ...(body !== undefined ? { body, headers: { 'content-type': contentType } } : {}),
    });

  it('registration, discovery, messaging and admin leave no secret in the output', async () => {
    const alice = await register(ALICE, 'alice');
    const bob = await register(BOB, 'bob');

    // Numbers in places a client should never put them.
    await raw('POST', '/v1/verifications', `{"phoneNumber": "${MALFORMED}",`);
    await raw('POST', '/v1/verifications', JSON.stringify({ phoneNumber: '+1415555054' }));
    await raw('POST', '/v1/verifications', JSON.stringify({ phoneNumber: MALFORMED, x: 1 }));
    await raw('POST', '/v1/verifications', `phoneNumber=${MALFORMED}`, 'text/plain');
    await raw('GET', `/v1/directory?phoneNumber=${encodeURIComponent(MALFORMED)}`);
    await raw('GET', `/v1/accounts/${MALFORMED}`);
    await raw('POST', '/v1/accounts', JSON.stringify({ verificationId: 'x', code: codes[0] }));
    // WebSocket upgrades to routes without a socket (a plugin logs their path) and a bad login.
    for (const path of [`/v1/keys/packages?to=${MALFORMED}`, `/v1/accounts/${MALFORMED}`]) {
      await new Promise<void>((resolve) => {
        const ws = new WebSocket(new URL(path, server.url.replace('http', 'ws')), {
          headers: { authorization: `Bearer ${secrets[0]}` },
        });
        ws.on('close', () => resolve());
        ws.on('error', () => resolve());
      });
    }
    await new Promise<void>((resolve) => {
      const ws = new WebSocket(new URL('/v1/socket', server.url.replace('http', 'ws')));
      ws.on('open', () => ws.send(JSON.stringify({ t: 'auth', credential: MALFORMED })));
      ws.on('close', () => resolve());
    });
    await fetch(new URL('/v1/discovery/resolve', server.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${secrets[0]}`, 'content-type': 'application/json' },
      body: JSON.stringify({ keyId: MALFORMED, tokens: [MALFORMED] }),
    });

    // Discovery: Bob has Alice and a stranger in his address book.
    await bob.consent.grant(bob.consent.disclosure());
    await bob.contacts.add('Alice', '(415) 555-0511');
    await bob.contacts.add('Stranger', STRANGER);
    const { contacts } = await bob.discover();
    assert.equal(contacts.find((c) => c.phoneNumber === ALICE)?.status, 'on-parley');

    // Messaging, with presence and typing.
    await alice.messenger.start();
    await bob.messenger.start();
    const inbox: string[] = [];
    alice.messenger.on('message', (m) => {
      if (m.kind === 'text') inbox.push(m.text);
    });
    const chat = await bob.messenger.createConversation([alice.account!.accountId]);
    for (const text of ['hello', 'call me on +1 415 555 0533']) {
      await bob.messenger.send(chat.id, text);
    }
    await until('alice to get both', () => inbox.length === 2);

    // The admin endpoints, with the admin token and with a device credential.
    const admin = server.adminToken();
    secrets.push(admin);
    for (const token of [admin, secrets[0]]) {
      for (const path of ['/metrics', '/v1/admin/stats']) {
        await fetch(new URL(path, server.url), { headers: { authorization: `Bearer ${token}` } });
      }
    }
    // A key rotation: the new OPRF key is written to the key file and loaded into the workers.
    const rotated = await fetch(new URL('/v1/admin/rotate-key', server.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}` },
    });
    assert.equal(rotated.status, 200);
    const oprfKeys = (
      JSON.parse(readFileSync(join(server.dataDir, 'oprf-keys.json'), 'utf8')) as {
        keys: Array<{ secret: string }>;
      }
    ).keys.map((k) => k.secret);
    assert.equal(oprfKeys.length, 2);
    for (const c of clients) c.close();
    await server.stop('SIGTERM');
    assert.equal(server.exitCode, 0);

    const output = server.output;
    // Not vacuous: trace level logged the requests, their errors and the sockets.
    assert.match(output, /"msg":"incoming request"/);
    assert.match(output, /"route":"\/v1\/verifications"/);
    assert.match(output, /"msg":"request completed"/);
    assert.equal(codes.length, 2);

    for (const n of [ALICE, BOB, STRANGER, MALFORMED]) {
      for (const form of phoneNumberForms(n)) {
        const at = output.indexOf(form);
        assert.ok(
          at < 0,
          `'${form}' (a form of ${n}) in the output: …${output.slice(Math.max(0, at - 80), at + 40)}…`,
        );
      }
    }
    for (const secret of secrets) {
      for (const part of [secret, ...secret.split('.')]) {
        assert.ok(!output.includes(part), 'a credential or the admin token in the output');
      }
    }
    for (const key of oprfKeys) {
      const bytes = Buffer.from(key, 'base64');
      for (const form of [key, bytes.toString('hex'), bytes.toString('base64url')]) {
        assert.ok(!output.includes(form), 'an OPRF key in the output');
      }
    }
    const lines = output.split('\n');
    const smsLines = lines.filter((l) => l.startsWith('[parley] verification code'));
    assert.equal(smsLines.length, 2, 'one console SMS per code');
    for (const l of smsLines) assert.match(l, SMS_LINE);
    const logLines = lines.filter((l) => !l.startsWith('[parley] verification code'));
    for (const code of codes) {
      const standalone = new RegExp(`(?<![0-9])${code}(?![0-9])`);
      const hit = logLines.find((l) => standalone.test(l));
      assert.equal(hit, undefined, `a verification code in a log line: ${hit}`);
    }
  });
});
