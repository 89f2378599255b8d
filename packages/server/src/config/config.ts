/**
 * Server configuration, read from the environment once at start and validated: a bad value stops
 * the server with a message naming the variable, what it got and what it accepts.
 */

import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, type Env, integer, oneOf } from './env.js';
import { SMS_SETTINGS, type SmsConfig, smsConfig } from './sms-config.js';

export { ConfigError } from './env.js';

/** Where `npm run build` puts the web app, relative to this file in packages/server/dist/config. */
export const DEFAULT_WEB_DIR = fileURLToPath(
  new URL('../../../../apps/web/dist/', import.meta.url),
);

/** Where accounts, directory and queues live (infra/db/database.ts opens it). */
export type Storage = { kind: 'sqlite'; dataDir: string } | { kind: 'postgres'; url: string };

/** Where the OPRF keys come from: PARLEY_OPRF_KEY_FILE, or PARLEY_OPRF_KEYS (read-only). */
export type KeySource = { kind: 'file'; path: string } | { kind: 'env'; json: string };

export interface ServerConfig {
  host: string;
  port: number;
  dataDir: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  oprfWorkers: number;
  /** Which library does the OPRF group operations: `auto` takes the native addon when built. */
  oprfBackend: 'auto' | 'native' | 'wasm';
  /** The SMS provider of the verification codes and its settings (sms-config.ts). */
  sms: SmsConfig;
  verification: {
    codeTtlMs: number;
    maxAttempts: number;
    /** Codes one number may request per window from one client (an IPv4 address, an IPv6 /64). */
    perNumber: number;
    /**
     * Codes one number may be sent per window whoever asks: the SMS bill's ceiling per number, set
     * far above what one client or network may ask for it (docs/security.md, Registration abuse).
     */
    perNumberTotal: number;
    /** Codes one IP address may request per window. */
    perIp: number;
    /** Completed verifications per window for numbers that share all but their last three digits. */
    perPrefix: number;
    windowMs: number;
  };
  discovery: {
    /** Leaky-bucket capacity: evaluations an account may make at once. */
    budgetCapacity: number;
    /** Evaluations per hour that drain back into the bucket. */
    budgetRefillPerHour: number;
  };
  /** Old OPRF keys stay usable for re-keying (translate) this long after a rotation. */
  keyRetentionMs: number;
  /** Queued messages not delivered by then are deleted. */
  messageTtlMs: number;
  /**
   * The built web app to serve at `/`: the default build location unless PARLEY_WEB_DIR names
   * another; `off` serves none (an API-only node).
   */
  web: { dir: string; explicit: boolean } | 'off';
  /**
   * How long the directory keeps a deleted account's removal (its fingerprint), so clients' filter
   * deltas can remove it; clients that last synced before a forgotten removal fetch a snapshot.
   * 0: forgotten at once (every earlier client fetches a snapshot).
   */
  deletionTombstoneMs: number;
  /** A graceful shutdown (SIGTERM/SIGINT) that takes longer than this is cut short. */
  shutdownTimeoutMs: number;
  /**
   * What nodes share (infra/bus/bus.ts): in this process only, or a Redis that several nodes use, with
   * every key under `prefix`.
   */
  bus: { kind: 'in-process' } | { kind: 'redis'; url: string; prefix: string };
  /**
   * Where accounts, directory and queues live: SQLite under the data directory (one node), or
   * the PostgreSQL of PARLEY_DATABASE_URL (shared by any number of nodes).
   */
  storage: Storage;
  /**
   * The reverse proxies (addresses or CIDR ranges) whose X-Forwarded-For names the client: the
   * per-IP limits count the client's address, not the proxy's. Empty: the peer is the client.
   */
  trustProxy: string[];
  /** The OPRF keys: a file (default `<data>/oprf-keys.json`) or the environment (read-only). */
  oprfKeys: KeySource;
  /**
   * HTTPS served by this process (PARLEY_TLS_CERT, PARLEY_TLS_KEY), reloaded when the files
   * change, with HSTS; undefined: plain HTTP (behind a proxy that terminates TLS).
   */
  tls: TlsConfig | undefined;
  /**
   * Encrypted attachments: the largest one and the bytes one account's not-yet-deleted ones may
   * take; `dir` holds them on SQLite deployments (PostgreSQL ones keep them in the database).
   */
  attachments: { maxBytes: number; quotaBytes: number; dir: string };
  /** Web Push wake-ups for devices with no open socket (push/notifier.ts). */
  push: PushConfig;
}

