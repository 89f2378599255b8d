/**
 * The data of the upgrade tests (infra/db/upgrade.test.ts): one small deployment — accounts,
 * devices, directory entries and log, queues, groups, KeyPackages, links, budgets, rotations —
 * written in the current schema's table and column names. A fixture at an older schema gets the
 * part of it that schema can hold (the columns it has); after migrating to the current schema,
 * each row must be back with every value its old schema held, and with the default of the
 * migration that added a column it did not have.
 *
 * Constant data, no randomness: the fixtures are the same on every run. A migration that adds a
 * table or column adds its value here (the test fails naming it until it does).
 */

import { createHash } from 'node:crypto';
import { FINGERPRINT_BYTES } from '@parley/core';

/** A row: column → value (Buffer for blobs). */
export type Row = Record<string, string | number | Buffer | null>;

export const KEY_ID = '0123456789';

const blob = (byte: number, length = 32) => Buffer.alloc(length, byte);

/** Each device's secret: its credential is `<device id>.<secret>`, the database keeps a hash. */
const secretOf = (i: number) => Buffer.alloc(32, 0x50 + i).toString('base64url');

const ACCOUNTS = [
  { seq: 3, id: 'acct-a', discoverable: 1, presence: 'contacts', lock: 'scrypt$a' },
  { seq: 7, id: 'acct-b', discoverable: 0, presence: 'nobody', lock: null },
  { seq: 12, id: 'acct-c', discoverable: 1, presence: 'contacts', lock: null },
] as const;

const DEVICES = [
  { id: 'device-a1', account: 'acct-a' },
  { id: 'device-a2', account: 'acct-a' },
  { id: 'device-b1', account: 'acct-b' },
  { id: 'device-c1', account: 'acct-c' },
] as const;

/** Queue rows: `id` equals `seq` (before 0011 the queue had only `seq`, which became both). */
const QUEUE = [
  { seq: 4, device: 'device-b1', kind: 'welcome', message: 'm-welcome' },
  { seq: 5, device: 'device-b1', kind: 'application', message: 'm-1' },
  { seq: 6, device: 'device-c1', kind: 'application', message: 'm-1' },
  { seq: 9, device: 'device-b1', kind: 'application', message: 'm-2' },
] as const;

const TOP_SEQ = Math.max(...QUEUE.map((q) => q.seq));

