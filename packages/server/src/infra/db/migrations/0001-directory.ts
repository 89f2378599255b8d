/**
 * Migration 0001-directory: The first schema: accounts with their directory entries, devices, the
 * directory log, key usage and meta (SQLite only; PostgreSQL starts at 0006).
 */

import type { Kysely, Migration } from 'kysely';

export const sqlite: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('accounts')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('element', 'blob', (c) => c.notNull().unique())
      .addColumn('key_id', 'text', (c) => c.notNull())
      .addColumn('fingerprint', 'blob', (c) => c.notNull())
      .addColumn('token', 'blob', (c) => c.notNull().unique())
      .addColumn('discoverable', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('budget_level', 'real', (c) => c.notNull().defaultTo(0))
      .addColumn('budget_at', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema
      .createTable('devices')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('account_id', 'text', (c) =>
        c.notNull().references('accounts.id').onDelete('cascade'),
      )
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('credential_hash', 'blob', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('devices_account').on('devices').column('account_id').execute();
    await db.schema
      .createTable('directory_log')
      .addColumn('version', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('key_id', 'text', (c) => c.notNull())
      .addColumn('fingerprint', 'blob', (c) => c.notNull())
      .addColumn('op', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('directory_log_key')
      .on('directory_log')
      .columns(['key_id', 'version'])
      .execute();
    await db.schema
      .createTable('key_usage')
      .addColumn('account_id', 'text', (c) =>
        c.notNull().references('accounts.id').onDelete('cascade'),
      )
      .addColumn('key_id', 'text', (c) => c.notNull())
      .addColumn('evaluated', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('translated', 'integer', (c) => c.notNull().defaultTo(0))
      .addPrimaryKeyConstraint('key_usage_pk', ['account_id', 'key_id'])
      .execute();
    await db.schema
      .createTable('meta')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('value', 'text', (c) => c.notNull())
      .execute();
  },
};
