/**
 * Messaging: the HTTP bodies (KeyPackages, conversations, commits) and the WebSocket frames, defined
 * once for the server, the SDK and the CLI. Every MLS object travels as base64url of its RFC 9420
 * wire encoding; the server never sees a plaintext.
 */

import { type Static, Type } from '@sinclair/typebox';
import { base64UrlLength } from './encoding.js';
import { Id } from './schemas.js';

export const MESSAGING_LIMITS = Object.freeze({
  /** KeyPackages per upload, and the most one device may hold on the server. */
  keyPackagesPerUpload: 100,
  keyPackageStock: 200,
  /** Below this many one-time KeyPackages the server tells the device to upload more. */
  keyPackageLowWater: 10,
  keyPackageBytes: 4096,
  /** Accounts whose devices one claim may ask for. */
  claimAccounts: 64,
  /** Devices one commit may add or remove. */
  commitDevices: 256,
  /** One MLS message (application or commit) and one Welcome. */
  messageBytes: 64 * 1024,
  welcomeBytes: 128 * 1024,
  /** Ephemeral signals (typing, read receipts) are small by nature. */
  signalBytes: 2048,
  /** A text frame larger than this gets FRAME_TOO_LARGE (the socket stays open). */
  frameBytes: 96 * 1024,
  /** Presence subscriptions one connection may hold. */
  presenceSubscriptions: 1024,
  /** Unacknowledged deliveries in flight per connection. */
  deliveryWindow: 256,
  /** Accounts one change of the presence allow-list may add or remove, and the most it holds. */
  allowListBatch: 1024,
  allowListMax: 10_000,
});

const strict = { additionalProperties: false } as const;

function b64Max(maxBytes: number, description: string) {
  return Type.String({
    pattern: '^[A-Za-z0-9_-]+$',
    minLength: 1,
    maxLength: base64UrlLength(maxBytes),
    description,
  });
}

export const MlsMessageB64 = b64Max(MESSAGING_LIMITS.messageBytes, 'an MLSMessage, base64url');
export const WelcomeB64 = b64Max(MESSAGING_LIMITS.welcomeBytes, 'an MLS Welcome, base64url');
export const KeyPackageB64 = b64Max(MESSAGING_LIMITS.keyPackageBytes, 'an MLS KeyPackage');
/** Conversation (MLS group) ids and message ids are random, chosen by the client. */
export const GroupId = Type.String({
  pattern: '^[A-Za-z0-9_-]{22}$',
  description: '16 random bytes',
});
export const MessageId = Type.String({
  pattern: '^[A-Za-z0-9_-]{22}$',
  description: '16 random bytes',
});
export const Epoch = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
export const Seq = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });

// --- KeyPackages ---

export const KeyPackageItem = Type.Object({ id: Id, keyPackage: KeyPackageB64 }, strict);

export const KeyPackageUpload = Type.Object(
  {
    keyPackages: Type.Array(KeyPackageItem, { maxItems: MESSAGING_LIMITS.keyPackagesPerUpload }),
    /** Handed out when the one-time ones run out; replaces the previous one. */
    lastResort: Type.Optional(KeyPackageItem),
  },
  strict,
);

export const KeyPackageStock = Type.Object(
  { oneTime: Type.Integer({ minimum: 0 }), lastResort: Type.Boolean(), low: Type.Boolean() },
  strict,
);

export const KeyPackageClaimRequest = Type.Object(
  {
    accountIds: Type.Array(Id, { minItems: 1, maxItems: MESSAGING_LIMITS.claimAccounts }),
  },
  strict,
);

export const ClaimedKeyPackage = Type.Object(
  { accountId: Id, deviceId: Id, keyPackageId: Id, keyPackage: KeyPackageB64 },
  strict,
);

export const KeyPackageClaimResponse = Type.Object(
  { keyPackages: Type.Array(ClaimedKeyPackage) },
  strict,
);

// --- conversations (MLS groups) ---

export const GroupParams = Type.Object({ groupId: GroupId }, strict);

