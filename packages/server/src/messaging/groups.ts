/**
 * Conversations as MLS groups, sequenced by the server. The server cannot read a Commit, so the
 * committing device states the epoch it committed in and the devices it added and removed; the
 * server accepts the first Commit for the group's current epoch and refuses any later one for the
 * same epoch (EPOCH_CONFLICT), so every member sees one linear history. The Commit goes to the
 * members as they were before it (the removed ones learn they are out), the Welcome to the added
 * devices, all through the same ordered queues as the messages.
 */

import type { DeviceRef } from '@parley/core';
import { type CommitRequest, fromBase64Url, type GroupResponse, ParleyError } from '@parley/core';
import { existingDevices } from '../identity/device-store.js';
import type { Db, Executor } from '../infra/db/database.js';
import { forUpdate } from '../infra/db/dialect.js';
import type { Realtime } from '../realtime/port.js';
import type { Blocks } from './blocks.js';
import { type Mailbox, newMessageId, type QueueEntry } from './mailbox.js';
import { leaveConversations } from './membership.js';

export class Groups {
  constructor(
    private readonly db: Db,
    private readonly mailbox: Mailbox,
    private readonly realtime: Realtime,
    private readonly clock: () => number = Date.now,
    private readonly blocks?: Blocks,
  ) {}

  async commit(device: DeviceRef, groupId: string, body: CommitRequest): Promise<GroupResponse> {
    const commit = fromBase64Url(body.commit);
    const welcome = body.welcome === undefined ? undefined : fromBase64Url(body.welcome);
    if (!commit || (body.welcome !== undefined && !welcome)) {
      throw new ParleyError('VALIDATION_FAILED', { details: [{ field: 'body/commit' }] });
    }
    if (body.add.length > 0 && !welcome) {
      throw new ParleyError('VALIDATION_FAILED', {
        details: [{ field: 'body/welcome', problem: 'adding devices needs a Welcome' }],
      });
    }
    const now = this.clock();
    const result = await this.db.transaction().execute(async (trx) => {
      // First, the group's row, exclusively: it orders this group's epochs across nodes, and its
      // messages against this Commit (a batch of sends shares it, mailbox.ts). Then the queues.
      if (body.epoch === 0) {
        const created = await trx
          .insertInto('groups')
          .values({ id: groupId, epoch: 0, created_at: now })
          .onConflict((oc) => oc.column('id').doNothing())
          .returning('id')
          .executeTakeFirst();
        if (created) {
          await trx
            .insertInto('group_members')
            .values({ group_id: groupId, device_id: device.deviceId, account_id: device.accountId })
            .execute();
        }
      }
      const group = await forUpdate(
        trx,
        trx.selectFrom('groups').select('epoch').where('id', '=', groupId),
      ).executeTakeFirst();
      if (!group) throw new ParleyError('GROUP_NOT_FOUND');
      const before = await this.members(trx, groupId);
      if (!before.some((m) => m.deviceId === device.deviceId)) {
        throw new ParleyError('NOT_GROUP_MEMBER');
      }
      if (body.epoch !== group.epoch) {
        throw new ParleyError('EPOCH_CONFLICT', { details: { epoch: group.epoch } });
      }
      const added = body.add.filter((a) => !before.some((m) => m.deviceId === a.deviceId));
      const addedDevices =
        added.length === 0
          ? []
          : await existingDevices(
              trx,
              added.map((a) => a.deviceId),
            );
      if (addedDevices.length !== added.length) {
        throw new ParleyError('ACCOUNT_NOT_FOUND', {
          details: {
            deviceIds: added
              .map((a) => a.deviceId)
              .filter((id) => !addedDevices.some((d) => d.id === id)),
          },
        });
      }
      // An invitation (a new conversation, or an added member) to someone who blocks the
      // committer is refused, and so is any Commit in a conversation of just the two (refused
      // for everyone, so the group does not fork); in groups of more they go through (blocks.ts).
      const accounts = [...new Set(before.map((m) => m.accountId))];
      await this.blocks?.refuseIfBlocked(trx, device.accountId, [
        ...addedDevices.map((d) => d.account_id),
        ...(accounts.length === 2 ? accounts : []),
      ]);
      const entries: QueueEntry[] = before
        .filter((m) => m.deviceId !== device.deviceId)
        .map((m) => ({
          deviceId: m.deviceId,
          kind: 'commit' as const,
          messageId: newMessageId(),
          groupId,
          sender: device,
          epoch: body.epoch,
          payload: commit,
        }));
      for (const a of added) {
        entries.push({
          deviceId: a.deviceId,
          kind: 'welcome',
          messageId: newMessageId(),
          groupId,
          sender: device,
          epoch: body.epoch + 1,
          payload: welcome ?? null,
          keyPackageId: a.keyPackageId,
        });
      }
      // The added devices' queues are locked with the others: one deleted meanwhile is refused.
      const gone = await this.mailbox.enqueue(trx, entries, now);
      const goneAdded = added.filter((a) => gone.includes(a.deviceId)).map((a) => a.deviceId);
      if (goneAdded.length > 0) {
        throw new ParleyError('ACCOUNT_NOT_FOUND', { details: { deviceIds: goneAdded } });
      }
      if (body.remove.length > 0) {
        await trx
          .deleteFrom('group_members')
          .where('group_id', '=', groupId)
          .where('device_id', 'in', body.remove)
          .execute();
      }
      if (addedDevices.length > 0) {
        await trx
          .insertInto('group_members')
          .values(
            addedDevices.map((d) => ({
              group_id: groupId,
              device_id: d.id,
              account_id: d.account_id,
            })),
          )
          .execute();
      }
      await trx
        .updateTable('groups')
        .set({ epoch: body.epoch + 1 })
        .where('id', '=', groupId)
        .execute();
      const members = await this.members(trx, groupId);
      if (members.length === 0) {
        await trx.deleteFrom('groups').where('id', '=', groupId).execute();
      }
      return {
        epoch: body.epoch + 1,
        members,
        wake: entries.map((e) => e.deviceId),
        invited: entries.filter((e) => e.kind === 'welcome').map((e) => e.deviceId),
      };
    });
    this.realtime.wake(result.wake);
    this.mailbox.notify(result.invited);
    return { groupId, epoch: result.epoch, members: result.members };
  }

