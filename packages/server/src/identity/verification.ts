/**
 * Phone-number verification. The number exists only inside a pending verification, for the
 * code's lifetime (10 minutes by default), in memory: this process's, or Redis' when nodes share
 * a bus. It is never written to disk and never logged, and the bus never sees it in the clear: a
 * session is sealed (AES-256-GCM) under a key derived from its verification id, which only the
 * client holds, and stored under a hash of that id. Per-number limits are keyed by an HMAC under
 * the limiter key, so even the limiter's keys hold no number.
 *
 * Limits are keyed so that nobody can spend another person's allowance (docs/security.md,
 * "Registration abuse"): a number's escalating back-off counts per requesting client and per
 * network, so a flood from elsewhere throttles only the flooder; the number's own ceiling, for the
 * SMS bill, is far above what one client or network may ask for it; and the limit on a block of
 * numbers counts completed verifications, which take the codes, not requests.
 */

import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  randomBytes,
  randomInt,
  timingSafeEqual,
} from 'node:crypto';
import { type ErrorCode, ParleyError } from '@parley/core';
import type { ServerConfig } from '../config/config.js';
import { type Bucket, type Bus, takeAll } from '../infra/bus/bus.js';
import { InProcessBus } from '../infra/bus/in-process.js';
import type { SmsProvider } from '../infra/sms/sms-provider.js';
import { clientAddress } from './client-address.js';

interface Pending {
  phoneNumber: string;
  /** SHA-256 of `id:code`, base64. */
  codeHash: string;
  expiresAt: number;
}

export const CODE_LENGTH = 6;

export interface SharedVerification {
  bus: Bus;
  /**
   * Keys the per-number limits. Nodes that share a bus must share it too, or each keeps its own
   * count per number; by default a random key of this process.
   */
  limiterKey: Uint8Array;
}

export class VerificationService {
  private readonly bus: Bus;
  private readonly ownBus: boolean;
  private readonly limiterKey: Uint8Array;
  /** Each list's buckets are all charged; the first that refuses names the wait. */
  private readonly perNumberClient: Bucket[];
  private readonly perNumberNetwork: Bucket[];
  private readonly perNumberTotal: Bucket[];
  private readonly perIp: Bucket[];
  private readonly perPrefix: Bucket[];

  constructor(
    private readonly config: ServerConfig['verification'],
    private readonly sms: SmsProvider,
    private readonly now: () => number = Date.now,
    shared?: SharedVerification,
  ) {
    this.bus = shared?.bus ?? new InProcessBus(now);
    this.ownBus = !shared;
    this.limiterKey = shared?.limiterKey ?? randomBytes(32);
    // Escalating back-off: a number that keeps asking waits a window, then a day, then a week
    // (each longer bucket holds a small multiple of the hourly allowance). It counts per client
    // (the owner retrying), per network (twice that: the addresses of one network together), and
    // for the number whoever asks (the SMS bill). Prefixes (blocks of 1,000 consecutive numbers,
    // as bulk SIM cards come) and addresses get an hourly and a daily allowance.
    const day = 24 * 3_600_000;
    const escalating = (name: string, capacity: number): Bucket[] => [
      { name, capacity, windowMs: config.windowMs },
      { name: `${name}-day`, capacity: capacity * 2, windowMs: day },
      { name: `${name}-week`, capacity: capacity * 4, windowMs: 7 * day },
    ];
    this.perNumberClient = escalating('verification-number', config.perNumber);
    this.perNumberNetwork = escalating('verification-number-net', config.perNumber * 2);
    this.perNumberTotal = escalating('verification-number-all', config.perNumberTotal);
    this.perIp = [
      { name: 'verification-ip', capacity: config.perIp, windowMs: config.windowMs },
      { name: 'verification-ip-day', capacity: config.perIp * 5, windowMs: day },
    ];
    this.perPrefix = [
      { name: 'verification-prefix', capacity: config.perPrefix, windowMs: config.windowMs },
      { name: 'verification-prefix-day', capacity: config.perPrefix * 3, windowMs: day },
    ];
  }

