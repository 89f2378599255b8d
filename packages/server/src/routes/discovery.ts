/** The directory filter, blind evaluation, re-keying after rotation, and resolving matches. */

import {
  DirectoryQuery,
  type DirectoryQuery as DirectoryQueryType,
  type EvaluateRequest as EvaluateBody,
  EvaluateRequest,
  type ResolveRequest as ResolveBody,
  ResolveRequest,
  type TranslateRequest as TranslateBody,
  TranslateRequest,
  toBase64Url,
} from '@parley/core';
import type { FastifyInstance } from 'fastify';
import type { Services } from '../services.js';

export function discoveryRoutes(app: FastifyInstance, services: Services): void {
  app.get<{ Querystring: DirectoryQueryType }>(
    '/v1/directory',
    { schema: { querystring: DirectoryQuery } },
    async (request) => {
      const { keyId, since } = request.query;
      const payload = await services.directory.payload(
        keyId,
        since === undefined ? undefined : Number(since),
      );
      if (payload.type === 'snapshot') return { ...payload, filter: toBase64Url(payload.filter) };
      return {
        ...payload,
        added: payload.added.map(toBase64Url),
        removed: payload.removed.map(toBase64Url),
      };
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
