/** Test support: an in-process server on a free port with its own data directory. */

import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type IdentityKeyPair,
  loadIdentityCrypto,
  MLS_CIPHER_SUITE,
  type ServerFrame,
  toBase64Url,
} from '@parley/core';
import {
  defaultCapabilities,
  defaultLifetime,
  encodeMlsMessage,
  generateKeyPackage,
  generateKeyPackageWithKey,
  getCiphersuiteFromName,
  getCiphersuiteImpl,
} from 'ts-mls';
import WebSocket from 'ws';
import { loadConfig } from '../config/config.js';
import { SHARED_SECRET_FILES } from '../infra/data-dir.js';

export { directoryTableName } from '../infra/db/schema.js';
export {
  type ReceivedPush,
  type ScriptedAnswer,
  TestPushService,
  type TestSubscription,
} from './push-service.js';
export {
  deleteRedisKeys,
  dumpRedisKeys,
  REDIS_TEST_URL,
  redisReachable,
} from './redis-testing.js';
export { decryptAes128gcm } from './rfc8291-decrypt.js';
export {
  createPostgresDatabase,
  databaseAt,
  dropPostgresDatabases,
  dumpPostgresDatabase,
  MIGRATION_NAMES,
  POSTGRES_ADMIN_URL,
  postgresReachable,
} from './test-databases.js';
export { verifyVapid } from './vapid-jwt.js';

import type { SmsProvider, VerificationSms } from '../infra/sms/sms-provider.js';
import { type RunningServer, startServer } from '../server.js';
import { createPostgresDatabase, testStorage } from './test-databases.js';

/** Keeps the codes it is asked to send, as a phone would receive them. */
export class InboxSmsProvider implements SmsProvider {
  readonly name = 'inbox';
  readonly sent: VerificationSms[] = [];
  async sendVerification(sms: VerificationSms): Promise<void> {
    this.sent.push(sms);
  }
  codeFor(verificationId: string): string {
    const sms = this.sent.find((s) => s.verificationId === verificationId);
    if (!sms) throw new Error(`no code sent for ${verificationId}`);
    return sms.code;
  }
}

/** The PostgreSQL database of each test data directory (PARLEY_TEST_STORAGE=postgres). */
const databaseOf = new Map<string, string>();

/**
 * A server on a free port with its own data directory and database: SQLite there, or — with
 * PARLEY_TEST_STORAGE=postgres (storage.postgres.test.ts) — a fresh PostgreSQL database.
 */
