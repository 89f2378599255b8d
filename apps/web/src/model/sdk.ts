/**
 * What screens and components use from the SDK, re-exported here so that the model is the only
 * layer that imports @parley/client or @parley/core.
 */

import type { ParleyClient } from '@parley/client';

export {
  type ChatMessage,
  inviteText,
  type MessageStatus,
  smsLink,
  type UploadRecord,
} from '@parley/client';
export type { PresenceVisibility } from '@parley/core';

/** One of the account's devices, as the privacy dashboard lists them. */
export type Device = Awaited<ReturnType<ParleyClient['devices']>>[number];
