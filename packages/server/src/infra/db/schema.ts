/**
 * The database, as Kysely sees it. Note what is absent: no phone number in any form. An account is
 * linked to its number only through its directory entry's `element` (k·HashToGroup(number) under
 * an OPRF key), which reveals nothing without the key (docs/design.md).
 */

import { type ColumnType, type Generated, type RawBuilder, sql } from 'kysely';
import { columnTypes, type Dialect } from './dialect.js';

export interface AccountsTable {
  /** Never reused (AUTOINCREMENT): the accounts' order, and the key of their directory entries. */
  seq: Generated<number>;
  id: string;
  discoverable: number;
  /** Who may see this account online: 'nobody' or 'contacts' (those with a contact link). */
  presence: ColumnType<'nobody' | 'contacts', 'nobody' | 'contacts' | undefined>;
  created_at: string;
  /** Leaky bucket of discovery evaluations: level at budget_at (ms since epoch). */
  budget_level: number;
  budget_at: number;
  /** The account's Ed25519 identity public key; null for accounts made before identity keys. */
  identity_key: ColumnType<Uint8Array | null, Uint8Array | null | undefined, Uint8Array | null>;
  /** The registration lock's scrypt verifier (never the PIN); null when the lock is off. */
  registration_lock: ColumnType<string | null, string | null | undefined, string | null>;
  /** Wrong PINs since the lock was set or last passed. */
  lock_failures: ColumnType<number, number | undefined, number>;
}

/**
 * One OPRF key's directory entries, in a table of their own per key: `directory_<key id>`
 * (directoryTableName, below). `directory_entries` is no real table: it is the type
 * Kysely sees for any of them (Directory.entries names the actual one).
 */
export interface DirectoryEntriesTable {
  /** The account's seq. */
  account_seq: number;
  /** k·HashToGroup(E.164) under this table's key; unique per number, as its token is. */
  element: Uint8Array;
  /** Derived from element (directory-keys.ts); kept to serve the filter and resolve by index. */
  fingerprint: Uint8Array;
  token: Uint8Array;
}

export interface DevicesTable {
  id: string;
  account_id: string;
  name: string;
  credential_hash: Uint8Array;
  created_at: string;
  /** Its device certificate (identity.ts in core), once sent; it never changes after. */
  certificate: ColumnType<Uint8Array | null, Uint8Array | null | undefined, Uint8Array | null>;
  /** When it last authenticated (ms since epoch), refreshed at most once an hour. */
  last_seen_at: ColumnType<number, number | undefined, number>;
}

/**
 * A pending link of a new device (identity/linking.ts): what the new device sent, then what the
 * approving device answered, until the new device collects it or it expires.
 */
export interface LinkSessionsTable {
  /** The new device's polling handle (16 random bytes, base64url). */
  id: string;
  /** The typed code's lookup part: 8 Crockford base32 characters. */
  handle: string;
  public_key: Uint8Array;
  device_name: string;
  credential_hash: Uint8Array;
  created_at: number;
  expires_at: number;
  /** Set on approval: the device created for it, and the envelope for the new device. */
  account_id: string | null;
  device_id: string | null;
  envelope: Uint8Array | null;
}

export interface DirectoryLogTable {
  version: Generated<number>;
  key_id: string;
  fingerprint: Uint8Array;
  op: 'add' | 'remove';
  /** Set on a deleted account's removal: when the directory forgets it (ms since epoch). */
  forget_at: ColumnType<number | null, number | null | undefined, number | null>;
}

export interface KeyUsageTable {
  account_id: string;
  key_id: string;
  /** Elements evaluated (paid for) or translated into this key. */
  evaluated: number;
  /** Elements translated out of this key into a newer one. */
  translated: number;
}

export interface MetaTable {
  name: string;
  value: string;
}

export interface KeyPackagesTable {
  device_id: string;
  /** Chosen by the device, so a Welcome can name the KeyPackage it was made for. */
  id: string;
  data: Uint8Array;
  last_resort: number;
  created_at: number;
}

export interface GroupsTable {
  id: string;
  /** The MLS epoch the next Commit must be made in; the first Commit for it wins. */
  epoch: number;
  created_at: number;
}

export interface GroupMembersTable {
  group_id: string;
  device_id: string;
  account_id: string;
}

export type QueueKind = 'application' | 'commit' | 'welcome' | 'receipt' | 'leave' | 'removed';

/** Per device, the last seq given out in its queue; its row lock orders the queue's writers. */
export interface QueueHeadsTable {
  device_id: string;
  last_seq: number;
}

export interface QueueTable {
  /** The cluster-wide order rows were written in (the expiry sweep walks it); never sent. */
  id: Generated<number>;
  device_id: string;
  /** The entry's place in its device's queue: what the device sees and acknowledges. */
  seq: number;
  kind: QueueKind;
  message_id: string;
  group_id: string;
  sender_account: string;
  sender_device: string;
  epoch: number;
  /** The MLS message as sent (ciphertext); null for receipts. */
  payload: Uint8Array | null;
  key_package_id: string | null;
  sent_at: number;
  expires_at: number;
}

