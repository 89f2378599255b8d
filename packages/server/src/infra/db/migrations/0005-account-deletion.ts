/**
 * Migration 0005-account-deletion: A deleted account's removal in the directory log is forgotten
 * at forget_at (SQLite only).
 */

import type { Kysely, Migration } from 'kysely';

export const sqlite: Migration = {
  // A deleted account's removal is kept in the log only until forget_at (the history of its
  // fingerprint is deleted with the account); a version floor in meta then sends clients that
  // synced before it to a snapshot.
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('directory_log').addColumn('forget_at', 'integer').execute();
  },
};
