/**
 * Attachments: the HTTP bodies of the blob store (create, upload chunk by chunk, ask which chunks
 * arrived, complete, download, confirm the fetch), shared by the server, the SDK and the CLI. The
 * server holds only ciphertext under a random id: no key, no file name, no content type.
 */

import { type Static, Type } from '@sinclair/typebox';
import { GroupId } from './messaging-schemas.js';

export const ATTACHMENT_LIMITS = Object.freeze({
  /**
   * Bytes per upload chunk (the last one is shorter). The server holds at most one chunk of a
   * request in memory, and only on PostgreSQL storage; files stream straight to disk.
   */
  chunkBytes: 1024 * 1024,
});

const strict = { additionalProperties: false } as const;

/** 16 random bytes chosen by the server. */
export const AttachmentId = Type.String({
  pattern: '^[A-Za-z0-9_-]{22}$',
  description: '16 random bytes',
});

/** The ciphertext's exact length and the conversation whose member devices may fetch it. */
export const AttachmentCreateRequest = Type.Object(
  {
    groupId: GroupId,
    size: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
  },
  strict,
);

export const AttachmentUpload = Type.Object(
  {
    id: AttachmentId,
    size: Type.Integer(),
    chunkBytes: Type.Integer(),
    chunkCount: Type.Integer(),
    /** Indexes of the chunks the server holds, ascending. */
    received: Type.Array(Type.Integer()),
    complete: Type.Boolean(),
    /** Deleted then at the latest (ms since epoch), fetched or not. */
    expiresAt: Type.Integer(),
  },
  strict,
);

export const AttachmentParams = Type.Object({ id: AttachmentId }, strict);

export const AttachmentChunkParams = Type.Object(
  {
    id: AttachmentId,
    index: Type.String({ pattern: '^(0|[1-9][0-9]{0,8})$', description: 'chunk index, from 0' }),
  },
  strict,
);

export type AttachmentCreateRequest = Static<typeof AttachmentCreateRequest>;
export type AttachmentUpload = Static<typeof AttachmentUpload>;
export type AttachmentParams = Static<typeof AttachmentParams>;
export type AttachmentChunkParams = Static<typeof AttachmentChunkParams>;
