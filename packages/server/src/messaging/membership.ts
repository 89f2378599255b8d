/**
 * Devices leaving conversations — one routine for the three ways it happens: devices signed out
 * (each remaining device learns which device went, kind `removed`), an account leaving one
 * conversation, and an account deleted (kind `leave`, from the leaving device). Either way the
 * first remaining device (by id) commits the removal in MLS, so later epochs' keys are unknown to
 * whoever left.
 */

import type { DeviceRef } from '@parley/core';
import type { ExpressionBuilder } from 'kysely';
import type { Executor } from '../infra/db/database.js';
import { forUpdate } from '../infra/db/dialect.js';
import type { Database } from '../infra/db/schema.js';
import { type Mailbox, newMessageId, type QueueEntry } from './mailbox.js';

export type Departure =
  | {
      /** These devices of `accountId` are signed out, from every conversation they are in. */
      kind: 'removed';
      accountId: string;
      deviceIds: string[];
    }
  | {
      /** `sender`'s account leaves: this conversation only, or every one it is in. */
      kind: 'leave';
      sender: DeviceRef;
      groupId?: string;
      /** The account's other devices in the conversation are told too. */
      tellOwnDevices?: boolean;
    };

/**
 * Inside the caller's transaction: the leaving devices' memberships go, every device that stays is
 * told through its queue, and a conversation left without members goes (telling nobody). Takes
 * the locks in the order messaging/queues.ts fixes: the conversations' rows exclusively (so no
 * batch of sends fans out to them meanwhile), then the queues of the devices told and of
 * `alsoLock` (devices the caller deletes next; locked even when they are in no conversation).
 * Returns the devices told, to wake once the transaction commits.
 */
export async function leaveConversations(
  trx: Executor,
  mailbox: Mailbox,
  departure: Departure,
  alsoLock: readonly string[] = [],
): Promise<string[]> {
  const candidates = await trx
    .selectFrom('group_members')
    .select('group_id')
    .distinct()
    .where((eb) => ending(eb, departure))
    .execute();
  if (candidates.length > 0) {
    await forUpdate(
      trx,
      trx
        .selectFrom('groups')
        .select('id')
        .where(
          'id',
          'in',
          candidates.map((c) => c.group_id),
        )
        .orderBy('id'),
    ).execute();
  }
  // Read again under the locks: a Commit may have changed the members meanwhile.
  const leaving = await trx
    .selectFrom('group_members')
    .innerJoin('groups', 'groups.id', 'group_members.group_id')
    .select([
      'group_members.group_id as groupId',
      'group_members.device_id as deviceId',
      'groups.epoch',
    ])
    .where((eb) => ending(eb, departure))
    .execute();
  if (leaving.length === 0) {
    await mailbox.enqueue(trx, [], undefined, alsoLock);
    return [];
  }
  const groups = [...new Set(leaving.map((m) => m.groupId))];
  let others = trx
    .selectFrom('group_members')
    .select(['group_id as groupId', 'device_id as deviceId'])
    .where('group_id', 'in', groups);
  others =
    departure.kind === 'removed'
      ? others.where('device_id', 'not in', departure.deviceIds)
      : others.where('account_id', '!=', departure.sender.accountId);
  const staying = await others.execute();

  const told: QueueEntry[] = [];
  const notice = (deviceId: string, groupId: string, sender: DeviceRef, epoch: number) =>
    told.push({
      deviceId,
      kind: departure.kind,
      messageId: newMessageId(),
      groupId,
      sender,
      epoch,
      payload: null,
    });
  if (departure.kind === 'removed') {
    // One entry per device that went, naming it.
    for (const m of leaving) {
      for (const s of staying) {
        if (s.groupId !== m.groupId) continue;
        notice(
          s.deviceId,
          m.groupId,
          { accountId: departure.accountId, deviceId: m.deviceId },
          m.epoch,
        );
      }
    }
  } else {
    const { sender } = departure;
    for (const groupId of groups) {
      const stay = staying.filter((s) => s.groupId === groupId);
      if (stay.length === 0) continue;
      const mine = leaving.filter((m) => m.groupId === groupId);
      const epoch = mine[0]!.epoch;
      const own = departure.tellOwnDevices
        ? mine.filter((m) => m.deviceId !== sender.deviceId)
        : [];
      for (const s of [...stay, ...own]) notice(s.deviceId, groupId, sender, epoch);
    }
  }

  await trx
    .deleteFrom('group_members')
    .where((eb) => ending(eb, departure))
    .execute();
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
  await mailbox.enqueue(trx, told, undefined, alsoLock);
  return [...new Set(told.map((t) => t.deviceId))];
}

/** The memberships that end: these devices', or the account's (in one conversation, if named). */
function ending(eb: ExpressionBuilder<Database, 'group_members'>, departure: Departure) {
  const who =
    departure.kind === 'removed'
      ? eb('group_members.device_id', 'in', departure.deviceIds)
      : eb('group_members.account_id', '=', departure.sender.accountId);
  return departure.kind === 'leave' && departure.groupId !== undefined
    ? eb.and([who, eb('group_members.group_id', '=', departure.groupId)])
    : who;
}
