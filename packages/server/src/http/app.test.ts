/**
 * The HTTP edge: every malformed request gets a 4xx with a catalog code, never a 500; the
 * registration limits answer with Retry-After; authentication is required where it must be.
 */

import * as assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  directoryToken,
  fromBase64Url,
  LIMITS,
  loadOprf,
  MembershipFilter,
  phoneNumberInput,
  removalPrefixRange,
  toBase64Url,
} from '@parley/core';
import { snapshotRange } from '../directory/publication.js';
import { linkDevice, testServer } from '../testing/index.js';

/** Any 32 bytes will do where only the request's shape matters. */
const IDENTITY_KEY = toBase64Url(new Uint8Array(32).fill(7));

/** The added and removed lists of a delta response, decoded as the filters they are sent as. */
function deltaLists(json: Record<string, unknown>) {
  const decode = (field: string) => MembershipFilter.decode(fromBase64Url(json[field] as string)!);
  return { added: decode('added'), removed: decode('removed'), removedFull: decode('removedFull') };
}

describe('HTTP API edge cases', () => {
  let t: Awaited<ReturnType<typeof testServer>>;
  let token: string;
  let keyId: string;

  before(async () => {
    t = await testServer({
      PARLEY_VERIFICATION_PER_NUMBER: '2',
      PARLEY_VERIFICATION_MAX_ATTEMPTS: '3',
    });
    token = (await t.register('+14152223344')).credential;
    keyId = t.server.services.directory.currentKeyId;
  });
  after(() => t.server.close());

  const cases: [
    string,
    string,
    string,
    { body?: unknown; raw?: string; contentType?: string },
    number,
    string,
  ][] = [
    [
      'malformed JSON',
      'POST',
      '/v1/verifications',
      { raw: '{"phoneNumber": ' },
      400,
      'INVALID_JSON',
    ],
    ['empty JSON body', 'POST', '/v1/verifications', { raw: '' }, 400, 'INVALID_JSON'],
    [
      'wrong type',
      'POST',
      '/v1/verifications',
      { body: { phoneNumber: 14152223344 } },
      400,
      'VALIDATION_FAILED',
    ],
    [
      'unknown field',
      'POST',
      '/v1/verifications',
      { body: { phoneNumber: '+14152223344', extra: 1 } },
      400,
      'VALIDATION_FAILED',
    ],
    [
      'missing field',
      'POST',
      '/v1/accounts',
      { body: { verificationId: 'abcdefghij', code: '123456', deviceName: 'x' } },
      400,
      'VALIDATION_FAILED',
    ],
    [
      'not E.164',
      'POST',
      '/v1/verifications',
      { body: { phoneNumber: '4152223344' } },
      400,
      'VALIDATION_FAILED',
    ],
    [
      'E.164 shape, invalid number',
      'POST',
      '/v1/verifications',
      { body: { phoneNumber: '+10002223344' } },
      400,
      'INVALID_PHONE_NUMBER',
    ],
    ['array body', 'POST', '/v1/verifications', { body: [1, 2] }, 400, 'VALIDATION_FAILED'],
    [
      'wrong content type',
      'POST',
      '/v1/verifications',
      { raw: 'phoneNumber=1', contentType: 'text/plain' },
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      'body too large',
      'POST',
      '/v1/verifications',
      { raw: `{"phoneNumber":"${'1'.repeat(LIMITS.bodyBytes)}"}` },
      413,
      'PAYLOAD_TOO_LARGE',
    ],
    ['unknown route', 'GET', '/v1/nothing-here', {}, 404, 'NOT_FOUND'],
    // The next three were found by fuzzing (docs/fuzzing.md): each answered outside the catalog.
    ['path not valid percent-encoding', 'GET', '/v1/groups/%zz', {}, 400, 'VALIDATION_FAILED'],
    [
      'path parameter over 100 characters',
      'POST',
      `/v1/groups/${'a'.repeat(101)}/leave`,
      {},
      400,
      'VALIDATION_FAILED',
    ],
    ['WebSocket without upgrade', 'GET', '/v1/socket', {}, 426, 'WEBSOCKET_UPGRADE_REQUIRED'],
    [
      'unknown verification',
      'POST',
      '/v1/accounts',
      {
        body: {
          verificationId: 'abcdefghijkl',
          code: '123456',
          discoverable: true,
          presence: 'nobody',
          deviceName: 'x',
          identityKey: IDENTITY_KEY,
        },
      },
      404,
      'VERIFICATION_NOT_FOUND',
    ],
  ];
  for (const [name, method, path, options, status, code] of cases) {
    it(`${name} → ${status} ${code}`, async () => {
      const r = await t.call(method, path, options);
      assert.equal(r.status, status);
      assert.equal(r.json.code, code);
      assert.equal(typeof r.json.message, 'string');
    });
  }

  it('a refused path is not quoted back: it can hold a phone number', async () => {
    for (const path of [
      '/v1/groups/%zz+14155550123/leave',
      `/v1/groups/+14155550123${'a'.repeat(100)}/leave`,
    ]) {
      const r = await t.call('POST', path);
      assert.equal(r.status, 400);
      assert.doesNotMatch(JSON.stringify(r.json), /4155550123/);
    }
  });

  it('HTTP the parser refuses gets a catalog body, and the connection closes', async () => {
    const raw = (request: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(Number(new URL(t.server.url).port), '127.0.0.1');
        let answer = '';
        socket.on('data', (chunk) => {
          answer += chunk.toString('utf8');
        });
        socket.on('close', () => resolve(answer));
        socket.on('error', reject);
        socket.write(request);
      });
    const tooLarge = await raw(`GET /healthz?${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.match(tooLarge, /^HTTP\/1\.1 431 /);
    assert.equal(JSON.parse(tooLarge.split('\r\n\r\n')[1]!).code, 'HEADERS_TOO_LARGE');
    const broken = await raw('NOT HTTP AT ALL\r\n\r\n');
    assert.match(broken, /^HTTP\/1\.1 400 /);
    assert.equal(JSON.parse(broken.split('\r\n\r\n')[1]!).code, 'MALFORMED_REQUEST');
    assert.equal((await t.call('GET', '/healthz')).status, 200);
  });

  it('discovery endpoints need a device credential', async () => {
    for (const [method, path] of [
      ['GET', '/v1/directory'],
      ['POST', '/v1/discovery/evaluate'],
      ['POST', '/v1/discovery/resolve'],
      ['GET', '/v1/account'],
    ] as const) {
      const r = await t.call(method, path, method === 'POST' ? { body: {} } : {});
      assert.equal(r.status, 401, path);
      assert.equal(r.json.code, 'UNAUTHENTICATED');
      const forged = await t.call(method, path, { token: `${'a'.repeat(22)}.${'b'.repeat(43)}` });
      assert.equal(forged.json.code, 'UNAUTHENTICATED');
    }
  });

  it('admin endpoints need the admin token', async () => {
    const r = await t.call('POST', '/v1/admin/rotate-key', { token });
    assert.equal(r.status, 401);
    assert.equal(r.json.code, 'ADMIN_UNAUTHORIZED');
  });

  it('rejects the identity element and invalid encodings, and does not bill them', async () => {
    const identity = toBase64Url(new Uint8Array(32));
    const r = await t.call('POST', '/v1/discovery/evaluate', {
      token,
      body: { keyId, blindedElements: [identity] },
    });
    assert.equal(r.status, 400);
    assert.equal(r.json.code, 'INVALID_ELEMENT');
    assert.equal((r.json.details as { index: number }).index, 0);
    const bad = await t.call('POST', '/v1/discovery/evaluate', {
      token,
      body: { keyId, blindedElements: [toBase64Url(new Uint8Array(32).fill(0xff))] },
    });
    assert.equal(bad.json.code, 'INVALID_ELEMENT');
    const account = await t.server.services.db
      .selectFrom('accounts')
      .select('budget_level')
      .executeTakeFirstOrThrow();
    assert.equal(account.budget_level, 0);
  });

  it('oversized batches → 413 BATCH_TOO_LARGE', async () => {
    const element = toBase64Url(new Uint8Array(32).fill(1));
    const r = await t.call('POST', '/v1/discovery/resolve', {
      token,
      body: { keyId, tokens: Array(LIMITS.resolveBatch + 1).fill(element) },
    });
    assert.equal(r.status, 413);
    assert.equal(r.json.code, 'BATCH_TOO_LARGE');
  });

  it('a stale key id → 409 KEY_ID_UNKNOWN naming the current key', async () => {
    const r = await t.call('POST', '/v1/discovery/resolve', {
      token,
      body: { keyId: 'stale0', tokens: [toBase64Url(new Uint8Array(32))] },
    });
    assert.equal(r.status, 409);
    assert.equal(r.json.code, 'KEY_ID_UNKNOWN');
    assert.deepEqual(r.json.details, { currentKeyId: keyId });
  });

  it('wrong codes count down, then the verification is void', async () => {
    const v = await t.call('POST', '/v1/verifications', { body: { phoneNumber: '+447911123456' } });
    const verificationId = v.json.verificationId as string;
    const right = t.inbox.codeFor(verificationId);
    const wrong = right === '000000' ? '111111' : '000000';
    const body = {
      verificationId,
      code: wrong,
      discoverable: false,
      presence: 'nobody',
      deviceName: 'x',
      identityKey: IDENTITY_KEY,
    };
    const first = await t.call('POST', '/v1/accounts', { body });
    assert.equal(first.json.code, 'VERIFICATION_CODE_INCORRECT');
    assert.deepEqual(first.json.details, { attemptsLeft: 2 });
    await t.call('POST', '/v1/accounts', { body });
    const third = await t.call('POST', '/v1/accounts', { body });
    assert.equal(third.status, 429);
    assert.equal(third.json.code, 'VERIFICATION_ATTEMPTS_EXCEEDED');
    const late = await t.call('POST', '/v1/accounts', { body: { ...body, code: right } });
    assert.equal(late.json.code, 'VERIFICATION_NOT_FOUND', 'the right code no longer works');
  });

  it('a code works once', async () => {
    const v = await t.call('POST', '/v1/verifications', {
      body: { phoneNumber: '+4915123456789' },
    });
    const verificationId = v.json.verificationId as string;
    const body = {
      verificationId,
      code: t.inbox.codeFor(verificationId),
      discoverable: true,
      presence: 'contacts',
      deviceName: 'x',
      identityKey: IDENTITY_KEY,
    };
    assert.equal((await t.call('POST', '/v1/accounts', { body })).status, 201);
    assert.equal(
      (await t.call('POST', '/v1/accounts', { body })).json.code,
      'VERIFICATION_NOT_FOUND',
    );
  });

  it('limits code requests per number, with Retry-After', async () => {
    const body = { phoneNumber: '+12125551234' };
    assert.equal((await t.call('POST', '/v1/verifications', { body })).status, 201);
    assert.equal((await t.call('POST', '/v1/verifications', { body })).status, 201);
    const limited = await t.call('POST', '/v1/verifications', { body });
    assert.equal(limited.status, 429);
    assert.equal(limited.json.code, 'VERIFICATION_RATE_LIMITED');
    assert.ok(Number(limited.headers.get('retry-after')) > 0);
    assert.ok((limited.json.retryAfterMs as number) > 0);
  });

  it('a second device joins the account by being linked from the first', async () => {
    const first = await t.call('GET', '/v1/account', { token });
    const deviceId = token.split('.')[0]!;
    const linked = await linkDevice(t.server.url, token, 'laptop');
    assert.equal(linked.accountId, first.json.accountId);
    const account = await t.call('GET', '/v1/account', { token: linked.credential });
    assert.equal(account.status, 200);
    const devices = account.json.devices as Array<{ deviceId: string; name: string }>;
    assert.deepEqual(devices.map((d) => d.deviceId).sort(), [deviceId, linked.deviceId].sort());
    assert.equal(devices.find((d) => d.deviceId === linked.deviceId)?.name, 'laptop');
  });

  it('discoverability can be changed later and shows in the directory', async () => {
    const before = await t.call('GET', '/v1/directory', { token });
    assert.equal(before.json.type, 'snapshot');
    const { version, range, path, bytes } = before.json as {
      version: number;
      range: string;
      path: string;
      bytes: number;
    };
    const snapshot = await fetch(new URL(path, t.server.url), {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(snapshot.headers.get('content-type'), 'application/octet-stream');
    const filter = MembershipFilter.decode(new Uint8Array(await snapshot.arrayBuffer()));
    assert.equal(String(filter.range), range);
    assert.equal(filter.range, snapshotRange(2), 'capacity for 1,024 entries');
    assert.equal(filter.size, 2);
    assert.equal(filter.encode().length, bytes);

    const off = await t.call('PATCH', '/v1/account', { token, body: { discoverable: false } });
    assert.equal(off.json.discoverable, false);
    const delta = await t.call(
      'GET',
      `/v1/directory?keyId=${keyId}&since=${version}&range=${range}`,
      { token },
    );
    assert.equal(delta.json.type, 'delta');
    assert.equal(delta.json.range, range);
    const { added, removed, removedFull } = deltaLists(delta.json);
    assert.equal(removed.size, 1);
    assert.equal(removedFull.size, 0);
    assert.equal(added.size, 0);
    assert.equal(removed.range, removalPrefixRange(BigInt(range)));
    assert.equal(removedFull.range, BigInt(range));
    assert.equal(filter.removeByPrefix(removed), true);
    assert.equal(filter.size, 1, 'the prefix names the entry that went');

    const stale = await t.call('GET', path, { token });
    assert.equal(stale.status, 410);
    assert.equal(stale.json.code, 'DIRECTORY_SNAPSHOT_STALE');
    for (const query of [
      'since=abc',
      'bits=40&since=1&keyId=abc',
      'range=4294967295&since=1&keyId=abc',
      'range=18446744073709551617&since=1&keyId=abc',
      'range=0123456789012&since=1&keyId=abc',
    ]) {
      const bad = await t.call('GET', `/v1/directory?${query}`, { token });
      assert.equal(bad.json.code, 'VALIDATION_FAILED', query);
    }
  });

  it('a delta carries net changes only: added then removed since v is in neither list', async () => {
    const now = await t.call('GET', '/v1/directory', { token });
    const { version, range } = now.json as { version: number; range: string };
    const transient = await t.register('+13052221111', true);
    await t.call('PATCH', '/v1/account', {
      token: transient.credential,
      body: { discoverable: false },
    });
    const back = await t.call('PATCH', '/v1/account', { token, body: { discoverable: true } });
    assert.equal(back.json.discoverable, true);
    const delta = await t.call(
      'GET',
      `/v1/directory?keyId=${keyId}&since=${version}&range=${range}`,
      { token },
    );
    assert.equal(delta.json.type, 'delta');
    const { added, removed, removedFull } = deltaLists(delta.json);
    assert.equal(added.size, 1, 'only the account that came back');
    assert.equal(removed.size + removedFull.size, 0);
  });
});

describe('behind a reverse proxy', () => {
  /** Code requests for fresh numbers, each claiming to come from `forwardedFor`. */
  async function request(url: string, forwardedFor: string, n: number): Promise<number> {
    const response = await fetch(new URL('/v1/verifications', url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': forwardedFor },
      body: JSON.stringify({ phoneNumber: `+1415222${String(5000 + n)}` }),
    });
    await response.arrayBuffer();
    return response.status;
  }

  it('counts the per-IP limit per client when the proxy is trusted, and ignores the header when not', async () => {
    const trusted = await testServer({
      PARLEY_TRUST_PROXY: '127.0.0.1',
      PARLEY_VERIFICATION_PER_IP: '1',
    });
    const direct = await testServer({ PARLEY_VERIFICATION_PER_IP: '1' });
    try {
      // Two clients behind the proxy each get their own allowance; a second request from one is refused.
      assert.equal(await request(trusted.server.url, '198.51.100.7', 1), 201);
      assert.equal(await request(trusted.server.url, '198.51.100.8', 2), 201);
      assert.equal(await request(trusted.server.url, '198.51.100.7', 3), 429);
      // Without PARLEY_TRUST_PROXY a forged header buys nothing: the peer address is counted.
      assert.equal(await request(direct.server.url, '198.51.100.7', 4), 201);
      assert.equal(await request(direct.server.url, '198.51.100.8', 5), 429);
    } finally {
      await trusted.server.close();
      await direct.server.close();
    }
  });
});

describe('registration status', () => {
  it('shows through no endpoint but a budgeted evaluation', async () => {
    const t = await testServer();
    try {
      await t.register('+14155550881', false); // registered, not discoverable
      const me = await t.register('+14155550882');
      // Asking for a code: the same answer for a registered number and a fresh one.
      const shape = (json: Record<string, unknown>) =>
        Object.keys(json)
          .sort()
          .map((k) => `${k}:${typeof json[k]}`);
      const registered = await t.call('POST', '/v1/verifications', {
        body: { phoneNumber: '+14155550881' },
      });
      const fresh = await t.call('POST', '/v1/verifications', {
        body: { phoneNumber: '+14155550883' },
      });
      assert.equal(registered.status, fresh.status);
      assert.deepEqual(shape(registered.json), shape(fresh.json));
      // Resolving needs a token, which needs the OPRF output: one evaluation each. The token of a
      // registered but hidden number resolves exactly like an unregistered one.
      const oprf = await loadOprf();
      const keyId = t.server.services.directory.currentKeyId;
      const tokenOf = async (number: string) => {
        const b = oprf.blind(phoneNumberInput(number));
        const r = await t.call('POST', '/v1/discovery/evaluate', {
          token: me.credential,
          body: { keyId, blindedElements: [toBase64Url(b.blindedElement)] },
        });
        assert.equal(r.status, 200);
        assert.equal((r.json.budget as { remaining: number }).remaining < 2000, true, 'charged');
        const evaluated = fromBase64Url((r.json.evaluatedElements as string[])[0]!)!;
        return toBase64Url(directoryToken(oprf.sha512, keyId, oprf.unblind(b.blind, evaluated)));
      };
      const hidden = await t.call('POST', '/v1/discovery/resolve', {
        token: me.credential,
        body: { keyId, tokens: [await tokenOf('+14155550881')] },
      });
      const unknown = await t.call('POST', '/v1/discovery/resolve', {
        token: me.credential,
        body: { keyId, tokens: [await tokenOf('+14155550884')] },
      });
      assert.equal(hidden.status, 200);
      assert.deepEqual(hidden.json, unknown.json);
      assert.deepEqual(hidden.json, { matches: [] });
      // Without a token: a random one resolves to nothing, and no other endpoint takes a number.
      const random = await t.call('POST', '/v1/discovery/resolve', {
        token: me.credential,
        body: { keyId, tokens: [toBase64Url(new Uint8Array(32).fill(7))] },
      });
      assert.deepEqual(random.json, { matches: [] });
    } finally {
      await t.server.close();
    }
  });
});
