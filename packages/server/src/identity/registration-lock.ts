/**
 * The registration lock: a PIN the user sets on a device of the account. While it is on and a
 * device of the account was active within REGISTRATION_LOCK_DAYS, registering the number with an
 * SMS code alone is refused (REGISTRATION_LOCKED) unless the PIN is given; REGISTRATION_LOCK_ATTEMPTS
 * wrong PINs refuse every guess until the lock would lapse (`unlocksAt`).
 *
 * The server keeps a scrypt verifier (RFC 7914), never the PIN: `scrypt$<log2 N>$<r>$<p>$<salt>$<key>`
 * with a random 16-byte salt, compared in constant time. This stops third parties (a SIM swapper);
 * the operator holds the verifier and could search a short PIN, which is why a new identity is
 * shown to every contact as a safety-number change (docs/security.md).
 */

import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import {
  ParleyError,
  REGISTRATION_LOCK_ATTEMPTS,
  REGISTRATION_LOCK_DAYS,
  type RegistrationLockDetails,
} from '@parley/core';
import type { Db, Executor } from '../infra/db/database.js';
import { lastActivity } from './device-store.js';

const LOG_N = 15;
const R = 8;
const P = 1;
const KEY_BYTES = 32;
const WINDOW_MS = REGISTRATION_LOCK_DAYS * 24 * 3_600_000;

function derive(pin: string, salt: Buffer, logN: number, r: number, p: number): Promise<Buffer> {
  const N = 2 ** logN;
  return new Promise((resolve, reject) =>
    // maxmem: scrypt needs 128·N·r bytes; twice that leaves room for its bookkeeping.
    scrypt(pin.normalize('NFKC'), salt, KEY_BYTES, { N, r, p, maxmem: 256 * N * r }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

/** A new verifier of `pin` (random salt). */
export async function pinVerifier(pin: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(pin, salt, LOG_N, R, P);
  return ['scrypt', LOG_N, R, P, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** Whether `pin` is the one `verifier` was made from (constant-time comparison). */
export async function pinMatches(pin: string, verifier: string): Promise<boolean> {
  const [scheme, logN, r, p, salt, key] = verifier.split('$');
  if (scheme !== 'scrypt' || !salt || !key) return false;
  const expected = Buffer.from(key, 'base64url');
  const derived = await derive(
    pin,
    Buffer.from(salt, 'base64url'),
    Number(logN),
    Number(r),
    Number(p),
  );
  return derived.length === expected.length && timingSafeEqual(derived, expected);
}

/** An existing account as a registration finds it. */
export interface LockedAccount {
  id: string;
  /** The verifier, or null when the lock is off. */
  lock: string | null;
  failures: number;
}

/** A PIN to check against `verifier` (outside the transaction: scrypt is slow on purpose). */
export interface PinCheck {
  verifier: string;
  details: RegistrationLockDetails;
}

export class RegistrationLock {
  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
  ) {}

  async set(accountId: string, pin: string): Promise<void> {
    const verifier = await pinVerifier(pin);
    await this.db
      .updateTable('accounts')
      .set({ registration_lock: verifier, lock_failures: 0 })
      .where('id', '=', accountId)
      .execute();
  }

  async clear(accountId: string): Promise<void> {
    await this.db
      .updateTable('accounts')
      .set({ registration_lock: null, lock_failures: 0 })
      .where('id', '=', accountId)
      .execute();
  }

  /**
   * Inside a registration's transaction (under the directory lock, so registrations of one number
   * run one at a time): 'open' when the registration may go ahead — no lock, the lock has lapsed,
   * or `passed` is the verifier the PIN was found to match. Otherwise it refuses, or reserves one
   * attempt (committed with the transaction) and asks the caller to check the PIN.
   */
  async gate(
    trx: Executor,
    account: LockedAccount,
    pin: string | undefined,
    passed: string | undefined,
  ): Promise<'open' | PinCheck> {
    if (account.lock === null) return 'open';
    const unlocks = (await lastActivity(trx, account.id)) + WINDOW_MS;
    const now = this.now();
    if (unlocks <= now) return 'open';
    if (passed === account.lock) return 'open';
    const unlocksAt = new Date(unlocks).toISOString();
    const attemptsLeft = Math.max(0, REGISTRATION_LOCK_ATTEMPTS - account.failures);
    if (attemptsLeft === 0) {
      throw new ParleyError('REGISTRATION_LOCK_ATTEMPTS_EXCEEDED', {
        retryAfterMs: unlocks - now,
        details: { attemptsLeft: 0, unlocksAt },
      });
    }
    if (pin === undefined) {
      throw new ParleyError('REGISTRATION_LOCKED', { details: { attemptsLeft, unlocksAt } });
    }
    // Counted before the check, so guesses racing each other cannot exceed the limit.
    await trx
      .updateTable('accounts')
      .set({ lock_failures: account.failures + 1 })
      .where('id', '=', account.id)
      .execute();
    return { verifier: account.lock, details: { attemptsLeft: attemptsLeft - 1, unlocksAt } };
  }

  /** The refusal of a wrong PIN, with the attempts left after it. */
  wrongPin(check: PinCheck): ParleyError {
    return check.details.attemptsLeft === 0
      ? new ParleyError('REGISTRATION_LOCK_ATTEMPTS_EXCEEDED', {
          retryAfterMs: Math.max(0, Date.parse(check.details.unlocksAt) - this.now()),
          details: check.details,
        })
      : new ParleyError('REGISTRATION_LOCKED', { details: check.details });
  }
}
