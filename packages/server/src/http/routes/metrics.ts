/**
 * `GET /metrics` in Prometheus' text format. Registered in the admin scope, so it takes the admin
 * token (`Authorization: Bearer <data>/admin-token`), as Prometheus sends it with
 * `authorization: { credentials_file: … }` in its scrape config.
 */

import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../../infra/metrics/metrics.js';

export function metricsRoute(app: FastifyInstance, metrics: Metrics): void {
  app.get('/metrics', async (_request, reply) =>
    reply.header('content-type', metrics.contentType).send(await metrics.text()),
  );
}
