/**
 * The fake server's conversations, as packages/server/src/messaging/groups.ts: Commits sequenced
 * per group — the first for the group's current epoch is accepted, a later one for the same epoch
 * refused with EPOCH_CONFLICT naming the current epoch — then fanned out to the members before
 * the change, the Welcome to the added devices. Leaving and signing a device out tell the
 * remaining members, one of whom commits the removal.
 */

import { type CommitRequest, type DeviceRef, type GroupResponse, ParleyError } from '@parley/core';
import type { FakeQueues } from './fake-queues.js';

interface Group {
  epoch: number;
  members: DeviceRef[];
}

export class FakeGroups {
  private readonly groups = new Map<string, Group>();

  constructor(
    private readonly queues: FakeQueues,
    /** Told of every Commit: accepted, or refused for its epoch. */
    private readonly onCommit: (
      from: DeviceRef,
      groupId: string,
      body: CommitRequest,
      accepted: boolean,
    ) => void,
  ) {}

  /** The group as the server knows it, members sorted as the server sorts them. */
  get(groupId: string): GroupResponse | undefined {
    const group = this.groups.get(groupId);
    return group && { groupId, epoch: group.epoch, members: sorted(group.members) };
  }

  /** The group for a member's request; NOT_GROUP_MEMBER for anyone else. */
  forMember(device: DeviceRef, groupId: string): GroupResponse {
    const group = this.get(groupId);
    if (!group) throw new ParleyError('GROUP_NOT_FOUND');
    if (!group.members.some((m) => m.deviceId === device.deviceId)) {
      throw new ParleyError('NOT_GROUP_MEMBER');
    }
    return group;
  }

  commit(device: DeviceRef, groupId: string, body: CommitRequest): GroupResponse {
    if (body.add.length > 0 && body.welcome === undefined) {
      throw new ParleyError('VALIDATION_FAILED', {
        details: [{ field: 'body/welcome', problem: 'adding devices needs a Welcome' }],
      });
    }
    let group = this.groups.get(groupId);
    if (!group) {
      if (body.epoch !== 0) throw new ParleyError('GROUP_NOT_FOUND');
      group = { epoch: 0, members: [device] };
      this.groups.set(groupId, group);
    }
    if (!group.members.some((m) => m.deviceId === device.deviceId)) {
      throw new ParleyError('NOT_GROUP_MEMBER');
    }
    if (body.epoch !== group.epoch) {
      this.onCommit(device, groupId, body, false);
      throw new ParleyError('EPOCH_CONFLICT', { details: { epoch: group.epoch } });
    }
    const before = group.members;
    const added = body.add.filter((a) => !before.some((m) => m.deviceId === a.deviceId));
    const missing = added.filter((a) => !this.queues.devices.has(a.deviceId));
    if (missing.length > 0) {
      throw new ParleyError('ACCOUNT_NOT_FOUND', {
        details: { deviceIds: missing.map((a) => a.deviceId) },
      });
    }
    this.queues.enqueue([
      ...before
        .filter((m) => m.deviceId !== device.deviceId)
        .map((m) => ({
          deviceId: m.deviceId,
          kind: 'commit' as const,
          groupId,
          from: device,
          epoch: body.epoch,
          payload: body.commit,
        })),
      ...added.map((a) => ({
        deviceId: a.deviceId,
        kind: 'welcome' as const,
        groupId,
        from: device,
        epoch: body.epoch + 1,
        ...(body.welcome !== undefined ? { payload: body.welcome } : {}),
        keyPackageId: a.keyPackageId,
      })),
    ]);
    group.members = [
      ...before.filter((m) => !body.remove.includes(m.deviceId)),
      ...added.map((a) => this.queues.device(a.deviceId).ref),
    ];
    group.epoch = body.epoch + 1;
    if (group.members.length === 0) this.groups.delete(groupId);
    this.onCommit(device, groupId, body, true);
    return { groupId, epoch: group.epoch, members: sorted(group.members) };
  }

  /** The caller's account leaves: its devices stop receiving; the other devices are told. */
  leave(device: DeviceRef, groupId: string): void {
    const group = this.groups.get(groupId);
    if (!group?.members.some((m) => m.deviceId === device.deviceId)) {
      throw new ParleyError('NOT_GROUP_MEMBER');
    }
    const told = group.members.filter((m) => m.deviceId !== device.deviceId);
    group.members = group.members.filter((m) => m.accountId !== device.accountId);
    if (group.members.length === 0) {
      this.groups.delete(groupId);
      return;
    }
    this.queues.enqueue(
      told.map((m) => ({
        deviceId: m.deviceId,
        kind: 'leave' as const,
        groupId,
        from: device,
        epoch: group.epoch,
      })),
    );
  }

  /** A device was signed out: it leaves every group, whose remaining members are told. */
  removeDevice(device: DeviceRef): void {
    for (const [groupId, group] of this.groups) {
      if (!group.members.some((m) => m.deviceId === device.deviceId)) continue;
      group.members = group.members.filter((m) => m.deviceId !== device.deviceId);
      this.queues.enqueue(
        group.members.map((m) => ({
          deviceId: m.deviceId,
          kind: 'removed' as const,
          groupId,
          from: device,
          epoch: group.epoch,
        })),
      );
      if (group.members.length === 0) this.groups.delete(groupId);
    }
  }
}

function sorted(members: DeviceRef[]): DeviceRef[] {
  return members
    .map(({ accountId, deviceId }) => ({ accountId, deviceId }))
    .sort((a, b) => {
      // As the server's ORDER BY account_id, device_id: by code unit, not by locale.
      const x = `${a.accountId}/${a.deviceId}`;
      const y = `${b.accountId}/${b.deviceId}`;
      return x < y ? -1 : x > y ? 1 : 0;
    });
}
