/**
 * The message envelope: what every MLS application message of Parley carries, as UTF-8 JSON.
 *
 *   { "v": 1, "type": "<type>", ...the type's fields }
 *
 * Types now:
 * - `text` — `{ text, sentAt, replyTo? }`: a chat message (sentAt is the sender's clock, ISO 8601;
 *   replyTo the id of the message it answers, which each reader looks up in its own history);
 * - `reaction` — `{ target, emoji }`: the sender's one reaction to a message ('' takes it back);
 * - `edit` — `{ target, text, sentAt }`: the sender's new text for their own message;
 * - `delete` — `{ target, sentAt }`: the sender takes their own message back, for everyone;
 * - `group-name` — `{ name, sentAt }`: the conversation's name for every member ('' clears it);
 * - `timer` — `{ seconds, sentAt }`: disappearing messages for the conversation (0 turns them off);
 *   a text sent under a timer carries it as `expiresIn` (seconds), so every device agrees;
 * - `leave` — the sending account leaves the conversation (an MLS-authenticated intent; the
 *   server's own `leave` entry is only a hint, checked against it);
 * - `device-removed` — `{ deviceIds }`: these devices of the sending account were signed out;
 * - `attachment` — an end-to-end encrypted file: where it is, its key and digest, name, type,
 *   caption, optional thumbnail (attachment-envelope.ts);
 * - `profile` — `{ key, version }`: the sending account's profile key (32 bytes, base64url) and
 *   the version of its profile now on the server (profile.ts); sent when a device joins or
 *   creates a conversation, when others are added to one, and when the profile changes.
 *
 * Later features extend it with new types (profile keys, attachments, replies, reactions, edits,
 * deletes, disappearing-message timers, transparency tree heads), never by changing what an
 * existing type means. A reader keeps what it cannot read: an unknown `type`, a higher `v` or
 * content that is not an envelope at all parses as `unsupported`, which the SDK stores and shows
 * as a placeholder ("a newer kind of message") and acknowledges like any message, so nothing is
 * dropped unseen and nothing is redelivered forever. Fields a reader does not know are ignored.
 *
 * @example
 * const bytes = encodeEnvelope({ v: 1, type: 'text', text: 'hi', sentAt: new Date().toISOString() });
 * const read = parseEnvelope(bytes);
 * if (read.kind === 'envelope' && read.envelope.type === 'text') show(read.envelope.text);
 */

import { type AttachmentEnvelope, readAttachmentEnvelope } from './attachment-envelope.js';
import { expiresInField, isTimer } from './disappearing.js';

export { DISAPPEARING_MAX_SECONDS, isTimer } from './disappearing.js';

/** The envelope version this code writes, and the highest it reads. */
export const ENVELOPE_VERSION = 1;

/** Devices one `device-removed` envelope names at most (as many as one Commit may remove). */
export const ENVELOPE_DEVICES_MAX = 256;

/**
 * How long after sending a message its author may edit it or delete it for everyone (24 hours,
 * as Signal allows), counted on the author's clock between the message and the change.
 */
export const MESSAGE_CHANGE_WINDOW_MS = 24 * 60 * 60 * 1000;

/** The longest reaction, in UTF-16 units: one emoji, even a family or a flag with modifiers. */
export const REACTION_MAX_LENGTH = 32;

export interface TextEnvelope {
  v: 1;
  type: 'text';
  text: string;
  sentAt: string;
  /** The id of the message this one answers. */
  replyTo?: string;
  /** Seconds each device keeps it after reading it (the conversation's timer when sent). */
  expiresIn?: number;
}

/** The longest group name, in UTF-16 units. */
export const GROUP_NAME_MAX = 100;

export interface GroupNameEnvelope {
  v: 1;
  type: 'group-name';
  /** '' clears the name (the app then names the group by its members). */
  name: string;
  sentAt: string;
}

/** The envelopes that change a conversation's settings for every member, each with a notice. */
export type SettingEnvelope = TimerEnvelope | GroupNameEnvelope;

export interface TimerEnvelope {
  v: 1;
  type: 'timer';
  /** 0: messages no longer disappear. */
  seconds: number;
  sentAt: string;
}

export interface ReactionEnvelope {
  v: 1;
  type: 'reaction';
  target: string;
  /** One emoji; '' takes the sender's reaction back. */
  emoji: string;
}

export interface EditEnvelope {
  v: 1;
  type: 'edit';
  target: string;
  text: string;
  sentAt: string;
}

export interface DeleteEnvelope {
  v: 1;
  type: 'delete';
  target: string;
  sentAt: string;
}

/** The envelopes that change a message already in the history rather than add one. */
export type MessageChangeEnvelope = ReactionEnvelope | EditEnvelope | DeleteEnvelope;

export const isMessageChange = (e: Envelope): e is MessageChangeEnvelope =>
  e.type === 'reaction' || e.type === 'edit' || e.type === 'delete';

export interface LeaveEnvelope {
  v: 1;
  type: 'leave';
}

export interface DeviceRemovedEnvelope {
  v: 1;
  type: 'device-removed';
  deviceIds: string[];
}

export interface ProfileEnvelope {
  v: 1;
  type: 'profile';
  key: string;
  version: number;
}

export type Envelope =
  | TextEnvelope
  | LeaveEnvelope
  | DeviceRemovedEnvelope
  | MessageChangeEnvelope
  | SettingEnvelope
  | AttachmentEnvelope
  | ProfileEnvelope;
export type EnvelopeType = Envelope['type'];

