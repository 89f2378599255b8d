/** The signed-in device's own account: read it, change discoverability, delete it. */

import { AccountUpdateRequest, type AccountUpdateRequest as UpdateBody } from '@parley/core';
import type { FastifyInstance } from 'fastify';
import type { Services } from '../services.js';

export function accountRoutes(app: FastifyInstance, services: Services): void {
  app.get('/v1/account', async (request) => services.accounts.get(request.device.accountId));

  app.patch<{ Body: UpdateBody }>(
    '/v1/account',
    { schema: { body: AccountUpdateRequest } },
    async (request) => services.accounts.update(request.device.accountId, request.body),
  );

  // Everything of the account goes, all its devices included; the credential is refused after.
  app.delete('/v1/account', async (request, reply) => {
    await services.deletion.delete(request.device);
    return reply.status(204).send();
  });
}
