/**
 * A deleted account's discovery budget outlives it. Without this, deleting an account and
 * registering the same number again (one SMS) would buy a full budget: thousands of evaluations
 * per number per hour instead of the refill rate (docs/security.md). At deletion the bucket's
 * level is kept under a keyed digest of the account's directory token — the token names the number
 * under the current OPRF key; the digest, keyed by the link key kept outside the database, names
 * nothing a database reader can test a number against — until it would have drained to empty. A
 * new account whose token matches starts at that level.
 * A key rotation changes every token, so a level carried across one is forgotten (rotations are
 * rare and run by the operator).
 */

import { createHmac } from 'node:crypto';
import type { Db, Executor } from '../infra/db/database.js';

const HOUR_MS = 3_600_000;
/** With no refill, a carried level is kept this long. */
const MAX_KEEP_MS = 30 * 24 * HOUR_MS;

export class BudgetCarry {
  constructor(
    private readonly key: Uint8Array,
    private readonly refillPerHour: number,
    private readonly now: () => number = Date.now,
  ) {}

  private digest(token: Uint8Array): Buffer {
    return createHmac('sha256', this.key).update('discovery-budget\n').update(token).digest();
  }

  /** Inside the deleting transaction: keeps the bucket (level at time `at`) until it is empty. */
  async keep(trx: Executor, token: Uint8Array, level: number, at: number): Promise<void> {
    if (level <= 0) return;
    const drainMs =
      this.refillPerHour > 0 ? (level / this.refillPerHour) * HOUR_MS : Number.POSITIVE_INFINITY;
    const forgetAt = Math.round(at + Math.min(drainMs, MAX_KEEP_MS));
    if (forgetAt <= this.now()) return;
    const digest = this.digest(token);
    await trx
      .insertInto('budget_carry')
      .values({ digest, level, at, forget_at: forgetAt })
      .onConflict((oc) => oc.column('digest').doUpdateSet({ level, at, forget_at: forgetAt }))
      .execute();
  }

  /** Inside the registering transaction: the level a new account with this token starts at. */
  async take(trx: Executor, token: Uint8Array): Promise<{ level: number; at: number } | undefined> {
    const digest = this.digest(token);
    const row = await trx
      .deleteFrom('budget_carry')
      .where('digest', '=', digest)
      .returning(['level', 'at', 'forget_at'])
      .executeTakeFirst();
    if (!row || row.forget_at <= this.now()) return undefined;
    return { level: row.level, at: row.at };
  }

  /** Forgets levels that have drained (the periodic sweep). */
  async sweep(db: Db, now = this.now()): Promise<number> {
    const result = await db
      .deleteFrom('budget_carry')
      .where('forget_at', '<=', now)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
