/**
 * Migration 0002-staged-rotation: Columns for staging a key rotation beside each account (SQLite
 * only; superseded by 0003 and 0006).
 */

import type { Kysely, Migration } from 'kysely';

export const sqlite: Migration = {
  // A rotation writes each account's entry under the new key here, in small batches while
  // the server keeps serving, and then switches all rows in one statement.
  async up(db: Kysely<unknown>) {
    for (const column of ['next_element', 'next_fingerprint', 'next_token']) {
      await db.schema.alterTable('accounts').addColumn(column, 'blob').execute();
    }
    await db.schema.alterTable('accounts').addColumn('next_key_id', 'text').execute();
  },
};
