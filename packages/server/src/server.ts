/** Starts a Parley server from a validated configuration; `parley serve` calls this. */

import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadOprf } from '@parley/core';
import type { FastifyInstance } from 'fastify';
import { Accounts } from './accounts.js';
import { buildApp } from './app.js';
import type { ServerConfig } from './config.js';
import { openDatabase } from './db/database.js';
import { Directory } from './directory.js';
import { Discovery } from './discovery.js';
import { ContactLinks } from './messaging/contact-links.js';
import { Groups } from './messaging/groups.js';
import { Hub } from './messaging/hub.js';
import { KeyPackages } from './messaging/key-packages.js';
import { Mailbox } from './messaging/mailbox.js';
import { KeyStore } from './oprf/key-store.js';
import { OprfPool, resolveOprfBackend } from './oprf/oprf-pool.js';
import type { Services } from './services.js';
import { ConsoleSmsProvider } from './sms/console-provider.js';
import { HttpSmsProvider } from './sms/http-provider.js';
import type { SmsProvider } from './sms/sms-provider.js';
import { VerificationService } from './verification.js';

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  services: Services;
  close(): Promise<void>;
}

/** The admin token lives beside the data, readable by the operator only. */
export function adminTokenPath(dataDir: string): string {
  return join(dataDir, 'admin-token');
}

/** A random secret in a file beside the data, created once, readable by the operator only. */
function ensureSecretFile(path: string): string {
  if (!existsSync(path)) {
    writeFileSync(path, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600 });
  }
  chmodSync(path, 0o600);
  return readFileSync(path, 'utf8').trim();
}

export async function startServer(
  config: ServerConfig,
  options: { sms?: SmsProvider } = {},
): Promise<RunningServer> {
  // First, so PARLEY_OPRF_BACKEND=native without the addon stops before anything is opened.
  const backend = resolveOprfBackend(config.oprfBackend);
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const adminToken = ensureSecretFile(adminTokenPath(config.dataDir));
  // Keys the contact-link digests; outside the database so a dump shows no social graph.
  const linkKey = Buffer.from(ensureSecretFile(join(config.dataDir, 'link-key')), 'base64url');
  const db = await openDatabase(config.dataDir);
  const pool = new OprfPool(config.oprfWorkers, { backend });
  try {
    const oprf = await loadOprf();
    const keys = KeyStore.open(config.dataDir);
    const directory = new Directory(db, pool, keys, oprf, config.keyRetentionMs);
    await directory.init();
    const sms =
      options.sms ??
      (config.sms.provider === 'http' ? new HttpSmsProvider(config.sms) : new ConsoleSmsProvider());
    const verification = new VerificationService(config.verification, sms);
    const hub = new Hub();
    const mailbox = new Mailbox(db, hub, config.messageTtlMs);
    const links = new ContactLinks(db, linkKey);
    const services: Services = {
      db,
      directory,
      verification,
      accounts: new Accounts(db, directory, hub),
      discovery: new Discovery(db, pool, directory, config.discovery, links),
      pool,
      hub,
      mailbox,
      links,
      keyPackages: new KeyPackages(db, hub),
      groups: new Groups(db, mailbox, hub),
    };
    const app = buildApp(services, {
      adminToken,
      logger: {
        level: config.logLevel,
        redact: { paths: ['req.headers.authorization'], censor: '[redacted]' },
      },
    });
    const url = await app.listen({ host: config.host, port: config.port });
    // Expired queue entries go within a minute of their time.
    const sweeper = setInterval(() => {
      mailbox.sweep().catch((err: unknown) => app.log.error({ err }, 'queue sweep failed'));
    }, 60_000);
    sweeper.unref();
    app.log.info({ oprfBackend: pool.backend, oprfWorkers: config.oprfWorkers }, 'OPRF pool ready');
    return {
      app,
      url,
      services,
      async close() {
        clearInterval(sweeper);
        await app.close();
        verification.close();
        await services.directory.close();
        await pool.close();
        await db.destroy();
      },
    };
  } catch (error) {
    await pool.close();
    await db.destroy();
    throw error;
  }
}
