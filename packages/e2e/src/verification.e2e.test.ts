/**
 * Verification cannot be used to lock someone out (issue 15, item 4), against a real
 * `parley serve` behind a trusted proxy address (PARLEY_TRUST_PROXY, so X-Forwarded-For names
 * clients, as bench/flood.mjs does): an attacker flooding code requests for a number from many
 * addresses and networks, and for the rest of its block, is refused, and the owner's next
 * verification still goes through.
 */

import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ServerProcess } from './harness/server-process.js';

describe('verification lock-out', { timeout: 120_000 }, () => {
  let server: ServerProcess;
  before(async () => {
    server = await ServerProcess.start({ PARLEY_WEB_DIR: 'off', PARLEY_TRUST_PROXY: '127.0.0.1' });
  });
  after(() => server?.stop());

  async function post(path: string, body: unknown, ip: string) {
    const response = await fetch(new URL(path, server.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': ip },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  it("an attacker's code requests do not stop the owner's next verification", async () => {
    const victim = '+14155550177';
    // Six networks (IPv4 /24s and IPv6 /48s), 8 addresses each, each asking for the victim's
    // number until refused, and for a neighbour in its block.
    let accepted = 0;
    let refused = 0;
    for (let n = 0; n < 6; n++) {
      for (let a = 0; a < 8; a++) {
        const ip = n % 2 ? `2001:db8:${n}:${a}::1` : `203.0.${n}.${a + 1}`;
        for (;;) {
          const answer = await post('/v1/verifications', { phoneNumber: victim }, ip);
          if (answer.status === 429) {
            assert.equal(answer.body.code, 'VERIFICATION_RATE_LIMITED');
            assert.match(String(answer.body.message), /link this one from it/);
            refused++;
            break;
          }
          assert.equal(answer.status, 201, JSON.stringify(answer.body));
          accepted++;
        }
        await post('/v1/verifications', { phoneNumber: `+14155550${100 + n * 8 + a}` }, ip);
      }
    }
    assert.equal(refused, 48, 'every flooding address was refused');
    assert.ok(accepted <= 6 * 6, `one network gets at most 6 codes an hour (${accepted} sent)`);

    const started = await post('/v1/verifications', { phoneNumber: victim }, '198.51.100.23');
    assert.equal(started.status, 201, JSON.stringify(started.body));
    const verificationId = String(started.body.verificationId);
    const registered = await post(
      '/v1/accounts',
      {
        verificationId,
        code: await server.codeFor(verificationId),
        discoverable: false,
        presence: 'nobody',
        deviceName: 'e2e',
        identityKey: randomBytes(32).toString('base64url'),
      },
      '198.51.100.23',
    );
    assert.equal(registered.status, 201, JSON.stringify(registered.body));
    assert.ok(registered.body.accountId);
  });
});