/** What a reader made of some bytes: an envelope it knows, or something it keeps unread. */
export type ParsedEnvelope =
  | { kind: 'envelope'; envelope: Envelope }
  | {
      kind: 'unsupported';
      /** Why it cannot be read here. */
      reason: 'newer-version' | 'unknown-type' | 'malformed';
      /** The envelope's `type` when it had a readable one, else ''. */
      type: string;
      /** The envelope's `v` when it had a readable one, else 0. */
      v: number;
    };

export function encodeEnvelope(envelope: Envelope): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(envelope));
}

const DEVICE_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** A message id as the SDK makes them (base64url), or as long as the server accepts. */
const MESSAGE_ID = /^[A-Za-z0-9_-]{1,64}$/;

const isMessageId = (id: unknown): id is string => typeof id === 'string' && MESSAGE_ID.test(id);

/**
 * Whether a reaction is one emoji: a pictograph, a flag or a keycap, one grapheme long (where the
 * platform can tell graphemes), with no control or space in it.
 */
export function isReaction(emoji: string): boolean {
  if (emoji.length === 0 || emoji.length > REACTION_MAX_LENGTH) return false;
  if (/[\p{Cc}\p{Z}]/u.test(emoji)) return false;
  if (!/\p{Extended_Pictographic}|\p{Regional_Indicator}|\u20e3/u.test(emoji)) return false;
  if (typeof Intl === 'undefined' || !('Segmenter' in Intl)) return true;
  return [...new Intl.Segmenter().segment(emoji)].length === 1;
}
/** A 32-byte key in base64url without padding. */
const PROFILE_KEY = /^[A-Za-z0-9_-]{43}$/;

export function parseEnvelope(bytes: Uint8Array): ParsedEnvelope {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return { kind: 'unsupported', reason: 'malformed', type: '', v: 0 };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { kind: 'unsupported', reason: 'malformed', type: '', v: 0 };
  }
  const record = value as Record<string, unknown>;
  const v = Number.isSafeInteger(record.v) ? (record.v as number) : 0;
  const type = typeof record.type === 'string' ? record.type.slice(0, 64) : '';
  if (v < 1 || type === '') return { kind: 'unsupported', reason: 'malformed', type, v };
  if (v > ENVELOPE_VERSION) return { kind: 'unsupported', reason: 'newer-version', type, v };
  const malformed = { kind: 'unsupported', reason: 'malformed', type, v } as const;
  switch (type) {
    case 'text': {
      if (typeof record.text !== 'string') return malformed;
      const sentAt = typeof record.sentAt === 'string' ? record.sentAt : '';
      // A reply whose reference is not an id is still a text: only the reference is dropped.
      const replyTo = isMessageId(record.replyTo) ? { replyTo: record.replyTo } : {};
      // A timer out of range is not one: the message is kept (no timer) rather than lost.
      const expiresIn = expiresInField(record.expiresIn);
      return {
        kind: 'envelope',
        envelope: { v: 1, type, text: record.text, sentAt, ...replyTo, ...expiresIn },
      };
    }
    case 'group-name': {
      const { name, sentAt } = record;
      if (typeof name !== 'string' || typeof sentAt !== 'string') return malformed;
      const trimmed = name.trim();
      // Controls would let a name impersonate a notice line: refused, not cleaned.
      if (trimmed.length > GROUP_NAME_MAX || /\p{Cc}/u.test(trimmed)) return malformed;
      return { kind: 'envelope', envelope: { v: 1, type, name: trimmed, sentAt } };
    }
    case 'timer': {
      if (!isTimer(record.seconds) || typeof record.sentAt !== 'string') return malformed;
      return {
        kind: 'envelope',
        envelope: { v: 1, type, seconds: record.seconds, sentAt: record.sentAt },
      };
    }
    case 'reaction': {
      const { target, emoji } = record;
      if (!isMessageId(target) || typeof emoji !== 'string') return malformed;
      if (emoji !== '' && !isReaction(emoji)) return malformed;
      return { kind: 'envelope', envelope: { v: 1, type, target, emoji } };
    }
    case 'edit':
    case 'delete': {
      const { target, sentAt } = record;
      if (!isMessageId(target) || typeof sentAt !== 'string') return malformed;
      if (type === 'delete') return { kind: 'envelope', envelope: { v: 1, type, target, sentAt } };
      if (typeof record.text !== 'string') return malformed;
      return { kind: 'envelope', envelope: { v: 1, type, target, text: record.text, sentAt } };
    }
    case 'leave':
      return { kind: 'envelope', envelope: { v: 1, type } };
    case 'device-removed': {
      const ids = record.deviceIds;
      if (
        !Array.isArray(ids) ||
        ids.length === 0 ||
        ids.length > ENVELOPE_DEVICES_MAX ||
        !ids.every((id) => typeof id === 'string' && DEVICE_ID.test(id))
      ) {
        return malformed;
      }
      return { kind: 'envelope', envelope: { v: 1, type, deviceIds: [...new Set(ids)] } };
    }
    case 'attachment': {
      const envelope = readAttachmentEnvelope(record);
      return envelope ? { kind: 'envelope', envelope } : malformed;
    }
    case 'profile': {
      const { key, version } = record;
      if (
        typeof key !== 'string' ||
        !PROFILE_KEY.test(key) ||
        !Number.isSafeInteger(version) ||
        (version as number) < 1
      ) {
        return malformed;
      }
      return { kind: 'envelope', envelope: { v: 1, type, key, version: version as number } };
    }
    default:
      return { kind: 'unsupported', reason: 'unknown-type', type, v };
  }
}
