/** Starts a Parley server from a validated configuration; `parley serve` calls this. */

import { createHmac, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Server as TlsServer } from 'node:tls';
import { loadOprf } from '@parley/core';
import type { FastifyInstance } from 'fastify';
import { ConfigError, type ServerConfig } from './config/config.js';
import { Directory } from './directory/directory.js';
import { DirectorySigner } from './directory/signer.js';
import { BudgetCarry } from './discovery/budget-carry.js';
import { ContactLinks } from './discovery/contact-links.js';
import { Discovery } from './discovery/discovery.js';
import { PresenceAllowList } from './discovery/presence-allow-list.js';
import { buildApp } from './http/app.js';
import { loggerOptions } from './http/logging.js';
import { loadWebApp, webAppRoutes } from './http/web-app.js';
import { AccountDeletion } from './identity/account-deletion.js';
import { Accounts } from './identity/accounts.js';
import { Devices } from './identity/devices.js';
import { IdentityKeys } from './identity/identity-keys.js';
import { Linking } from './identity/linking.js';
import { Profiles } from './identity/profiles.js';
import { RegistrationLock } from './identity/registration-lock.js';
import { VerificationService } from './identity/verification.js';
import { FileBlobStore } from './infra/blobs/file-store.js';
import { PostgresBlobStore } from './infra/blobs/postgres-store.js';
import type { Bus } from './infra/bus/bus.js';
import { InProcessBus } from './infra/bus/in-process.js';
import { RedisBus } from './infra/bus/redis.js';
import { openDatabase } from './infra/db/database.js';
import { Metrics } from './infra/metrics/metrics.js';
import { KeyStore } from './infra/oprf/key-store.js';
import { OprfPool, resolveOprfBackend } from './infra/oprf/oprf-pool.js';
import { createSmsProvider } from './infra/sms/providers.js';
import type { SmsProvider } from './infra/sms/sms-provider.js';
import { CertificateReloader, loadCertificatePair } from './infra/tls/certificates.js';
import { Attachments } from './messaging/attachments.js';
import { Blocks } from './messaging/blocks.js';
import { Groups } from './messaging/groups.js';
import { KeyPackages } from './messaging/key-packages.js';
import { Mailbox } from './messaging/mailbox.js';
import { PushNotifier } from './push/notifier.js';
import { PushSender, type SenderOptions } from './push/sender.js';
import { PushSubscriptions } from './push/subscriptions.js';
import { loadVapidKey } from './push/vapid-key.js';
import { Hub } from './realtime/hub.js';
import type { Services } from './services.js';

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  services: Services;
  metrics: Metrics;
  /** With PARLEY_TLS_CERT/KEY: watches the certificate files and reloads them on change. */
  certificates: CertificateReloader | undefined;
  /**
   * Graceful stop: no new connections or requests, in-flight requests answered, every socket
   * drained (each send it handed over stored and answered) and closed with 1001, then the OPRF
   * pool and the database closed. The caller bounds how long it may take.
   */
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
  options: {
    sms?: SmsProvider;
    /**
     * The time the limits and budgets count by (simulations: scripts/attack-enumerate.mjs runs
     * days in seconds). Default: the real clock.
     */
    clock?: () => number;
    /** A bus shared with other servers in this process (simulated nodes); not closed here. */
    bus?: Bus;
    /** Push sending overrides (tests: a shorter backoff; the benchmark: a clock on each request). */
    push?: Pick<SenderOptions, 'backoffMs' | 'onRequest'>;
  } = {},
): Promise<RunningServer> {
  const clock = options.clock ?? Date.now;
  // Before anything is opened: a certificate that does not load stops the start.
  const certificate = config.tls
    ? loadCertificatePair(config.tls.certPath, config.tls.keyPath)
    : undefined;
  // First, so PARLEY_OPRF_BACKEND=native without the addon stops before anything is opened.
  const backend = resolveOprfBackend(config.oprfBackend);
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  // Even when it existed: it holds the keys (and the database, infra/db/database.ts).
  chmodSync(config.dataDir, 0o700);
  const adminToken = ensureSecretFile(adminTokenPath(config.dataDir));
  // Keys the contact-link digests; outside the database so a dump shows no social graph.
  const linkKey = Buffer.from(ensureSecretFile(join(config.dataDir, 'link-key')), 'base64url');
  // Signs every directory statement; clients pin its public half on first use.
  const signer = new DirectorySigner(
    Buffer.from(ensureSecretFile(join(config.dataDir, 'directory-signing-key')), 'base64url'),
  );
  // Keys the per-number limits of a single node, kept so a restart does not reset them (see
  // limiterKey for nodes sharing a Redis).
  const localLimiterKey = Buffer.from(
    ensureSecretFile(join(config.dataDir, 'limiter-key')),
    'base64url',
  );
  // Signs every push request; browsers subscribe with its public half (push/vapid-key.ts).
  const vapidKey = loadVapidKey(config.dataDir, config.push.vapidPrivateKey);
  // Before the database, so an unreachable Redis stops the start with nothing else opened.
  const inProcess =
    options.bus || config.bus.kind === 'redis'
      ? undefined
      : new InProcessBus(clock, {
          path: join(config.dataDir, 'rate-limits.json'),
          key: localLimiterKey,
        });
  const bus: Bus =
    options.bus ??
    inProcess ??
    (config.bus.kind === 'redis'
      ? await RedisBus.open(config.bus.url, config.bus.prefix)
      : new InProcessBus(clock));
  // A bus handed in belongs to the caller, who closes it.
  const closeBus = options.bus ? async () => {} : () => bus.close();
  const db = await openDatabase(config.storage).catch(async (error: unknown) => {
    await closeBus();
    throw error;
  });
  const pool = new OprfPool(config.oprfWorkers, { backend });
  try {
    const oprf = await loadOprf();
    const keys = KeyStore.open(config.oprfKeys);
    const directory = new Directory(
      db,
      pool,
      keys,
      oprf,
      config.keyRetentionMs,
      config.deletionTombstoneMs,
    );
    await directory.init();
    const sms = options.sms ?? createSmsProvider(config.sms);
    const verification = new VerificationService(config.verification, sms, clock, {
      bus,
      limiterKey: limiterKey(config, keys, directory.currentKeyId, localLimiterKey),
    });
    const hub = new Hub();
    const node = await bus.join((event) => hub.receive(event));
    hub.join(node);
    const blocks = new Blocks(db, linkKey, clock);
    const mailbox = new Mailbox(db, hub, config.messageTtlMs, clock, blocks);
    const push = new PushNotifier(
      new PushSubscriptions(db, config.push.allowHttpLoopback, clock),
      new PushSender(vapidKey, { ...config.push, ...options.push }),
      hub,
      { coalesceMs: config.push.coalesceMs, clock },
    );
    mailbox.wakeUps = push;
    const links = new ContactLinks(db, linkKey);
    const allowList = new PresenceAllowList(db, linkKey, hub);
    const budgets = new BudgetCarry(linkKey, config.discovery.budgetRefillPerHour, clock);
    const discovery = new Discovery(db, pool, directory, config.discovery, links, clock, bus);
    const keyPackages = new KeyPackages(db, hub, allowList, { bus, blocks });
    const metrics = new Metrics({ db, hub, mailbox, discovery, pool, push });
    const devices = new Devices(db, hub, mailbox);
    const linking = new Linking(db, hub, bus, config.verification, clock);
    const services: Services = {
      db,
      directory,
      signer,
      verification,
      accounts: new Accounts(
        db,
        directory,
        hub,
        budgets,
        devices,
        new RegistrationLock(db, clock),
        clock,
      ),
      devices,
      identityKeys: new IdentityKeys(db),
      linking,
      deletion: new AccountDeletion(
        db,
        directory,
        mailbox,
        hub,
        keyPackages,
        discovery,
        links,
        budgets,
      ),
      discovery,
      pool,
      hub,
      bus,
      mailbox,
      links,
      allowList,
      keyPackages,
      groups: new Groups(db, mailbox, hub, clock, blocks),
      blocks,
      profiles: new Profiles(db, clock),
      // The database picks the blob store: SQLite's node keeps files beside it, a PostgreSQL
      // cluster keeps them where every node reads (docs/design.md, Attachments).
      attachments: new Attachments(
        db,
        config.storage.kind === 'postgres'
          ? new PostgresBlobStore(db)
          : new FileBlobStore(config.attachments.dir),
        { ...config.attachments, ttlMs: config.messageTtlMs },
        clock,
      ),
      push,
      vapidKey,
    };
    const app = buildApp(services, {
      adminToken,
      logger: loggerOptions(config.logLevel),
      metrics,
      trustProxy: config.trustProxy,
      ...(config.tls && certificate
        ? { tls: { ...certificate, hstsMaxAgeSeconds: config.tls.hstsMaxAgeSeconds } }
        : {}),
    });
    if (config.web !== 'off') {
      const web = await loadWebApp(config.web.dir);
      if (web) webAppRoutes(app, web);
      else if (config.web.explicit) {
        throw new ConfigError(
          `PARLEY_WEB_DIR has no built web app (no index.html in ${config.web.dir}); run \`npm run build\` or set PARLEY_WEB_DIR=off.`,
        );
      } else app.log.warn('the web app is not built (npm run build); serving the API only');
    }
    push.log = app.log;
    const url = await app.listen({ host: config.host, port: config.port });
    const certificates =
      config.tls && certificate
        ? new CertificateReloader(
            app.server as unknown as TlsServer,
            config.tls.certPath,
            config.tls.keyPath,
            certificate,
          )
        : undefined;
    certificates?.on('reload', (serial) => app.log.info({ serial }, 'TLS certificate reloaded'));
    certificates?.on('rejected', (reason) =>
      app.log.warn({ reason }, 'TLS certificate change not loaded; the previous one stays'),
    );
    // Expired queue entries and link sessions, and deleted accounts' directory removals, go
    // within a minute.
    const sweeper = setInterval(() => {
      mailbox.sweep().catch((err: unknown) => app.log.error({ err }, 'queue sweep failed'));
      directory
        .forgetTombstones()
        .catch((err: unknown) => app.log.error({ err }, 'directory sweep failed'));
      budgets.sweep(db).catch((err: unknown) => app.log.error({ err }, 'budget sweep failed'));
      linking.sweep().catch((err: unknown) => app.log.error({ err }, 'link sweep failed'));
      services.attachments
        .sweep()
        .catch((err: unknown) => app.log.error({ err }, 'attachment sweep failed'));
    }, 60_000);
    sweeper.unref();
    app.log.info({ oprfBackend: pool.backend, oprfWorkers: config.oprfWorkers }, 'OPRF pool ready');
    return {
      app,
      url,
      services,
      metrics,
      certificates,
      async close() {
        clearInterval(sweeper);
        certificates?.stop();
        // First: closing the sockets may take until the shutdown deadline cuts it short.
        inProcess?.save();
        await app.close();
        // Sends handed to the writer by now (sockets and HTTP are closed) are committed.
        await mailbox.idle();
        // Wake-ups not yet out are given up (the devices read their queues when next online).
        await push.stop();
        verification.close();
        await services.directory.close();
        await pool.close();
        await db.destroy();
        await node.leave().catch(() => {});
        await closeBus();
      },
    };
  } catch (error) {
    await pool.close();
    await db.destroy();
    await closeBus();
    throw error;
  }
}

/**
 * The key of the per-number verification limits. Alone, the `limiter-key` file beside the data
 * (the limits are saved across restarts under it). Nodes sharing a Redis must agree on it without
 * storing it there beside the HMACs it keys (a phone number has too few digits to survive a guess
 * of every number): it is derived from the current OPRF key, which every node of a deployment
 * holds.
 */
function limiterKey(
  config: ServerConfig,
  keys: KeyStore,
  currentKeyId: string,
  local: Uint8Array,
): Uint8Array {
  const current = keys.get(currentKeyId);
  if (config.bus.kind !== 'redis' || !current) return local;
  return createHmac('sha256', Buffer.from(current.secret, 'base64'))
    .update('parley verification limiter key')
    .digest();
}
