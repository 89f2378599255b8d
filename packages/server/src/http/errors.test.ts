/** The HTTP parser's refusals as catalog answers; app.test.ts sends the reachable ones for real. */

import * as assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { clientErrorHandler } from './errors.js';

function refuse(code: string): { written: string; destroyed: boolean } {
  const socket = new PassThrough();
  let written = '';
  socket.on('data', (chunk: Buffer) => {
    written += chunk.toString('utf8');
  });
  socket.on('error', () => {});
  clientErrorHandler(Object.assign(new Error(code), { code }), socket);
  return { written: written || String(socket.read() ?? ''), destroyed: socket.destroyed };
}

describe('clientErrorHandler', () => {
  it('answers a stalled request with REQUEST_TIMEOUT (408) and closes', () => {
    const { written, destroyed } = refuse('ERR_HTTP_REQUEST_TIMEOUT');
    assert.match(written, /^HTTP\/1\.1 408 Request Timeout\r\n/);
    assert.match(written, /\r\nConnection: close\r\n/);
    const body = JSON.parse(written.split('\r\n\r\n')[1] ?? '');
    assert.equal(body.code, 'REQUEST_TIMEOUT');
    assert.equal(typeof body.message, 'string');
    assert.ok(destroyed);
  });

  it('writes nothing to a connection the client reset', () => {
    const { written, destroyed } = refuse('ECONNRESET');
    assert.equal(written, '');
    assert.equal(destroyed, false);
  });
});