export const AddedDevice = Type.Object({ deviceId: Id, keyPackageId: Id }, strict);

/**
 * A Commit, sequenced by the server: it is accepted only for the group's current epoch (the first
 * one wins), then fanned out to the members before the change and the Welcome to the new devices.
 * `epoch` 0 with an unknown group creates it with the committing device as its first member.
 */
export const CommitRequest = Type.Object(
  {
    epoch: Epoch,
    commit: MlsMessageB64,
    welcome: Type.Optional(WelcomeB64),
    add: Type.Array(AddedDevice, { maxItems: MESSAGING_LIMITS.commitDevices }),
    remove: Type.Array(Id, { maxItems: MESSAGING_LIMITS.commitDevices }),
  },
  strict,
);

export const GroupMember = Type.Object({ accountId: Id, deviceId: Id }, strict);

export const GroupResponse = Type.Object(
  { groupId: GroupId, epoch: Epoch, members: Type.Array(GroupMember) },
  strict,
);

export const LeaveResponse = Type.Object({ groupId: GroupId, left: Type.Literal(true) }, strict);

// --- WebSocket frames: client to server ---

export const AuthFrame = Type.Object(
  { t: Type.Literal('auth'), credential: Type.String() },
  strict,
);

/** An MLS application message; stored durably before the server answers `stored`. */
export const SendFrame = Type.Object(
  {
    t: Type.Literal('send'),
    id: MessageId,
    groupId: GroupId,
    epoch: Epoch,
    payload: MlsMessageB64,
  },
  strict,
);

export const AckFrame = Type.Object(
  {
    t: Type.Literal('ack'),
    seqs: Type.Array(Seq, { minItems: 1, maxItems: MESSAGING_LIMITS.deliveryWindow }),
  },
  strict,
);

/** Typing and read receipts: end-to-end encrypted, relayed to connected members, never stored. */
export const SignalFrame = Type.Object(
  {
    t: Type.Literal('signal'),
    groupId: GroupId,
    payload: b64Max(MESSAGING_LIMITS.signalBytes, 'an encrypted signal'),
  },
  strict,
);

export const PresenceSubscribeFrame = Type.Object(
  {
    t: Type.Literal('presence'),
    accountIds: Type.Array(Id, { maxItems: MESSAGING_LIMITS.presenceSubscriptions }),
  },
  strict,
);

/**
 * A change of the caller's presence allow-list: the accounts that may see it online when its
 * presence is 'contacts'. Its client adds the people in its address book it resolved and those
 * it started or answered a conversation with, and removes them again.
 */
export const AllowListChange = Type.Object(
  {
    add: Type.Optional(Type.Array(Id, { maxItems: MESSAGING_LIMITS.allowListBatch })),
    remove: Type.Optional(Type.Array(Id, { maxItems: MESSAGING_LIMITS.allowListBatch })),
  },
  strict,
);

/** How many accounts the allow-list holds after a change. */
export const AllowListResponse = Type.Object({ size: Type.Integer({ minimum: 0 }) }, strict);

export const ClientFrame = Type.Union([
  AuthFrame,
  SendFrame,
  AckFrame,
  SignalFrame,
  PresenceSubscribeFrame,
]);

// --- WebSocket frames: server to client ---

/** One device of one account: the pair every layer uses to name a device. */
export const DeviceRef = Type.Object({ accountId: Id, deviceId: Id }, strict);

export const DeliveryKind = Type.Union([
  Type.Literal('application'),
  Type.Literal('commit'),
  Type.Literal('welcome'),
  Type.Literal('receipt'),
  Type.Literal('leave'),
  Type.Literal('removed'),
]);

/**
 * One entry of the device's queue, in order. It stays queued until acknowledged by `seq`.
 * `receipt` entries say that `id` (sent by this device) reached `from`; `leave` entries that the
 * account of `from` left the group (the server no longer delivers to its devices; a remaining
 * member commits their removal); `removed` entries that the device `from` was signed out by its
 * owner (the server no longer delivers to it; a remaining member commits the removal of its leaf).
 */
