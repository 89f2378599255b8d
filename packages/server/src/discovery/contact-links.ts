/**
 * Contact links: "viewer resolved subject's number in discovery". They grant nothing: presence
 * follows the subject's own allow-list (presence-allow-list.ts), which this module's forgetting
 * also clears of a deleted account. A link is stored as HMAC(link key, viewer ‖ subject) under a key
 * kept beside the data (not in the database), so a database dump does not reveal who has whose
 * number, yet the server can answer "may this viewer see that subject?".
 */

import { createHmac } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../infra/db/database.js';
import { bytesOfHexJson, stringAgg } from '../infra/db/dialect.js';
import { allowDigest } from './presence-allow-list.js';

/**
 * Accounts read (ids are base64url: a space separates them) per query when forgetting links:
 * each chunk costs a few milliseconds of hashing on the event loop before it yields.
 */
const FORGET_CHUNK = 1_024;

export class ContactLinks {
  constructor(
    private readonly db: Db,
    private readonly key: Uint8Array,
  ) {}

  private digest(viewer: string, subject: string): Buffer {
    return createHmac('sha256', this.key).update(`${viewer}\n${subject}`).digest();
  }

  /** Records that `viewer` resolved `subjects`; only between accounts that still exist. */
  async record(viewer: string, subjects: readonly string[]): Promise<void> {
    const others = [...new Set(subjects)].filter((s) => s !== viewer);
    if (others.length === 0) return;
    // Checked in the same transaction as the insert: a link must not outlive an account deleted
    // while the resolve that made it was under way.
    await this.db.transaction().execute(async (trx) => {
      const existing = new Set(
        (
          await trx
            .selectFrom('accounts')
            .select('id')
            .where('id', 'in', [viewer, ...others])
            .execute()
        ).map((a) => a.id),
      );
      if (!existing.has(viewer)) return;
      const rows = others
        .filter((s) => existing.has(s))
        .map((s) => ({ digest: this.digest(viewer, s), created_at: Date.now() }));
      if (rows.length === 0) return;
      await trx
        .insertInto('contact_links')
        .values(rows)
        .onConflict((oc) => oc.column('digest').doNothing())
        .execute();
    });
  }

  /** Forgetting deleted accounts' links, one after another, in the background. */
  private forgetting: Promise<void> = Promise.resolve();

  /**
   * Deletes, in the background, every link in which the deleted account `accountId` was viewer
   * or subject. A digest names nobody, so both digests are computed against every other account:
   * two HMACs per account, ~25 µs per account (minutes at 2^24; docs/design.md, "Deleting an
   * account"). That is why it runs after the deleting transaction, holding no lock, in short
   * statements that let the event loop and every writer in between: the account is gone already,
   * so no new link can name it, and an old one can no longer be matched by anyone (its id exists
   * nowhere else); this only clears them away. A crash midway leaves such unmatchable digests.
   */
  forgetLater(accountId: string): void {
    this.forgetting = this.forgetting
      .then(() => this.forget(accountId))
      .catch(() => {
        // The server may be closing; what is left can never be matched.
      });
  }

  /** Settles when every forgetting handed over so far is done (tests, shutdown). */
  idle(): Promise<void> {
    return this.forgetting;
  }

  private async forget(accountId: string): Promise<void> {
    const trx = this.db;
    const ids = stringAgg(trx, sql`id`, ' ', sql`seq`);
    let after = 0;
    for (;;) {
      const { rows } = await sql<{ last: number | null; n: number; ids: string | null }>`
        select max(seq) as last, count(*) as n, ${ids} as ids
        from (select seq, id from accounts where seq > ${after}
          order by seq limit ${FORGET_CHUNK}) as a`.execute(trx);
      const chunk = rows[0];
      if (!chunk || Number(chunk.n) === 0 || chunk.last === null) return;
      after = chunk.last;
      const digests: string[] = [];
      const allowed: string[] = [];
      for (const other of (chunk.ids ?? '').split(' ')) {
        if (other === accountId || other === '') continue;
        digests.push(this.digest(accountId, other).toString('hex'));
        digests.push(this.digest(other, accountId).toString('hex'));
        allowed.push(allowDigest(this.key, other, accountId).toString('hex'));
      }
      const json = JSON.stringify(digests);
      await sql`delete from contact_links
        where digest in (${bytesOfHexJson(trx, json)})`.execute(trx);
      // The deleted account on others' presence allow-lists (its own list went with its row).
      await sql`delete from presence_allow
        where digest in (${bytesOfHexJson(trx, JSON.stringify(allowed))})`.execute(trx);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}
