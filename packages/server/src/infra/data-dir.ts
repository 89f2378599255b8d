/**
 * What a data directory holds, in one place: the SQLite database files and the secret files the
 * server creates beside them (each owner-only, 0600). Backups (infra/backup), the copy a second
 * node needs (docs/operations.md) and the test that a started server leaves nothing unlisted in its
 * data directory (data-dir.test.ts) all read this list, so a new key file is one line here.
 */

import { join } from 'node:path';

export interface SecretFile {
  /** The file's name in the data directory. */
  readonly name: string;
  /** What is lost without it, for docs and messages. */
  readonly holds: string;
  /** Every node of a cluster must hold the same file (copied from the first node). */
  readonly shared: boolean;
}

/**
 * Every secret file of a data directory. A backup packs each one that exists (encrypted, apart
 * from the database: docs/operations.md says why), a restore writes them back 0600.
 */
export const SECRET_FILES: readonly SecretFile[] = Object.freeze([
  {
    name: 'oprf-keys.json',
    holds: 'the OPRF keys: without them nobody in the directory can be found again',
    shared: true,
  },
  {
    name: 'link-key',
    holds: 'the key of contact links, presence allow-lists and budget carry-overs',
    shared: true,
  },
  {
    name: 'directory-signing-key',
    holds: 'the key signing directory statements, which clients pin',
    shared: true,
  },
  { name: 'admin-token', holds: 'the admin token', shared: true },
  {
    name: 'vapid-key',
    holds: 'the VAPID key signing Web Push requests: push services bind subscriptions to it',
    shared: true,
  },
  {
    name: 'limiter-key',
    holds: "the key of a single node's per-number rate limits",
    shared: false,
  },
  {
    name: 'rate-limits.json',
    holds: "a single node's rate limits (bucket keys HMAC'd under limiter-key)",
    shared: false,
  },
]);

/** The files every node of a cluster copies from the first one. */
export const SHARED_SECRET_FILES: readonly string[] = SECRET_FILES.filter((f) => f.shared).map(
  (f) => f.name,
);

/** The embedded database's file in a data directory. */
export function sqlitePath(dataDir: string): string {
  return join(dataDir, SQLITE_FILE);
}

export const SQLITE_FILE = 'parley.sqlite';

/** The database and the files SQLite keeps beside it in WAL mode. */
export const SQLITE_FILES: readonly string[] = [
  SQLITE_FILE,
  `${SQLITE_FILE}-wal`,
  `${SQLITE_FILE}-shm`,
];
