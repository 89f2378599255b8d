/** The directory filter, blind evaluation, re-keying after rotation, and resolving matches. */

import {
  DirectoryQuery,
  type DirectoryQuery as DirectoryQueryType,
  DirectorySnapshotParams,
  type DirectorySnapshotParams as DirectorySnapshotParamsType,
  type EvaluateRequest as EvaluateBody,
  EvaluateRequest,
  ParleyError,
  parseFilterRange,
  type ResolveRequest as ResolveBody,
  ResolveRequest,
  RotationsQuery,
  type RotationsQuery as RotationsQueryType,
  type RotationsResponse,
  type TranslateRequest as TranslateBody,
  TranslateRequest,
  toBase64Url,
} from '@parley/core';
import type { FastifyInstance } from 'fastify';
import type { Services } from '../../services.js';

export function discoveryRoutes(app: FastifyInstance, services: Services): void {
  app.get<{ Querystring: DirectoryQueryType }>(
    '/v1/directory',
    { schema: { querystring: DirectoryQuery } },
    async (request) => {
      const { keyId, since, range } = request.query;
      const clientRange = range === undefined ? undefined : parseFilterRange(range);
      if (range !== undefined && clientRange === undefined) {
        throw new ParleyError('VALIDATION_FAILED', {
          details: [{ field: 'querystring/range', problem: 'must be from 2^32 to 2^64' }],
        });
      }
      const payload = await services.directory.payload(
        keyId,
        since === undefined ? undefined : Number(since),
        clientRange,
      );
      const publicKey = services.directory.publicKey(payload.keyId);
      const pk = publicKey ? { publicKey: toBase64Url(publicKey) } : {};
      // Every answer carries the signed statement of what it publishes (directory-statement.ts),
      // the OPRF public key of its key id included.
      if (payload.type === 'snapshot') {
        return {
          ...payload,
          ...pk,
          range: String(payload.range),
          digest: toBase64Url(payload.digest),
          ...services.signer.sign({
            kind: 'snapshot',
            keyId: payload.keyId,
            version: payload.version,
            count: payload.count,
            range: payload.range,
            digest: payload.digest,
            ...(publicKey ? { publicKey } : {}),
          }),
        };
      }
      return {
        ...payload,
        ...pk,
        range: String(payload.range),
        added: toBase64Url(payload.added),
        removed: toBase64Url(payload.removed),
        removedFull: toBase64Url(payload.removedFull),
        ...services.signer.sign({
          kind: 'state',
          keyId: payload.keyId,
          version: payload.version,
          count: payload.count,
          ...(publicKey ? { publicKey } : {}),
        }),
      };
    },
  );

  // The old keys' statements vouching for their successors: a client that pinned `from` follows
  // them to the current key before it accepts that key (rotation-statement.ts).
  app.get<{ Querystring: RotationsQueryType }>(
    '/v1/directory/rotations',
    { schema: { querystring: RotationsQuery } },
    async (request): Promise<RotationsResponse> => {
      const chain = await services.directory.rotations(request.query.from);
      return {
        rotations: chain.map((r) => ({
          oldKeyId: r.oldKeyId,
          oldPublicKey: toBase64Url(r.oldPublicKey),
          newKeyId: r.newKeyId,
          newPublicKey: toBase64Url(r.newPublicKey),
          rotatedAt: r.rotatedAt,
          signature: toBase64Url(r.signature),
        })),
      };
    },
  );

  app.get<{ Params: DirectorySnapshotParamsType }>(
    '/v1/directory/snapshots/:keyId/:version',
    { schema: { params: DirectorySnapshotParams } },
    async (request, reply) => {
      const bytes = await services.directory.snapshotBytes(
        request.params.keyId,
        Number(request.params.version),
      );
      return reply
        .header('content-type', 'application/octet-stream')
        .header('cache-control', 'private, max-age=31536000, immutable')
        .send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    },
  );

  app.post<{ Body: EvaluateBody }>(
    '/v1/discovery/evaluate',
    { schema: { body: EvaluateRequest } },
    async (request) =>
      services.discovery.evaluate(
        request.device.accountId,
        request.body.keyId,
        request.body.blindedElements,
      ),
  );

  app.post<{ Body: TranslateBody }>(
    '/v1/discovery/translate',
    { schema: { body: TranslateRequest } },
    async (request) =>
      services.discovery.translate(
        request.device.accountId,
        request.body.fromKeyId,
        request.body.toKeyId,
        request.body.blindedElements,
      ),
  );

  app.post<{ Body: ResolveBody }>(
    '/v1/discovery/resolve',
    { schema: { body: ResolveRequest } },
    async (request) =>
      services.discovery.resolve(request.device.accountId, request.body.keyId, request.body.tokens),
  );
}
