/**
 * `parley admin backup|restore|migrate`: commands on a data directory and its database directly,
 * not through a running server (docs/operations.md, "Backups" and "Upgrades"). They read the same
 * PARLEY_* settings as `parley serve` (data directory, PARLEY_DATABASE_URL, the OPRF key file), so
 * they find what the server uses.
 */

import { accessSync, constants, existsSync, readFileSync, renameSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ParleyError } from '@parley/core';
import {
  backupSqlite,
  collectKeys,
  databaseInUse,
  loadConfig,
  migrationPlan,
  openDatabase,
  openKeys,
  restore,
  type ServerConfig,
  sealKeys,
  sqlitePath,
  writeWhole,
} from '@parley/server';
import { parse, UsageError } from '../usage.js';
import { readSecret } from './prompt.js';

/** The variables these commands read beyond the server's own, kept from its strict check. */
const PASSPHRASE_VARS = ['PARLEY_BACKUP_PASSPHRASE', 'PARLEY_BACKUP_PASSPHRASE_FILE'];

/** Shorter passphrases are refused: the key backup can be attacked offline. */
const MIN_PASSPHRASE = 12;

export async function maintenanceCommand(
  command: 'backup' | 'restore' | 'migrate',
  args: string[],
): Promise<number> {
  const { values } = parse(args, {
    data: { type: 'string' },
    out: { type: 'string' },
    'keys-out': { type: 'string' },
    from: { type: 'string' },
    keys: { type: 'string' },
    force: { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    json: { type: 'boolean' },
  });
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !PASSPHRASE_VARS.includes(name)),
  );
  if (values.data) env.PARLEY_DATA_DIR = values.data;
  const config = loadConfig(env);
  switch (command) {
    case 'backup':
      return backup(config, values.out, values['keys-out']);
    case 'restore':
      return restoreCommand(config, values.from, values.keys, values.force ?? false);
    case 'migrate':
      return migrate(config, values['dry-run'] ?? false, values.json ?? false);
  }
}

async function backup(
  config: ServerConfig,
  out: string | undefined,
  keysOut: string | undefined,
): Promise<number> {
  if (!keysOut) {
    throw new UsageError(
      '--keys-out FILE is required: the key files go to a file of their own, sealed with a passphrase, kept apart from the database backup',
    );
  }
  const sqlite = config.storage.kind === 'sqlite';
  if (out && !sqlite) throw new ParleyError('BACKUP_NEEDS_PG_DUMP');
  if (!out && sqlite) {
    throw new UsageError('--out FILE is required: where to write the database backup');
  }
  for (const file of [out, keysOut]) {
    if (file && !existsSync(dirname(resolve(file)))) {
      throw new UsageError(`the directory of ${file} does not exist; create it first`);
    }
  }
  if (config.storage.kind === 'sqlite' && !existsSync(sqlitePath(config.storage.dataDir))) {
    throw new UsageError(
      `there is no database in ${config.storage.dataDir}; give the server's data directory with --data or PARLEY_DATA_DIR`,
    );
  }
  if (out && resolve(dirname(out)) === resolve(dirname(keysOut))) {
    process.stderr.write(
      'parley: warning: the database backup and the key backup are in the same directory; store them apart (docs/operations.md, "Backups")\n',
    );
  }
  const { files, missing } = collectKeys(config);
  if (!files['oprf-keys.json']) {
    process.stderr.write(
      config.oprfKeys.kind === 'env'
        ? 'parley: the OPRF keys come from PARLEY_OPRF_KEYS: keep that secret in your secret store, it is not in this backup\n'
        : `parley: warning: no OPRF key file at ${config.oprfKeys.path}; without it nobody is found again after a restore\n`,
    );
  }
  const passphrase = await newPassphrase();
  const sealed = await sealKeys(files, passphrase);
  writeAtomically(keysOut, sealed);
  process.stdout.write(
    `Key files (${Object.keys(files).join(', ')}) sealed into ${keysOut}${missing.length ? `; not present: ${missing.join(', ')}` : ''}\n`,
  );
  if (out && config.storage.kind === 'sqlite') {
    await backupSqlite(config.storage.dataDir, out);
    process.stdout.write(`Database backed up to ${out}\n`);
  }
  return 0;
}

