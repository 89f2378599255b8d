/**
 * Web Push (push/): the server's VAPID public key, which browsers subscribe with, for anyone; and
 * for a signed-in device, storing, replacing or deleting its own push subscription.
 */

import {
  type PushSubscriptionRequest as PushSubscriptionBody,
  PushSubscriptionRequest,
} from '@parley/core';
import type { FastifyInstance } from 'fastify';
import type { Services } from '../../services.js';

/** Needs no credential: the key is public, and a browser needs it before it can subscribe. */
export function pushKeyRoutes(app: FastifyInstance, services: Services): void {
  app.get('/v1/push/vapid-key', async () => ({ publicKey: services.vapidKey.publicKey }));
}

/** The signed-in device's own subscription. */
export function pushRoutes(app: FastifyInstance, services: Services): void {
  app.put<{ Body: PushSubscriptionBody }>(
    '/v1/device/push-subscription',
    { schema: { body: PushSubscriptionRequest } },
    async (request, reply) => {
      await services.push.subscriptions.put(request.device.deviceId, request.body);
      return reply.status(204).send();
    },
  );

  // Turning notifications off; deleting a subscription the device does not have is not an error.
  app.delete('/v1/device/push-subscription', async (request, reply) => {
    await services.push.subscriptions.remove(request.device.deviceId);
    return reply.status(204).send();
  });
}
