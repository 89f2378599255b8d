/**
 * Operator endpoints, guarded by the admin token in <data>/admin-token (mode 0600), which
 * `parley admin …` reads. Nothing here reveals anything about any number.
 */

import { createHash, timingSafeEqual } from 'node:crypto';
import { ParleyError } from '@parley/core';
import type { FastifyInstance } from 'fastify';
import { countDevices } from '../../identity/device-store.js';
import type { Services } from '../../services.js';

export function adminRoutes(app: FastifyInstance, services: Services, adminToken: string): void {
  const expected = createHash('sha256').update(adminToken).digest();
  app.addHook('onRequest', async (request) => {
    const presented = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1] ?? '';
    const digest = createHash('sha256').update(presented).digest();
    if (!timingSafeEqual(digest, expected)) throw new ParleyError('ADMIN_UNAUTHORIZED');
  });

  app.post('/v1/admin/rotate-key', async () => services.directory.rotate());

  // Spam reports: the reported account and when; the texts only where the reporter attached them.
  app.get('/v1/admin/reports', async () => ({ reports: await services.blocks.reports() }));

  app.get('/v1/admin/stats', async () => {
    const { db, directory } = services;
    const accounts = await db
      .selectFrom('accounts')
      .select((eb) => [
        eb.fn.countAll<number>().as('all'),
        eb.fn.sum<number>('discoverable').as('discoverable'),
      ])
      .executeTakeFirstOrThrow();
    const devices = await countDevices(db);
    return {
      keyId: directory.currentKeyId,
      directoryVersion: await directory.currentVersion(),
      accounts: Number(accounts.all),
      discoverableAccounts: Number(accounts.discoverable ?? 0),
      devices,
      pendingVerifications: await services.verification.count(),
      evaluations: services.discovery.evaluations,
      retainedKeys: directory.retainedKeyIds(),
      oprfBackend: services.pool.backend,
      uptimeSeconds: Math.round(process.uptime()),
    };
  });
}
