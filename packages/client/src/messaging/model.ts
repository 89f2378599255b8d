/**
 * What the messenger holds and shows — messages, conversations and the events it emits — and the
 * two narrow interfaces its pieces are given instead of the messenger itself: `MessengerEventSink`
 * (emit and wait for events) and `Wire` (the device's connection, whichever is current).
 */

import {
  type AttachmentEnvelope,
  type ClientFrame,
  type DeviceRef,
  type MessageChangeEnvelope,
  ParleyError,
  toBase64Url,
} from '@parley/core';
import type { SecurityWarning } from './warnings.js';

export type MessageStatus = 'sending' | 'stored' | 'delivered' | 'read' | 'failed' | 'received';

/**
 * What a history entry is: a text; a file, photo or voice note (`attachment`); a notice of a membership change (from an MLS Commit, or the
 * Welcome that added this device); or a message of a kind this version cannot show (a newer
 * envelope type or version, or unreadable content), kept as a placeholder.
 */
export type MessageKind = 'text' | 'notice' | 'unsupported' | 'attachment';

export type MembershipChange =
  | 'added'
  | 'removed'
  | 'left'
  | 'device-added'
  | 'device-removed'
  /** Not a change of members: the account's identity key changed (its `by` names it). */
  | 'identity-changed'
  /** Not a change of members: `by` set the disappearing-message timer to `seconds` (0: off). */
  | 'timer'
  /** Not a change of members: `by` named the group `name` ('' cleared it). */
  | 'named';

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
  /** For 'timer': the new timer in seconds (0: off). */
  seconds?: number;
  /** For 'named': the new name ('' when cleared). */
  name?: string;
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
  /** For 'attachment': what `messenger.fetchAttachment` needs (its caption is also `text`). */
  attachment?: AttachmentInfo;
  /** For 'unsupported': the envelope type it carried ('' when unreadable). */
  contentType?: string;
  /**
   * For a reply: the message it answers, as this device's history held it when the reply came
   * (`from` and `text` empty when it did not hold it).
   */
  replyTo?: { id: string; from: string; text: string };
  /** Reactions by account id, one each (messaging/message-changes.ts). */
  reactions?: Record<string, string>;
  /** When its author last edited it (their clock); the text is the latest one. */
  editedAt?: string;
  /** When its author deleted it for everyone (their clock); text and reactions are gone. */
  deletedAt?: string;
  /** Seconds this device keeps it once read (sent under a disappearing-message timer). */
  expiresIn?: number;
  /** When it leaves this device's history: set when read here (or, one's own, when sent). */
  expiresAt?: string;
  sentAt: string;
  status: MessageStatus;
  /** Accounts whose device received it (sender side). */
  deliveredTo: string[];
  readBy: string[];
}

/**
 * A received or sent attachment as the history keeps it, on this device only: where the
 * ciphertext is, the key that opens it and the digest it must have, and what the sender said it
 * is. The server has none of it but `id`.
 */
export type AttachmentInfo = Omit<AttachmentEnvelope, 'v' | 'type' | 'sentAt'>;

export interface Conversation {
  id: string;
  members: DeviceRef[];
  epoch: number;
  createdAt: string;
  /** False once this device was removed from the group. */
  active: boolean;
  /** The disappearing-message timer in seconds; absent or 0: messages stay. */
  timer?: number;
  /** The name a member gave the conversation; absent: named by its members. */
  name?: string;
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
  /**
   * A message in a history was changed by a reaction, an edit or a delete, here or on another
   * device (a 'status' event carries the changed message too, for views that only redraw).
   */
  changed: { message: ChatMessage; change: MessageChangeEnvelope; by: DeviceRef };
  /** Messages that disappeared from this device (their timer ran out after reading). */
  expired: { conversationId: string; ids: string[] };
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
    ...(c.timer ? { timer: c.timer } : {}),
    ...(c.name ? { name: c.name } : {}),
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
