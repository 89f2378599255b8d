/**
 * Backup and restore of a data directory (`parley admin backup|restore`, docs/operations.md).
 *
 * The SQLite database is copied with SQLite's online backup API while the server runs: the copy is
 * made in one step under one read transaction (WAL mode: the server keeps writing meanwhile), so
 * it is the database as of one commit, never half of one. PostgreSQL is backed up with pg_dump.
 * The secret files (data-dir.ts) go into a second file, sealed under a passphrase (backup-file.ts):
 * the database holds only blinded elements and keyed digests, which the keys turn back into who is
 * who, so a copy of both side by side would undo that separation.
 */

import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ParleyError } from '@parley/core';
import SQLite from 'better-sqlite3';
import type { KeySource } from '../../config/config.js';
import { SECRET_FILES, SQLITE_FILE, SQLITE_FILES, sqlitePath } from '../data-dir.js';
import { sqliteMigrations } from '../db/migrations/index.js';
import {
  type DatabaseHeader,
  extractDatabaseBackup,
  type KeyFiles,
  writeDatabaseBackup,
} from './backup-file.js';

/** Where a data directory's secrets are: the directory, and the OPRF key source of its config. */
export interface KeyLocation {
  dataDir: string;
  oprfKeys: KeySource;
}

/**
 * Writes a consistent copy of the SQLite database of `dataDir` to the backup file `out`, while a
 * server may be writing the database. The copy is staged beside `out` (owner-only) and the file
 * appears at `out` only once whole.
 */
export async function backupSqlite(dataDir: string, out: string): Promise<DatabaseHeader> {
  const path = sqlitePath(dataDir);
  if (!existsSync(path)) {
    throw new Error(`There is no database at ${path}; give the server's data directory (--data).`);
  }
  const stem = join(dirname(out), `.${basename(out)}.${randomBytes(6).toString('hex')}`);
  const copy = `${stem}.sqlite`;
  const staged = `${stem}.partial`;
  // Created 0600 before SQLite writes into it: the copy holds everything the database does.
  closeSync(openSync(copy, 'wx', 0o600));
  const source = new SQLite(path, { fileMustExist: true });
  try {
    source.pragma('busy_timeout = 10000');
    // The first step only sizes the copy; the second copies every page at once, under one read
    // lock. Stepping in small batches would restart whenever the server commits in between.
    await source.backup(copy, { progress: () => 0x7fffffff });
    source.close();
    const header = {
      kind: 'sqlite' as const,
      createdAt: new Date().toISOString(),
      schema: settle(copy),
    };
    writeDatabaseBackup(staged, copy, header);
    renameSync(staged, out);
    return { ...header, payloadBytes: statSync(copy).size };
  } finally {
    if (source.open) source.close();
    for (const file of [copy, `${copy}-wal`, `${copy}-shm`, `${copy}-journal`, staged]) {
      rmSync(file, { force: true });
    }
  }
}

/** The secret files that exist, by name; `missing` names those a data directory lacks. */
export function collectKeys(where: KeyLocation): { files: KeyFiles; missing: string[] } {
  const files: KeyFiles = {};
  const missing: string[] = [];
  for (const { name } of SECRET_FILES) {
    const path = keyPath(where, name);
    if (path && existsSync(path)) files[name] = readFileSync(path);
    else missing.push(name);
  }
  return { files, missing };
}

/** Where a secret file lives: the OPRF keys may be elsewhere, or (PARLEY_OPRF_KEYS) in no file. */
function keyPath(where: KeyLocation, name: string): string | undefined {
  if (name !== 'oprf-keys.json') return join(where.dataDir, name);
  return where.oprfKeys.kind === 'file' ? where.oprfKeys.path : undefined;
}

/**
 * Whether a process has the SQLite database of `dataDir` open. A server holds it open in WAL mode
 * for as long as it runs; a connection in exclusive locking mode cannot start a transaction then.
 */
export function databaseInUse(dataDir: string): boolean {
  const path = sqlitePath(dataDir);
  if (!existsSync(path)) return false;
  const probe = new SQLite(path, { fileMustExist: true, timeout: 0 });
  try {
    probe.pragma('locking_mode = EXCLUSIVE');
    probe.exec('begin exclusive; commit');
    return false;
  } catch (error) {
    if (/SQLITE_BUSY|SQLITE_LOCKED/.test((error as { code?: string }).code ?? '')) return true;
    throw error;
  } finally {
    probe.close();
  }
}

