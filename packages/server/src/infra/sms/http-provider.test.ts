/** The HTTP SMS provider against a real local gateway. */

import * as assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ParleyError } from '@parley/core';
import { HttpSmsProvider } from './http-provider.js';

describe('HTTP SMS provider', () => {
  let gateway: Server;
  let url: string;
  let status = 200;
  const received: { headers: IncomingMessage['headers']; body: unknown }[] = [];

  before(async () => {
    gateway = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => {
        body += d;
      });
      req.on('end', () => {
        received.push({ headers: req.headers, body: JSON.parse(body) });
        res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}/send`;
  });
  after(() => gateway.close());

  const sms = {
    to: '+14152223344',
    code: '123456',
    verificationId: 'abcdefgh',
    expiresAt: new Date(),
  };

  it('posts the code with the bearer token', async () => {
    await new HttpSmsProvider({ url, token: 'secret', timeoutMs: 2000 }).sendVerification(sms);
    const last = received.at(-1)!;
    assert.equal(last.headers.authorization, 'Bearer secret');
    assert.deepEqual(last.body, {
      to: '+14152223344',
      text: 'Your Parley code is 123456. Do not share it with anyone.',
      reference: 'abcdefgh',
    });
  });

  it('a gateway error is SMS_DELIVERY_FAILED', async () => {
    status = 503;
    await assert.rejects(
      new HttpSmsProvider({ url, token: undefined, timeoutMs: 2000 }).sendVerification(sms),
      (e: unknown) =>
        e instanceof ParleyError && e.code === 'SMS_DELIVERY_FAILED' && e.status === 502,
    );
    status = 200;
  });

  it('an unreachable gateway is SMS_DELIVERY_FAILED', async () => {
    const dead = new HttpSmsProvider({
      url: 'http://127.0.0.1:1/x',
      token: undefined,
      timeoutMs: 500,
    });
    await assert.rejects(dead.sendVerification(sms), { code: 'SMS_DELIVERY_FAILED' });
  });
});
