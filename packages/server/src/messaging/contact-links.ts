/**
 * Contact links: "viewer resolved subject's number in discovery". Presence set to 'contacts' is
 * shown to exactly those viewers. A link is stored as HMAC(link key, viewer ‖ subject) under a key
 * kept beside the data (not in the database), so a database dump does not reveal who has whose
 * number, yet the server can answer "may this viewer see that subject?".
 */

import { createHmac } from 'node:crypto';
import type { Db, Executor } from '../db/database.js';

/** Accounts read, and digests deleted, per statement when an account's links are forgotten. */
const FORGET_CHUNK = 500;

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

  /**
   * Deletes every link in which `accountId` is viewer or subject. A digest names nobody, so both
   * digests are computed against every other account (two HMACs per account: about a second per
   * 2^18 accounts; deletions are rare, and this is what keeps the social graph out of a dump).
   */
  async forget(trx: Executor, accountId: string): Promise<void> {
    let after = '';
    for (;;) {
      const others = await trx
        .selectFrom('accounts')
        .select('id')
        .where('id', '>', after)
        .orderBy('id')
        .limit(FORGET_CHUNK / 2)
        .execute();
      if (others.length === 0) return;
      after = others[others.length - 1]!.id;
      const digests = others
        .filter((o) => o.id !== accountId)
        .flatMap((o) => [this.digest(accountId, o.id), this.digest(o.id, accountId)]);
      if (digests.length > 0) {
        await trx.deleteFrom('contact_links').where('digest', 'in', digests).execute();
      }
    }
  }

  /** The subjects whose online status `viewer` may see: its own account, and linked 'contacts'. */
  async visibleTo(viewer: string, subjects: readonly string[]): Promise<string[]> {
    const unique = [...new Set(subjects)];
    const others = unique.filter((s) => s !== viewer);
    const visible = unique.filter((s) => s === viewer);
    if (others.length === 0) return visible;
    const open = await this.db
      .selectFrom('accounts')
      .select('id')
      .where('id', 'in', others)
      .where('presence', '=', 'contacts')
      .execute();
    if (open.length === 0) return visible;
    const digests = open.map((a) => this.digest(viewer, a.id));
    const linked = await this.db
      .selectFrom('contact_links')
      .select('digest')
      .where('digest', 'in', digests)
      .execute();
    const have = new Set(linked.map((l) => Buffer.from(l.digest).toString('hex')));
    for (const [i, a] of open.entries()) {
      if (have.has(digests[i]!.toString('hex'))) visible.push(a.id);
    }
    return visible;
  }
}