  private keyed(label: string, value: string): string {
    return createHmac('sha256', this.limiterKey).update(`${label}\n${value}`).digest('base64');
  }

  /**
   * Charges every (buckets, key) pair in order, or none: a refusal gives back what the earlier
   * ones took, so a refused request spends nobody's allowance, and only requests every
   * narrower limit allowed reach the number's own ceiling.
   */
  private async take(charges: readonly (readonly [Bucket[], string])[]): Promise<void> {
    const taken: (readonly [Bucket[], string])[] = [];
    for (const charge of charges) {
      const result = await takeAll(this.bus, charge[0], charge[1]);
      if (!result.allowed) {
        for (const [buckets, key] of taken) {
          for (const bucket of buckets) await this.bus.refund(bucket, key);
        }
        throw new ParleyError('VERIFICATION_RATE_LIMITED', { retryAfterMs: result.retryAfterMs });
      }
      taken.push(charge);
    }
  }

  /** `languages`: the requester's, most preferred first; they pick the SMS's text. */
  async start(
    phoneNumber: string,
    ip: string,
    languages: readonly string[] = [],
  ): Promise<{ verificationId: string; expiresAt: Date }> {
    const { client, network } = clientAddress(ip);
    const prefix = this.keyed('prefix', phoneNumber.slice(0, -3));
    // The block's allowance is spent by completed verifications (confirm), which need the codes:
    // here it is only looked at (taken and given back), so requests cannot use it up.
    await this.take([[this.perPrefix, prefix]]);
    for (const bucket of this.perPrefix) await this.bus.refund(bucket, prefix);
    await this.take([
      [this.perIp, client],
      [this.perNumberClient, this.keyed('number', `${phoneNumber}\n${client}`)],
      [this.perNumberNetwork, this.keyed('number', `${phoneNumber}\n${network}`)],
      [this.perNumberTotal, this.keyed('number', phoneNumber)],
    ]);
    const verificationId = randomBytes(16).toString('base64url');
    const code = String(randomInt(0, 10 ** CODE_LENGTH)).padStart(CODE_LENGTH, '0');
    const expiresAt = new Date(this.now() + this.config.codeTtlMs);
    const pending: Pending = {
      phoneNumber,
      codeHash: hashCode(verificationId, code).toString('base64'),
      expiresAt: expiresAt.getTime(),
    };
    await this.bus.sessions.create(
      verificationId,
      seal(verificationId, pending),
      this.config.codeTtlMs,
    );
    try {
      await this.sms.sendVerification({
        to: phoneNumber,
        code,
        verificationId,
        expiresAt,
        languages,
      });
    } catch (error) {
      await this.bus.sessions.consume(verificationId);
      throw error;
    }
    return { verificationId, expiresAt };
  }

  /**
   * Checks a code. On success the verification is consumed (single use, on whichever node) and
   * the number handed to the caller, who must turn it into a directory element and drop it.
   */
  async confirm(verificationId: string, code: string): Promise<string> {
    const { phoneNumber } = await this.check(verificationId, code);
    await this.spendPrefix(phoneNumber);
    return phoneNumber;
  }

  /**
   * Checks a code and hands the number to `use`. When `use` refuses with one of `keepOn` (the
   * registration lock asking for its PIN), the verification is put back as it was, with the same
   * code and expiry, so the user can send what was missing without another SMS.
   */
  async confirmFor<T>(
    verificationId: string,
    code: string,
    keepOn: readonly ErrorCode[],
    use: (phoneNumber: string) => Promise<T>,
  ): Promise<T> {
    const { phoneNumber, sealed, expiresAt } = await this.check(verificationId, code);
    try {
      const result = await use(phoneNumber);
      await this.spendPrefix(phoneNumber);
      return result;
    } catch (error) {
      const left = expiresAt - this.now();
      if (error instanceof ParleyError && keepOn.includes(error.code) && left > 0) {
        await this.bus.sessions.create(verificationId, sealed, left);
      } else {
        await this.spendPrefix(phoneNumber);
      }
      throw error;
    }
  }

