/**
 * Property-based tests of the HTTP edge: requests to every route with bodies shaped like the
 * schema but wrong, arbitrary JSON and bytes, odd content types, credentials and URLs. Each answer
 * is a 2xx that matches the route's response schema or a 4xx `{ code, message }` with a catalog
 * code and that code's status; never a 5xx, never a hang. Meanwhile a well-behaved client on a real
 * socket keeps being served.
 */

import * as assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  AccountIdentityResponse,
  AccountParams,
  AccountResponse,
  AccountUpdateRequest,
  AttachmentChunkParams,
  AttachmentCreateRequest,
  AttachmentParams,
  AttachmentUpload,
  CertificateRequest,
  CommitRequest,
  DeviceParams,
  DevicesRemovedResponse,
  DirectoryQuery,
  DirectoryResponse,
  DirectorySnapshotParams,
  ERROR_CATALOG,
  EvaluateRequest,
  EvaluateResponse,
  GroupParams,
  GroupResponse,
  IdentityKeyRequest,
  isErrorCode,
  KeyPackageClaimRequest,
  KeyPackageClaimResponse,
  KeyPackageStock,
  KeyPackageUpload,
  LeaveResponse,
  LinkApproval,
  LinkApproved,
  LinkCreated,
  LinkHandleParams,
  LinkIdParams,
  LinkRequest,
  LinkResult,
  LinkSession,
  loadOprf,
  RegisterRequest,
  RegisterResponse,
  RegistrationLockRequest,
  ResolveRequest,
  ResolveResponse,
  StatsResponse,
  TranslateRequest,
  TranslateResponse,
  type TSchema,
  toBase64Url,
  VerificationRequest,
  VerificationResponse,
} from '@parley/core';
import { arbitraryFor, fuzz, fuzzSettings, mutationOf, oddValue } from '@parley/core/testing/fuzz';
import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import fc from 'fast-check';
import type { InjectOptions } from 'fastify';
import { testServer } from '../testing/index.js';

type Auth = 'none' | 'device' | 'admin';
type Answer = TSchema | 'binary' | 'text' | 'empty';

interface Route {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  path: string;
  auth: Auth;
  body?: TSchema;
  params?: TSchema;
  query?: TSchema;
  /** What a 2xx carries. */
  ok: Answer;
  /** Never sent with a valid credential here: it would end the fuzzing account or rotate keys. */
  destructive?: boolean;
}

const Status = (value: string) => Type.Object({ status: Type.Literal(value) });

