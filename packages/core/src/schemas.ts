/**
 * Every request and response body, defined once. The server hands these JSON Schemas to Fastify
 * (validation at the edge, unknown fields rejected); the SDK and CLI use the same types and check
 * responses with TypeBox's Value.Check before trusting them.
 */

import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { base64UrlLength } from './encoding.js';

export const LIMITS = Object.freeze({
  /** Blinded elements per evaluate request. */
  evaluateBatch: 1024,
  /** Lookup tokens per resolve request. */
  resolveBatch: 256,
  /** Elements per translate request (re-keying after rotation). */
  translateBatch: 1024,
  deviceNameLength: 64,
  /** Request bodies larger than this are refused with PAYLOAD_TOO_LARGE. */
  bodyBytes: 256 * 1024,
});

const strict = { additionalProperties: false } as const;

function b64(bytes: number, description: string) {
  const length = base64UrlLength(bytes);
  return Type.String({
    pattern: '^[A-Za-z0-9_-]*$',
    minLength: length,
    maxLength: length,
    description,
  });
}

export const Element = b64(32, 'a ristretto255 element, base64url');
export const Token = b64(32, 'a directory lookup token, base64url');
export const Fingerprint = b64(8, 'a 64-bit filter fingerprint, base64url');
/** pkS = k·G of an OPRF key (RFC 9497 VOPRF, mode 0x01): what evaluation proofs are checked against. */
export const OprfPublicKey = b64(32, 'an OPRF public key k·G, ristretto255, base64url');
/** A batched RFC 9497 DLEQ proof, SerializeScalar(c) || SerializeScalar(s). */
export const OprfProof = b64(64, 'a batched RFC 9497 DLEQ proof c || s, base64url');
export const KeyId = Type.String({ pattern: '^[a-z0-9]{1,32}$', description: 'OPRF key id' });
export const Id = Type.String({ pattern: '^[A-Za-z0-9_-]{8,64}$' });
export const E164 = Type.String({
  pattern: '^\\+[1-9][0-9]{6,14}$',
  description: 'a phone number in E.164 form',
});

export const ErrorResponse = Type.Object(
  {
    code: Type.String(),
    message: Type.String(),
    retryAfterMs: Type.Optional(Type.Integer({ minimum: 0 })),
    details: Type.Optional(Type.Unknown()),
  },
  strict,
);

// --- registration ---

/**
 * Who may see that a user is online: nobody, or people who have the user's number and have
 * resolved it in discovery (the server records that link, keyed, when they resolve).
 */
export const PresenceVisibility = Type.Union([Type.Literal('nobody'), Type.Literal('contacts')]);

export const VerificationRequest = Type.Object({ phoneNumber: E164 }, strict);
export const VerificationResponse = Type.Object(
  {
    verificationId: Id,
    expiresAt: Type.String(),
    codeLength: Type.Integer(),
  },
  strict,
);

const VerificationCode = Type.String({ pattern: '^[0-9]{4,10}$' });

/**
 * Checks a code before registering with it (the web app's code screen): a wrong one counts as an
 * attempt, as at registration; a right one leaves the verification pending for POST /v1/accounts.
 */
export const CodeCheckRequest = Type.Object({ verificationId: Id, code: VerificationCode }, strict);
export const CodeCheckResponse = Type.Object(
  { verificationId: Id, expiresAt: Type.String() },
  strict,
);

/** An account's Ed25519 identity public key (identity.ts). */
export const IdentityKey = b64(32, 'an Ed25519 identity public key, base64url');
/** A registration-lock PIN, as the user typed it; the server keeps only a slow-hash verifier. */
export const RegistrationLockPin = Type.String({ minLength: 4, maxLength: 64 });
/** A device certificate (identity.ts), base64url; a few hundred bytes at most. */
export const Certificate = Type.String({
  pattern: '^[A-Za-z0-9_-]+$',
  minLength: 1,
  maxLength: base64UrlLength(512),
  description: 'a device certificate, base64url',
});

