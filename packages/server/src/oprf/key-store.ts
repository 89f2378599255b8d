/**
 * The OPRF keys live in their own file (data/oprf-keys.json, mode 0600), apart from the database:
 * a database dump without this file reveals nobody's number. Which key is current is recorded in
 * the database, in the same transaction that re-keys the accounts, so a crash mid-rotation leaves
 * a consistent pair. Retired keys are kept for a while so clients can re-key their caches.
 */

import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface StoredKey {
  id: string;
  /** The secret scalar, base64. */
  secret: string;
  createdAt: string;
  retiredAt?: string;
}

export class KeyStore {
  readonly path: string;
  private keys: StoredKey[];

  private constructor(path: string, keys: StoredKey[]) {
    this.path = path;
    this.keys = keys;
  }

  static open(dataDir: string): KeyStore {
    const path = join(dataDir, 'oprf-keys.json');
    if (!existsSync(path)) return new KeyStore(path, []);
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, 'utf8'));
    } catch (cause) {
      throw new Error(`The OPRF key file ${path} is not valid JSON; restore it from a backup.`, {
        cause,
      });
    }
    const keys = (parsed as { keys?: unknown }).keys;
    if (!Array.isArray(keys) || !keys.every(isStoredKey)) {
      throw new Error(`The OPRF key file ${path} is malformed; restore it from a backup.`);
    }
    return new KeyStore(path, keys);
  }

  list(): readonly StoredKey[] {
    return this.keys;
  }

  get(id: string): StoredKey | undefined {
    return this.keys.find((k) => k.id === id);
  }

  /** Adds a key and persists the file before anything uses the key. */
  add(secret: Uint8Array): StoredKey {
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
    const stamp = new Date(now).toISOString();
    this.keys = this.keys
      .map((k) => (k.id === currentId || k.retiredAt ? k : { ...k, retiredAt: stamp }))
      .filter((k) => !k.retiredAt || now - Date.parse(k.retiredAt) <= retentionMs);
    this.save();
  }

  private save(): void {
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ keys: this.keys }, null, 2)}\n`, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.path);
  }
}

function isStoredKey(value: unknown): value is StoredKey {
  const k = value as StoredKey;
  return (
    typeof k === 'object' &&
    k !== null &&
    typeof k.id === 'string' &&
    typeof k.secret === 'string' &&
    typeof k.createdAt === 'string' &&
    (k.retiredAt === undefined || typeof k.retiredAt === 'string')
  );
}
