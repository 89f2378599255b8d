import * as assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ParleyError } from '@parley/core';
import type { ServerConfig } from '../config/config.js';
import { InboxSmsProvider } from '../testing/index.js';
import { VerificationService } from './verification.js';

/** The verification settings of these tests: defaults as on a server, but 4 per IP. */
const settings = (change: Partial<ServerConfig['verification']> = {}) => ({
  codeTtlMs: 600_000,
  maxAttempts: 5,
  perNumber: 3,
  perNumberTotal: 60,
  perIp: 4,
  perPrefix: 30,
  windowMs: 3_600_000,
  ...change,
});

describe('verification', () => {
  let now = 1_000_000;
  const inbox = new InboxSmsProvider();
  const service = new VerificationService(settings(), inbox, () => now);
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

  it('a code checked first stays usable; wrong checks count against the same attempts', async () => {
    const { verificationId, expiresAt } = await service.start('+14152223355', '10.0.0.7');
    const code = inbox.codeFor(verificationId);
    const wrong = code === '000000' ? '111111' : '000000';
    const incorrect = (left: number) => (e: unknown) =>
      e instanceof ParleyError &&
      e.code === 'VERIFICATION_CODE_INCORRECT' &&
      (e.details as { attemptsLeft: number }).attemptsLeft === left;
    await assert.rejects(service.verify(verificationId, wrong), incorrect(4));
    assert.equal((await service.verify(verificationId, code)).getTime(), expiresAt.getTime());
    // Checked, not used: registration then confirms with the same code.
    assert.equal(await service.confirm(verificationId, code), '+14152223355');

    const again = await service.start('+14152223366', '10.0.0.7');
    for (const left of [4, 3, 2, 1]) {
      await assert.rejects(service.verify(again.verificationId, wrong), incorrect(left));
    }
    // The fifth wrong code, at registration, ends it: checking gave no extra guesses.
    await assert.rejects(
      service.confirm(again.verificationId, wrong),
      (e: unknown) => e instanceof ParleyError && e.code === 'VERIFICATION_ATTEMPTS_EXCEEDED',
    );
    await assert.rejects(
      service.verify(again.verificationId, inbox.codeFor(again.verificationId)),
      (e: unknown) => e instanceof ParleyError && e.code === 'VERIFICATION_NOT_FOUND',
    );
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

  it('limits a block of consecutive numbers (bulk SIM cards), whatever the addresses', async () => {
    let clock = 5_000_000;
    const sms = new InboxSmsProvider();
    const limited = new VerificationService(
      settings({ perIp: 100, perPrefix: 5 }),
      sms,
      () => clock,
    );
    try {
      // Requests for the block do not spend it (that would let anyone lock 1,000 people out):
      // completed verifications, which need the codes, do.
      for (let i = 0; i < 20; i++) await limited.start(`+141522271${10 + i}`, `10.3.${i}.1`);
      for (let i = 0; i < 5; i++) {
        const { verificationId } = await limited.start(`+1415222710${i}`, `10.1.0.${i}`);
        await limited.confirm(verificationId, sms.codeFor(verificationId));
      }
      const refused = await limited.start('+14152227199', '10.1.0.99').catch((e: unknown) => e);
      assert.ok(refused instanceof ParleyError);
      assert.equal(refused.code, 'VERIFICATION_RATE_LIMITED');
      // The next block is not affected; the same block is again after its refill.
      await limited.start('+14152226999', '10.1.0.99');
      clock += 13 * 60_000;
      await limited.start('+14152227199', '10.1.0.99');
    } finally {
      limited.close();
    }
  });

  it('backs off a number that keeps asking: an hour, then a day, then a week', async () => {
    let clock = 9_000_000;
    const limited = new VerificationService(
      settings({ perIp: 1000, perPrefix: 1000 }),
      new InboxSmsProvider(),
      () => clock,
    );
    const retryAfter = async () => {
      const e = await limited.start('+14152228800', '10.2.0.1').catch((x: unknown) => x);
      assert.ok(e instanceof ParleyError && e.code === 'VERIFICATION_RATE_LIMITED');
      return e.retryAfterMs!;
    };
    /** Requests until the next refusal, waiting out each; the waits it was told. */
    const drain = async () => {
      for (;;) {
        try {
          await limited.start('+14152228800', '10.2.0.1');
        } catch (e) {
          assert.ok(e instanceof ParleyError && e.code === 'VERIFICATION_RATE_LIMITED');
          return e.retryAfterMs!;
        }
      }
    };
    try {
      // 3 at once, then the hourly bucket makes it wait 20 minutes for the next.
      assert.ok((await drain()) <= 20 * 60_000);
      // Waiting out each hourly refusal, it soon meets the daily allowance (6): hours of waiting.
      let wait = 0;
      for (let i = 0; i < 10 && wait < 60 * 60_000; i++) {
        clock += (await retryAfter()) + 1;
        wait = await drain();
      }
      assert.ok(wait > 60 * 60_000, `the daily allowance makes it wait hours (${wait} ms)`);
      // And waiting out the days, the weekly allowance (12) makes it wait a day or more.
      for (let i = 0; i < 20 && wait < 24 * 3_600_000; i++) {
        clock += (await retryAfter()) + 1;
        wait = await drain();
      }
      assert.ok(
        wait >= (24 * 3_600_000) / 2,
        `the weekly allowance makes it wait about a day (${wait} ms)`,
      );
    } finally {
      limited.close();
    }
  });

  describe('an attacker cannot lock the owner out', () => {
    const victim = '+14155550142';
    const owner = '198.51.100.7';
    const limitedCode = (e: unknown) =>
      e instanceof ParleyError && e.code === 'VERIFICATION_RATE_LIMITED';
    /** Requests codes for `number` from `ip` until refused; how many were sent. */
    const flood = async (s: VerificationService, number: string, ip: string) => {
      for (let sent = 0; ; sent++) {
        const refused = await s.start(number, ip).then(
          () => undefined,
          (e: unknown) => e,
        );
        if (refused) {
          assert.ok(limitedCode(refused), String(refused));
          return sent;
        }
      }
    };

    it("requests from other addresses and networks do not stop the owner's next verification", async () => {
      const clock = 20_000_000;
      const sms = new InboxSmsProvider();
      const s = new VerificationService(settings({ perIp: 20 }), sms, () => clock);
      try {
        // Nine networks, 20 addresses each, IPv4 and IPv6 (many addresses of one /64 are one
        // client), each flooding the victim's number and its whole block until refused.
        for (let n = 0; n < 9; n++) {
          for (let a = 0; a < 20; a++) {
            const ip = n % 2 ? `2001:db8:${n}::${a}:1` : `203.0.${n}.${a}`;
            await flood(s, victim, ip);
            await s
              .start(`+14155550${String(200 + n * 20 + a).padStart(3, '0')}`, ip)
              .catch(() => undefined);
          }
        }
        // The owner, from their own address, the same hour: a code, and it works.
        const { verificationId } = await s.start(victim, owner);
        assert.equal(await s.confirm(verificationId, sms.codeFor(verificationId)), victim);
      } finally {
        s.close();
      }
    });

    it("an attacker's flood throttles only the flooder, and stays throttled", async () => {
      let clock = 30_000_000;
      const s = new VerificationService(
        settings({ perIp: 1000 }),
        new InboxSmsProvider(),
        () => clock,
      );
      try {
        for (let hour = 0; hour < 48; hour++) {
          await flood(s, victim, '203.0.113.9');
          // The owner's request every eight hours (within their own back-off) always passes.
          if (hour % 8 === 0) await s.start(victim, owner);
          clock += 3_600_000;
        }
      } finally {
        s.close();
      }
    });

    it('the SMS bill per number stays bounded, and the refusal names linking', async () => {
      const clock = 40_000_000;
      let sent = 0;
      const s = new VerificationService(
        settings({ perIp: 1000 }),
        {
          name: 'count',
          sendVerification: async () => {
            sent++;
          },
        },
        () => clock,
      );
      try {
        // A botnet of 1,000 networks: the number is sent at most its ceiling (60 an hour).
        for (let n = 0; n < 1000; n++) await flood(s, victim, `10.${n >> 8}.${n & 255}.1`);
        assert.equal(sent, 60);
        const refused = await s.start(victim, owner).catch((e: unknown) => e);
        assert.ok(limitedCode(refused));
        assert.match((refused as ParleyError).message, /link this one from it/);
      } finally {
        s.close();
      }
    });
  });

  it('an SMS failure leaves no pending verification behind', async () => {
    const failing = new VerificationService(settings(), {
      name: 'down',
      sendVerification: async () => {
        throw new ParleyError('SMS_DELIVERY_FAILED');
      },
    });
    await assert.rejects(failing.start('+14152223344', '10.0.0.9'), {
      code: 'SMS_DELIVERY_FAILED',
    });
    assert.equal(await failing.count(), 0);
    failing.close();
  });
});
