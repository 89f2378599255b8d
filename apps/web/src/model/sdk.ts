/**
 * What screens and components use from the SDK, re-exported here so that the model is the only
 * layer that imports @parley/client or @parley/core.
 */

import type { ParleyClient } from '@parley/client';

export {
  type ChatMessage,
  describeSkippedEntry,
  type ImportReport,
  importSummary,
  inviteText,
  type MessageStatus,
  smsLink,
  timerText,
  type UploadRecord,
} from '@parley/client';
export { formatWait, type PresenceVisibility } from '@parley/core';

/** One of the account's devices, as the privacy dashboard lists them. */
export type Device = Awaited<ReturnType<ParleyClient['devices']>>[number];

/** A new device's pending link request: the QR text and typed code it shows, and `wait()`. */
export type PendingLink = Awaited<ReturnType<ParleyClient['startLink']>>;
/** A link request as an existing device shows it before approving (the new device's name, when). */
export type LinkRequest = Awaited<ReturnType<ParleyClient['inspectLink']>>;
/** The safety number shared with a contact: 60 digits in 12 groups, the QR payload, its state. */
export type SafetyNumber = Awaited<ReturnType<ParleyClient['safetyNumber']>>;