/** Every route of app.ts and routes/, with its request and response schemas. */
const ROUTES: Route[] = [
  { method: 'GET', path: '/healthz', auth: 'none', ok: Status('ok') },
  { method: 'GET', path: '/readyz', auth: 'none', ok: Status('ready') },
  { method: 'GET', path: '/metrics', auth: 'admin', ok: 'text' },
  {
    method: 'POST',
    path: '/v1/verifications',
    auth: 'none',
    body: VerificationRequest,
    ok: VerificationResponse,
  },
  {
    method: 'POST',
    path: '/v1/accounts',
    auth: 'none',
    body: RegisterRequest,
    ok: RegisterResponse,
  },
  { method: 'GET', path: '/v1/account', auth: 'device', ok: AccountResponse },
  {
    method: 'PATCH',
    path: '/v1/account',
    auth: 'device',
    body: AccountUpdateRequest,
    ok: AccountResponse,
  },
  { method: 'DELETE', path: '/v1/account', auth: 'device', ok: 'empty', destructive: true },
  // Random ids are not the fuzzing device's: a 404 DEVICE_NOT_FOUND (its own id is not drawn).
  {
    method: 'DELETE',
    path: '/v1/devices/:deviceId',
    auth: 'device',
    params: DeviceParams,
    ok: 'empty',
  },
  // The fuzzing account has one device: nothing else to sign out.
  { method: 'DELETE', path: '/v1/devices', auth: 'device', ok: DevicesRemovedResponse },
  {
    method: 'GET',
    path: '/v1/directory',
    auth: 'device',
    query: DirectoryQuery,
    ok: DirectoryResponse,
  },
  {
    method: 'GET',
    path: '/v1/directory/snapshots/:keyId/:version',
    auth: 'device',
    params: DirectorySnapshotParams,
    ok: 'binary',
  },
  {
    method: 'POST',
    path: '/v1/discovery/evaluate',
    auth: 'device',
    body: EvaluateRequest,
    ok: EvaluateResponse,
  },
  {
    method: 'POST',
    path: '/v1/discovery/translate',
    auth: 'device',
    body: TranslateRequest,
    ok: TranslateResponse,
  },
  {
    method: 'POST',
    path: '/v1/discovery/resolve',
    auth: 'device',
    body: ResolveRequest,
    ok: ResolveResponse,
  },
  {
    method: 'POST',
    path: '/v1/keys/packages',
    auth: 'device',
    body: KeyPackageUpload,
    ok: KeyPackageStock,
  },
  { method: 'GET', path: '/v1/keys/packages', auth: 'device', ok: KeyPackageStock },
  {
    method: 'POST',
    path: '/v1/keys/claim',
    auth: 'device',
    body: KeyPackageClaimRequest,
    ok: KeyPackageClaimResponse,
  },
  {
    method: 'POST',
    path: '/v1/groups/:groupId/commits',
    auth: 'device',
    params: GroupParams,
    body: CommitRequest,
    ok: GroupResponse,
  },
  {
    method: 'POST',
    path: '/v1/groups/:groupId/leave',
    auth: 'device',
    params: GroupParams,
    ok: LeaveResponse,
  },
  {
    method: 'GET',
    path: '/v1/groups/:groupId',
    auth: 'device',
    params: GroupParams,
    ok: GroupResponse,
  },
  {
    method: 'POST',
    path: '/v1/admin/rotate-key',
    auth: 'admin',
    ok: Type.Unknown(),
    destructive: true,
  },
  { method: 'GET', path: '/v1/admin/stats', auth: 'admin', ok: StatsResponse },
  {
    method: 'PUT',
    path: '/v1/device/certificate',
    auth: 'device',
    body: CertificateRequest,
    ok: 'empty',
  },
  {
    method: 'PUT',
    path: '/v1/account/identity',
    auth: 'device',
    body: IdentityKeyRequest,
    ok: 'empty',
  },
  {
    method: 'GET',
    path: '/v1/accounts/:accountId/identity',
    auth: 'device',
    params: AccountParams,
    ok: AccountIdentityResponse,
  },
  {
    method: 'PUT',
    path: '/v1/account/registration-lock',
    auth: 'device',
    body: RegistrationLockRequest,
    ok: 'empty',
  },
  { method: 'DELETE', path: '/v1/account/registration-lock', auth: 'device', ok: 'empty' },
  { method: 'POST', path: '/v1/links', auth: 'none', body: LinkRequest, ok: LinkCreated },
  {
    method: 'GET',
    path: '/v1/links/:linkId/result',
    auth: 'none',
    params: LinkIdParams,
    ok: LinkResult,
  },
  {
    method: 'GET',
    path: '/v1/links/:handle',
    auth: 'device',
    params: LinkHandleParams,
    ok: LinkSession,
  },
  {
    method: 'POST',
    path: '/v1/links/:handle/approve',
    auth: 'device',
    params: LinkHandleParams,
    body: LinkApproval,
    ok: LinkApproved,
  },
  {
    method: 'POST',
    path: '/v1/attachments',
    auth: 'device',
    body: AttachmentCreateRequest,
    ok: AttachmentUpload,
  },
  {
    method: 'PUT',
    path: '/v1/attachments/:id/chunks/:index',
    auth: 'device',
    params: AttachmentChunkParams,
    ok: Type.Object({ id: Type.String(), index: Type.Integer() }),
  },
  {
    method: 'GET',
    path: '/v1/attachments/:id/upload',
    auth: 'device',
    params: AttachmentParams,
    ok: AttachmentUpload,
  },
  {
    method: 'POST',
    path: '/v1/attachments/:id/complete',
    auth: 'device',
    params: AttachmentParams,
    ok: AttachmentUpload,
  },
  {
    method: 'GET',
    path: '/v1/attachments/:id',
    auth: 'device',
    params: AttachmentParams,
    ok: 'binary',
  },
  {
    method: 'POST',
    path: '/v1/attachments/:id/fetched',
    auth: 'device',
    params: AttachmentParams,
    ok: Type.Object({ id: Type.String(), deleted: Type.Boolean() }),
  },
  // Not an upgrade: the socket route must refuse a plain request in the usual way.
  { method: 'GET', path: '/v1/socket', auth: 'none', ok: Type.Never() },
];

