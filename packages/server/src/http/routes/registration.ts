/** POST /v1/verifications (request a code) and POST /v1/accounts (confirm it, get a device). */

import {
  isE164,
  ParleyError,
  type RegisterRequest as RegisterBody,
  RegisterRequest,
  type VerificationRequest as VerificationBody,
  VerificationRequest,
} from '@parley/core';
import type { FastifyInstance } from 'fastify';
import { CODE_LENGTH } from '../../identity/verification.js';
import type { Services } from '../../services.js';

export function registrationRoutes(app: FastifyInstance, services: Services): void {
  app.post<{ Body: VerificationBody }>(
    '/v1/verifications',
    { schema: { body: VerificationRequest } },
    async (request, reply) => {
      const { phoneNumber } = request.body;
      if (!isE164(phoneNumber)) throw new ParleyError('INVALID_PHONE_NUMBER');
      const { verificationId, expiresAt } = await services.verification.start(
        phoneNumber,
        request.ip,
      );
      return reply.status(201).send({
        verificationId,
        expiresAt: expiresAt.toISOString(),
        codeLength: CODE_LENGTH,
      });
    },
  );

  app.post<{ Body: RegisterBody }>(
    '/v1/accounts',
    { schema: { body: RegisterRequest } },
    async (request, reply) => {
      const { verificationId, code, discoverable, presence, deviceName } = request.body;
      const phoneNumber = await services.verification.confirm(verificationId, code);
      const result = await services.accounts.register(
        phoneNumber,
        discoverable,
        presence,
        deviceName,
      );
      return reply.status(201).send(result);
    },
  );
}
