import * as assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ParleyError } from '@parley/core';
import { InboxSmsProvider } from './testing.js';
import { VerificationService } from './verification.js';

describe('verification', () => {
  let now = 1_000_000;
  const inbox = new InboxSmsProvider();
  const service = new VerificationService(
    { codeTtlMs: 600_000, maxAttempts: 5, perNumber: 3, perIp: 4, windowMs: 3_600_000 },
    inbox,
    () => now,
  );
  after(() => service.close());

  it('a code expires after its lifetime', async () => {
    const { verificationId, expiresAt } = await service.start('+14152223344', '10.0.0.1');
    assert.equal(expiresAt.getTime(), now + 600_000);
    now += 600_001;
    await assert.rejects(
      service.confirm(verificationId, inbox.codeFor(verificationId)),
      (e: unknown) => e instanceof ParleyError && e.code === 'VERIFICATION_NOT_FOUND',
    );
    assert.equal(await service.count(), 0, 'the expired verification (and its number) is gone');
  });

  it('a correct code returns the number once and forgets it', async () => {
    const { verificationId } = await service.start('+447911123456', '10.0.0.1');
    assert.equal(
      await service.confirm(verificationId, inbox.codeFor(verificationId)),
      '+447911123456',
    );
    assert.equal(await service.count(), 0);
  });

  it('limits requests per IP across numbers, and says when to retry', async () => {
    for (const n of ['+4915123456789', '+12125551234', '+14152223399', '+14152223388']) {
      await service.start(n, '10.0.0.5');
    }
    const error = await service.start('+13052221111', '10.0.0.5').catch((e: unknown) => e);
    assert.ok(error instanceof ParleyError);
    assert.equal(error.code, 'VERIFICATION_RATE_LIMITED');
    // 4 per hour: the next token comes after 15 minutes.
    assert.equal(Math.round(error.retryAfterMs! / 1000), 15 * 60);
    // Another IP is not affected.
    await service.start('+13052221111', '10.0.0.2');
  });

  it('an SMS failure leaves no pending verification behind', async () => {
    const failing = new VerificationService(
      { codeTtlMs: 600_000, maxAttempts: 5, perNumber: 3, perIp: 4, windowMs: 3_600_000 },
      {
        name: 'down',
        sendVerification: async () => {
          throw new ParleyError('SMS_DELIVERY_FAILED');
        },
      },
    );
    await assert.rejects(failing.start('+14152223344', '10.0.0.9'), {
      code: 'SMS_DELIVERY_FAILED',
    });
    assert.equal(await failing.count(), 0);
    failing.close();
  });
});
