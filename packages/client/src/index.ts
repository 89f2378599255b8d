/**
 * The Parley SDK for browsers and Node: `ParleyClient` (registration, consent, contacts,
 * discovery, the transparency log) and its `Messenger`. Node adds a file store and a WebSocket
 * ('@parley/client/node'); tests get a fake server ('@parley/client/testing').
 */

export { type ErrorCode, getRetryAfterMs, isRateLimitError, ParleyError } from '@parley/core';
export { type ClientOptions, type ContactResult, ParleyClient, type Session } from './client.js';
export {
  describeSkippedEntry,
  type ImportedContact,
  type ImportIssue,
  type ImportReport,
  type ImportResult,
  importSummary,
  parseContactsFile,
  type SkippedEntry,
} from './contacts/import/contacts-file.js';
export { inviteText, smsFallback, smsLink } from './contacts/sms.js';
export type {
  DiscoveredNumber,
  DiscoveryExport,
  DiscoveryProgress,
  DiscoveryReport,
} from './discovery/discovery.js';
export {
  type AttachmentInfo,
  type ChatMessage,
  type Conversation,
  describeNotice,
  KEY_PACKAGE_TARGET,
  type MembershipChange,
  type MembershipNotice,
  type MessageKind,
  type MessageStatus,
  Messenger,
  type MessengerEvents,
  type Progress,
  type SendFileOptions,
  timerText,
} from './messaging/messenger.js';
export {
  type SecurityWarning,
  type SecurityWarningCode,
  securityWarningText,
} from './messaging/warnings.js';
export {
  buildDisclosure,
  Consent,
  type ConsentGrant,
  type Disclosure,
  disclosureText,
  KEPT,
} from './privacy/consent.js';
export { DATA_EXPORT_FORMAT, type DataExport } from './privacy/data-export.js';
export {
  UPLOAD_DESCRIPTIONS,
  type UploadKind,
  type UploadRecord,
} from './privacy/transparency-log.js';
export { type ClientStore, IndexedDbStore, MemoryStore } from './store/store.js';
export { ApiClient, type Fetch } from './transport/api.js';
export type { SocketFactory, SocketLike } from './transport/connection.js';