/** The route a method and path reach, for the response schema of a 2xx. */
function routeOf(method: string, url: string): Route | undefined {
  const path = url.split('?')[0] ?? '';
  const wanted = method === 'HEAD' ? 'GET' : method;
  return ROUTES.find(
    (r) =>
      r.method === wanted && new RegExp(`^${r.path.replace(/:[a-zA-Z]+/g, '[^/]+')}$`).test(path),
  );
}

export interface FuzzRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string | Buffer;
}

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'Application/JSON',
  'application/json; charset=utf-16',
  'application/json;;',
  'text/plain',
  'text/json',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  '*/*',
  '',
  'json',
];

/** Raw path segments: encoded oddities, bad percent escapes, traversal, length. */
const segment = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 30 }).map(encodeURIComponent),
  fc.constantFrom('%', '%zz', '%C0%AF', '%00', '..', '.', '%2F', '%2e%2e', '', '~', '*', ' '),
  fc.constantFrom(70, 5_000, 60_000).map((n) => 'a'.repeat(n)),
);

const rawBody: fc.Arbitrary<string | Buffer> = fc.oneof(
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
  fc.constantFrom(
    '',
    '{',
    'null',
    '"text"',
    '[]',
    '{"__proto__":{"polluted":1}}',
    '{"constructor":{"prototype":{"polluted":1}}}',
    '\uFEFF{}',
    '{"a":1,"a":2}',
    '1e999999',
    '-',
    '\u0000',
  ),
  fc.integer({ min: 1, max: 120_000 }).map((depth) => '['.repeat(depth) + ']'.repeat(depth)),
  fc
    .integer({ min: 1, max: 60_000 })
    .map((depth) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)),
  fc.constantFrom(256 * 1024 + 1, 1024 * 1024).map((n) => `"${'a'.repeat(n)}"`),
);

interface Fixtures {
  deviceToken: string;
  adminToken: string;
  hints: Record<string, fc.Arbitrary<unknown>>;
}

