/**
 * People: the HTTP bodies for profiles (sealed names, profile.ts), blocks and spam reports,
 * defined once for the server, the SDK and the CLI. The server holds a profile only as the
 * fixed-size ciphertext its owner sealed; it never sees a name.
 */

import { type Static, Type } from '@sinclair/typebox';
import { base64UrlLength } from './encoding.js';
import { PROFILE_CIPHERTEXT_BYTES } from './profile.js';
import { Id } from './schemas.js';

const strict = { additionalProperties: false } as const;

export const PEOPLE_LIMITS = Object.freeze({
  /** Accounts one account may block. */
  blocksMax: 10_000,
  /** Messages a spam report may carry (only when its user chose to attach them). */
  reportMessages: 50,
  reportMessageChars: 4096,
});

/** A sealed profile: exactly PROFILE_CIPHERTEXT_BYTES, base64url. */
const SealedProfile = Type.String({
  pattern: '^[A-Za-z0-9_-]*$',
  minLength: base64UrlLength(PROFILE_CIPHERTEXT_BYTES),
  maxLength: base64UrlLength(PROFILE_CIPHERTEXT_BYTES),
  description: 'the profile sealed under its owner’s profile key (profile.ts)',
});

/** Saving the caller's profile: `version` must be higher than the one stored. */
export const ProfilePut = Type.Object(
  {
    version: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
    ciphertext: SealedProfile,
  },
  strict,
);
export type ProfilePut = Static<typeof ProfilePut>;

export const ProfileResponse = Type.Object(
  {
    accountId: Id,
    version: Type.Integer({ minimum: 1 }),
    // Not SealedProfile: the SDK checks the size itself, so a server that serves more gets
    // PROFILE_TOO_LARGE rather than a schema error.
    ciphertext: Type.String({ maxLength: 1 << 20 }),
  },
  strict,
);
export type ProfileResponse = Static<typeof ProfileResponse>;

export const BlockList = Type.Object(
  { accountIds: Type.Array(Id, { maxItems: PEOPLE_LIMITS.blocksMax }) },
  strict,
);
export type BlockList = Static<typeof BlockList>;

/**
 * A spam report: the account and the fact. `messages` only when the user chose to attach the
 * texts they received (they leave end-to-end encryption by being sent here).
 */
export const SpamReport = Type.Object(
  {
    accountId: Id,
    messages: Type.Optional(
      Type.Array(Type.String({ maxLength: PEOPLE_LIMITS.reportMessageChars }), {
        maxItems: PEOPLE_LIMITS.reportMessages,
      }),
    ),
  },
  strict,
);
export type SpamReport = Static<typeof SpamReport>;
