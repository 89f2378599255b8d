/**
 * The signed-in device's own account: read it (with its devices), change discoverability, delete
 * it; sign out one of its devices, or all the others.
 */

import {
  AccountUpdateRequest,
  DeviceParams,
  type DeviceParams as DeviceParamsType,
  type AccountUpdateRequest as UpdateBody,
} from '@parley/core';
import type { FastifyInstance } from 'fastify';
import type { Services } from '../../services.js';

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

  app.delete<{ Params: DeviceParamsType }>(
    '/v1/devices/:deviceId',
    { schema: { params: DeviceParams } },
    async (request, reply) => {
      await services.devices.remove(request.device, request.params.deviceId);
      return reply.status(204).send();
    },
  );

  // Sign out everywhere else (a lost phone): every device of the account but this one.
  app.delete('/v1/devices', async (request) => ({
    removed: await services.devices.removeOthers(request.device),
  }));
}