export const RegisterRequest = Type.Object(
  {
    verificationId: Id,
    code: VerificationCode,
    /** The identity key the first device made; the account is this key from now on. */
    identityKey: IdentityKey,
    /**
     * The PIN of the number's account's registration lock, when the server answered
     * REGISTRATION_LOCKED (the same verification and code may be sent again with it).
     */
    registrationLockPin: Type.Optional(RegistrationLockPin),
    /** No default: the user must choose ("being discoverable is a separate choice", docs/design.md). */
    discoverable: Type.Boolean(),
    /** Who sees when this user is online; no default either. */
    presence: PresenceVisibility,
    deviceName: Type.String({ minLength: 1, maxLength: LIMITS.deviceNameLength }),
  },
  strict,
);

export const RegisterResponse = Type.Object(
  {
    accountId: Id,
    deviceId: Id,
    /** Sent once; the server keeps only its hash. Use as `Authorization: Bearer <credential>`. */
    credential: Type.String(),
    discoverable: Type.Boolean(),
    presence: PresenceVisibility,
    /**
     * True when this number had an account: its devices were signed out and this device starts a
     * new identity (same account id, the new identity key, none of the old devices, conversations
     * or settings).
     */
    existingAccount: Type.Boolean(),
  },
  strict,
);

export const Device = Type.Object(
  {
    deviceId: Id,
    name: Type.String(),
    createdAt: Type.String(),
    /** Absent until the device has sent it (PUT /v1/device/certificate). */
    certificate: Type.Optional(Certificate),
  },
  strict,
);

export const AccountResponse = Type.Object(
  {
    accountId: Id,
    /** Absent only for an account made before identity keys (PUT /v1/account/identity sets it). */
    identityKey: Type.Optional(IdentityKey),
    discoverable: Type.Boolean(),
    presence: PresenceVisibility,
    /** Whether a registration lock (PIN) is set. */
    registrationLock: Type.Boolean(),
    createdAt: Type.String(),
    devices: Type.Array(Device),
  },
  strict,
);

// --- identity ---

/** PUT /v1/device/certificate: the calling device's certificate, signed by the identity key. */
export const CertificateRequest = Type.Object({ certificate: Certificate }, strict);

/** PUT /v1/account/identity: for an account made before identity keys only. */
export const IdentityKeyRequest = Type.Object({ identityKey: IdentityKey }, strict);

export const AccountParams = Type.Object({ accountId: Id }, strict);

/**
 * GET /v1/accounts/:accountId/identity: the key the server holds for an account. A hint for
 * safety numbers: clients trust a key on first use, never because the server said so.
 */
export const AccountIdentityResponse = Type.Object(
  { accountId: Id, identityKey: IdentityKey },
  strict,
);

/**
 * The registration lock holds while a device of the account was active within this many days;
 * after, an SMS code alone registers the number (as a new identity).
 */
export const REGISTRATION_LOCK_DAYS = 7;
/** Wrong PINs an account's lock takes before it refuses every guess until `unlocksAt`. */
export const REGISTRATION_LOCK_ATTEMPTS = 10;

/** PUT /v1/account/registration-lock. */
export const RegistrationLockRequest = Type.Object({ pin: RegistrationLockPin }, strict);

/** REGISTRATION_LOCKED and REGISTRATION_LOCK_ATTEMPTS_EXCEEDED `details`. */
export const RegistrationLockDetails = Type.Object(
  {
    attemptsLeft: Type.Integer({ minimum: 0 }),
    /** When the lock stops applying if the account's devices stay inactive (ISO 8601). */
    unlocksAt: Type.String(),
  },
  strict,
);

// --- linking a device ---

/** Sessions of the linking relay end this long after they start (10 minutes). */
export const LINK_TTL_MS = 10 * 60_000;

/** A link handle: 8 Crockford base32 characters (40 random bits), upper case. */
export const LinkHandle = Type.String({ pattern: '^[0-9A-HJKMNP-TV-Z]{8}$' });
export const LinkId = Type.String({
  pattern: '^[A-Za-z0-9_-]{22}$',
  description: '16 random bytes',
});

/** POST /v1/links, from the new device (unauthenticated). */
export const LinkRequest = Type.Object(
  {
    /** The new device's ephemeral X25519 public key: the approving device encrypts to it. */
    publicKey: b64(32, 'an X25519 public key, base64url'),
    deviceName: Type.String({ minLength: 1, maxLength: LIMITS.deviceNameLength }),
    /** SHA-256 of the 32-byte secret the new device will sign in with (never the secret). */
    credentialHash: b64(32, 'SHA-256 of the device secret, base64url'),
  },
  strict,
);

