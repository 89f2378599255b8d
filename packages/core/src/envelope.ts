/**
 * The message envelope: what every MLS application message of Parley carries, as UTF-8 JSON.
 *
 *   { "v": 1, "type": "<type>", ...the type's fields }
 *
 * Types now:
 * - `text` — `{ text, sentAt }`: a chat message (sentAt is the sender's clock, ISO 8601);
 * - `leave` — the sending account leaves the conversation (an MLS-authenticated intent; the
 *   server's own `leave` entry is only a hint, checked against it);
 * - `device-removed` — `{ deviceIds }`: these devices of the sending account were signed out.
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

/** The envelope version this code writes, and the highest it reads. */
export const ENVELOPE_VERSION = 1;

/** Devices one `device-removed` envelope names at most (as many as one Commit may remove). */
export const ENVELOPE_DEVICES_MAX = 256;

export interface TextEnvelope {
  v: 1;
  type: 'text';
  text: string;
  sentAt: string;
}

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

export type Envelope = TextEnvelope | LeaveEnvelope | DeviceRemovedEnvelope | ProfileEnvelope;
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
      return { kind: 'envelope', envelope: { v: 1, type, text: record.text, sentAt } };
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
