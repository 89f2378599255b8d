/**
 * Builds the Fastify application: strict request validation (unknown fields rejected, no type
 * coercion), one error shape, device authentication on /v1 routes that need it, and logs that
 * carry no request bodies and no credentials.
 */

import websocket from '@fastify/websocket';
import type { DeviceRef } from '@parley/core';
import { LIMITS } from '@parley/core';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Metrics } from '../infra/metrics/metrics.js';
import type { DeviceSocket, SocketOptions } from '../realtime/socket.js';
import type { Services } from '../services.js';
import { handleClosing } from './closing.js';
import {
  clientErrorHandler,
  frameworkErrors,
  installErrorHandling,
  toParleyError,
} from './errors.js';
import { accountRoutes } from './routes/account.js';
import { adminRoutes } from './routes/admin.js';
import { attachmentRoutes } from './routes/attachments.js';
import { discoveryRoutes } from './routes/discovery.js';
import { linkApprovalRoutes, linkRoutes } from './routes/linking.js';
import { messagingRoutes, socketRoute } from './routes/messaging.js';
import { metricsRoute } from './routes/metrics.js';
import { peopleRoutes } from './routes/people.js';
import { pushKeyRoutes, pushRoutes } from './routes/push.js';
import { registrationRoutes } from './routes/registration.js';

declare module 'fastify' {
  interface FastifyRequest {
    device: DeviceRef;
  }
}

export function buildApp(
  services: Services,
  options: {
    adminToken: string;
    logger: FastifyServerOptions['logger'];
    socket?: Partial<SocketOptions>;
    metrics: Metrics;
    /** Proxies whose X-Forwarded-For is believed (config.trustProxy). */
    trustProxy?: string[];
    /** Serve HTTPS with this certificate and key, and send HSTS with this max-age (0: none). */
    tls?: { cert: Buffer; key: Buffer; hstsMaxAgeSeconds: number };
  },
): FastifyInstance {
  // With `https`, Fastify makes an https.Server: its request handling is http.Server's, which is
  // the type the rest of the code sees (the TLS part is reached as tls.Server where needed).
  const https = options.tls ? { https: { cert: options.tls.cert, key: options.tls.key } } : {};
  const app = Fastify({
    ...(https as object),
    ...(options.trustProxy && options.trustProxy.length > 0
      ? { trustProxy: options.trustProxy }
      : {}),
    logger: options.logger,
    bodyLimit: LIMITS.bodyBytes,
    frameworkErrors,
    clientErrorHandler,
    // closing.ts answers requests that arrive during a shutdown, a browser with a page.
    return503OnClosing: false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  });
  installErrorHandling(app);
  if (options.tls && options.tls.hstsMaxAgeSeconds > 0) {
    // RFC 6797: browsers that saw this over HTTPS use only HTTPS for this host until max-age.
    const hsts = `max-age=${options.tls.hstsMaxAgeSeconds}`;
    app.addHook('onSend', async (_request, reply) => {
      reply.header('strict-transport-security', hsts);
    });
  }
  const { metrics } = options;
  app.addHook('onError', async (request, _reply, error) => {
    metrics.refused(toParleyError(error).code, request.routeOptions.url);
  });
  app.addHook('onResponse', async (request, reply) => {
    metrics.request(request.method, request.routeOptions.url, reply.statusCode, reply.elapsedTime);
  });
  // While closing: 503 (a page for a browser, JSON for the API), idle connections closed at once.
  const closing = handleClosing(app);
  app.addHook('preClose', (done) => {
    closing.begin();
    done();
  });
  // JSON only: a text/plain body would otherwise reach validation as a string.
  app.removeContentTypeParser('text/plain');

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    try {
      await services.db.selectFrom('meta').select('name').limit(1).execute();
    } catch {
      return reply
        .status(503)
        .send({ code: 'SERVICE_UNAVAILABLE', message: 'database unavailable' });
    }
    if (!(await services.bus.ready())) {
      return reply.status(503).send({ code: 'SERVICE_UNAVAILABLE', message: 'Redis unavailable' });
    }
    return { status: 'ready' };
  });

  // ws closes frames above maxPayload itself (1009); frames between the messaging limit and this
  // get a typed FRAME_TOO_LARGE and the connection stays.
  const sockets = new Set<DeviceSocket>();
  app.register(websocket, {
    options: { maxPayload: 1024 * 1024 },
    // On close (the plugin has stopped upgrades already): drain every socket, then close 1001.
    preClose(done) {
      Promise.allSettled([...sockets].map((socket) => socket.shutdown())).then(() =>
        this.websocketServer.close(() => {
          // Connections opened during the drain and left unused would hold the listener's close.
          closing.closeIdle();
          done();
        }),
      );
    },
  });
  app.register(async (open) => {
    registrationRoutes(open, services);
    linkRoutes(open, services);
    pushKeyRoutes(open, services);
  });
  app.register(async (open) =>
    socketRoute(
      open,
      services,
      {
        authTimeoutMs: options.socket?.authTimeoutMs ?? 10_000,
        heartbeatMs: options.socket?.heartbeatMs ?? 30_000,
      },
      sockets,
    ),
  );
  app.register(async (authed) => {
    authed.decorateRequest('device', null as unknown as DeviceRef);
    authed.addHook('onRequest', async (request) => {
      request.device = await services.accounts.authenticate(request.headers.authorization);
    });
    accountRoutes(authed, services);
    discoveryRoutes(authed, services);
    messagingRoutes(authed, services);
    peopleRoutes(authed, services);
    linkApprovalRoutes(authed, services);
    attachmentRoutes(authed, services);
    pushRoutes(authed, services);
  });
  app.register(async (admin) => {
    adminRoutes(admin, services, options.adminToken);
    metricsRoute(admin, metrics);
  });
  return app;
}