export interface PushConfig {
  /**
   * The VAPID private key (RFC 8292), base64url, from PARLEY_VAPID_PRIVATE_KEY; absent: the file
   * `<data>/vapid-key`, created at first start. Every node of a cluster needs the same one.
   */
  vapidPrivateKey: string | undefined;
  /** The `sub` of the VAPID JWT: a mailto: or https: URL where push services can reach the operator. */
  contact: string;
  /** At most one wake-up per device per window, until the device connects again. */
  coalesceMs: number;
  /** RFC 8030 §5.2 TTL: how long a push service keeps an undelivered wake-up. */
  ttlSeconds: number;
  /** RFC 8030 §5.3 Urgency. */
  urgency: 'very-low' | 'low' | 'normal' | 'high';
  /** Attempts per wake-up when the push service answers 429 or 5xx (or cannot be reached). */
  attempts: number;
  /** http:// endpoints on a loopback address are accepted (local test push services only). */
  allowHttpLoopback: boolean;
}

const KNOWN = new Set([
  'PARLEY_HOST',
  'PARLEY_PORT',
  'PARLEY_DATA_DIR',
  'PARLEY_LOG_LEVEL',
  'PARLEY_OPRF_WORKERS',
  'PARLEY_OPRF_BACKEND',
  ...SMS_SETTINGS,
  'PARLEY_VERIFICATION_CODE_TTL_SECONDS',
  'PARLEY_VERIFICATION_MAX_ATTEMPTS',
  'PARLEY_VERIFICATION_PER_NUMBER',
  'PARLEY_VERIFICATION_PER_NUMBER_TOTAL',
  'PARLEY_VERIFICATION_PER_IP',
  'PARLEY_VERIFICATION_PER_PREFIX',
  'PARLEY_VERIFICATION_WINDOW_SECONDS',
  'PARLEY_DISCOVERY_BUDGET',
  'PARLEY_DISCOVERY_REFILL_PER_HOUR',
  'PARLEY_KEY_RETENTION_DAYS',
  'PARLEY_MESSAGE_TTL_SECONDS',
  'PARLEY_WEB_DIR',
  'PARLEY_DELETION_TOMBSTONE_HOURS',
  'PARLEY_SHUTDOWN_TIMEOUT_SECONDS',
  'PARLEY_REDIS_URL',
  'PARLEY_REDIS_PREFIX',
  'PARLEY_DATABASE_URL',
  'PARLEY_TRUST_PROXY',
  'PARLEY_OPRF_KEY_FILE',
  'PARLEY_OPRF_KEYS',
  'PARLEY_TLS_CERT',
  'PARLEY_TLS_KEY',
  'PARLEY_HSTS_MAX_AGE_SECONDS',
  // Read by `parley admin backup`, not by the server: an environment file may serve both.
  'PARLEY_BACKUP_PASSPHRASE',
  'PARLEY_BACKUP_PASSPHRASE_FILE',
  'PARLEY_ATTACHMENT_MAX_MB',
  'PARLEY_ATTACHMENT_QUOTA_MB',
  'PARLEY_ATTACHMENT_DIR',
  'PARLEY_VAPID_PRIVATE_KEY',
  'PARLEY_PUSH_CONTACT',
  'PARLEY_PUSH_COALESCE_SECONDS',
  'PARLEY_PUSH_TTL_SECONDS',
  'PARLEY_PUSH_URGENCY',
  'PARLEY_PUSH_ATTEMPTS',
  'PARLEY_PUSH_ALLOW_HTTP_LOOPBACK',
]);

