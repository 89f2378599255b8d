/**
 * POST /v1/verifications (request a code), POST /v1/verifications/check (check it before the
 * sign-up questions) and POST /v1/accounts (confirm it, get a device).
 */

import {
  type CodeCheckRequest as CodeCheckBody,
  CodeCheckRequest,
  fromBase64Url,
  isE164,
  ParleyError,
  type RegisterRequest as RegisterBody,
  RegisterRequest,
  type VerificationRequest as VerificationBody,
  VerificationRequest,
} from '@parley/core';
import type { FastifyInstance } from 'fastify';
import { CODE_LENGTH } from '../../identity/verification.js';
import { acceptedLanguages } from '../../infra/sms/messages.js';
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
        acceptedLanguages(request.headers['accept-language']),
      );
      return reply.status(201).send({
        verificationId,
        expiresAt: expiresAt.toISOString(),
        codeLength: CODE_LENGTH,
      });
    },
  );

  app.post<{ Body: CodeCheckBody }>(
    '/v1/verifications/check',
    { schema: { body: CodeCheckRequest } },
    async (request) => {
      const { verificationId, code } = request.body;
      const expiresAt = await services.verification.verify(verificationId, code);
      return { verificationId, expiresAt: expiresAt.toISOString() };
    },
  );

  app.post<{ Body: RegisterBody }>(
    '/v1/accounts',
    { schema: { body: RegisterRequest } },
    async (request, reply) => {
      const { verificationId, code, identityKey, registrationLockPin, ...answers } = request.body;
      const key = fromBase64Url(identityKey);
      if (!key) {
        throw new ParleyError('VALIDATION_FAILED', {
          details: [{ field: 'body/identityKey', problem: 'not canonical base64url' }],
        });
      }
      // A registration lock asking for its PIN keeps the verification: the same code may be
      // sent again with the PIN.
      const result = await services.verification.confirmFor(
        verificationId,
        code,
        ['REGISTRATION_LOCKED'],
        (phoneNumber) =>
          services.accounts.register(phoneNumber, {
            ...answers,
            identityKey: key,
            ...(registrationLockPin === undefined ? {} : { registrationLockPin }),
          }),
      );
      return reply.status(201).send(result);
    },
  );
}