function requestFor(fixtures: Fixtures, realSocket: boolean): fc.Arbitrary<FuzzRequest> {
  const credential = (route: Route): fc.Arbitrary<string | undefined> => {
    const valid = route.auth === 'admin' ? fixtures.adminToken : fixtures.deviceToken;
    const choices: fc.Arbitrary<string | undefined>[] = [
      fc.constant(undefined),
      fc.string({ unit: 'binary-ascii', maxLength: 60 }).map((s) => `Bearer ${s}`),
      fc.constantFrom(
        'Bearer ',
        'Bearer',
        'Basic dXNlcjpwYXNz',
        `bearer ${valid}`,
        `Bearer  ${valid}`,
        `Bearer ${valid}x`,
        `Bearer ${route.auth === 'admin' ? fixtures.deviceToken : fixtures.adminToken}`,
      ),
    ];
    if (!route.destructive)
      choices.push(fc.constant(`Bearer ${valid}`), fc.constant(`Bearer ${valid}`));
    return fc.oneof(...choices);
  };
  const body = (route: Route): fc.Arbitrary<string | Buffer | undefined> => {
    const shaped = route.body ? arbitraryFor(route.body, fixtures.hints) : fc.constant({});
    return fc.oneof(
      { weight: 2, arbitrary: shaped.map((v) => JSON.stringify(v)) },
      { weight: 3, arbitrary: mutationOf(shaped).map((v) => JSON.stringify(v)) },
      { weight: 1, arbitrary: rawBody },
      { weight: 1, arbitrary: fc.constant(undefined) },
    );
  };
  const path = (route: Route): fc.Arbitrary<string> => {
    const params = route.params;
    if (!params) return fc.oneof(fc.constant(route.path), fc.webPath({ size: 'small' }));
    const names = [...route.path.matchAll(/:([a-zA-Z]+)/g)].map((m) => m[1] as string);
    const values = fc.oneof(
      arbitraryFor(params, fixtures.hints) as fc.Arbitrary<Record<string, string>>,
      fc
        .tuple(...names.map(() => segment))
        .map((v) => Object.fromEntries(names.map((n, i) => [n, v[i] as string]))),
    );
    return values.map((v) =>
      names.reduce(
        (p, n) => p.replace(`:${n}`, encodeURIComponent(String(v[n] ?? ''))),
        route.path,
      ),
    );
  };
  const query = (route: Route): fc.Arbitrary<string> =>
    fc.oneof(
      fc.constant(''),
      (route.query
        ? fc.oneof(arbitraryFor(route.query, fixtures.hints), mutationOf(arbitraryFor(route.query)))
        : oddValue
      ).map((q) => {
        const entries: [string, unknown][] =
          q !== null && typeof q === 'object' ? Object.entries(q) : [['q', q]];
        const pairs = entries.map(([k, v]): [string, string] => [k, String(v)]);
        return `?${new URLSearchParams(pairs).toString()}`;
      }),
      fc.constantFrom(
        '?',
        '?a',
        '?since=1&since=2',
        '?keyId[]=x',
        '?%zz=1',
        '?range=99999999999999999999',
      ),
    );
  return fc
    .constantFrom(...ROUTES)
    .chain((route) =>
      fc.record({
        method: fc.oneof(
          { weight: 4, arbitrary: fc.constant<string>(route.method) },
          fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'),
        ),
        path: path(route),
        query: query(route),
        authorization: credential(route),
        contentType: fc.oneof(
          { weight: 4, arbitrary: fc.constant('application/json') },
          fc.constantFrom(...CONTENT_TYPES),
        ),
        body: body(route),
      }),
    )
    .map(({ method, path: p, query: q, authorization, contentType, body: b }) => {
      const headers: Record<string, string> = {};
      if (authorization !== undefined) {
        // fetch() refuses control characters in a header; inject() passes them on.
        const printable = /^[\x20-\x7e]*$/.test(authorization);
        headers.authorization =
          realSocket && !printable ? encodeURIComponent(authorization) : authorization;
      }
      // fetch() refuses a body on GET and HEAD; inject() sends it, and the server must cope.
      const withBody = b !== undefined && !(realSocket && (method === 'GET' || method === 'HEAD'));
      if (withBody && contentType !== '') headers['content-type'] = contentType;
      const url = (p.startsWith('/') ? p : `/${p}`) + q;
      return { method, url, headers, ...(withBody ? { payload: b } : {}) };
    });
}

interface Answered {
  status: number;
  contentType: string;
  body: string;
}

/** The property every answer must have; `request` is for the failure message. */
function checkAnswer(request: FuzzRequest, answer: Answered): void {
  const where = `${request.method} ${request.url.slice(0, 200)} -> ${answer.status} ${answer.body.slice(0, 300)}`;
  assert.ok(answer.status >= 200 && answer.status < 500, `unexpected status: ${where}`);
  if (request.method === 'HEAD') return;
  if (answer.status < 300) {
    const route = routeOf(request.method, request.url);
    if (route === undefined) {
      // Only the web app's files answer outside the API.
      assert.ok(!request.url.startsWith('/v1/'), `2xx from no route: ${where}`);
      return;
    }
    if (route.ok === 'empty') assert.equal(answer.body, '', where);
    if (typeof route.ok === 'string') return;
    assert.ok(Value.Check(route.ok, JSON.parse(answer.body)), `2xx off schema: ${where}`);
    return;
  }
  assert.match(answer.contentType, /^application\/json/, where);
  const body = JSON.parse(answer.body) as { code?: unknown; message?: unknown };
  assert.ok(isErrorCode(body.code), `no catalog code: ${where}`);
  assert.equal(typeof body.message, 'string', where);
  assert.equal(ERROR_CATALOG[body.code].status, answer.status, `status off catalog: ${where}`);
}

/** A request that takes longer than this is a hang (the slowest real ones take milliseconds). */
const HANG_MS = 10_000;