export function loadConfig(env: Env = process.env, cpuCount = 2): ServerConfig {
  // A misspelt variable would silently fall back to a default: name it instead.
  for (const name of Object.keys(env)) {
    if (name.startsWith('PARLEY_') && !KNOWN.has(name) && !name.startsWith('PARLEY_CLI_')) {
      throw new ConfigError(`Unknown setting ${name}; the known ones are listed in README.md.`);
    }
  }
  const dataDir = resolve(env.PARLEY_DATA_DIR || './data');
  const sms = smsConfig(env);
  const host = env.PARLEY_HOST || '127.0.0.1';
  if (!/^[A-Za-z0-9.:-]+$/.test(host)) {
    throw new ConfigError(`PARLEY_HOST must be a host name or IP address (got '${host}').`);
  }
  return {
    host,
    port: integer(env, 'PARLEY_PORT', 8787, 0, 65535),
    dataDir,
    logLevel: oneOf(env, 'PARLEY_LOG_LEVEL', 'info', [
      'fatal',
      'error',
      'warn',
      'info',
      'debug',
      'trace',
      'silent',
    ] as const),
    oprfWorkers: integer(env, 'PARLEY_OPRF_WORKERS', Math.max(1, cpuCount), 1, 64),
    oprfBackend: oneOf(env, 'PARLEY_OPRF_BACKEND', 'auto', ['auto', 'native', 'wasm'] as const),
    sms,
    verification: {
      codeTtlMs: integer(env, 'PARLEY_VERIFICATION_CODE_TTL_SECONDS', 600, 30, 3600) * 1000,
      maxAttempts: integer(env, 'PARLEY_VERIFICATION_MAX_ATTEMPTS', 5, 1, 20),
      perNumber: integer(env, 'PARLEY_VERIFICATION_PER_NUMBER', 3, 1, 1000),
      perNumberTotal: integer(env, 'PARLEY_VERIFICATION_PER_NUMBER_TOTAL', 60, 1, 100_000),
      perIp: integer(env, 'PARLEY_VERIFICATION_PER_IP', 20, 1, 100_000),
      perPrefix: integer(env, 'PARLEY_VERIFICATION_PER_PREFIX', 30, 1, 100_000),
      windowMs: integer(env, 'PARLEY_VERIFICATION_WINDOW_SECONDS', 3600, 1, 86_400) * 1000,
    },
    discovery: {
      budgetCapacity: integer(env, 'PARLEY_DISCOVERY_BUDGET', 2000, 1, 10_000_000),
      budgetRefillPerHour: integer(env, 'PARLEY_DISCOVERY_REFILL_PER_HOUR', 100, 0, 10_000_000),
    },
    keyRetentionMs: integer(env, 'PARLEY_KEY_RETENTION_DAYS', 30, 0, 3650) * 86_400_000,
    messageTtlMs: integer(env, 'PARLEY_MESSAGE_TTL_SECONDS', 30 * 86_400, 1, 365 * 86_400) * 1000,
    web:
      env.PARLEY_WEB_DIR === 'off'
        ? 'off'
        : env.PARLEY_WEB_DIR
          ? { dir: resolve(env.PARLEY_WEB_DIR), explicit: true }
          : { dir: DEFAULT_WEB_DIR, explicit: false },
    deletionTombstoneMs:
      integer(env, 'PARLEY_DELETION_TOMBSTONE_HOURS', 72, 0, 30 * 24) * 3_600_000,
    shutdownTimeoutMs: integer(env, 'PARLEY_SHUTDOWN_TIMEOUT_SECONDS', 10, 1, 600) * 1000,
    bus: busConfig(env),
    storage: storageConfig(env, dataDir),
    trustProxy: trustProxyConfig(env),
    oprfKeys: oprfKeysConfig(env, dataDir),
    attachments: {
      maxBytes: integer(env, 'PARLEY_ATTACHMENT_MAX_MB', 100, 1, 100_000) * MB,
      quotaBytes: integer(env, 'PARLEY_ATTACHMENT_QUOTA_MB', 1024, 1, 10_000_000) * MB,
      dir: env.PARLEY_ATTACHMENT_DIR
        ? resolve(env.PARLEY_ATTACHMENT_DIR)
        : join(dataDir, 'attachments'),
    },
    tls: tlsConfig(env),
    push: pushConfig(env),
  };
}

function pushConfig(env: Env): PushConfig {
  const key = env.PARLEY_VAPID_PRIVATE_KEY || undefined;
  if (key !== undefined && !/^[A-Za-z0-9_-]{43}$/.test(key)) {
    throw new ConfigError(
      'PARLEY_VAPID_PRIVATE_KEY must be a P-256 private key, 32 bytes in base64url (43 characters); leave it unset to keep the key in the file vapid-key of the data directory.',
    );
  }
  const contact = env.PARLEY_PUSH_CONTACT || 'mailto:postmaster@localhost';
  if (!/^(mailto:[^\s@]+@[^\s@]+|https:\/\/\S+)$/.test(contact)) {
    throw new ConfigError(
      `PARLEY_PUSH_CONTACT must be a mailto: address or an https: URL where push services can reach the operator (got '${contact}').`,
    );
  }
  const loopback = env.PARLEY_PUSH_ALLOW_HTTP_LOOPBACK ?? '';
  if (!['', 'true', 'false'].includes(loopback)) {
    throw new ConfigError(
      `PARLEY_PUSH_ALLOW_HTTP_LOOPBACK must be true or false (got '${loopback}').`,
    );
  }
  return {
    vapidPrivateKey: key,
    contact,
    coalesceMs: integer(env, 'PARLEY_PUSH_COALESCE_SECONDS', 30, 1, 3600) * 1000,
    ttlSeconds: integer(env, 'PARLEY_PUSH_TTL_SECONDS', 86_400, 0, 2_419_200),
    urgency: oneOf(env, 'PARLEY_PUSH_URGENCY', 'high', [
      'very-low',
      'low',
      'normal',
      'high',
    ] as const),
    attempts: integer(env, 'PARLEY_PUSH_ATTEMPTS', 5, 1, 20),
    allowHttpLoopback: loopback === 'true',
  };
}

