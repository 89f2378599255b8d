/** Test support: an in-process server on a free port with its own data directory. */

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MLS_CIPHER_SUITE, type ServerFrame, toBase64Url } from '@parley/core';
import {
  defaultCapabilities,
  defaultLifetime,
  encodeMlsMessage,
  generateKeyPackage,
  getCiphersuiteFromName,
  getCiphersuiteImpl,
} from 'ts-mls';
import WebSocket from 'ws';
import { loadConfig } from '../config/config.js';

export { directoryTableName } from '../infra/db/schema.js';
export {
  deleteRedisKeys,
  dumpRedisKeys,
  REDIS_TEST_URL,
  redisReachable,
} from './redis-testing.js';
export {
  createPostgresDatabase,
  dropPostgresDatabases,
  dumpPostgresDatabase,
  POSTGRES_ADMIN_URL,
  postgresReachable,
} from './test-databases.js';

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
  options: { clock?: () => number } = {},
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
    const json = (await response.json()) as Record<string, unknown>;
    return { status: response.status, headers: response.headers, json };
  };
  const register = async (
    phoneNumber: string,
    discoverable = true,
    presence: 'nobody' | 'contacts' = 'nobody',
  ) => {
    const v = await call('POST', '/v1/verifications', { body: { phoneNumber } });
    const verificationId = v.json.verificationId as string;
    const r = await call('POST', '/v1/accounts', {
      body: {
        verificationId,
        code: inbox.codeFor(verificationId),
        discoverable,
        presence,
        deviceName: 'test',
      },
    });
    return r.json as { accountId: string; deviceId: string; credential: string };
  };
  return { server, config, inbox, call, register };
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

/** A real MLS KeyPackage (the server's cipher suite) whose credential names `identity`. */
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
