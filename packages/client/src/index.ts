export { type ErrorCode, getRetryAfterMs, isRateLimitError, ParleyError } from '@parley/core';
export { ApiClient, type Fetch } from './api.js';
export { type ClientOptions, type ContactResult, ParleyClient, type Session } from './client.js';
export {
  buildDisclosure,
  Consent,
  type ConsentGrant,
  type Disclosure,
  disclosureText,
} from './consent.js';
export { DATA_EXPORT_FORMAT, type DataExport } from './data-export.js';
export type {
  DiscoveredNumber,
  DiscoveryExport,
  DiscoveryProgress,
  DiscoveryReport,
} from './discovery.js';
export {
  type ImportedContact,
  type ImportIssue,
  type ImportResult,
  parseContactsFile,
} from './import/contacts-file.js';
export type { SocketFactory, SocketLike } from './messaging/connection.js';
export {
  type ChatMessage,
  type Conversation,
  KEY_PACKAGE_TARGET,
  type MessageStatus,
  Messenger,
  type MessengerEvents,
} from './messaging/messenger.js';
export { inviteText, smsFallback, smsLink } from './messaging/sms.js';
export { type ClientStore, IndexedDbStore, MemoryStore } from './store.js';
export { UPLOAD_DESCRIPTIONS, type UploadKind, type UploadRecord } from './transparency-log.js';
