/**
 * An account's devices: signing one out (from itself or another of the account's devices), and
 * signing out every other device at once (a lost or stolen phone). A removed device's credential
 * is refused from then on, its open sockets are closed (4411) on whichever node holds them, and
 * its queue, KeyPackages and conversation memberships go with it: nothing more is delivered to it.
 * The account and its other devices stay. The other members' MLS groups still hold the removed
 * device's leaf until one of them commits its removal, but the server no longer delivers to it.
 */

import { ParleyError } from '@parley/core';
import type { DeviceIdentity } from './accounts.js';
import { type Db, lock } from './db/database.js';
import type { Hub } from './messaging/hub.js';
import { CLOSE } from './messaging/socket.js';

export class Devices {
  constructor(
    private readonly db: Db,
    private readonly hub: Hub,
  ) {}

  /** Signs out `deviceId`, which must be a device of the caller's account. */
  async remove(caller: DeviceIdentity, deviceId: string): Promise<void> {
    const removed = await this.removeWhere(caller, [deviceId]);
    if (removed.length === 0) throw new ParleyError('DEVICE_NOT_FOUND');
  }

  /** Signs out every device of the caller's account but the caller; returns how many. */
  async removeOthers(caller: DeviceIdentity): Promise<number> {
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

  private async removeWhere(caller: DeviceIdentity, ids: string[]): Promise<string[]> {
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
      if (mine.length === 0) return [];
      const groups = (
        await trx
          .selectFrom('group_members')
          .select('group_id')
          .where('device_id', 'in', mine)
          .distinct()
          .execute()
      ).map((g) => g.group_id);
      await trx.deleteFrom('queue').where('device_id', 'in', mine).execute();
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
      return mine;
    });
    if (removed.length > 0) this.hub.disconnect(removed, CLOSE.deviceRemoved, 'device removed');
    return removed;
  }
}