  /**
   * Checks a code without using it up: a wrong one counts as an attempt (the same attempts as at
   * confirmation, so checking first gives nobody more guesses), a right one leaves the
   * verification pending, to be confirmed with the same code. Returns when it expires.
   */
  async verify(verificationId: string, code: string): Promise<Date> {
    const { expiresAt } = await this.match(verificationId, code);
    return new Date(expiresAt);
  }

  /** A completed verification spends its block's allowance (what is left of it, if anything). */
  private async spendPrefix(phoneNumber: string): Promise<void> {
    const prefix = this.keyed('prefix', phoneNumber.slice(0, -3));
    for (const bucket of this.perPrefix) await this.bus.take(bucket, prefix);
  }

  /** Checks the code and uses the verification up (single use, on whichever node). */
  private async check(
    verificationId: string,
    code: string,
  ): Promise<{ phoneNumber: string; sealed: string; expiresAt: number }> {
    const matched = await this.match(verificationId, code);
    // Two nodes confirming the same code at once: only the one that consumes it succeeds.
    if (!(await this.bus.sessions.consume(verificationId))) {
      throw new ParleyError('VERIFICATION_NOT_FOUND');
    }
    return matched;
  }

  /** The pending verification when `code` is its code; a wrong code counts as an attempt. */
  private async match(
    verificationId: string,
    code: string,
  ): Promise<{ phoneNumber: string; sealed: string; expiresAt: number }> {
    const sealed = await this.bus.sessions.get(verificationId);
    const entry = sealed === undefined ? undefined : open(verificationId, sealed);
    if (sealed === undefined || !entry || entry.expiresAt <= this.now()) {
      if (sealed !== undefined) await this.bus.sessions.consume(verificationId);
      throw new ParleyError('VERIFICATION_NOT_FOUND');
    }
    // Compared as fixed-length hashes in constant time: no timing hint about the code.
    if (!timingSafeEqual(Buffer.from(entry.codeHash, 'base64'), hashCode(verificationId, code))) {
      const attempts = await this.bus.sessions.fail(verificationId);
      if (attempts === 0) throw new ParleyError('VERIFICATION_NOT_FOUND');
      const attemptsLeft = this.config.maxAttempts - attempts;
      if (attemptsLeft <= 0) {
        await this.bus.sessions.consume(verificationId);
        throw new ParleyError('VERIFICATION_ATTEMPTS_EXCEEDED');
      }
      throw new ParleyError('VERIFICATION_CODE_INCORRECT', { details: { attemptsLeft } });
    }
    return { phoneNumber: entry.phoneNumber, sealed, expiresAt: entry.expiresAt };
  }

  /** Pending verifications (on every node that shares the bus). */
  count(): Promise<number> {
    return this.bus.sessions.count();
  }

  close(): void {
    if (this.ownBus) void this.bus.close();
  }
}

function hashCode(verificationId: string, code: string): Buffer {
  return createHash('sha256').update(`${verificationId}:${code}`).digest();
}

function sessionKey(verificationId: string): Buffer {
  return createHash('sha256').update(`parley verification session key\0${verificationId}`).digest();
}

function seal(verificationId: string, pending: Pending): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', sessionKey(verificationId), iv);
  const body = Buffer.concat([cipher.update(JSON.stringify(pending), 'utf8'), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64');
}

function open(verificationId: string, sealed: string): Pending | undefined {
  try {
    const raw = Buffer.from(sealed, 'base64');
    const decipher = createDecipheriv(
      'aes-256-gcm',
      sessionKey(verificationId),
      raw.subarray(0, 12),
    );
    decipher.setAuthTag(raw.subarray(raw.length - 16));
    const body = Buffer.concat([
      decipher.update(raw.subarray(12, raw.length - 16)),
      decipher.final(),
    ]);
    return JSON.parse(body.toString('utf8')) as Pending;
  } catch {
    return undefined;
  }
}