export interface TlsConfig {
  certPath: string;
  keyPath: string;
  /** Strict-Transport-Security max-age; 0 sends none. */
  hstsMaxAgeSeconds: number;
}

function tlsConfig(env: Env): TlsConfig | undefined {
  const cert = env.PARLEY_TLS_CERT;
  const key = env.PARLEY_TLS_KEY;
  if (!cert && !key) {
    if (env.PARLEY_HSTS_MAX_AGE_SECONDS) {
      throw new ConfigError(
        'PARLEY_HSTS_MAX_AGE_SECONDS needs PARLEY_TLS_CERT and PARLEY_TLS_KEY (behind a proxy, the proxy sends HSTS).',
      );
    }
    return undefined;
  }
  if (!cert || !key) {
    throw new ConfigError(
      'PARLEY_TLS_CERT and PARLEY_TLS_KEY go together: the PEM certificate chain and its private key.',
    );
  }
  return {
    certPath: resolve(cert),
    keyPath: resolve(key),
    hstsMaxAgeSeconds: integer(env, 'PARLEY_HSTS_MAX_AGE_SECONDS', 31_536_000, 0, 63_072_000),
  };
}

const MB = 1024 * 1024;

function oprfKeysConfig(env: Env, dataDir: string): KeySource {
  const file = env.PARLEY_OPRF_KEY_FILE;
  const inline = env.PARLEY_OPRF_KEYS;
  if (file && inline) {
    throw new ConfigError('Set PARLEY_OPRF_KEY_FILE or PARLEY_OPRF_KEYS, not both.');
  }
  if (inline) return { kind: 'env', json: inline };
  return { kind: 'file', path: file ? resolve(file) : join(dataDir, 'oprf-keys.json') };
}

function trustProxyConfig(env: Env): string[] {
  const list = (env.PARLEY_TRUST_PROXY ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const entry of list) {
    const [address, bits, extra] = entry.split('/');
    const family = isIP(address ?? '');
    const maxBits = family === 6 ? 128 : 32;
    if (
      family === 0 ||
      extra !== undefined ||
      (bits !== undefined && !(/^\d{1,3}$/.test(bits) && Number(bits) <= maxBits))
    ) {
      throw new ConfigError(
        `PARLEY_TRUST_PROXY must list the proxies' addresses or CIDR ranges, comma-separated, e.g. 127.0.0.1,10.0.0.0/8 (got '${entry}').`,
      );
    }
  }
  return list;
}

function storageConfig(env: Env, dataDir: string): Storage {
  const url = env.PARLEY_DATABASE_URL;
  if (!url) return { kind: 'sqlite', dataDir };
  checkServiceUrl(
    'PARLEY_DATABASE_URL',
    url,
    ['postgres:', 'postgresql:'],
    'postgres://[user[:password]@]host[:port]/database',
    '; leave it unset for the embedded SQLite',
  );
  return { kind: 'postgres', url };
}

/** A service URL with one of `protocols` and a host; the message never shows its password. */
function checkServiceUrl(
  name: string,
  url: string,
  protocols: string[],
  shape: string,
  hint = '',
): void {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {}
  if (!parsed || !protocols.includes(parsed.protocol) || !parsed.hostname) {
    const shown = parsed ? `${parsed.protocol}//${parsed.host}` : 'not a URL';
    throw new ConfigError(`${name} must be ${shape} (got ${shown})${hint}.`);
  }
}

function busConfig(env: Env): ServerConfig['bus'] {
  const url = env.PARLEY_REDIS_URL;
  const prefix = env.PARLEY_REDIS_PREFIX;
  if (!url) {
    if (prefix) throw new ConfigError('PARLEY_REDIS_PREFIX needs PARLEY_REDIS_URL to be set.');
    return { kind: 'in-process' };
  }
  checkServiceUrl(
    'PARLEY_REDIS_URL',
    url,
    ['redis:', 'rediss:'],
    'redis://[user:password@]host[:port][/db] or rediss://…',
  );
  if (prefix !== undefined && !/^[A-Za-z0-9_.:-]{1,64}$/.test(prefix)) {
    throw new ConfigError(
      `PARLEY_REDIS_PREFIX must be 1 to 64 letters, digits or _ . : - (got '${prefix}').`,
    );
  }
  return { kind: 'redis', url, prefix: prefix || 'parley:' };
}