export const LinkCreated = Type.Object(
  {
    /** The new device's handle for polling the result: keep it to yourself. */
    linkId: LinkId,
    /** The lookup part of the code the user types or scans on an existing device. */
    handle: LinkHandle,
    expiresAt: Type.String(),
  },
  strict,
);

export const LinkHandleParams = Type.Object({ handle: LinkHandle }, strict);
export const LinkIdParams = Type.Object({ linkId: LinkId }, strict);

/** GET /v1/links/:handle, for an existing device: what will be linked. */
export const LinkSession = Type.Object(
  {
    publicKey: b64(32, 'an X25519 public key, base64url'),
    deviceName: Type.String(),
    createdAt: Type.String(),
    expiresAt: Type.String(),
  },
  strict,
);

/** At most 64 KiB: the provisioning message, encrypted to the new device's key. */
export const LINK_ENVELOPE_BYTES = 64 * 1024;

export const LinkApproval = Type.Object(
  {
    envelope: Type.String({
      pattern: '^[A-Za-z0-9_-]+$',
      minLength: 1,
      maxLength: base64UrlLength(LINK_ENVELOPE_BYTES),
      description: 'the provisioning envelope, base64url',
    }),
  },
  strict,
);

export const LinkApproved = Type.Object({ accountId: Id, deviceId: Id }, strict);

/**
 * GET /v1/links/:linkId/result. Once approved it is answered once: the session is deleted. The
 * new device's credential is then `<deviceId>.<its secret>`.
 */
export const LinkResult = Type.Union([
  Type.Object({ status: Type.Literal('pending') }, strict),
  Type.Object(
    {
      status: Type.Literal('approved'),
      accountId: Id,
      deviceId: Id,
      envelope: Type.String(),
    },
    strict,
  ),
]);

/** DELETE /v1/devices/:deviceId: one of the caller's account's devices. */
export const DeviceParams = Type.Object({ deviceId: Id }, strict);

/** DELETE /v1/devices: how many of the account's other devices were signed out. */
export const DevicesRemovedResponse = Type.Object(
  { removed: Type.Integer({ minimum: 0 }) },
  strict,
);

export const AccountUpdateRequest = Type.Object(
  { discoverable: Type.Optional(Type.Boolean()), presence: Type.Optional(PresenceVisibility) },
  { ...strict, minProperties: 1 },
);

// --- directory and discovery ---

/**
 * A membership filter's range M (membership-filter.ts: fingerprints map to floor(f · M / 2^64)),
 * as decimal digits because it can exceed 2^53: from 2^32 to 2^64 (parseFilterRange checks).
 */
export const FilterRange = Type.String({ pattern: '^[1-9][0-9]{9,19}$' });

export const DirectoryQuery = Type.Object(
  {
    keyId: Type.Optional(KeyId),
    /** The directory version the client holds, as decimal digits (query strings are not coerced). */
    since: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })),
    /** The range of the client's filter, so a delta can be coded for it. */
    range: Type.Optional(FilterRange),
  },
  strict,
);

/**
 * The directory statement's signature (directory-statement.ts) and the key that made it, which
 * clients pin on first use per server.
 */
const Signed = {
  signingKey: b64(32, 'the directory signing key (Ed25519), base64url'),
  signature: b64(64, 'an Ed25519 signature over the directory statement, base64url'),
};

export const DirectorySnapshot = Type.Object(
  {
    type: Type.Literal('snapshot'),
    keyId: KeyId,
    /** The key's public key, for clients to pin per key id and check evaluation proofs with. */
    publicKey: Type.Optional(OprfPublicKey),
    version: Type.Integer({ minimum: 0 }),
    count: Type.Integer({ minimum: 0 }),
    range: FilterRange,
    /** Size of the binary filter (membership-filter.ts encoding) to fetch from `path`. */
    bytes: Type.Integer({ minimum: 0 }),
    path: Type.String({ pattern: '^/v1/directory/snapshots/[a-z0-9]+/[0-9]+$' }),
    /** SHA-256 of the snapshot's bytes. */
    digest: b64(32, 'SHA-256, base64url'),
    ...Signed,
  },
  strict,
);

