/**
 * The OPRF keys live in their own file (data/oprf-keys.json, mode 0600, or PARLEY_OPRF_KEY_FILE),
 * apart from the database: a database dump without this file reveals nobody's number. Which key is
 * current is recorded in the database, in the same transaction that re-keys the accounts, so a
 * crash mid-rotation leaves a consistent pair. Retired keys are kept for a while so clients can
 * re-key their caches. The keys may instead come from the environment (PARLEY_OPRF_KEYS, the
 * file's JSON, e.g. from a secret store): then the server cannot change them, and rotating is
 * refused. A key file that others can read stops the start. No message ever quotes a secret.
 */

import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { ParleyError } from '@parley/core';
import { ConfigError, type KeySource } from '../../config/config.js';

export interface StoredKey {
  id: string;
  /** The secret scalar, base64. */
  secret: string;
  createdAt: string;
  retiredAt?: string;
}

export class KeyStore {
  /** Where the keys are, for messages: the file's path, or the variable's name. */
  readonly path: string;
  private keys: StoredKey[];

  private constructor(
    path: string,
    keys: StoredKey[],
    /** Keys from the environment: the server cannot add or retire any. */
    readonly readOnly: boolean,
  ) {
    this.path = path;
    this.keys = keys;
  }

  static open(source: KeySource): KeyStore {
    if (source.kind === 'env') {
      const keys = parseKeys(source.json, 'PARLEY_OPRF_KEYS');
      if (keys.length === 0) {
        throw new ConfigError('PARLEY_OPRF_KEYS holds no key; give at least one, or unset it.');
      }
      return new KeyStore('PARLEY_OPRF_KEYS', keys, true);
    }
    const { path } = source;
    if (!existsSync(path)) return new KeyStore(path, [], false);
    // Readable by its owner only: the keys are what keeps every number in the database secret.
    const mode = statSync(path).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      throw new ConfigError(
        `The OPRF key file ${path} can be read or written by others (mode ${mode.toString(8).padStart(4, '0')}); make it readable by the server's user only: chmod 600 ${path}`,
      );
    }
    return new KeyStore(
      path,
      parseKeys(readFileSync(path, 'utf8'), `The OPRF key file ${path}`),
      false,
    );
  }

  list(): readonly StoredKey[] {
    return this.keys;
  }

  get(id: string): StoredKey | undefined {
    return this.keys.find((k) => k.id === id);
  }

  /** Adds a key and persists the file before anything uses the key. */
  add(secret: Uint8Array): StoredKey {
    this.requireWritable();
    const key: StoredKey = {
      id: randomBytes(5).toString('hex'),
      secret: Buffer.from(secret).toString('base64'),
      createdAt: new Date().toISOString(),
    };
    this.keys = [...this.keys, key];
    this.save();
    return key;
  }

  /** Marks every key but `currentId` retired and forgets retired keys older than `retentionMs`. */
  retireAllBut(currentId: string, retentionMs: number, now = Date.now()): void {
    this.requireWritable();
    const stamp = new Date(now).toISOString();
    this.keys = this.keys
      .map((k) => (k.id === currentId || k.retiredAt ? k : { ...k, retiredAt: stamp }))
      .filter((k) => !k.retiredAt || now - Date.parse(k.retiredAt) <= retentionMs);
    this.save();
  }

  private requireWritable(): void {
    if (this.readOnly) throw new ParleyError('KEY_STORE_READ_ONLY');
  }

  private save(): void {
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ keys: this.keys }, null, 2)}\n`, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.path);
  }
}

/** The keys of a key file's JSON; errors name `where`, never the content. */
function parseKeys(text: string, where: string): StoredKey[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ConfigError(
      `${where} is not valid JSON ({"keys": [...]}); restore it from a backup.`,
    );
  }
  const keys = (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || !keys.every(isStoredKey)) {
    throw new ConfigError(
      `${where} is malformed: expected {"keys": [{"id": 10 hex digits, "secret": 32 bytes in base64, "createdAt"}, ...]}; restore it from a backup.`,
    );
  }
  return keys;
}

function isStoredKey(value: unknown): value is StoredKey {
  const k = value as StoredKey;
  return (
    typeof k === 'object' &&
    k !== null &&
    typeof k.id === 'string' &&
    // Key ids name tables (directory_<id>); secrets are 32-byte scalars.
    /^[0-9a-f]{10}$/.test(k.id) &&
    typeof k.secret === 'string' &&
    /^[A-Za-z0-9+/]{43}=$/.test(k.secret) &&
    typeof k.createdAt === 'string' &&
    (k.retiredAt === undefined || typeof k.retiredAt === 'string')
  );
}
