/**
 * The database, as Kysely sees it. Note what is absent: no phone number in any form. An account is
 * linked to its number only through `element` (k·HashToGroup(number) under the current OPRF key),
 * which reveals nothing without the key (docs/design.md).
 */

import type { Generated } from 'kysely';

export interface AccountsTable {
  id: string;
  /** k·HashToGroup(E.164) under key `key_id`; unique per number. */
  element: Uint8Array;
  key_id: string;
  /** Derived from element (directory-keys.ts); kept to serve the filter and resolve by index. */
  fingerprint: Uint8Array;
  token: Uint8Array;
  discoverable: number;
  created_at: string;
  /** Leaky bucket of discovery evaluations: level at budget_at (ms since epoch). */
  budget_level: number;
  budget_at: number;
}

/**
 * Exists only while a key rotation runs: each account's entry under the new key, by the
 * account's row id (directory.ts).
 */
export interface RotationStageTable {
  account_rowid: number;
  id: string;
  element: Uint8Array;
  fingerprint: Uint8Array;
  token: Uint8Array;
}

export interface DevicesTable {
  id: string;
  account_id: string;
  name: string;
  credential_hash: Uint8Array;
  created_at: string;
}

export interface DirectoryLogTable {
  version: Generated<number>;
  key_id: string;
  fingerprint: Uint8Array;
  op: 'add' | 'remove';
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

export interface Database {
  accounts: AccountsTable;
  devices: DevicesTable;
  directory_log: DirectoryLogTable;
  key_usage: KeyUsageTable;
  meta: MetaTable;
  rotation_stage: RotationStageTable;
}
