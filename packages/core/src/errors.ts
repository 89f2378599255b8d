/**
 * The error catalog: every error Parley reports, server or client side, has a stable code here,
 * the HTTP status it travels with, and a message a person can act on. The server puts `code`,
 * `message` and (where it applies) `retryAfterMs` in every error body; the SDK turns them back into
 * a {@link ParleyError}. docs/errors.md is generated from this table and a test keeps them in step.
 */

export const ERROR_CATALOG = {
  // --- request shape ---
  INVALID_JSON: { status: 400, message: 'The request body is not valid JSON.' },
  VALIDATION_FAILED: {
    status: 400,
    message: 'The request does not match the expected schema; see `details` for the field.',
  },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    message: 'Send the request body as application/json.',
  },
  PAYLOAD_TOO_LARGE: {
    status: 413,
    message: 'The request body is larger than the server accepts; send a smaller batch.',
  },
  MALFORMED_REQUEST: {
    status: 400,
    message: 'The request is not valid HTTP/1.1; the connection is closed.',
  },
  REQUEST_TIMEOUT: {
    status: 408,
    message: 'The request did not arrive in time; the connection is closed, send it again.',
  },
  HEADERS_TOO_LARGE: {
    status: 431,
    message: 'The URL or the headers are larger than the server accepts; shorten them.',
  },
  NOT_FOUND: { status: 404, message: 'No such endpoint.' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'This endpoint does not accept that method.' },
  // --- authentication ---
  UNAUTHENTICATED: {
    status: 401,
    message: 'Missing or invalid device credential; register this device again.',
  },
  ADMIN_UNAUTHORIZED: {
    status: 401,
    message: 'Missing or wrong admin token; it is in the file admin-token of the data directory.',
  },
  // --- registration ---
  INVALID_PHONE_NUMBER: {
    status: 400,
    message: 'This is not a valid phone number; give it in international form, e.g. +14155550123.',
  },
  VERIFICATION_RATE_LIMITED: {
    status: 429,
    message:
      'Too many verification codes requested; wait before asking for another. If Parley is signed in on another of your devices, link this one from it instead: linking needs no code.',
  },
  VERIFICATION_NOT_FOUND: {
    status: 404,
    message: 'This verification has expired or does not exist; request a new code.',
  },
  VERIFICATION_CODE_INCORRECT: {
    status: 400,
    message: 'The code is not correct; check the SMS and try again.',
  },
  VERIFICATION_ATTEMPTS_EXCEEDED: {
    status: 429,
    message: 'Too many wrong codes for this verification; request a new code.',
  },
  SMS_DELIVERY_FAILED: {
    status: 502,
    message: 'The SMS gateway did not accept the verification message; try again later.',
  },
  SMS_NUMBER_REJECTED: {
    status: 422,
    message:
      'The SMS provider cannot deliver a text to this number (not a mobile number, barred, or unsubscribed from the sender); use a number that receives SMS.',
  },
  SMS_PROVIDER_RATE_LIMITED: {
    status: 503,
    message:
      'The SMS provider is throttling this server; request a code again after the given time.',
  },
  SMS_PROVIDER_OUT_OF_CREDIT: {
    status: 503,
    message:
      'This server cannot send SMS now: its SMS account is out of credit or suspended. Try again later; the server’s log tells its operator.',
  },
  SMS_PROVIDER_UNAVAILABLE: {
    status: 503,
    message:
      'The SMS provider did not answer after several tries; request a code again in a few minutes.',
  },
  REGISTRATION_LOCKED: {
    status: 423,
    message:
      'This number’s account has a registration lock: send the PIN set on one of its devices with the same code, or wait until `details.unlocksAt`.',
  },
  REGISTRATION_LOCK_ATTEMPTS_EXCEEDED: {
    status: 429,
    message:
      'Too many wrong registration-lock PINs for this number; registration is refused until `details.unlocksAt`.',
  },
  // --- identity and linking ---
  IDENTITY_EXISTS: {
    status: 409,
    message:
      'This account already has an identity key; only registering the number as a new identity replaces it.',
  },
  CERTIFICATE_INVALID: {
    status: 400,
    message:
      'The device certificate must name this account and device, carry the account’s identity key and be signed by it; a device’s certificate never changes. See `details.reason`.',
  },
  CERTIFICATE_REQUIRED: {
    status: 409,
    message:
      'This device has no certificate yet; send it with PUT /v1/device/certificate, then upload KeyPackages.',
  },
  LINK_NOT_FOUND: {
    status: 404,
    message:
      'No such link request: it expired, was already approved or collected, or the code is mistyped; start linking again on the new device.',
  },
  // --- discovery ---
  INVALID_ELEMENT: {
    status: 400,
    message: 'An element is not a valid ristretto255 encoding (or is the identity); see `details`.',
  },
  BATCH_TOO_LARGE: {
    status: 413,
    message: 'Too many items in one batch; split it into smaller batches.',
  },
  DISCOVERY_BUDGET_EXHAUSTED: {
    status: 429,
    message: 'The contact-discovery budget of this account is used up; retry after the given time.',
  },
  KEY_STORE_READ_ONLY: {
    status: 409,
    message:
      'The OPRF keys come from PARLEY_OPRF_KEYS, which the server cannot change: rotate with a key file (PARLEY_OPRF_KEY_FILE), or supply the new key set yourself.',
  },
  KEY_ID_UNKNOWN: {
    status: 409,
    message:
      'The directory key has changed since this client last synchronised; fetch the filter again.',
  },
  DIRECTORY_SNAPSHOT_STALE: {
    status: 410,
    message: 'This filter snapshot has been superseded; ask /v1/directory for the current one.',
  },
  // --- messaging ---
  KEY_PACKAGE_INVALID: {
    status: 400,
    message:
      'A KeyPackage is not a valid MLS KeyPackage for cipher suite 1 whose basic credential is this device’s certificate and whose leaf key is the certified device key; see `details.reason`.',
  },
  PRESENCE_ALLOW_LIST_FULL: {
    status: 409,
    message:
      'The presence allow-list holds as many accounts as the server keeps; remove some before adding more.',
  },
  KEY_PACKAGE_STOCK_FULL: {
    status: 409,
    message: 'This device already holds as many KeyPackages as the server keeps; upload fewer.',
  },
  DEVICE_NOT_FOUND: {
    status: 404,
    message: 'This account has no such device; list them with GET /v1/account.',
  },
  ACCOUNT_NOT_FOUND: {
    status: 404,
    message: 'No such account, or it has no device that can be added to a conversation.',
  },
  GROUP_NOT_FOUND: {
    status: 404,
    message: 'No such conversation on this server; it may have been deleted.',
  },
  NOT_GROUP_MEMBER: {
    status: 403,
    message: 'This device is not a member of that conversation.',
  },
  EPOCH_CONFLICT: {
    status: 409,
    message:
      'The conversation moved to a newer epoch first; process the pending messages and try again.',
  },
  MESSAGE_ID_REUSED: {
    status: 409,
    message: 'This message id was used before for a different message; use a new random id.',
  },
  FRAME_INVALID: {
    status: 400,
    message: 'A WebSocket frame is not valid JSON of a known type; see `details` for the field.',
  },
  FRAME_TOO_LARGE: {
    status: 413,
    message: 'The WebSocket frame is larger than the server accepts; send a smaller message.',
  },
  WEBSOCKET_AUTH_REQUIRED: {
    status: 401,
    message: 'The first frame on a WebSocket must be {"t":"auth"} with a valid device credential.',
  },
  WEBSOCKET_UPGRADE_REQUIRED: {
    status: 426,
    message:
      'This endpoint is a WebSocket; connect to it with a WebSocket client (Upgrade: websocket).',
  },
  // --- attachments ---
  ATTACHMENT_TOO_LARGE: {
    status: 413,
    message:
      'The file is larger than this server accepts for an attachment; send a smaller file (the limit is in `details`).',
  },
  ATTACHMENT_QUOTA_EXCEEDED: {
    status: 413,
    message:
      'Your attachments not yet fetched by their recipients would pass this account’s storage quota; wait until they are fetched or expire.',
  },
  ATTACHMENT_NOT_FOUND: {
    status: 404,
    message:
      'No such attachment: it expired, every recipient device fetched it, or it was never uploaded here.',
  },
  ATTACHMENT_CHUNK_INVALID: {
    status: 400,
    message:
      'The chunk index or length does not fit the upload (see `details`); send each chunk whole, at its index.',
  },
  ATTACHMENT_INCOMPLETE: {
    status: 409,
    message:
      'The upload is missing chunks (listed in `details`); upload them, then complete it again.',
  },
  BLOCKED: {
    status: 403,
    message:
      'This person does not accept messages or conversations from you; nothing was delivered.',
  },
  PROFILE_VERSION_CONFLICT: {
    status: 409,
    message:
      'Another device of this account saved a newer profile first; read it and save again with a higher version.',
  },
  PROFILE_NOT_FOUND: { status: 404, message: 'This account has not saved a profile.' },
  // --- push notifications ---
  PUSH_ENDPOINT_INVALID: {
    status: 400,
    message:
      'The push subscription endpoint must be an https:// URL from the browser (PushSubscription.endpoint), at most 1024 characters.',
  },
  PUSH_KEYS_INVALID: {
    status: 400,
    message:
      'The push subscription keys are not valid: p256dh must be an uncompressed P-256 point (65 bytes) and auth 16 bytes, both base64url, as PushSubscription.toJSON() gives them.',
  },
  RATE_LIMITED: { status: 429, message: 'Too many requests; retry after the given time.' },
  // --- server ---
  INTERNAL: { status: 500, message: 'The server failed unexpectedly; the error has been logged.' },
  SERVICE_UNAVAILABLE: {
    status: 503,
    message:
      'The server is starting or shutting down, or cannot reach a service it needs; retry shortly.',
  },
  SERVER_BUSY: {
    status: 503,
    message:
      'The server has more messages waiting to be stored than it can take now; send again (with the same id) after the given time.',
  },
  // --- operator tools: `parley admin backup|restore|migrate` (never sent by the server) ---
  BACKUP_CORRUPT: {
    status: 0,
    message:
      'This file is not an intact Parley backup (wrong kind of file, or its checksum does not match: it was changed or damaged); use another copy.',
  },
  BACKUP_TRUNCATED: {
    status: 0,
    message:
      'This backup file is shorter than its header says: it was cut off while written or copied; use another copy.',
  },
  BACKUP_PASSPHRASE_WRONG: {
    status: 0,
    message:
      'The passphrase does not open this key backup (the file itself is intact); give the passphrase it was made with.',
  },
  BACKUP_FROM_NEWER_RELEASE: {
    status: 0,
    message:
      'This backup holds a database migrated by a newer Parley release than this one; restore it with that release or a later one.',
  },
  BACKUP_NEEDS_PG_DUMP: {
    status: 0,
    message:
      'The database is PostgreSQL: back it up with pg_dump and restore it with pg_restore (docs/operations.md); `parley admin backup --keys-out` still packs the key files.',
  },
  RESTORE_TARGET_IN_USE: {
    status: 0,
    message:
      'A server has the database of this data directory open; stop it before restoring into the directory.',
  },
  RESTORE_TARGET_NOT_EMPTY: {
    status: 0,
    message:
      'The data directory is not empty; restore into a new directory, or add --force to replace what it holds.',
  },
  // --- client side (never sent by the server) ---
  CONSENT_REQUIRED: {
    status: 0,
    message:
      'Address-book access needs the user’s consent first; show the disclosure and record a grant.',
  },
  NOT_REGISTERED: { status: 0, message: 'This client has no account yet; register first.' },
  PUSH_UNAVAILABLE: {
    status: 0,
    message:
      'This browser could not subscribe to notifications (no push service, permission refused, or no answer in time); Parley keeps working, but shows messages only while it is open.',
  },
  NETWORK_ERROR: {
    status: 0,
    message: 'The server could not be reached; check the address and the connection.',
  },
  INVALID_RESPONSE: {
    status: 0,
    message: 'The server answered with something this client does not understand.',
  },
  MLS_FAILED: {
    status: 0,
    message: 'An MLS message could not be created or processed; the conversation state is kept.',
  },
  CONVERSATION_NOT_FOUND: {
    status: 0,
    message: 'This device has no conversation with that id.',
  },
  CONNECTION_CLOSED: {
    status: 0,
    message:
      'The connection to the server closed before the answer came; it is retried on reconnect.',
  },
  OPRF_PROOF_INVALID: {
    status: 0,
    message:
      'The server’s OPRF proof does not match the key it published (or pinned for that key id); nothing from this batch was used.',
  },
  OPRF_KEY_UNENDORSED: {
    status: 0,
    message:
      'The server moved to an OPRF key that its previous key did not sign for (or went back to an older key); discovery stopped and nothing was sent under that key.',
  },
  IMPORT_FAILED: {
    status: 0,
    message: 'The contacts file could not be read as vCard or CSV.',
  },
  FILTER_REFUSED: {
    status: 0,
    message:
      'The server’s directory filter failed a check (signature, size, version, or a match it would not confirm); nothing more was sent for it.',
  },
  NO_IDENTITY: {
    status: 0,
    message:
      'This device does not hold its account’s identity key; link it from a device that does, or register again.',
  },
  MESSAGE_NOT_FOUND: {
    status: 0,
    message: 'That message is not in this conversation on this device (it may have been deleted).',
  },
  MESSAGE_CHANGE_REFUSED: {
    status: 0,
    message:
      'Only your own messages can be edited or deleted for everyone, and only within 24 hours of sending them; a deleted message cannot be changed.',
  },
  GROUP_NAME_INVALID: {
    status: 0,
    message: 'A group name is at most 100 characters on one line; an empty name removes it.',
  },
  TIMER_INVALID: {
    status: 0,
    message:
      'A disappearing-message timer is a whole number of seconds from 0 (off) to 2419200 (four weeks).',
  },
  SAFETY_NUMBER_CHANGED: {
    status: 0,
    message:
      'A verified contact’s safety number changed; compare it again or accept the new one before sending.',
  },
  IDENTITY_REFUSED: {
    status: 0,
    message:
      'A key the server handed out does not belong to the account it names; nothing was encrypted to it.',
  },
  LINK_CODE_INVALID: {
    status: 0,
    message:
      'That link code is not one a new device shows, or the server swapped its key; scan or type it again.',
  },
  PROFILE_NAME_INVALID: {
    status: 0,
    message:
      'A profile name is 1 to 64 characters of text (no control characters); choose another.',
  },
  PROFILE_UNREADABLE: {
    status: 0,
    message:
      'A profile the server served does not decrypt under the key its owner shared (or is for another account or an older version); the name already known is kept.',
  },
  PROFILE_TOO_LARGE: {
    status: 0,
    message:
      'A profile the server served is larger than any profile can be; it was not read and the name already known is kept.',
  },
  NOT_A_REQUEST: {
    status: 0,
    message: 'This conversation is not a message request (it was accepted or started here).',
  },
  LINK_EXPIRED: {
    status: 0,
    message:
      'The link request ended before it was approved; start linking again on the new device.',
  },
  ATTACHMENT_CORRUPT: {
    status: 0,
    message:
      'The attachment the server served is not the one the sender uploaded (different, truncated or reordered bytes); nothing of it was used.',
  },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  retryAfterMs?: number;
  details?: unknown;
}

/** A typed error with a stable `code`. `status` is 0 for errors raised on the client. */
export class ParleyError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryAfterMs: number | undefined;
  readonly details: unknown;

  constructor(
    code: ErrorCode,
    options: { message?: string; retryAfterMs?: number; details?: unknown; cause?: unknown } = {},
  ) {
    super(options.message ?? ERROR_CATALOG[code].message, { cause: options.cause });
    this.name = 'ParleyError';
    this.code = code;
    this.status = ERROR_CATALOG[code].status;
    this.retryAfterMs = options.retryAfterMs;
    this.details = options.details;
  }

  toBody(): ErrorBody {
    const body: ErrorBody = { code: this.code, message: this.message };
    if (this.retryAfterMs !== undefined) body.retryAfterMs = this.retryAfterMs;
    if (this.details !== undefined) body.details = this.details;
    return body;
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CATALOG, value);
}

export function isRateLimitError(error: unknown): error is ParleyError {
  return error instanceof ParleyError && error.status === 429;
}

/** Milliseconds to wait before retrying, or undefined when the error says nothing about it. */
export function getRetryAfterMs(error: unknown): number | undefined {
  return error instanceof ParleyError ? error.retryAfterMs : undefined;
}