function withinHangLimit<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${HANG_MS} ms: ${what}`)), HANG_MS);
    }),
  ]).finally(() => clearTimeout(timer));
}

describe('HTTP API under fuzzing', () => {
  let t: Awaited<ReturnType<typeof testServer>>;
  let fixtures: Fixtures;
  /** A second account, used only by the well-behaved client. */
  let bystander: { token: string; element: string };

  before(async () => {
    t = await testServer();
    const fuzzer = await t.register('+14155550101');
    const other = await t.register('+14155550102');
    const oprf = await loadOprf();
    const elements = Array.from({ length: 4 }, (_, i) =>
      toBase64Url(oprf.blind(new TextEncoder().encode(`contact ${i}`)).blindedElement),
    );
    const keyId = t.server.services.directory.currentKeyId;
    const groupId = 'AAAAAAAAAAAAAAAAAAAAAA';
    const adminToken = (await import('node:fs'))
      .readFileSync(`${t.config.dataDir}/admin-token`, 'utf8')
      .trim();
    fixtures = {
      deviceToken: fuzzer.credential,
      adminToken,
      hints: {
        keyId: fc.constant(keyId),
        fromKeyId: fc.constant(keyId),
        toKeyId: fc.constant(keyId),
        blindedElements: fc.array(fc.constantFrom(...elements), { minLength: 1, maxLength: 4 }),
        accountIds: fc.array(fc.constantFrom(fuzzer.accountId, other.accountId), {
          minLength: 1,
          maxLength: 2,
        }),
        groupId: fc.constant(groupId),
        deviceId: fc.constantFrom(fuzzer.deviceId, other.deviceId),
        version: fc.constant('0'),
        phoneNumber: fc.constantFrom('+14155550199', '+442071838750'),
      },
    };
    bystander = { token: other.credential, element: elements[0] as string };
  });
  after(() => t.server.close());

  /**
   * Runs `body` while a well-behaved client on the real socket checks health, reads its account
   * and evaluates a contact over and over; every one of its calls must succeed.
   */
  async function whileOthersAreServed(body: () => Promise<void>): Promise<number> {
    let running = true;
    let served = 0;
    const keyId = t.server.services.directory.currentKeyId;
    const loop = (async () => {
      while (running) {
        const health = await t.call('GET', '/healthz');
        assert.equal(health.status, 200);
        const account = await t.call('GET', '/v1/account', { token: bystander.token });
        assert.equal(account.status, 200);
        const evaluated = await t.call('POST', '/v1/discovery/evaluate', {
          token: bystander.token,
          body: { keyId, blindedElements: [bystander.element] },
        });
        assert.equal(evaluated.status, 200, JSON.stringify(evaluated.json));
        served += 1;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    try {
      await body();
    } finally {
      running = false;
      await loop;
    }
    return served;
  }

  test('every route, in process: a 2xx on schema or a catalog 4xx, never a 5xx or a hang', async (tc) => {
    const served = await whileOthersAreServed(() =>
      fuzz(
        'http: all routes via inject()',
        fc.asyncProperty(requestFor(fixtures, false), async (request) => {
          const response = await withinHangLimit(
            t.server.app.inject(request as InjectOptions),
            `${request.method} ${request.url.slice(0, 100)}`,
          );
          checkAnswer(request, {
            status: response.statusCode,
            contentType: String(response.headers['content-type'] ?? ''),
            body: response.body,
          });
        }),
        fuzzSettings(400),
        (line) => tc.diagnostic(line),
      ),
    );
    assert.ok(served > 0, 'the well-behaved client was never served');
    tc.diagnostic(`the well-behaved client was served ${served} times meanwhile`);
  });

  test('every route, over a real socket: the same property', async (tc) => {
    const served = await whileOthersAreServed(() =>
      fuzz(
        'http: all routes via a real socket',
        fc.asyncProperty(requestFor(fixtures, true), async (request) => {
          const response = await withinHangLimit(
            fetch(t.server.url.replace(/\/$/, '') + request.url, {
              method: request.method,
              headers: request.headers,
              ...(request.payload === undefined ? {} : { body: request.payload }),
            }),
            `${request.method} ${request.url.slice(0, 100)}`,
          );
          checkAnswer(request, {
            status: response.status,
            contentType: response.headers.get('content-type') ?? '',
            body: await response.text(),
          });
        }),
        fuzzSettings(100, 0.1),
        (line) => tc.diagnostic(line),
      ),
    );
    assert.ok(served > 0, 'the well-behaved client was never served');
  });
});
