/**
 * "Export my data": everything this device and the server hold about the user, as one
 * JSON-serialisable object. What is left out on purpose: the device credential, MLS private keys
 * and group secrets, the discovery cache's OPRF elements and attachments' keys — secrets, not
 * data about the user.
 */

import type { AccountResponse } from '@parley/core';
import type { ImportedContact } from '../contacts/import/contacts-file.js';
import type { DiscoveryExport } from '../discovery/discovery.js';
import type { AttachmentInfo, ChatMessage, Conversation } from '../messaging/model.js';
import type { ConsentGrant } from './consent.js';
import type { PresenceAllowEntry } from './presence-allow-list.js';
import type { UploadRecord } from './transparency-log.js';

export const DATA_EXPORT_FORMAT = 'parley-data-export';

export interface DataExport {
  format: typeof DATA_EXPORT_FORMAT;
  version: 1;
  /** ISO 8601 time of the export. */
  exportedAt: string;
  server: string;
  /** The account as the server holds it (GET /v1/account): settings and devices. */
  account: AccountResponse;
  /** The address-book consent as agreed to, with the disclosure shown; null when not given. */
  consent: ConsentGrant | null;
  contacts: ImportedContact[];
  /** Numbers checked by discovery and whether the filter copy lists them; null before any run. */
  discovery: DiscoveryExport | null;
  transparencyLog: UploadRecord[];
  /**
   * The presence allow-list: the accounts this user lets see them online (presence 'contacts'),
   * which the server keeps as account ids, each with why as this device knows it (the address-book
   * numbers that resolved to it, a conversation this user started or answered).
   */
  presenceAllowList: PresenceAllowEntry[];
  /** This user's profile name (the server holds it sealed); null before one was chosen. */
  profileName: string | null;
  /** The accounts this user blocked from this device. */
  blocked: string[];
  /** Conversations with their message history, oldest message first. */
  conversations: Array<Conversation & { messages: ExportedMessage[] }>;
}

/** A message as exported: an attachment is described (name, type, size), without its key. */
export type ExportedMessage = Omit<ChatMessage, 'attachment'> & {
  attachment?: Omit<AttachmentInfo, 'key'>;
};

export function exportedMessage(m: ChatMessage): ExportedMessage {
  if (!m.attachment) return m;
  const { key: _key, ...described } = m.attachment;
  return { ...m, attachment: described };
}