export const DirectoryDelta = Type.Object(
  {
    type: Type.Literal('delta'),
    keyId: KeyId,
    /** The key's public key, for clients to pin per key id and check evaluation proofs with. */
    publicKey: Type.Optional(OprfPublicKey),
    fromVersion: Type.Integer({ minimum: 0 }),
    version: Type.Integer({ minimum: 0 }),
    /** The client's range, echoed. */
    range: FilterRange,
    /**
     * Net changes since `fromVersion`, each list coded as a membership filter (Golomb–Rice,
     * base64url): `added` at the client's range; `removed` as prefixes at
     * removalPrefixRange(range), each naming exactly one entry of the client's filter;
     * `removedFull` at the range, for the few removals whose prefix would name two.
     */
    added: Type.String({ pattern: '^[A-Za-z0-9_-]*$' }),
    removed: Type.String({ pattern: '^[A-Za-z0-9_-]*$' }),
    removedFull: Type.String({ pattern: '^[A-Za-z0-9_-]*$' }),
    /** Discoverable accounts at `version` (what bounds the filter's false-positive rate). */
    count: Type.Integer({ minimum: 0 }),
    ...Signed,
  },
  strict,
);

export const DirectorySnapshotParams = Type.Object(
  { keyId: KeyId, version: Type.String({ pattern: '^[0-9]{1,15}$' }) },
  strict,
);

export const DirectoryResponse = Type.Union([DirectorySnapshot, DirectoryDelta]);

/** GET /v1/directory/rotations: the chain from the key the client pinned last. */
export const RotationsQuery = Type.Object({ from: Type.Optional(KeyId) }, strict);

/** One OPRF key rotation, signed by the old key (rotation-statement.ts). */
export const SignedRotation = Type.Object(
  {
    oldKeyId: KeyId,
    oldPublicKey: OprfPublicKey,
    newKeyId: KeyId,
    newPublicKey: OprfPublicKey,
    /** Milliseconds since 1970. */
    rotatedAt: Type.Integer({ minimum: 0 }),
    signature: b64(96, 'Z ‖ DLEQ proof by the old key over the rotation statement, base64url'),
  },
  strict,
);

/**
 * The statements from `from` (the one naming it as the old key first) to the current key; every
 * statement when `from` is not given; empty when `from` is current or not a rotated key.
 */
export const RotationsResponse = Type.Object(
  { rotations: Type.Array(SignedRotation, { maxItems: 10_000 }) },
  strict,
);

export const Budget = Type.Object(
  {
    remaining: Type.Integer({ minimum: 0 }),
    capacity: Type.Integer({ minimum: 0 }),
    refillPerHour: Type.Number({ minimum: 0 }),
  },
  strict,
);

export const EvaluateRequest = Type.Object(
  {
    keyId: KeyId,
    blindedElements: Type.Array(Element, { minItems: 1, maxItems: LIMITS.evaluateBatch }),
  },
  strict,
);

export const EvaluateResponse = Type.Object(
  {
    keyId: KeyId,
    evaluatedElements: Type.Array(Element),
    /** One proof for the batch: log_G(pkS) = log_C[i](D[i]) for all i (docs/design.md). */
    proof: OprfProof,
    budget: Budget,
  },
  strict,
);

export const TranslateRequest = Type.Object(
  {
    fromKeyId: KeyId,
    toKeyId: KeyId,
    blindedElements: Type.Array(Element, { minItems: 1, maxItems: LIMITS.translateBatch }),
  },
  strict,
);

export const TranslateResponse = Type.Object(
  {
    keyId: KeyId,
    translatedElements: Type.Array(Element),
    /** One proof for the batch: log_pkOld(pkNew) = log_C[i](D[i]) for all i, i.e. factor k_new/k_old. */
    proof: OprfProof,
  },
  strict,
);

export const ResolveRequest = Type.Object(
  { keyId: KeyId, tokens: Type.Array(Token, { minItems: 1, maxItems: LIMITS.resolveBatch }) },
  strict,
);

export const ResolvedContact = Type.Object(
  {
    token: Token,
    accountId: Id,
    devices: Type.Array(Type.Object({ deviceId: Id }, strict)),
  },
  strict,
);

