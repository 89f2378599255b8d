/**
 * The signed-in device's own account: read it (with its devices), change discoverability, delete
 * it; sign out one of its devices, or all the others; its identity key, this device's
 * certificate, the registration lock; another account's identity key; and who may see it online
 * (the presence allow-list).
 */

import {
  AccountParams,
  type AccountParams as AccountParamsType,
  AccountUpdateRequest,
  type AllowListChange as AllowListBody,
  AllowListChange,
  type CertificateRequest as CertificateBody,
  CertificateRequest,
  DeviceParams,
  type DeviceParams as DeviceParamsType,
  fromBase64Url,
  type IdentityKeyRequest as IdentityBody,
  IdentityKeyRequest,
  type RegistrationLockRequest as LockBody,
  ParleyError,
  RegistrationLockRequest,
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

  // Its client adds the contacts it resolved and the people it talks to, and takes them off again.
  app.post<{ Body: AllowListBody }>(
    '/v1/presence/allow-list',
    { schema: { body: AllowListChange } },
    async (request) => services.allowList.change(request.device.accountId, request.body),
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

  app.put<{ Body: CertificateBody }>(
    '/v1/device/certificate',
    { schema: { body: CertificateRequest } },
    async (request, reply) => {
      await services.identityKeys.setCertificate(request.device, request.body.certificate);
      return reply.status(204).send();
    },
  );

  // Accounts made before identity keys only; IDENTITY_EXISTS otherwise.
  app.put<{ Body: IdentityBody }>(
    '/v1/account/identity',
    { schema: { body: IdentityKeyRequest } },
    async (request, reply) => {
      const key = fromBase64Url(request.body.identityKey);
      if (!key) {
        throw new ParleyError('VALIDATION_FAILED', {
          details: [{ field: 'body/identityKey', problem: 'not canonical base64url' }],
        });
      }
      await services.identityKeys.setIdentityKey(request.device.accountId, key);
      return reply.status(204).send();
    },
  );

  app.get<{ Params: AccountParamsType }>(
    '/v1/accounts/:accountId/identity',
    { schema: { params: AccountParams } },
    async (request) => services.identityKeys.identityOf(request.params.accountId),
  );

  app.put<{ Body: LockBody }>(
    '/v1/account/registration-lock',
    { schema: { body: RegistrationLockRequest } },
    async (request, reply) => {
      await services.accounts.lock.set(request.device.accountId, request.body.pin);
      return reply.status(204).send();
    },
  );

  app.delete('/v1/account/registration-lock', async (request, reply) => {
    await services.accounts.lock.clear(request.device.accountId);
    return reply.status(204).send();
  });
}