  /**
   * The caller's account leaves: the server stops delivering to all its devices at once and tells
   * the remaining devices, one of which commits the removal in MLS (so later epochs' keys are
   * unknown to the leaver).
   */
  async leave(device: DeviceRef, groupId: string): Promise<void> {
    const wake = await this.db.transaction().execute(async (trx) => {
      const member = await trx
        .selectFrom('group_members')
        .select('device_id')
        .where('group_id', '=', groupId)
        .where('device_id', '=', device.deviceId)
        .executeTakeFirst();
      if (!member) throw new ParleyError('NOT_GROUP_MEMBER');
      // The remaining devices, and the leaver's other devices (so they know too).
      return leaveConversations(trx, this.mailbox, {
        kind: 'leave',
        sender: device,
        groupId,
        tellOwnDevices: true,
      });
    });
    this.realtime.wake(wake);
  }

  async get(device: DeviceRef, groupId: string): Promise<GroupResponse> {
    const group = await this.db
      .selectFrom('groups')
      .select('epoch')
      .where('id', '=', groupId)
      .executeTakeFirst();
    if (!group) throw new ParleyError('GROUP_NOT_FOUND');
    const members = await this.members(this.db, groupId);
    if (!members.some((m) => m.deviceId === device.deviceId)) {
      throw new ParleyError('NOT_GROUP_MEMBER');
    }
    return { groupId, epoch: group.epoch, members };
  }

  /** The connected devices of the group's other members, for ephemeral signals. */
  async otherMemberDevices(device: DeviceRef, groupId: string): Promise<string[]> {
    const members = await this.members(this.db, groupId);
    if (!members.some((m) => m.deviceId === device.deviceId)) {
      throw new ParleyError('NOT_GROUP_MEMBER');
    }
    return members.map((m) => m.deviceId).filter((d) => d !== device.deviceId);
  }

  private async members(trx: Executor, groupId: string) {
    const rows = await trx
      .selectFrom('group_members')
      .select(['device_id', 'account_id'])
      .where('group_id', '=', groupId)
      .orderBy('account_id')
      .orderBy('device_id')
      .execute();
    return rows.map((r) => ({ accountId: r.account_id, deviceId: r.device_id }));
  }
}
