/**
 * Migration 0004-messaging: Messaging: KeyPackages, groups, device queues, sent-message ids and
 * contact links (SQLite only).
 */

import type { Kysely, Migration } from 'kysely';

export const sqlite: Migration = {
  // Messaging: KeyPackages, groups and one durable queue per device. A queue row is deleted when
  // its device acknowledges it; `sent_messages` remembers message ids so a retried send is not
  // stored twice. Contact links are keyed digests, so a database dump shows no social graph.
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable('accounts')
      .addColumn('presence', 'text', (c) => c.notNull().defaultTo('nobody'))
      .execute();
    await db.schema
      .createTable('key_packages')
      .addColumn('device_id', 'text', (c) =>
        c.notNull().references('devices.id').onDelete('cascade'),
      )
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('data', 'blob', (c) => c.notNull())
      .addColumn('last_resort', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('key_packages_pk', ['device_id', 'id'])
      .execute();
    await db.schema
      .createTable('groups')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('epoch', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'integer', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('group_members')
      .addColumn('group_id', 'text', (c) => c.notNull().references('groups.id').onDelete('cascade'))
      .addColumn('device_id', 'text', (c) =>
        c.notNull().references('devices.id').onDelete('cascade'),
      )
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('group_members_pk', ['group_id', 'device_id'])
      .execute();
    await db.schema
      .createIndex('group_members_device')
      .on('group_members')
      .column('device_id')
      .execute();
    await db.schema
      .createTable('queue')
      .addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('device_id', 'text', (c) =>
        c.notNull().references('devices.id').onDelete('cascade'),
      )
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('message_id', 'text', (c) => c.notNull())
      .addColumn('group_id', 'text', (c) => c.notNull())
      .addColumn('sender_account', 'text', (c) => c.notNull())
      .addColumn('sender_device', 'text', (c) => c.notNull())
      .addColumn('epoch', 'integer', (c) => c.notNull())
      .addColumn('payload', 'blob')
      .addColumn('key_package_id', 'text')
      .addColumn('sent_at', 'integer', (c) => c.notNull())
      .addColumn('expires_at', 'integer', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('queue_device').on('queue').columns(['device_id', 'seq']).execute();
    // No index on expires_at: every insert and delete would pay for it, and expired entries
    // are a prefix of the table in seq order (Mailbox.sweep).
    await db.schema
      .createTable('sent_messages')
      .addColumn('sender_device', 'text', (c) => c.notNull())
      .addColumn('message_id', 'text', (c) => c.notNull())
      .addColumn('digest', 'blob', (c) => c.notNull())
      .addColumn('expires_at', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('sent_messages_pk', ['sender_device', 'message_id'])
      .execute();
    await db.schema
      .createIndex('sent_messages_expiry')
      .on('sent_messages')
      .column('expires_at')
      .execute();
    await db.schema
      .createTable('contact_links')
      .addColumn('digest', 'blob', (c) => c.primaryKey())
      .addColumn('created_at', 'integer', (c) => c.notNull())
      .execute();
  },
};
