/**
 * The linking relay (identity/linking.ts): the new device starts a session and polls for its
 * result without a credential; an existing device looks the handle up and approves it.
 */

import {
  LinkApproval,
  type LinkApproval as LinkApprovalBody,
  LinkHandleParams,
  type LinkHandleParams as LinkHandleParamsType,
  LinkIdParams,
  type LinkIdParams as LinkIdParamsType,
  LinkRequest,
  type LinkRequest as LinkRequestBody,
} from '@parley/core';
import type { FastifyInstance } from 'fastify';
import type { Services } from '../../services.js';

/** For the new device, which has no credential yet. */
export function linkRoutes(app: FastifyInstance, services: Services): void {
  app.post<{ Body: LinkRequestBody }>(
    '/v1/links',
    { schema: { body: LinkRequest } },
    async (request, reply) =>
      reply.status(201).send(await services.linking.start(request.body, request.ip)),
  );

  app.get<{ Params: LinkIdParamsType }>(
    '/v1/links/:linkId/result',
    { schema: { params: LinkIdParams } },
    async (request) => services.linking.result(request.params.linkId),
  );
}

/** For a signed-in device of the account the new device joins. */
export function linkApprovalRoutes(app: FastifyInstance, services: Services): void {
  app.get<{ Params: LinkHandleParamsType }>(
    '/v1/links/:handle',
    { schema: { params: LinkHandleParams } },
    async (request) => services.linking.show(request.device, request.params.handle),
  );

  app.post<{ Params: LinkHandleParamsType; Body: LinkApprovalBody }>(
    '/v1/links/:handle/approve',
    { schema: { params: LinkHandleParams, body: LinkApproval } },
    async (request) =>
      services.linking.approve(request.device, request.params.handle, request.body.envelope),
  );
}
