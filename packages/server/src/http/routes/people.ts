/**
 * People: the caller's sealed profile and anyone's (useless without its owner's key), blocking
 * and unblocking an account, and reporting one as spam.
 */

import {
  AccountParams,
  type AccountParams as AccountParamsType,
  type ProfilePut as ProfileBody,
  ProfilePut,
  SpamReport,
  type SpamReport as SpamReportBody,
} from '@parley/core';
import type { FastifyInstance } from 'fastify';
import type { Services } from '../../services.js';

export function peopleRoutes(app: FastifyInstance, services: Services): void {
  app.put<{ Body: ProfileBody }>('/v1/profile', { schema: { body: ProfilePut } }, async (request) =>
    services.profiles.put(request.device.accountId, request.body),
  );

  app.get<{ Params: AccountParamsType }>(
    '/v1/accounts/:accountId/profile',
    { schema: { params: AccountParams } },
    async (request) => services.profiles.get(request.params.accountId),
  );

  app.put<{ Params: AccountParamsType }>(
    '/v1/blocks/:accountId',
    { schema: { params: AccountParams } },
    async (request, reply) => {
      await services.blocks.block(request.device.accountId, request.params.accountId);
      return reply.status(204).send();
    },
  );

  app.delete<{ Params: AccountParamsType }>(
    '/v1/blocks/:accountId',
    { schema: { params: AccountParams } },
    async (request, reply) => {
      await services.blocks.unblock(request.device.accountId, request.params.accountId);
      return reply.status(204).send();
    },
  );

  app.post<{ Body: SpamReportBody }>(
    '/v1/reports',
    { schema: { body: SpamReport } },
    async (request, reply) => {
      await services.blocks.report(request.body);
      return reply.status(204).send();
    },
  );
}
