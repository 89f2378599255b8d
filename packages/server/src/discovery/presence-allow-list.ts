/**
 * The presence allow-list: the accounts an account lets see it online when its presence is
 * 'contacts', put there and taken off by its own client (the people in its address book it
 * resolved, and those it started or answered a conversation with). Resolving a number grants
 * nothing by itself. The same list decides whose KeyPackage claims may take one-time packages
 * (messaging/key-packages.ts).
 *
 * A row is HMAC(link key, "presence" ‖ owner ‖ member) beside the owner's id: a database dump
 * without the key shows how many accounts each one allows, not which; the operator, who holds
 * the key, can test any pair (docs/security.md).
 */

import { createHmac } from 'node:crypto';
import { type AllowListChange, MESSAGING_LIMITS, ParleyError } from '@parley/core';
import type { Db } from '../infra/db/database.js';
import type { Realtime } from '../realtime/port.js';

/** The digest naming "`owner` lets `member` see it online"; `key` is the link key. */
export function allowDigest(key: Uint8Array, owner: string, member: string): Buffer {
  return createHmac('sha256', key).update(`presence\n${owner}\n${member}`).digest();
}

export class PresenceAllowList {
  constructor(
    private readonly db: Db,
    private readonly key: Uint8Array,
    private readonly realtime: Realtime,
  ) {}

  /**
   * Adds and removes accounts on `owner`'s list (an account named in both is removed); adds only
   * accounts that exist. Whoever is removed stops seeing `owner` at once.
   */
  async change(owner: string, change: AllowListChange): Promise<{ size: number }> {
    const remove = new Set(change.remove ?? []);
    const add = [...new Set(change.add ?? [])].filter((id) => id !== owner && !remove.has(id));
    const size = await this.db.transaction().execute(async (trx) => {
      if (remove.size > 0) {
        const digests = [...remove].map((m) => allowDigest(this.key, owner, m));
        await trx.deleteFrom('presence_allow').where('digest', 'in', digests).execute();
      }
      const existing =
        add.length === 0
          ? []
          : (
              await trx
                .selectFrom('accounts')
                .select('id')
                .where('id', 'in', [owner, ...add])
                .execute()
            ).map((a) => a.id);
      // The owner deleted meanwhile: nothing is added (the foreign key would refuse it anyway).
      const members = existing.includes(owner) ? existing.filter((id) => id !== owner) : [];
      if (members.length > 0) {
        const now = Date.now();
        await trx
          .insertInto('presence_allow')
          .values(
            members.map((m) => ({
              digest: allowDigest(this.key, owner, m),
              owner_id: owner,
              created_at: now,
            })),
          )
          .onConflict((oc) => oc.column('digest').doNothing())
          .execute();
      }
      const { count } = await trx
        .selectFrom('presence_allow')
        .select((eb) => eb.fn.countAll<number>().as('count'))
        .where('owner_id', '=', owner)
        .executeTakeFirstOrThrow();
      const held = Number(count);
      // Checked after the insert, in the same transaction: a refused change leaves no trace.
      if (held > MESSAGING_LIMITS.allowListMax) {
        throw new ParleyError('PRESENCE_ALLOW_LIST_FULL', {
          details: { held, max: MESSAGING_LIMITS.allowListMax },
        });
      }
      return held;
    });
    if (remove.size > 0) this.realtime.unwatchBy(owner, [...remove]);
    if (add.length > 0) this.realtime.rewatchBy(owner, add);
    return { size };
  }

  /** Of `owners`, those whose allow-list holds `member`. */
  async allowing(member: string, owners: readonly string[]): Promise<Set<string>> {
    const unique = [...new Set(owners)].filter((o) => o !== member);
    if (unique.length === 0) return new Set();
    const digests = unique.map((o) => allowDigest(this.key, o, member));
    const rows = await this.db
      .selectFrom('presence_allow')
      .select('digest')
      .where('digest', 'in', digests)
      .execute();
    const have = new Set(rows.map((r) => Buffer.from(r.digest).toString('hex')));
    return new Set(unique.filter((_, i) => have.has(digests[i]!.toString('hex'))));
  }

  /**
   * The subjects whose online status `viewer` may see: its own account, and each account whose
   * presence is 'contacts' and whose allow-list holds `viewer`.
   */
  async visibleTo(viewer: string, subjects: readonly string[]): Promise<string[]> {
    const unique = [...new Set(subjects)];
    const visible = unique.filter((s) => s === viewer);
    const others = unique.filter((s) => s !== viewer);
    if (others.length === 0) return visible;
    const open = await this.db
      .selectFrom('accounts')
      .select('id')
      .where('id', 'in', others)
      .where('presence', '=', 'contacts')
      .execute();
    const allowing = await this.allowing(
      viewer,
      open.map((a) => a.id),
    );
    return [...visible, ...others.filter((s) => allowing.has(s))];
  }
}
