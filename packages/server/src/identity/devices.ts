/**
 * An account's devices: signing one out (from itself or another of the account's devices), and
 * signing out every other device at once (a lost or stolen phone). A removed device's credential
 * is refused from then on, its open sockets are closed (4411) on whichever node holds them, and
 * its queue, KeyPackages and conversation memberships go with it: nothing more is delivered to it.
 * The account and its other devices stay. The conversations' remaining devices get a `removed`
 * entry naming it, and the first of them (by device id) commits the removal of its MLS leaf, so
 * later epochs' keys are unknown to it (as for a member who leaves).
 *
 * Registering a number as a new identity signs out every device of its account the same way,
 * inside the registration's transaction (signOutIn, then announce once it commits).
 */

import { CLOSE_CODES, type DeviceRef, ParleyError } from '@parley/core';
import type { Transaction } from 'kysely';
import type { Db } from '../infra/db/database.js';
import type { Database } from '../infra/db/schema.js';
import type { Mailbox } from '../messaging/mailbox.js';
import { leaveConversations } from '../messaging/membership.js';
import type { Realtime } from '../realtime/port.js';
import { deleteDevices, deviceIdsOf } from './device-store.js';

/** Devices signed out in a transaction: what to tell the sockets once it commits (announce). */
export interface SignedOut {
  removed: string[];
  /** The devices that stay in their conversations and were told (their queues to wake). */
  told: string[];
}

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
    const out = await this.db
      .transaction()
      .execute((trx) => this.signOutIn(trx, caller.accountId, ids));
    this.announce(out);
    return out.removed;
  }

  /**
   * Inside the caller's transaction (which may hold the directory lock, taken before any row lock
   * here: messaging/queues.ts has the order): signs out those of `ids` that are devices of
   * `accountId`. Their queues, KeyPackages and
   * memberships go; the conversations' remaining devices get a `removed` entry.
   */
  async signOutIn(
    trx: Transaction<Database>,
    accountId: string,
    ids: string[],
  ): Promise<SignedOut> {
    if (ids.length === 0) return { removed: [], told: [] };
    // Only the account's devices: another account's id matches nothing.
    const removed = await deviceIdsOf(trx, accountId, { among: ids });
    if (removed.length === 0) return { removed, told: [] };
    // Their conversations, then their queues with those of the devices told (one lock order,
    // messaging/queues.ts); only then their rows go.
    const told = await leaveConversations(
      trx,
      this.mailbox,
      { kind: 'removed', accountId, deviceIds: removed },
      removed,
    );
    await trx.deleteFrom('queue').where('device_id', 'in', removed).execute();
    await trx.deleteFrom('key_packages').where('device_id', 'in', removed).execute();
    await deleteDevices(trx, removed);
    return { removed, told };
  }

  /** Once signOutIn's transaction has committed: closes the sockets (4411), wakes the told. */
  announce(out: SignedOut): void {
    if (out.removed.length === 0) return;
    this.realtime.disconnect(out.removed, CLOSE_CODES.deviceRemoved, 'device removed');
    this.realtime.wake(out.told);
  }
}