export async function testServer(
  env: Record<string, string> = {},
  options: Pick<NonNullable<Parameters<typeof startServer>[1]>, 'clock' | 'push' | 'bus'> = {},
) {
  const inbox = new InboxSmsProvider();
  const dataDir = env.PARLEY_DATA_DIR ?? mkdtempSync(join(tmpdir(), 'parley-server-test-'));
  const storage: Record<string, string> = {};
  if (testStorage() === 'postgres' && env.PARLEY_DATABASE_URL === undefined) {
    // A server restarted on the same data directory finds the same database.
    let url = databaseOf.get(dataDir);
    if (!url) {
      url = await createPostgresDatabase();
      databaseOf.set(dataDir, url);
    }
    storage.PARLEY_DATABASE_URL = url;
  }
  const config = loadConfig({
    ...storage,
    PARLEY_PORT: '0',
    PARLEY_DATA_DIR: dataDir,
    PARLEY_LOG_LEVEL: 'silent',
    PARLEY_OPRF_WORKERS: '1',
    ...env,
  });
  const server: RunningServer = await startServer(config, { sms: inbox, ...options });
  const call = async (
    method: string,
    path: string,
    options: { body?: unknown; raw?: string; token?: string; contentType?: string } = {},
  ) => {
    const headers: Record<string, string> = {};
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    const body =
      options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
    if (body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
    const response = await fetch(new URL(path, server.url), { method, headers, body });
    // 204 and friends have no body.
    const text = await response.text();
    const json = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
    return { status: response.status, headers: response.headers, json };
  };
  /**
   * Registers `phoneNumber` with a new identity key (a number that has an account starts a new
   * identity on it, or is refused by its registration lock: see `registerRaw`).
   */
  const register = async (
    phoneNumber: string,
    discoverable = true,
    presence: 'nobody' | 'contacts' = 'nobody',
  ): Promise<TestDevice> => {
    const identity = (await loadIdentityCrypto()).newIdentityKeys();
    const r = await registerRaw(phoneNumber, {
      discoverable,
      presence,
      identityKey: toBase64Url(identity.publicKey),
    });
    if (r.status !== 201) throw new Error(`registration failed: ${JSON.stringify(r.json)}`);
    return { ...(r.json as { accountId: string; deviceId: string; credential: string }), identity };
  };
  /** A verification and a registration with these fields; the answer as it came. */
  const registerRaw = async (phoneNumber: string, fields: Record<string, unknown>) => {
    const v = await call('POST', '/v1/verifications', { body: { phoneNumber } });
    const verificationId = v.json.verificationId as string;
    const body = {
      verificationId,
      code: inbox.codeFor(verificationId),
      discoverable: true,
      presence: 'nobody',
      deviceName: 'test',
      ...fields,
    };
    const answer = await call('POST', '/v1/accounts', { body });
    return { ...answer, body };
  };
  /** A second device of `approver`'s account, linked through the real endpoints. */
  const link = async (approver: TestDevice, deviceName = 'linked'): Promise<TestDevice> => ({
    ...(await linkDevice(server.url, approver.credential, deviceName)),
    identity: approver.identity,
  });
  /** Gives `device` a certificate (PUT /v1/device/certificate); it can upload KeyPackages. */
  const certify = (device: TestDevice) => certifyDevice(server.url, device, device.identity);
  return { server, config, inbox, call, register, registerRaw, link, certify };
}

/** A device as the test helpers make it: its credential, and its account's identity keys. */
/**
 * Two nodes of one cluster on the PostgreSQL database at `url`: the second starts on a data
 * directory of its own holding the first's shared secret files, as an operator would set it up.
 */
export async function testCluster(
  url: string,
  env: Record<string, string> = {},
  options: Parameters<typeof testServer>[1] = {},
): Promise<[TestServer, TestServer]> {
  const a = await testServer({ ...env, PARLEY_DATABASE_URL: url }, options);
  const dir = mkdtempSync(join(tmpdir(), 'parley-server-test-'));
  for (const file of SHARED_SECRET_FILES) {
    const from = join(a.config.dataDir, file);
    if (existsSync(from)) copyFileSync(from, join(dir, file));
  }
  const b = await testServer({ ...env, PARLEY_DATABASE_URL: url, PARLEY_DATA_DIR: dir }, options);
  return [a, b];
}

/** What testServer() gives. */
export type TestServer = Awaited<ReturnType<typeof testServer>>;

export interface TestDevice {
  accountId: string;
  deviceId: string;
  credential: string;
  identity: IdentityKeyPair;
}

async function request(
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
  credential?: string,
): Promise<Record<string, unknown>> {
  const headers: Record<string, string> = {};
  if (credential) headers.authorization = `Bearer ${credential}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(new URL(path, baseUrl), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

/**
 * Links a new device to the account of the device holding `approverCredential`, through the real
 * endpoints (POST /v1/links, GET and approve by the approver, the result), with a dummy envelope.
 */
export async function linkDevice(
  baseUrl: string,
  approverCredential: string,
  deviceName: string,
): Promise<{ accountId: string; deviceId: string; credential: string }> {
  const secret = randomBytes(32).toString('base64url');
  const started = await request(baseUrl, 'POST', '/v1/links', {
    publicKey: toBase64Url(randomBytes(32)),
    deviceName,
    credentialHash: createHash('sha256').update(secret).digest('base64url'),
  });
  const handle = started.handle as string;
  await request(baseUrl, 'GET', `/v1/links/${handle}`, undefined, approverCredential);
  await request(
    baseUrl,
    'POST',
    `/v1/links/${handle}/approve`,
    { envelope: toBase64Url(new TextEncoder().encode('test envelope')) },
    approverCredential,
  );
  const result = await request(baseUrl, 'GET', `/v1/links/${started.linkId as string}/result`);
  const deviceId = result.deviceId as string;
  return { accountId: result.accountId as string, deviceId, credential: `${deviceId}.${secret}` };
}

/** A device's MLS signature key pair and the certificate its account's identity key signed. */
export interface CertifiedDevice {
  certificate: Uint8Array;
  signatureKeyPair: { signKey: Uint8Array; publicKey: Uint8Array };
  /** A fresh KeyPackage with the certificate as its credential (base64url). */
  keyPackage(): Promise<string>;
}

/** A new MLS signature key for `device`, certified by `identity` and sent to the server. */
export async function certifyDevice(
  baseUrl: string,
  device: { accountId: string; deviceId: string; credential: string },
  identity: IdentityKeyPair,
): Promise<CertifiedDevice> {
  const certified = await certificateFor(device, identity);
  await request(
    baseUrl,
    'PUT',
    '/v1/device/certificate',
    { certificate: toBase64Url(certified.certificate) },
    device.credential,
  );
  return certified;
}

/** A signature key pair and its certificate, not sent anywhere. */
export async function certificateFor(
  device: { accountId: string; deviceId: string },
  identity: IdentityKeyPair,
): Promise<CertifiedDevice> {
  const impl = await getCiphersuiteImpl(getCiphersuiteFromName(MLS_CIPHER_SUITE));
  const signatureKeyPair = await impl.signature.keygen();
  const certificate = (await loadIdentityCrypto()).issueCertificate(identity, {
    accountId: device.accountId,
    deviceId: device.deviceId,
    deviceKey: signatureKeyPair.publicKey,
    createdAt: Date.now(),
  });
  return {
    certificate,
    signatureKeyPair,
    keyPackage: () => certifiedKeyPackage(certificate, signatureKeyPair),
  };
}

/** A real KeyPackage whose basic credential is `certificate`, signed by `signatureKeyPair`. */
export async function certifiedKeyPackage(
  certificate: Uint8Array,
  signatureKeyPair: { signKey: Uint8Array; publicKey: Uint8Array },
): Promise<string> {
  const impl = await getCiphersuiteImpl(getCiphersuiteFromName(MLS_CIPHER_SUITE));
  const made = await generateKeyPackageWithKey(
    { credentialType: 'basic', identity: certificate },
    defaultCapabilities(),
    defaultLifetime,
    [],
    signatureKeyPair,
    impl,
  );
  return toBase64Url(
    encodeMlsMessage({
      keyPackage: made.publicPackage,
      wireformat: 'mls_key_package',
      version: 'mls10',
    }),
  );
}

/** An account written straight into the database, as registration would with its number. */
export interface SyntheticAccount {
  id: string;
  element: Uint8Array;
  fingerprint: Uint8Array;
  token: Uint8Array;
  discoverable: boolean;
}

/**
 * Inserts accounts and their entries under the current key directly (no verification, no log):
 * for tests that need thousands of accounts. Returns their seqs.
 */
export async function insertAccounts(
  server: RunningServer,
  accounts: readonly SyntheticAccount[],
): Promise<number[]> {
  const { db, directory } = server.services;
  const seqs: number[] = [];
  for (let i = 0; i < accounts.length; i += 1000) {
    await db.transaction().execute(async (trx) => {
      for (const a of accounts.slice(i, i + 1000)) {
        const { seq } = await trx
          .insertInto('accounts')
          .values({
            id: a.id,
            discoverable: a.discoverable ? 1 : 0,
            created_at: new Date().toISOString(),
            budget_level: 0,
            budget_at: 0,
          })
          .returning('seq')
          .executeTakeFirstOrThrow();
        await trx
          .insertInto(directory.entries())
          .values({
            account_seq: seq,
            element: a.element,
            fingerprint: a.fingerprint,
            token: a.token,
          })
          .execute();
        seqs.push(seq);
      }
    });
  }
  return seqs;
}

/**
 * A real MLS KeyPackage (the server's cipher suite) whose credential is the string `identity`:
 * the format before device certificates, which the server now refuses.
 */
export async function mlsKeyPackage(identity: string): Promise<string> {
  const impl = await getCiphersuiteImpl(getCiphersuiteFromName(MLS_CIPHER_SUITE));
  const made = await generateKeyPackage(
    { credentialType: 'basic', identity: new TextEncoder().encode(identity) },
    defaultCapabilities(),
    defaultLifetime,
    [],
    impl,
  );
  return toBase64Url(
    encodeMlsMessage({
      keyPackage: made.publicPackage,
      wireformat: 'mls_key_package',
      version: 'mls10',
    }),
  );
}

/** A device's WebSocket, authenticated; its frames and how it closed. */
export async function deviceSocket(url: string, credential: string) {
  const frames: ServerFrame[] = [];
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/socket`);
  const closed = new Promise<number>((resolve, reject) => {
    ws.on('close', (code) => resolve(code));
    setTimeout(() => reject(new Error('the socket was not closed')), 5000).unref();
  });
  closed.catch(() => {}); // awaited by the tests that expect it
  let notify = () => {};
  ws.on('message', (data) => {
    for (const line of String(data).split('\n')) frames.push(JSON.parse(line) as ServerFrame);
    notify();
  });
  const waitFor = async (pred: (f: ServerFrame) => boolean, ms = 5000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = frames.find(pred);
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`no such frame in ${JSON.stringify(frames)}`);
      await new Promise<void>((resolve) => {
        notify = resolve;
        setTimeout(resolve, 50);
      });
    }
  };
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ t: 'auth', credential }));
  return { ws, frames, closed, waitFor };
}

/** The filter a client downloaded: the current snapshot. */
export {
  httpGatewayProtocol,
  type SmsProtocol,
  SmsStandIn,
  type StandInReply,
  type StandInRequest,
  sinchError,
  sinchProtocol,
  twilioError,
  twilioProtocol,
  vonageError,
  vonageProtocol,
} from './sms-stand-in.js';
export { createTestCa, OPENSSL, type TestCa } from './test-ca.js';