export interface RestoreInput {
  dataDir: string;
  /** The database backup file; absent on PostgreSQL (pg_restore brings the database back). */
  database?: string;
  keys: KeyFiles;
  /** Replace what a non-empty directory holds. Never overrides a server having it open. */
  force: boolean;
}

/**
 * Brings a stopped data directory back from backup files: every file is checked before anything
 * is written, the database is checked by SQLite, and each file lands whole (written beside its
 * place, synced, renamed over it).
 */
export function restore(input: RestoreInput): { header?: DatabaseHeader; files: string[] } {
  const { dataDir } = input;
  if (existsSync(dataDir)) {
    if (databaseInUse(dataDir)) throw new ParleyError('RESTORE_TARGET_IN_USE');
    const present = readdirSync(dataDir);
    if (present.length > 0 && !input.force) {
      throw new ParleyError('RESTORE_TARGET_NOT_EMPTY', {
        message: `The data directory ${dataDir} is not empty (${present.slice(0, 5).join(', ')}${present.length > 5 ? ', …' : ''}); restore into a new directory, or add --force to replace what it holds.`,
      });
    }
  }
  // The database is checked whole in a staging directory beside the data directory (the same
  // file system, owner-only) before the data directory is touched.
  let header: DatabaseHeader | undefined;
  const parent = dirname(resolve(dataDir));
  mkdirSync(parent, { recursive: true });
  const staging = mkdtempSync(join(parent, '.parley-restore-'));
  const staged = join(staging, SQLITE_FILE);
  try {
    if (input.database) {
      header = extractDatabaseBackup(input.database, staged);
      if (!(header.schema in sqliteMigrations)) {
        throw new ParleyError('BACKUP_FROM_NEWER_RELEASE', {
          message: `This backup's database is at schema ${header.schema}, which this release does not know (a newer one made it); restore it with that release or a later one.`,
        });
      }
      checkIntegrity(staged);
    }
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    chmodSync(dataDir, 0o700);
    const written: string[] = [];
    if (header) {
      // A -wal or -shm left from the database being replaced would be read as this one's.
      for (const file of SQLITE_FILES) rmSync(join(dataDir, file), { force: true });
      renameSync(staged, sqlitePath(dataDir));
      written.push(SQLITE_FILE);
    }
    for (const [name, data] of Object.entries(input.keys)) {
      if (!SECRET_FILES.some((f) => f.name === name)) continue;
      const landing = join(dataDir, `.${name}.restore`);
      writeWhole(landing, data);
      renameSync(landing, join(dataDir, name));
      written.push(name);
    }
    return { header, files: written };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** Writes `data` to `path`, owner-only, and syncs it to disk. */
export function writeWhole(path: string, data: Buffer): void {
  const fd = openSync(path, 'w', 0o600);
  try {
    let offset = 0;
    while (offset < data.length) offset += writeSync(fd, data, offset);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(path, 0o600);
}

/**
 * The copy made self-contained (rollback journal, so no -wal or -shm file goes with it; the
 * server turns WAL on again when it opens it), and the last migration it has run.
 */
function settle(path: string): string {
  const db = new SQLite(path, { fileMustExist: true });
  try {
    db.pragma('journal_mode = DELETE');
    const row = db.prepare('select max(name) as name from kysely_migration').get() as
      | { name: string | null }
      | undefined;
    return row?.name ?? '';
  } finally {
    db.close();
  }
}

function checkIntegrity(path: string): void {
  const db = new SQLite(path, { fileMustExist: true });
  try {
    const rows = db.pragma('integrity_check') as { integrity_check: string }[];
    if (rows.length !== 1 || rows[0]!.integrity_check !== 'ok') {
      throw new ParleyError('BACKUP_CORRUPT', {
        message: 'The database in this backup fails SQLite’s integrity check; use another copy.',
      });
    }
  } catch (error) {
    if (error instanceof ParleyError) throw error;
    throw new ParleyError('BACKUP_CORRUPT', {
      message: 'The database in this backup cannot be opened by SQLite; use another copy.',
      cause: error,
    });
  } finally {
    db.close();
  }
}