export interface SentMessagesTable {
  sender_device: string;
  message_id: string;
  /** SHA-256 of the payload: the same id with other content is refused, not deduplicated. */
  digest: Uint8Array;
  expires_at: number;
}

export interface ContactLinksTable {
  /** HMAC(link key, viewer account ‖ subject account): the viewer resolved the subject's number. */
  digest: Uint8Array;
  created_at: number;
}

/** One account the owner lets see it online (discovery/presence-allow-list.ts). */
export interface PresenceAllowTable {
  /** HMAC(link key, "presence" ‖ owner ‖ member). */
  digest: Uint8Array;
  owner_id: string;
  created_at: number;
}

/** A deleted account's discovery budget, until it drains (discovery/budget-carry.ts). */
export interface BudgetCarryTable {
  digest: Uint8Array;
  level: number;
  at: number;
  forget_at: number;
}

/** The old OPRF key's signed statement naming the next key (directory/rotation.ts). */
export interface OprfRotationsTable {
  new_key_id: string;
  old_key_id: string;
  old_public_key: Uint8Array;
  new_public_key: Uint8Array;
  /** Milliseconds since 1970 (PostgreSQL's bigint arrives as a string: read with Number). */
  rotated_at: number;
  /** Z ‖ proof, core rotation-statement.ts. */
  signature: Uint8Array;
}

/** An encrypted attachment's upload (messaging/attachments.ts); its bytes are in the blob store. */
export interface AttachmentsTable {
  id: string;
  /** The uploader: its account's quota counts the size until the attachment is deleted. */
  account_id: string;
  device_id: string;
  /** The conversation whose member devices may fetch it. */
  group_id: string;
  size: number;
  chunk_bytes: number;
  chunk_count: number;
  /** Recipient devices named at completion (0: kept until it expires). */
  recipients: ColumnType<number, number | undefined, number>;
  completed_at: number | null;
  created_at: number;
  expires_at: number;
}

export interface AttachmentChunksTable {
  attachment_id: string;
  idx: number;
}

export interface AttachmentPendingTable {
  attachment_id: string;
  device_id: string;
}

/** PostgreSQL only: the blob store's bytes (infra/blobs/postgres-store.ts). */
export interface BlobChunksTable {
  blob_id: string;
  idx: number;
  data: Uint8Array;
}

/** An account's profile, sealed by its owner (core profile.ts); the server cannot open it. */
export interface ProfilesTable {
  account_id: string;
  version: number;
  ciphertext: Uint8Array;
  updated_at: number;
}

export interface BlocksTable {
  /** HMAC(link key, "block" ‖ blocker ‖ blocked). */
  digest: Uint8Array;
  blocker_id: string;
  created_at: number;
}

export interface SpamReportsTable {
  id: Generated<number>;
  reported_id: string;
  /** JSON array of texts, only when the reporter attached them. */
  messages: string | null;
  created_at: number;
}

/** A device's Web Push subscription (push/subscriptions.ts). */
export interface PushSubscriptionsTable {
  device_id: string;
  /** The push service's URL for this subscription (RFC 8030 §5). */
  endpoint: string;
  /** The device's P-256 public key, 65 bytes uncompressed (RFC 8291 §3.2). */
  p256dh: Uint8Array;
  /** Its 16-byte authentication secret. */
  auth: Uint8Array;
  created_at: number;
  /** When the last wake-up was claimed (milliseconds since 1970); 0 since the device connected. */
  pushed_at: number;
}

export interface Database {
  attachments: AttachmentsTable;
  attachment_chunks: AttachmentChunksTable;
  attachment_pending: AttachmentPendingTable;
  blob_chunks: BlobChunksTable;
  budget_carry: BudgetCarryTable;
  accounts: AccountsTable;
  devices: DevicesTable;
  directory_log: DirectoryLogTable;
  key_usage: KeyUsageTable;
  meta: MetaTable;
  directory_entries: DirectoryEntriesTable;
  key_packages: KeyPackagesTable;
  groups: GroupsTable;
  group_members: GroupMembersTable;
  queue: QueueTable;
  queue_heads: QueueHeadsTable;
  sent_messages: SentMessagesTable;
  contact_links: ContactLinksTable;
  presence_allow: PresenceAllowTable;
  link_sessions: LinkSessionsTable;
  oprf_rotations: OprfRotationsTable;
  profiles: ProfilesTable;
  blocks: BlocksTable;
  spam_reports: SpamReportsTable;
  push_subscriptions: PushSubscriptionsTable;
}

/** The table holding key `keyId`'s directory entries (key ids are 10 lowercase hex digits). */
export function directoryTableName(keyId: string): string {
  if (!/^[0-9a-f]{10}$/.test(keyId)) throw new Error(`not an OPRF key id: ${keyId}`);
  return `directory_${keyId}`;
}

/**
 * The columns of a key's directory table: one entry per account, by the account's seq (so a
 * rotation reads and appends in one order); deleting an account deletes its entries.
 */
export function directoryColumns(dialect: Dialect): RawBuilder<unknown> {
  const { int, blob } = columnTypes(dialect);
  return sql`
  account_seq ${int} primary key references accounts (seq) on delete cascade,
  element ${blob} not null,
  fingerprint ${blob} not null,
  token ${blob} not null`;
}
