/**
 * An account's devices: signing one out (from itself or another of the account's devices), and
 * signing out every other device at once (a lost or stolen phone). A removed device's credential
 * is refused from then on, its open sockets are closed (4411) on whichever node holds them, and
 * its queue, KeyPackages and conversation memberships go with it: nothing more is delivered to it.
 * The account and its other devices stay. The conversations' remaining devices get a `removed`
 * entry naming it, and the first of them (by device id) commits the removal of its MLS leaf, so
 * later epochs' keys are unknown to it (as for a member who leaves).
 */

import type { DeviceRef } from '@parley/core';
import { ParleyError } from '@parley/core';
import { type Db, lock } from '../infra/db/database.js';
import { type Mailbox, newMessageId, type QueueEntry } from '../messaging/mailbox.js';
import type { Hub } from '../realtime/hub.js';
import { CLOSE } from '../realtime/socket.js';

export class Devices {
  constructor(
    private readonly db: Db,
    private readonly hub: Hub,
    private readonly mailbox: Mailbox,
  ) {}

  /** Signs out `deviceId`, which must be a device of the caller's account. */
  async remove(caller: DeviceRef, deviceId: string): Promise<void> {
    const removed = await this.removeWhere(caller, [deviceId]);
    if (removed.length === 0) throw new ParleyError('DEVICE_NOT_FOUND');
  }

  /** Signs out every device of the caller's account but the caller; returns how many. */
  async removeOthers(caller: DeviceRef): Promise<number> {
    const others = (
      await this.db
        .selectFrom('devices')
        .select('id')
        .where('account_id', '=', caller.accountId)
        .where('id', '!=', caller.deviceId)
        .execute()
    ).map((d) => d.id);
    if (others.length === 0) return 0;
    return (await this.removeWhere(caller, others)).length;
  }

  private async removeWhere(caller: DeviceRef, ids: string[]): Promise<string[]> {
    const removed = await this.db.transaction().execute(async (trx) => {
      await lock(trx, 'queue');
      // Only the caller's account's devices: another account's id matches nothing.
      const mine = (
        await trx
          .selectFrom('devices')
          .select('id')
          .where('account_id', '=', caller.accountId)
          .where('id', 'in', ids)
          .execute()
      ).map((d) => d.id);
      if (mine.length === 0) return { mine, told: [] };
      const memberships = await trx
        .selectFrom('group_members')
        .innerJoin('groups', 'groups.id', 'group_members.group_id')
        .select(['group_members.group_id as groupId', 'device_id as deviceId', 'groups.epoch'])
        .where('device_id', 'in', mine)
        .execute();
      const groups = [...new Set(memberships.map((m) => m.groupId))];
      // The devices that stay in those conversations learn which device went.
      const staying =
        groups.length === 0
          ? []
          : await trx
              .selectFrom('group_members')
              .select(['group_id as groupId', 'device_id as deviceId'])
              .where('group_id', 'in', groups)
              .where('device_id', 'not in', mine)
              .execute();
      const told: QueueEntry[] = [];
      for (const m of memberships) {
        for (const s of staying) {
          if (s.groupId !== m.groupId) continue;
          told.push({
            deviceId: s.deviceId,
            kind: 'removed',
            messageId: newMessageId(),
            groupId: m.groupId,
            sender: { accountId: caller.accountId, deviceId: m.deviceId },
            epoch: m.epoch,
            payload: null,
          });
        }
      }
      await trx.deleteFrom('queue').where('device_id', 'in', mine).execute();
      await this.mailbox.enqueue(trx, told);
      await trx.deleteFrom('key_packages').where('device_id', 'in', mine).execute();
      await trx.deleteFrom('group_members').where('device_id', 'in', mine).execute();
      await trx.deleteFrom('devices').where('id', 'in', mine).execute();
      // A conversation left without members goes too.
      if (groups.length > 0) {
        await trx
          .deleteFrom('groups')
          .where('id', 'in', groups)
          .where((eb) =>
            eb.not(
              eb.exists(
                eb
                  .selectFrom('group_members')
                  .select('group_id')
                  .whereRef('group_members.group_id', '=', 'groups.id'),
              ),
            ),
          )
          .execute();
      }
      return { mine, told: told.map((t) => t.deviceId) };
    });
    if (removed.mine.length > 0) {
      this.hub.disconnect(removed.mine, CLOSE.deviceRemoved, 'device removed');
      this.hub.wake(new Set(removed.told));
    }
    return removed.mine;
  }
}