async function restoreCommand(
  config: ServerConfig,
  from: string | undefined,
  keysFile: string | undefined,
  force: boolean,
): Promise<number> {
  if (!keysFile) throw new UsageError('--keys FILE is required: the key backup');
  const sqlite = config.storage.kind === 'sqlite';
  if (from && !sqlite) throw new ParleyError('BACKUP_NEEDS_PG_DUMP');
  if (!from && sqlite) throw new UsageError('--from FILE is required: the database backup');
  if (from) readable(from);
  // Before the passphrase is asked: a running server's directory is refused whatever it is.
  if (databaseInUse(config.dataDir)) throw new ParleyError('RESTORE_TARGET_IN_USE');
  const keys = await openKeys(read(keysFile), await passphraseGiven());
  const result = restore({ dataDir: config.dataDir, database: from, keys, force });
  process.stdout.write(
    `Restored ${result.files.join(', ')} into ${config.dataDir}${result.header ? ` (database backed up ${result.header.createdAt}, schema ${result.header.schema})` : ''}\n`,
  );
  if (
    config.oprfKeys.kind === 'file' &&
    config.oprfKeys.path !== join(config.dataDir, 'oprf-keys.json')
  ) {
    process.stdout.write(
      `The OPRF keys were written to ${join(config.dataDir, 'oprf-keys.json')}; move them to ${config.oprfKeys.path} (PARLEY_OPRF_KEY_FILE) before starting the server.\n`,
    );
  }
  return 0;
}

async function migrate(config: ServerConfig, dryRun: boolean, json: boolean): Promise<number> {
  const before = await migrationPlan(config.storage);
  if (before.unknown.length > 0) {
    throw new UsageError(
      `the database has migrations this version does not know (${before.unknown.join(', ')}): a newer release migrated it; run that release`,
    );
  }
  if (dryRun) {
    if (json) process.stdout.write(`${JSON.stringify(before)}\n`);
    else {
      process.stdout.write(
        before.pending.length === 0
          ? `The database is up to date (${before.applied.at(-1) ?? 'no migration'}); nothing would change.\n`
          : `Would run ${before.pending.length} migration${before.pending.length === 1 ? '' : 's'}, in this order:\n${before.pending.map((m) => `  ${m}\n`).join('')}(applied already: ${before.applied.length}; nothing was changed)\n`,
      );
    }
    return 0;
  }
  const db = await openDatabase(config.storage);
  await db.destroy();
  if (json) process.stdout.write(`${JSON.stringify({ ran: before.pending })}\n`);
  else {
    process.stdout.write(
      before.pending.length === 0
        ? 'The database was up to date.\n'
        : `Ran ${before.pending.join(', ')}.\n`,
    );
  }
  return 0;
}

function readable(path: string): void {
  try {
    accessSync(path, constants.R_OK);
  } catch (error) {
    throw new UsageError(`cannot read ${path}: ${(error as Error).message}`);
  }
}

function read(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new UsageError(`cannot read ${path}: ${(error as Error).message}`);
  }
}

/** Writes beside the target and renames, so a failed backup never leaves half a file there. */
function writeAtomically(path: string, data: Buffer): void {
  const staged = `${path}.partial`;
  writeWhole(staged, data);
  renameSync(staged, path);
}

/**
 * The passphrase: from the file PARLEY_BACKUP_PASSPHRASE_FILE names, else PARLEY_BACKUP_PASSPHRASE,
 * else asked at the terminal. Never an argument: it would sit in the shell's history and in `ps`.
 */
async function passphraseGiven(confirm = false): Promise<string> {
  const file = process.env.PARLEY_BACKUP_PASSPHRASE_FILE;
  if (file) {
    if (!existsSync(file)) throw new UsageError(`PARLEY_BACKUP_PASSPHRASE_FILE: no file ${file}`);
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  }
  const inline = process.env.PARLEY_BACKUP_PASSPHRASE;
  if (inline) return inline;
  if (!process.stdin.isTTY) {
    throw new UsageError(
      'no passphrase: set PARLEY_BACKUP_PASSPHRASE_FILE (a file holding it) or PARLEY_BACKUP_PASSPHRASE, or run at a terminal to be asked',
    );
  }
  const first = await readSecret('Backup passphrase: ');
  if (confirm && (await readSecret('The same passphrase again: ')) !== first) {
    throw new UsageError('the two passphrases differ');
  }
  return first;
}

async function newPassphrase(): Promise<string> {
  const passphrase = await passphraseGiven(true);
  if ([...passphrase].length < MIN_PASSPHRASE) {
    throw new UsageError(
      `the backup passphrase must be at least ${MIN_PASSPHRASE} characters (the key backup can be attacked offline)`,
    );
  }
  return passphrase;
}