export const ResolveResponse = Type.Object({ matches: Type.Array(ResolvedContact) }, strict);

// --- operations ---

export const RotateKeyResponse = Type.Object(
  {
    keyId: KeyId,
    previousKeyId: KeyId,
    accountsRekeyed: Type.Integer({ minimum: 0 }),
    durationMs: Type.Number({ minimum: 0 }),
  },
  strict,
);

export const StatsResponse = Type.Object(
  {
    keyId: KeyId,
    directoryVersion: Type.Integer({ minimum: 0 }),
    accounts: Type.Integer({ minimum: 0 }),
    discoverableAccounts: Type.Integer({ minimum: 0 }),
    devices: Type.Integer({ minimum: 0 }),
    pendingVerifications: Type.Integer({ minimum: 0 }),
    evaluations: Type.Integer({ minimum: 0 }),
    retainedKeys: Type.Array(KeyId),
    /** Which libsodium does the server's OPRF group operations (PARLEY_OPRF_BACKEND). */
    oprfBackend: Type.Union([Type.Literal('native'), Type.Literal('wasm')]),
    uptimeSeconds: Type.Number({ minimum: 0 }),
  },
  strict,
);

export type VerificationRequest = Static<typeof VerificationRequest>;
export type VerificationResponse = Static<typeof VerificationResponse>;
export type CodeCheckRequest = Static<typeof CodeCheckRequest>;
export type CodeCheckResponse = Static<typeof CodeCheckResponse>;
export type RegisterRequest = Static<typeof RegisterRequest>;
export type RegisterResponse = Static<typeof RegisterResponse>;
export type AccountResponse = Static<typeof AccountResponse>;
export type DeviceParams = Static<typeof DeviceParams>;
export type DevicesRemovedResponse = Static<typeof DevicesRemovedResponse>;
export type AccountUpdateRequest = Static<typeof AccountUpdateRequest>;
export type CertificateRequest = Static<typeof CertificateRequest>;
export type IdentityKeyRequest = Static<typeof IdentityKeyRequest>;
export type AccountParams = Static<typeof AccountParams>;
export type AccountIdentityResponse = Static<typeof AccountIdentityResponse>;
export type RegistrationLockRequest = Static<typeof RegistrationLockRequest>;
export type RegistrationLockDetails = Static<typeof RegistrationLockDetails>;
export type LinkRequest = Static<typeof LinkRequest>;
export type LinkCreated = Static<typeof LinkCreated>;
export type LinkHandleParams = Static<typeof LinkHandleParams>;
export type LinkIdParams = Static<typeof LinkIdParams>;
export type LinkSession = Static<typeof LinkSession>;
export type LinkApproval = Static<typeof LinkApproval>;
export type LinkApproved = Static<typeof LinkApproved>;
export type LinkResult = Static<typeof LinkResult>;
export type PresenceVisibility = Static<typeof PresenceVisibility>;
export type DirectoryQuery = Static<typeof DirectoryQuery>;
export type DirectorySnapshot = Static<typeof DirectorySnapshot>;
export type DirectoryDelta = Static<typeof DirectoryDelta>;
export type DirectoryResponse = Static<typeof DirectoryResponse>;
export type RotationsQuery = Static<typeof RotationsQuery>;
export type SignedRotation = Static<typeof SignedRotation>;
export type RotationsResponse = Static<typeof RotationsResponse>;
export type DirectorySnapshotParams = Static<typeof DirectorySnapshotParams>;
export type Budget = Static<typeof Budget>;
export type EvaluateRequest = Static<typeof EvaluateRequest>;
export type EvaluateResponse = Static<typeof EvaluateResponse>;
export type TranslateRequest = Static<typeof TranslateRequest>;
export type TranslateResponse = Static<typeof TranslateResponse>;
export type ResolveRequest = Static<typeof ResolveRequest>;
export type ResolveResponse = Static<typeof ResolveResponse>;
export type ResolvedContact = Static<typeof ResolvedContact>;
export type RotateKeyResponse = Static<typeof RotateKeyResponse>;
export type StatsResponse = Static<typeof StatsResponse>;
export type ErrorResponse = Static<typeof ErrorResponse>;
export type { Static, TSchema };
