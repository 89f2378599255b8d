/**
 * The blob store of encrypted attachments (messaging/attachments.ts): create an upload, PUT its
 * chunks as application/octet-stream (streamed to storage, never parsed or buffered whole), ask
 * which arrived, complete it; a member device GETs the ciphertext (streamed from storage) and
 * confirms the fetch. Registered inside the device-authenticated scope.
 */

import { Readable } from 'node:stream';
import {
  AttachmentChunkParams,
  AttachmentCreateRequest,
  AttachmentParams,
  type AttachmentChunkParams as ChunkParams,
  type AttachmentCreateRequest as CreateBody,
  type AttachmentParams as Params,
} from '@parley/core';
import type { FastifyInstance } from 'fastify';
import type { Services } from '../../services.js';

export function attachmentRoutes(app: FastifyInstance, services: Services): void {
  const { attachments } = services;
  app.register(async (scope) => {
    // The request stream itself becomes the body: the route hands it to the blob store.
    scope.addContentTypeParser('application/octet-stream', (_request, payload, done) =>
      done(null, payload),
    );

    scope.post<{ Body: CreateBody }>(
      '/v1/attachments',
      { schema: { body: AttachmentCreateRequest } },
      async (request, reply) =>
        reply
          .status(201)
          .send(await attachments.create(request.device, request.body.groupId, request.body.size)),
    );

    scope.put<{ Params: ChunkParams; Body: Readable }>(
      '/v1/attachments/:id/chunks/:index',
      { schema: { params: AttachmentChunkParams } },
      async (request) => {
        const declared = request.headers['content-length'];
        const index = Number(request.params.index);
        await attachments.putChunk(
          request.device,
          request.params.id,
          index,
          request.body,
          declared === undefined ? undefined : Number(declared),
        );
        return { id: request.params.id, index };
      },
    );

    scope.get<{ Params: Params }>(
      '/v1/attachments/:id/upload',
      { schema: { params: AttachmentParams } },
      async (request) => attachments.status(request.device, request.params.id),
    );

    scope.post<{ Params: Params }>(
      '/v1/attachments/:id/complete',
      { schema: { params: AttachmentParams } },
      async (request) => attachments.complete(request.device, request.params.id),
    );

    scope.get<{ Params: Params }>(
      '/v1/attachments/:id',
      { schema: { params: AttachmentParams } },
      async (request, reply) => {
        const { size, body } = await attachments.open(request.device, request.params.id);
        return reply
          .header('content-type', 'application/octet-stream')
          .header('content-length', size)
          .header('cache-control', 'no-store')
          .send(Readable.from(body, { objectMode: false }));
      },
    );

    scope.post<{ Params: Params }>(
      '/v1/attachments/:id/fetched',
      { schema: { params: AttachmentParams } },
      async (request) => ({
        id: request.params.id,
        deleted: await attachments.fetched(request.device, request.params.id),
      }),
    );
  });
}
