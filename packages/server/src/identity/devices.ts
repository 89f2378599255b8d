/**
 * An account's devices: signing one out (from itself or another of the account's devices), and
 * signing out every other device at once (a lost or stolen phone). A removed device's credential
 * is refused from then on, its open sockets are closed (4411) on whichever node holds them, and
 * its queue, KeyPackages and conversation memberships go with it: nothing more is delivered to it.
 * The account and its other devices stay. The conversations' remaining devices get a `removed`
 * entry naming it, and the first of them (by device id) commits the removal of its MLS leaf, so
 * later epochs' keys are unknown to it (as for a member who leaves).
 */

import { CLOSE_CODES, type DeviceRef, ParleyError } from '@parley/core';
import { type Db, lock } from '../infra/db/database.js';
import type { Mailbox } from '../messaging/mailbox.js';
import { leaveConversations } from '../messaging/membership.js';
import type { Realtime } from '../realtime/port.js';
import { deleteDevices, deviceIdsOf } from './device-store.js';

export class Devices {
  constructor(
    private readonly db: Db,
    private readonly realtime: Realtime,
    private readonly mailbox: Mailbox,
  ) {}

  /** Signs out `deviceId`, which must be a device of the caller's account. */
  async remove(caller: DeviceRef, deviceId: string): Promise<void> {
    const removed = await this.removeWhere(caller, [deviceId]);
    if (removed.length === 0) throw new ParleyError('DEVICE_NOT_FOUND');
  }

  /** Signs out every device of the caller's account but the caller; returns how many. */
  async removeOthers(caller: DeviceRef): Promise<number> {
    const others = await deviceIdsOf(this.db, caller.accountId, { except: caller.deviceId });
    if (others.length === 0) return 0;
    return (await this.removeWhere(caller, others)).length;
  }

  private async removeWhere(caller: DeviceRef, ids: string[]): Promise<string[]> {
    const removed = await this.db.transaction().execute(async (trx) => {
      await lock(trx, 'queue');
      // Only the caller's account's devices: another account's id matches nothing.
      const mine = await deviceIdsOf(trx, caller.accountId, { among: ids });
      if (mine.length === 0) return { mine, told: [] };
      await trx.deleteFrom('queue').where('device_id', 'in', mine).execute();
      const told = await leaveConversations(trx, this.mailbox, {
        kind: 'removed',
        accountId: caller.accountId,
        deviceIds: mine,
      });
      await trx.deleteFrom('key_packages').where('device_id', 'in', mine).execute();
      await deleteDevices(trx, mine);
      return { mine, told };
    });
    if (removed.mine.length > 0) {
      this.realtime.disconnect(removed.mine, CLOSE_CODES.deviceRemoved, 'device removed');
      this.realtime.wake(removed.told);
    }
    return removed.mine;
  }
}
