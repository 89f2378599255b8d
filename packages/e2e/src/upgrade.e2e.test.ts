/**
 * `parley admin migrate` on a database an older release left (issue 20): `--dry-run` names the
 * migrations that would run, in order, and changes nothing (the SQLite file keeps its bytes, no
 * file is created for a database that does not exist yet, PostgreSQL keeps its migration rows);
 * without it they run, and a dry run then says the database is up to date. A database migrated by
 * a newer release (a migration this one does not know) is refused, and so is `parley serve` on it.
 */

import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  createPostgresDatabase,
  databaseAt,
  dropPostgresDatabases,
  dumpPostgresDatabase,
  MIGRATION_NAMES,
  POSTGRES_ADMIN_URL,
  postgresReachable,
} from '@parley/server/testing';
import SQLite from 'better-sqlite3';
import { runParley, ServerProcess } from './harness/server-process.js';

const ALL = MIGRATION_NAMES.sqlite;
const LATEST = ALL.at(-1)!;
/** What a database left at 0008 has yet to run (the same list on both dialects since 0006). */
const LATER_SQLITE = ALL.slice(ALL.indexOf('0008-identity') + 1);
const digest = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('parley admin migrate on SQLite', { timeout: 120_000 }, () => {
  it('--dry-run lists what would run and changes nothing; then it runs', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'parley-upgrade-')), 'data');
    await databaseAt({ kind: 'sqlite', dataDir }, '0008-identity');
    const file = join(dataDir, 'parley.sqlite');
    const before = digest(file);
    const listing = readdirSync(dataDir).sort();

    const dry = await runParley(['admin', 'migrate', '--dry-run', '--data', dataDir]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(
      dry.stdout,
      new RegExp(`Would run ${LATER_SQLITE.length} migrations, in this order:`),
    );
    const named = LATER_SQLITE.map((m) => dry.stdout.indexOf(`  ${m}\n`));
    assert.ok(
      named.every((i, k) => i > 0 && (k === 0 || i > named[k - 1]!)),
      `in order:\n${dry.stdout}`,
    );
    const json = await runParley(['admin', 'migrate', '--dry-run', '--json', '--data', dataDir]);
    const plan = JSON.parse(json.stdout) as { applied: string[]; pending: string[]; unknown: [] };
    assert.equal(plan.applied.length, 8);
    assert.deepEqual(plan.pending, LATER_SQLITE);
    assert.deepEqual(plan.unknown, []);
    assert.equal(digest(file), before, 'a dry run leaves the database as it was');
    assert.deepEqual(readdirSync(dataDir).sort(), listing, 'and creates no file');

    const run = await runParley(['admin', 'migrate', '--data', dataDir]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`Ran ${LATER_SQLITE.join(', ')}\\.`));
    const again = await runParley(['admin', 'migrate', '--dry-run', '--data', dataDir]);
    assert.ok(again.stdout.includes(`up to date (${LATEST}); nothing would change`), again.stdout);
  });

  it('--dry-run on a directory without a database lists every migration and creates nothing', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'parley-upgrade-')), 'new');
    const dry = await runParley(['admin', 'migrate', '--dry-run', '--json', '--data', dataDir]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual((JSON.parse(dry.stdout) as { pending: string[] }).pending, ALL);
    assert.ok(!existsSync(dataDir));
  });

  it('a database a newer release migrated is refused, by migrate and by serve', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'parley-upgrade-')), 'data');
    await databaseAt({ kind: 'sqlite', dataDir }, LATEST);
    const db = new SQLite(join(dataDir, 'parley.sqlite'));
    db.prepare('insert into kysely_migration (name, timestamp) values (?, ?)').run(
      '9999-from-the-future',
      new Date().toISOString(),
    );
    db.close();
    const refused = await runParley(['admin', 'migrate', '--dry-run', '--data', dataDir]);
    assert.equal(refused.code, 64);
    assert.match(refused.stderr, /9999-from-the-future.*newer release/);
    await assert.rejects(
      ServerProcess.start({ PARLEY_WEB_DIR: 'off' }, dataDir),
      /9999-from-the-future/,
    );
  });
});

const postgres = await postgresReachable();

describe('parley admin migrate on PostgreSQL', {
  timeout: 120_000,
  skip: postgres || process.env.CI === 'true' ? false : `no PostgreSQL at ${POSTGRES_ADMIN_URL}`,
}, () => {
  after(() => dropPostgresDatabases());

  it('--dry-run lists what would run and changes nothing; then it runs', async () => {
    const url = await createPostgresDatabase();
    await databaseAt({ kind: 'postgres', url }, '0006-directory-table-per-key');
    const env = { PARLEY_DATABASE_URL: url };
    const migrationRows = async () =>
      (await dumpPostgresDatabase(url)).filter((row) => row.startsWith('kysely_migration ')).sort();
    const before = await migrationRows();
    const dry = await runParley(['admin', 'migrate', '--dry-run', '--json'], env);
    assert.equal(dry.code, 0, dry.stderr);
    const plan = JSON.parse(dry.stdout) as { applied: string[]; pending: string[] };
    assert.deepEqual(plan.applied, ['0006-directory-table-per-key']);
    assert.deepEqual(plan.pending, ['0007-budget-carry', '0008-identity', ...LATER_SQLITE]);
    assert.deepEqual(await migrationRows(), before, 'a dry run changes nothing');
    const run = await runParley(['admin', 'migrate'], env);
    assert.equal(run.code, 0, run.stderr);
    assert.equal((await migrationRows()).length, MIGRATION_NAMES.postgres.length);
    const again = await runParley(['admin', 'migrate', '--dry-run'], env);
    assert.match(again.stdout, /up to date/);
  });
});
