/**
 * Versioned schema migrations, one file each, applied in order of name at start-up (Kysely's
 * Migrator). SQLite databases carry their history from the first release; PostgreSQL support came
 * with the schema at 0006, so its list starts there, with the same tables in PostgreSQL's types.
 * A later change gets a file of its own, with its SQL for both dialects, and a line below. The
 * names are the ids recorded in existing databases: never rename one.
 */

import type { Migration } from 'kysely';
import * as m0001 from './0001-directory.js';
import * as m0002 from './0002-staged-rotation.js';
import * as m0003 from './0003-rotation-by-index-rebuild.js';
import * as m0004 from './0004-messaging.js';
import * as m0005 from './0005-account-deletion.js';
import * as m0006 from './0006-directory-table-per-key.js';
import * as m0007 from './0007-budget-carry.js';
import * as m0008 from './0008-identity.js';
import * as m0009 from './0009-presence-allow-list.js';
import * as m0010 from './0010-oprf-rotations.js';
import * as m0011 from './0011-device-queue-seq.js';
import * as m0012 from './0012-attachments.js';
import * as m0013 from './0013-people.js';
import * as m0014 from './0014-push-subscriptions.js';

/** A migration as each dialect runs it; absent where that dialect's history does not have it. */
type PerDialect = { sqlite?: Migration; postgres?: Migration };

const MIGRATIONS: ReadonlyArray<readonly [name: string, migration: PerDialect]> = [
  ['0001-directory', m0001],
  ['0002-staged-rotation', m0002],
  ['0003-rotation-by-index-rebuild', m0003],
  ['0004-messaging', m0004],
  ['0005-account-deletion', m0005],
  ['0006-directory-table-per-key', m0006],
  ['0007-budget-carry', m0007],
  ['0008-identity', m0008],
  ['0009-presence-allow-list', m0009],
  ['0010-oprf-rotations', m0010],
  ['0011-device-queue-seq', m0011],
  ['0012-attachments', m0012],
  ['0013-people', m0013],
  ['0014-push-subscriptions', m0014],
];

function listFor(dialect: keyof PerDialect): Record<string, Migration> {
  const list: Record<string, Migration> = {};
  for (const [name, migration] of MIGRATIONS) {
    const forDialect = migration[dialect];
    if (forDialect) list[name] = forDialect;
  }
  return list;
}

export const sqliteMigrations = listFor('sqlite');
export const postgresMigrations = listFor('postgres');
