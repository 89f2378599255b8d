/**
 * Blocks and spam reports. An account blocks another: from then on the server queues nothing
 * from the blocked account to the blocker where that cannot fork a group's state — no message or
 * Commit in a conversation of just the two of them (a Commit is refused for both), no Welcome (a
 * new conversation or an invitation), and no claim of the blocker's KeyPackages — and the sender
 * gets BLOCKED. In a group the two already
 * share with others, the blocked member's Commits and messages still go through (dropping a
 * Commit for one member would fork the group); the blocker's client hides their messages.
 *
 * A block is stored as HMAC(link key, "block" ‖ blocker ‖ blocked) beside the blocker's id, as
 * the presence allow-list stores its pairs: a database dump without the key shows how many
 * accounts each one blocks, not which. A report stores the reported account and the time, and
 * the texts only when the reporter chose to attach them; never the reporter.
 */

import { createHmac } from 'node:crypto';
import { ParleyError, PEOPLE_LIMITS, type SpamReport } from '@parley/core';
import type { Db, Executor } from '../infra/db/database.js';

/** The digest naming "`blocker` blocks `blocked`"; `key` is the link key. */
export function blockDigest(key: Uint8Array, blocker: string, blocked: string): Buffer {
  return createHmac('sha256', key).update(`block\n${blocker}\n${blocked}`).digest();
}

export class Blocks {
  constructor(
    private readonly db: Db,
    private readonly key: Uint8Array,
    private readonly clock: () => number = Date.now,
  ) {}

  async block(blocker: string, blocked: string): Promise<void> {
    if (blocker === blocked) {
      throw new ParleyError('VALIDATION_FAILED', {
        details: [{ field: 'params/accountId', problem: 'an account cannot block itself' }],
      });
    }
    const count = await this.db
      .selectFrom('blocks')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('blocker_id', '=', blocker)
      .executeTakeFirstOrThrow();
    if (Number(count.n) >= PEOPLE_LIMITS.blocksMax) {
      throw new ParleyError('VALIDATION_FAILED', {
        details: [{ field: 'params/accountId', problem: 'too many blocked accounts' }],
      });
    }
    await this.db
      .insertInto('blocks')
      .values({
        digest: blockDigest(this.key, blocker, blocked),
        blocker_id: blocker,
        created_at: this.clock(),
      })
      .onConflict((oc) => oc.column('digest').doNothing())
      .execute();
  }

  async unblock(blocker: string, blocked: string): Promise<void> {
    await this.db
      .deleteFrom('blocks')
      .where('digest', '=', blockDigest(this.key, blocker, blocked))
      .execute();
  }

  /**
   * Which of these (blocker, sender) pairs are blocks, as `blocker/sender` keys: one query for
   * a whole batch of sends.
   */
  async blockedPairs(
    db: Executor,
    pairs: ReadonlyArray<readonly [blocker: string, sender: string]>,
  ): Promise<Set<string>> {
    if (pairs.length === 0) return new Set();
    const byDigest = new Map(
      pairs.map(([b, s]) => [blockDigest(this.key, b, s).toString('hex'), `${b}/${s}`]),
    );
    const rows = await db
      .selectFrom('blocks')
      .select('digest')
      .where(
        'digest',
        'in',
        [...byDigest.keys()].map((hex) => Buffer.from(hex, 'hex')),
      )
      .execute();
    return new Set(rows.map((r) => byDigest.get(Buffer.from(r.digest).toString('hex'))!));
  }

  /** Which of `accounts` block `sender`. */
  async blockersOf(db: Executor, sender: string, accounts: readonly string[]): Promise<string[]> {
    const others = [...new Set(accounts)].filter((a) => a !== sender);
    const found = await this.blockedPairs(
      db,
      others.map((a) => [a, sender] as const),
    );
    return others.filter((a) => found.has(`${a}/${sender}`));
  }

  /** BLOCKED when any of `accounts` blocks `sender`. */
  async refuseIfBlocked(db: Executor, sender: string, accounts: readonly string[]): Promise<void> {
    if ((await this.blockersOf(db, sender, accounts)).length > 0) {
      throw new ParleyError('BLOCKED');
    }
  }

  /** The latest reports, newest first (for the operator, `parley admin reports`). */
  async reports(
    limit = 1000,
  ): Promise<Array<{ accountId: string; reportedAt: string; messages?: string[] }>> {
    const rows = await this.db
      .selectFrom('spam_reports')
      .select(['reported_id', 'messages', 'created_at'])
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      accountId: r.reported_id,
      reportedAt: new Date(Number(r.created_at)).toISOString(),
      ...(r.messages ? { messages: JSON.parse(r.messages) as string[] } : {}),
    }));
  }

  async report(report: SpamReport): Promise<void> {
    await this.db
      .insertInto('spam_reports')
      .values({
        reported_id: report.accountId,
        messages:
          report.messages && report.messages.length > 0 ? JSON.stringify(report.messages) : null,
        created_at: this.clock(),
      })
      .execute();
  }
}