export const DeliverFrame = Type.Object(
  {
    t: Type.Literal('deliver'),
    seq: Seq,
    kind: DeliveryKind,
    id: MessageId,
    groupId: GroupId,
    from: DeviceRef,
    epoch: Epoch,
    payload: Type.Optional(Type.String()),
    /** A receipt for several messages names them all (`id` is the first). */
    ids: Type.Optional(Type.Array(MessageId, { maxItems: MESSAGING_LIMITS.deliveryWindow })),
    keyPackageId: Type.Optional(Id),
    sentAt: Type.String(),
  },
  strict,
);

export const ReadyFrame = Type.Object(
  {
    t: Type.Literal('ready'),
    accountId: Id,
    deviceId: Id,
    keyPackages: KeyPackageStock,
  },
  strict,
);

export const StoredFrame = Type.Object(
  { t: Type.Literal('stored'), id: MessageId, duplicate: Type.Boolean() },
  strict,
);

export const ErrorFrame = Type.Object(
  {
    t: Type.Literal('error'),
    /** The `id` of the send this answers, when it answers one. */
    ref: Type.Optional(Type.String()),
    code: Type.String(),
    message: Type.String(),
    /** When to send again, for a refusal that passes (SERVER_BUSY). */
    retryAfterMs: Type.Optional(Type.Integer({ minimum: 0 })),
    details: Type.Optional(Type.Unknown()),
  },
  strict,
);

export const RelayedSignalFrame = Type.Object(
  { t: Type.Literal('signal'), groupId: GroupId, from: DeviceRef, payload: Type.String() },
  strict,
);

export const PresenceFrame = Type.Object(
  { t: Type.Literal('presence'), accountId: Id, online: Type.Boolean() },
  strict,
);

export const KeyPackagesLowFrame = Type.Object(
  { t: Type.Literal('keypackages'), stock: KeyPackageStock },
  strict,
);

/**
 * The account's devices changed (a device was linked): a hint to fetch GET /v1/account and to
 * check the new device's certificate before trusting it.
 */
export const DevicesChangedFrame = Type.Object({ t: Type.Literal('devices-changed') }, strict);

/**
 * Sent once per connection, after the device's queue as it stood has been sent up to its end:
 * everything queued before is in the frames before this one (a service worker woken by a push
 * knows it has it all). Clients that do not know it ignore it.
 */
export const CaughtUpFrame = Type.Object({ t: Type.Literal('caught-up') }, strict);

export const ServerFrame = Type.Union([
  ReadyFrame,
  CaughtUpFrame,
  DeliverFrame,
  StoredFrame,
  ErrorFrame,
  RelayedSignalFrame,
  PresenceFrame,
  KeyPackagesLowFrame,
  DevicesChangedFrame,
]);

export type KeyPackageItem = Static<typeof KeyPackageItem>;
export type KeyPackageUpload = Static<typeof KeyPackageUpload>;
export type KeyPackageStock = Static<typeof KeyPackageStock>;
export type KeyPackageClaimRequest = Static<typeof KeyPackageClaimRequest>;
export type ClaimedKeyPackage = Static<typeof ClaimedKeyPackage>;
export type KeyPackageClaimResponse = Static<typeof KeyPackageClaimResponse>;
export type GroupParams = Static<typeof GroupParams>;
export type AddedDevice = Static<typeof AddedDevice>;
export type CommitRequest = Static<typeof CommitRequest>;
export type GroupMember = Static<typeof GroupMember>;
export type GroupResponse = Static<typeof GroupResponse>;
export type LeaveResponse = Static<typeof LeaveResponse>;
export type AllowListChange = Static<typeof AllowListChange>;
export type AllowListResponse = Static<typeof AllowListResponse>;
export type ClientFrame = Static<typeof ClientFrame>;
export type SendFrame = Static<typeof SendFrame>;
export type ServerFrame = Static<typeof ServerFrame>;
export type DeliverFrame = Static<typeof DeliverFrame>;
export type DeliveryKind = Static<typeof DeliveryKind>;
export type DeviceRef = Static<typeof DeviceRef>;