/** Tables in an order that satisfies their foreign keys. */
export const WORLD: Readonly<Record<string, readonly Row[]>> = {
  meta: [
    { name: 'current_key_id', value: KEY_ID },
    { name: 'upgrade_probe', value: 'kept as it was' },
  ],
  accounts: ACCOUNTS.map((a, i) => ({
    seq: a.seq,
    id: a.id,
    discoverable: a.discoverable,
    presence: a.presence,
    created_at: `2026-0${i + 1}-01T00:00:00.000Z`,
    budget_level: 2.5 + i,
    budget_at: 1_700_000_000_000 + i,
    identity_key: blob(0x40 + i),
    registration_lock: a.lock,
    lock_failures: i,
    // The account's directory entry: columns of accounts before 0006, of directory_<key> since.
    element: blob(0x10 + i),
    key_id: KEY_ID,
    fingerprint: blob(0x20 + i, FINGERPRINT_BYTES),
    token: blob(0x30 + i),
  })),
  devices: DEVICES.map((d, i) => ({
    id: d.id,
    account_id: d.account,
    name: `device ${i}`,
    credential_hash: createHash('sha256').update(secretOf(i)).digest(),
    created_at: `2026-02-0${i + 1}T00:00:00.000Z`,
    certificate: i % 2 === 0 ? blob(0x60 + i, 100) : null,
    last_seen_at: 1_700_000_100_000 + i,
  })),
  directory_log: [
    {
      version: 1,
      key_id: KEY_ID,
      fingerprint: blob(0x20, FINGERPRINT_BYTES),
      op: 'add',
      forget_at: null,
    },
    {
      version: 2,
      key_id: KEY_ID,
      fingerprint: blob(0x21, FINGERPRINT_BYTES),
      op: 'add',
      forget_at: null,
    },
    {
      version: 3,
      key_id: KEY_ID,
      fingerprint: blob(0x2f, FINGERPRINT_BYTES),
      op: 'remove',
      forget_at: 1_800_000,
    },
    {
      version: 5,
      key_id: KEY_ID,
      fingerprint: blob(0x22, FINGERPRINT_BYTES),
      op: 'add',
      forget_at: null,
    },
  ],
  key_usage: [
    { account_id: 'acct-a', key_id: KEY_ID, evaluated: 40, translated: 3 },
    { account_id: 'acct-c', key_id: KEY_ID, evaluated: 1, translated: 0 },
  ],
  key_packages: [
    { device_id: 'device-b1', id: 'kp-1', data: blob(0x70, 300), last_resort: 0, created_at: 10 },
    {
      device_id: 'device-b1',
      id: 'kp-last',
      data: blob(0x71, 300),
      last_resort: 1,
      created_at: 11,
    },
  ],
  groups: [{ id: 'group-1', epoch: 2, created_at: 1_700_000_200_000 }],
  group_members: ['device-a1', 'device-a2', 'device-b1', 'device-c1'].map((device) => ({
    group_id: 'group-1',
    device_id: device,
    account_id: DEVICES.find((d) => d.id === device)!.account,
  })),
  queue: QUEUE.map((q) => ({
    id: q.seq,
    device_id: q.device,
    seq: q.seq,
    kind: q.kind,
    message_id: q.message,
    group_id: 'group-1',
    sender_account: 'acct-a',
    sender_device: 'device-a1',
    epoch: 2,
    payload: blob(q.seq, 64),
    key_package_id: q.kind === 'welcome' ? 'kp-1' : null,
    sent_at: 1_700_000_300_000 + q.seq,
    expires_at: 1_900_000_000_000,
  })),
  sent_messages: [
    { sender_device: 'device-a1', message_id: 'm-1', digest: blob(0x80), expires_at: 1_900_000 },
    { sender_device: 'device-a1', message_id: 'm-2', digest: blob(0x81), expires_at: 1_900_001 },
  ],
  contact_links: [{ digest: blob(0x90), created_at: 1_700_000_400_000 }],
  budget_carry: [{ digest: blob(0xa0), level: 12.25, at: 1_700_000_500_000, forget_at: 1_800_000 }],
  link_sessions: [
    {
      id: 'link-1',
      handle: 'handle-1',
      public_key: blob(0xb0),
      device_name: 'new phone',
      credential_hash: blob(0xb1),
      created_at: 1_700_000_600_000,
      expires_at: 1_700_000_900_000,
      account_id: 'acct-a',
      device_id: null,
      envelope: blob(0xb2, 80),
    },
  ],
  presence_allow: [{ digest: blob(0xc0), owner_id: 'acct-a', created_at: 1_700_000_700_000 }],
  oprf_rotations: [
    {
      new_key_id: KEY_ID,
      old_key_id: 'fedcba9876',
      old_public_key: blob(0xd0),
      new_public_key: blob(0xd1),
      rotated_at: 1_700_000_800_000,
      signature: blob(0xd2, 64),
    },
  ],
  // 0011 starts every device's counter at the highest seq the old counter gave.
  queue_heads: DEVICES.map((d) => ({ device_id: d.id, last_seq: TOP_SEQ })),
  // 0012: an upload of two chunks, one arrived, waiting for one recipient device.
  attachments: [
    {
      id: 'AAAAAAAAAAAAAAAAAAAAAA',
      account_id: 'acct-a',
      device_id: 'device-a1',
      group_id: 'group-1',
      size: 1_500_000,
      chunk_bytes: 1_048_576,
      chunk_count: 2,
      recipients: 1,
      completed_at: null,
      created_at: 1_700_001_000_000,
      expires_at: 1_900_001_000_000,
    },
  ],
  attachment_chunks: [{ attachment_id: 'AAAAAAAAAAAAAAAAAAAAAA', idx: 0 }],
  attachment_pending: [{ attachment_id: 'AAAAAAAAAAAAAAAAAAAAAA', device_id: 'device-b1' }],
  // PostgreSQL only (SQLite keeps the bytes in files).
  blob_chunks: [{ blob_id: 'AAAAAAAAAAAAAAAAAAAAAA', idx: 0, data: blob(0xe0, 64) }],
  // 0013: a sealed profile, a block, a report.
  profiles: [
    { account_id: 'acct-a', version: 2, ciphertext: blob(0xe1, 96), updated_at: 1_700_001_100_000 },
  ],
  blocks: [{ digest: blob(0xe2), blocker_id: 'acct-b', created_at: 1_700_001_200_000 }],
  spam_reports: [
    { id: 1, reported_id: 'acct-c', messages: '["buy now"]', created_at: 1_700_001_300_000 },
  ],
  // 0014: a device's Web Push subscription.
  push_subscriptions: [
    {
      device_id: 'device-c1',
      endpoint: 'https://push.example/send/abc',
      p256dh: blob(0x04, 65),
      auth: blob(0xe3, 16),
      created_at: 1_700_001_400_000,
      pushed_at: 0,
    },
  ],
};

/**
 * A value written to another column where the fixture's table lacks the world's: accounts' `seq`
 * was the SQLite row id before 0006, the queue's `id` was its `seq` before 0011.
 */
export const ALIASES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  accounts: { seq: 'rowid' },
  queue: { id: 'seq' },
};

/** The directory entry columns the accounts of WORLD carry (directory_<key> since 0006). */
export const ENTRY_COLUMNS = ['element', 'fingerprint', 'token'] as const;

/** The credential a world device authenticates with (`Authorization: Bearer …`). */
export function credentialOf(deviceId: string): string {
  return `${deviceId}.${secretOf(DEVICES.findIndex((d) => d.id === deviceId))}`;
}

/**
 * The OPRF key file of the world's deployment: the key its directory entries are under (a valid
 * ristretto255 scalar; the entries themselves are placeholders, never evaluated).
 */
export const OPRF_KEY_FILE = `${JSON.stringify({
  keys: [
    {
      id: KEY_ID,
      secret: Buffer.concat([Buffer.alloc(31, 0x11), Buffer.from([0x01])]).toString('base64'),
      createdAt: '2026-01-01T00:00:00.000Z',
    },
  ],
})}\n`;
