/**
 * What the messenger holds and shows — messages, conversations and the events it emits — and the
 * two narrow interfaces its pieces are given instead of the messenger itself: `MessengerEventSink`
 * (emit and wait for events) and `Wire` (the device's connection, whichever is current).
 */

import { type ClientFrame, type DeviceRef, ParleyError, toBase64Url } from '@parley/core';
import type { SecurityWarning } from './warnings.js';

export type MessageStatus = 'sending' | 'stored' | 'delivered' | 'read' | 'failed' | 'received';

/**
 * What a history entry is: a text; a notice of a membership change (from an MLS Commit, or the
 * Welcome that added this device); or a message of a kind this version cannot show (a newer
 * envelope type or version, or unreadable content), kept as a placeholder.
 */
export type MessageKind = 'text' | 'notice' | 'unsupported';

export type MembershipChange =
  | 'added'
  | 'removed'
  | 'left'
  | 'device-added'
  | 'device-removed'
  /** Not a change of members: the account's identity key changed (its `by` names it). */
  | 'identity-changed';

/**
 * A membership change as MLS says it happened: `by` is the member whose Commit (or, for the
 * Welcome that added this device, whose GroupInfo signature) made it. 'left' is a removal of an
 * account that had announced its leave in MLS; 'device-…' changes keep the account in.
 */
export interface MembershipNotice {
  change: MembershipChange;
  by: DeviceRef;
  accounts: string[];
  devices: DeviceRef[];
}

export interface ChatMessage {
  id: string;
  conversationId: string;
  /** The sender as MLS authenticates it (for a notice: the committer). */
  from: DeviceRef;
  /** Histories stored before kinds existed read as 'text'. */
  kind: MessageKind;
  /** The text of a 'text' message; '' for the other kinds. */
  text: string;
  /** For 'notice'. */
  notice?: MembershipNotice;
  /** For 'unsupported': the envelope type it carried ('' when unreadable). */
  contentType?: string;
  sentAt: string;
  status: MessageStatus;
  /** Accounts whose device received it (sender side). */
  deliveredTo: string[];
  readBy: string[];
}

export interface Conversation {
  id: string;
  members: DeviceRef[];
  epoch: number;
  createdAt: string;
  /** False once this device was removed from the group. */
  active: boolean;
  /**
   * A message request: the account (not in this user's contacts) that started it, until the
   * user accepts it (or answers in it). Until then that account gets no read receipt, no typing
   * and no presence, and not this user's profile.
   */
  request?: string;
}

export interface MessengerEvents extends Record<string, unknown> {
  message: ChatMessage;
  status: ChatMessage;
  conversation: Conversation;
  typing: { conversationId: string; from: DeviceRef };
  /** Something the server claimed that MLS does not back; the claim was ignored. */
  warning: SecurityWarning;
  /**
   * A contact's identity key changed (a notice is in each conversation with them); `blocked`
   * when they were verified: sending to them waits until the user accepts the new key.
   */
  identity: { accountId: string; change: 'changed'; blocked: boolean };
  /** A device was linked to this account (its certificate checked against the identity key). */
  'device-linked': { deviceId: string; name: string; createdAt: string };
  presence: { accountId: string; online: boolean };
  /** A profile name was read (the account shared its profile key in a conversation). */
  profile: { accountId: string; name: string };
  connected: undefined;
  disconnected: undefined;
  error: ParleyError;
}

/** A conversation as stored: the public view and the encoded MLS group state. */
export interface StoredConversation extends Conversation {
  state: string;
  /**
   * Departures announced in MLS and not yet committed: account ids (a `leave` envelope from the
   * account) and device ids (named by a `device-removed` envelope of their account).
   */
  departures?: string[];
  /** Ids of the latest applied messages that leave no history entry (leave intents, say). */
  handled?: string[];
}

/** How the pieces tell the messenger's listeners, and wait for what they are told. */
export interface MessengerEventSink {
  emit<K extends keyof MessengerEvents>(event: K, value: MessengerEvents[K]): void;
  next<K extends keyof MessengerEvents>(
    event: K,
    test: (value: MessengerEvents[K]) => boolean,
    timeoutMs: number,
  ): Promise<MessengerEvents[K]>;
}

/** The device's connection as the pieces use it: sends now, or says it is not connected. */
export interface Wire {
  isReady(): boolean;
  /** False when not connected (the frame is not queued). */
  send(frame: ClientFrame): boolean;
  /** Resolves when the server has stored the message; rejects with its error frame's code. */
  sendMessage(frame: Extract<ClientFrame, { t: 'send' }>): Promise<boolean>;
}

export function publicView(c: StoredConversation): Conversation {
  return {
    id: c.id,
    members: c.members,
    epoch: c.epoch,
    createdAt: c.createdAt,
    active: c.active,
    ...(c.request ? { request: c.request } : {}),
  };
}

/** The other accounts in the conversation (receipts count per account, not per device). */
export function otherAccounts(c: StoredConversation | undefined, self: string): string[] {
  return [...new Set((c?.members ?? []).map((m) => m.accountId))].filter((a) => a !== self);
}

/** Conversation and message ids: 16 random bytes, base64url. */
export const randomId = (): string => toBase64Url(crypto.getRandomValues(new Uint8Array(16)));

export function asParleyError(error: unknown): ParleyError {
  return error instanceof ParleyError
    ? error
    : new ParleyError('MLS_FAILED', { cause: error, details: { what: String(error) } });
}
