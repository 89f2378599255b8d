/** KeyPackages, conversations (commits) over HTTP; the device's WebSocket at /v1/socket. */

import {
  type KeyPackageClaimRequest as ClaimBody,
  type CommitRequest as CommitBody,
  CommitRequest,
  GroupParams,
  type GroupParams as GroupParamsType,
  KeyPackageClaimRequest,
  KeyPackageUpload,
  ParleyError,
  type KeyPackageUpload as UploadBody,
} from '@parley/core';
import type { FastifyInstance } from 'fastify';
import { DeviceSocket, type SocketOptions } from '../../realtime/socket.js';
import type { Services } from '../../services.js';

export function messagingRoutes(app: FastifyInstance, services: Services): void {
  app.post<{ Body: UploadBody }>(
    '/v1/keys/packages',
    { schema: { body: KeyPackageUpload } },
    async (request) => services.keyPackages.upload(request.device, request.body),
  );

  app.get('/v1/keys/packages', async (request) =>
    services.keyPackages.stock(request.device.deviceId),
  );

  app.post<{ Body: ClaimBody }>(
    '/v1/keys/claim',
    { schema: { body: KeyPackageClaimRequest } },
    async (request) => ({
      keyPackages: await services.keyPackages.claim(request.device, request.body.accountIds),
    }),
  );

  app.post<{ Params: GroupParamsType; Body: CommitBody }>(
    '/v1/groups/:groupId/commits',
    { schema: { params: GroupParams, body: CommitRequest } },
    async (request) => services.groups.commit(request.device, request.params.groupId, request.body),
  );

  app.post<{ Params: GroupParamsType }>(
    '/v1/groups/:groupId/leave',
    { schema: { params: GroupParams } },
    async (request) => {
      await services.groups.leave(request.device, request.params.groupId);
      return { groupId: request.params.groupId, left: true as const };
    },
  );

  app.get<{ Params: GroupParamsType }>(
    '/v1/groups/:groupId',
    { schema: { params: GroupParams } },
    async (request) => services.groups.get(request.device, request.params.groupId),
  );
}

/**
 * The socket authenticates with its first frame, so it sits outside the header-auth scope.
 * `open` holds the live sockets, for a graceful shutdown to drain.
 */
export function socketRoute(
  app: FastifyInstance,
  services: Services,
  options: SocketOptions,
  open: Set<DeviceSocket>,
): void {
  app.route({
    method: 'GET',
    url: '/v1/socket',
    // A plain request (no Upgrade) would otherwise get the plugin's bare 404 with no error body.
    handler: async () => {
      throw new ParleyError('WEBSOCKET_UPGRADE_REQUIRED');
    },
    wsHandler: (socket, request) => {
      const device = new DeviceSocket(socket, services, request.log, options);
      open.add(device);
      socket.once('close', () => open.delete(device));
    },
  });
}
