/**
 * Phone-number verification. The number exists only in this process's memory, inside a pending
 * verification, for the code's lifetime (10 minutes by default); it is never written to disk and
 * never logged. Per-number limits are keyed by an HMAC under a per-process random key, so even the
 * limiter's map holds no number.
 */

import { createHash, createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import { ParleyError } from '@parley/core';
import type { ServerConfig } from './config.js';
import { TokenBuckets } from './rate-limit.js';
import type { SmsProvider } from './sms/sms-provider.js';

interface Pending {
  phoneNumber: string;
  codeHash: Buffer;
  expiresAt: number;
  attempts: number;
}

export const CODE_LENGTH = 6;

export class VerificationService {
  private readonly pending = new Map<string, Pending>();
  private readonly perNumber: TokenBuckets;
  private readonly perIp: TokenBuckets;
  private readonly limiterKey = randomBytes(32);
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly config: ServerConfig['verification'],
    private readonly sms: SmsProvider,
    private readonly now: () => number = Date.now,
  ) {
    this.perNumber = new TokenBuckets(config.perNumber, config.windowMs, now);
    this.perIp = new TokenBuckets(config.perIp, config.windowMs, now);
    this.sweeper = setInterval(() => this.sweep(), 30_000);
    this.sweeper.unref();
  }

  get size(): number {
    return this.pending.size;
  }

  async start(
    phoneNumber: string,
    ip: string,
  ): Promise<{ verificationId: string; expiresAt: Date }> {
    const ipLimit = this.perIp.take(ip);
    if (!ipLimit.allowed) {
      throw new ParleyError('VERIFICATION_RATE_LIMITED', { retryAfterMs: ipLimit.retryAfterMs });
    }
    const numberKey = createHmac('sha256', this.limiterKey).update(phoneNumber).digest('base64');
    const numberLimit = this.perNumber.take(numberKey);
    if (!numberLimit.allowed) {
      throw new ParleyError('VERIFICATION_RATE_LIMITED', {
        retryAfterMs: numberLimit.retryAfterMs,
      });
    }
    const verificationId = randomBytes(16).toString('base64url');
    const code = String(randomInt(0, 10 ** CODE_LENGTH)).padStart(CODE_LENGTH, '0');
    const expiresAt = new Date(this.now() + this.config.codeTtlMs);
    this.pending.set(verificationId, {
      phoneNumber,
      codeHash: hashCode(verificationId, code),
      expiresAt: expiresAt.getTime(),
      attempts: 0,
    });
    try {
      await this.sms.sendVerification({ to: phoneNumber, code, verificationId, expiresAt });
    } catch (error) {
      this.pending.delete(verificationId);
      throw error;
    }
    return { verificationId, expiresAt };
  }

  /**
   * Checks a code. On success the verification is consumed (single use) and the number handed to
   * the caller, who must turn it into a directory element and drop it.
   */
  confirm(verificationId: string, code: string): string {
    const entry = this.pending.get(verificationId);
    if (!entry || entry.expiresAt <= this.now()) {
      this.pending.delete(verificationId);
      throw new ParleyError('VERIFICATION_NOT_FOUND');
    }
    // Compared as fixed-length hashes in constant time: no timing hint about the code.
    if (!timingSafeEqual(entry.codeHash, hashCode(verificationId, code))) {
      entry.attempts += 1;
      const attemptsLeft = this.config.maxAttempts - entry.attempts;
      if (attemptsLeft <= 0) {
        this.pending.delete(verificationId);
        throw new ParleyError('VERIFICATION_ATTEMPTS_EXCEEDED');
      }
      throw new ParleyError('VERIFICATION_CODE_INCORRECT', { details: { attemptsLeft } });
    }
    this.pending.delete(verificationId);
    return entry.phoneNumber;
  }

  private sweep(): void {
    const now = this.now();
    for (const [id, entry] of this.pending) if (entry.expiresAt <= now) this.pending.delete(id);
  }

  close(): void {
    clearInterval(this.sweeper);
    this.pending.clear();
  }
}

function hashCode(verificationId: string, code: string): Buffer {
  return createHash('sha256').update(`${verificationId}:${code}`).digest();
}
