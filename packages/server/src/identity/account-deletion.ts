/**
 * Deleting an account: afterwards the server holds nothing of it. One transaction removes the
 * account row (with its discovery budget), its devices and their credentials, KeyPackages, queues,
 * sent-message ids, key usage and group memberships, and its directory history; then its sockets
 * are closed and what memory held of it (rate-limit buckets, presence watchers, the member set)
 * is dropped.
 *
 * Two things outlive the transaction, for others' sake, and both go by themselves: the `leave`
 * entries that tell the other members of its groups that it left (and any entries it sent them
 * before), deleted as those devices acknowledge them or expire; and one removal of its
 * fingerprint in the directory log, so clients holding the filter can drop it by a delta,
 * forgotten after PARLEY_DELETION_TOMBSTONE_HOURS (docs/design.md, "Deleting an account").
 * Attachments it uploaded stay for their recipients, no longer naming it (messaging/attachments.ts,
 * forgetUploader); its unfinished uploads go with the next sweep.
 * Contact links are keyed digests that name nobody; they are found by recomputing them against
 * every other account, after the transaction and holding no lock (ContactLinks.forgetLater): at
 * 2^24 accounts that takes minutes, which must not hold up every other writer.
 */

import { CLOSE_CODES, type DeviceRef } from '@parley/core';
import type { Directory } from '../directory/directory.js';
import type { BudgetCarry } from '../discovery/budget-carry.js';
import type { ContactLinks } from '../discovery/contact-links.js';
import type { Discovery } from '../discovery/discovery.js';
import type { Db } from '../infra/db/database.js';
import { purgeDeletedRows } from '../infra/db/dialect.js';
import { forgetUploader } from '../messaging/attachments.js';
import type { KeyPackages } from '../messaging/key-packages.js';
import type { Mailbox } from '../messaging/mailbox.js';
import { leaveConversations } from '../messaging/membership.js';
import type { Realtime } from '../realtime/port.js';
import { deleteDevices, deviceIdsOf } from './device-store.js';

export class AccountDeletion {
  constructor(
    private readonly db: Db,
    private readonly directory: Directory,
    private readonly mailbox: Mailbox,
    private readonly realtime: Realtime,
    private readonly keyPackages: KeyPackages,
    private readonly discovery: Discovery,
    private readonly links: ContactLinks,
    private readonly budgets: BudgetCarry,
  ) {}

  /** Deletes the account of the calling device, with every device it has. */
  async delete(caller: DeviceRef): Promise<void> {
    const { accountId } = caller;
    const done = await this.directory.write(async ({ trx, entries, forgetAccount }) => {
      const account = await trx
        .selectFrom('accounts')
        .innerJoin(entries, 'account_seq', 'accounts.seq')
        .select([
          'fingerprint',
          'token',
          'accounts.discoverable as discoverable',
          'accounts.budget_level as budgetLevel',
          'accounts.budget_at as budgetAt',
        ])
        .where('accounts.id', '=', accountId)
        .executeTakeFirstOrThrow();
      const devices = await deviceIdsOf(trx, accountId);
      // Its groups: the other members are told it left, as POST /v1/groups/:id/leave does.
      // Its devices' queues are locked with those of the devices told (messaging/queues.ts).
      const told = await leaveConversations(
        trx,
        this.mailbox,
        { kind: 'leave', sender: caller },
        devices,
      );

      if (devices.length > 0) {
        await trx.deleteFrom('queue').where('device_id', 'in', devices).execute();
        await trx.deleteFrom('sent_messages').where('sender_device', 'in', devices).execute();
        await trx.deleteFrom('key_packages').where('device_id', 'in', devices).execute();
        await deleteDevices(trx, devices);
      }
      await trx.deleteFrom('key_usage').where('account_id', '=', accountId).execute();
      await forgetUploader(trx, accountId);
      // Its entries in every key's directory table (the current one, and a rotation's target
      // if one is running) go with it: they reference the account ON DELETE CASCADE.
      await this.budgets.keep(trx, account.token, account.budgetLevel, account.budgetAt);
      await trx.deleteFrom('accounts').where('id', '=', accountId).execute();
      await forgetAccount(account.fingerprint, account.discoverable === 1);
      return { devices, told };
    });
    // Earlier versions of its rows must not linger on disk (SQLite's write-ahead log).
    await purgeDeletedRows(this.db);
    this.links.forgetLater(accountId);
    this.realtime.wake(done.told);
    this.realtime.unwatchAccount(accountId);
    this.realtime.disconnect(done.devices, CLOSE_CODES.accountDeleted, 'account deleted');
    await this.keyPackages.forgetAccount(accountId);
    await this.discovery.forgetAccount(accountId);
  }
}
