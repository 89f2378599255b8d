/**
 * Changes to a conversation's membership, as MLS Commits sequenced by the server: creating a
 * conversation, adding and removing accounts, removing signed-out devices, and leaving. The server
 * accepts the first Commit for an epoch and refuses later ones (EPOCH_CONFLICT, naming its
 * epoch); the loser waits until the winning Commit has come through its queue and been applied,
 * then commits its change again in the new epoch.
 */

import { type ClaimedKeyPackage, type DeviceRef, ParleyError } from '@parley/core';
import type { ClientState, KeyPackage } from 'ts-mls';
import type { ApiClient } from '../transport/api.js';
import type { Conversations } from './conversations.js';
import type { KeyChecks } from './key-checks.js';
import type { KeyPackageStock } from './key-packages.js';
import type { Lane } from './lane.js';
import * as mls from './mls.js';
import { type Conversation, publicView, randomId } from './model.js';

/** Commits lost to another member's before giving up with EPOCH_CONFLICT. */
const COMMIT_RETRIES = 5;

interface Change {
  committed: mls.Committed;
  add: Array<{ deviceId: string; keyPackageId: string }>;
  remove: string[];
}

export class GroupChanges {
  constructor(
    private readonly device: DeviceRef,
    private readonly api: ApiClient,
    private readonly lane: Lane,
    private readonly conversations: Conversations,
    private readonly keys: KeyPackageStock,
    private readonly checks: KeyChecks,
  ) {}

  /**
   * Starts a conversation with these accounts: every device of each (and this user's other
   * devices) joins. One account makes a one-to-one chat; several make a group.
   */
  async create(accountIds: string[]): Promise<Conversation> {
    const peers = [...new Set(accountIds)].filter((a) => a !== this.device.accountId);
    if (peers.length === 0) {
      throw new ParleyError('ACCOUNT_NOT_FOUND', { message: 'Name at least one other account.' });
    }
    const id = randomId();
    const checked = await this.checks.claimed(
      id,
      await this.claim([...peers, this.device.accountId]),
      peers,
    );
    const conversation = await this.lane.run(async () => {
      const keys = await this.keys.signatureKeys();
      const state = await mls.createGroup(id, await this.keys.credential(), keys);
      const committed = await mls.commit(state, { add: checked.map((c) => c.keyPackage) });
      await this.api.commit(id, {
        epoch: 0,
        commit: committed.commit,
        ...(committed.welcome ? { welcome: committed.welcome } : {}),
        add: checked.map(({ claim: c }) => ({
          deviceId: c.deviceId,
          keyPackageId: c.keyPackageId,
        })),
        remove: [],
      });
      return this.conversations.adopt(id, committed.state, {
        by: this.device,
        before: [this.device],
      });
    });
    return publicView(conversation);
  }

  async add(conversationId: string, accountIds: string[]): Promise<Conversation> {
    const current = await this.conversations.get(conversationId);
    const fresh = accountIds.filter((a) => !current.members.some((m) => m.accountId === a));
    if (fresh.length === 0) return current;
    const checked = await this.checks.claimed(conversationId, await this.claim(fresh), fresh);
    return this.addChecked(conversationId, checked);
  }

  /**
   * Adds devices of this account that are not in the conversation yet (a newly linked device),
   * from KeyPackages claimed for them. Devices already in (another device of this account was
   * first) are left out; nothing to add commits nothing.
   */
  async addOwnDevices(conversationId: string, deviceIds: readonly string[]): Promise<Conversation> {
    const current = await this.conversations.get(conversationId);
    const missing = deviceIds.filter((d) => !current.members.some((m) => m.deviceId === d));
    if (missing.length === 0) return current;
    const claimed = (await this.claim([this.device.accountId])).filter((c) =>
      missing.includes(c.deviceId),
    );
    const checked = await this.checks.claimed(conversationId, claimed, []);
    return this.addChecked(conversationId, checked);
  }

  private addChecked(
    conversationId: string,
    checked: Array<{ claim: ClaimedKeyPackage; keyPackage: KeyPackage }>,
  ): Promise<Conversation> {
    return this.commitChange(conversationId, async (state) => {
      // Another member's Commit may have added some of them meanwhile.
      const inGroup = new Set(mls.membersOf(state).map((m) => m.deviceId));
      const adding = checked.filter((c) => !inGroup.has(c.claim.deviceId));
      return {
        committed: await mls.commit(state, { add: adding.map((c) => c.keyPackage) }),
        add: adding.map(({ claim: c }) => ({ deviceId: c.deviceId, keyPackageId: c.keyPackageId })),
        remove: [],
      };
    });
  }

  /** Removes every device of these accounts (never this device). */
  remove(conversationId: string, accountIds: string[]): Promise<Conversation> {
    return this.removeLeaves(conversationId, (m) => accountIds.includes(m.accountId));
  }

  /** Removes these devices' leaves (devices signed out by their owners; never this one). */
  removeDevices(conversationId: string, deviceIds: string[]): Promise<Conversation> {
    return this.removeLeaves(conversationId, (m) => deviceIds.includes(m.deviceId));
  }

  /**
   * Tells the server this account left (after its `leave` envelope was stored): it stops
   * delivering at once. A remaining member may already have committed the removal, which the
   * server then answers NOT_GROUP_MEMBER: left either way. The history stays on this device.
   */
  async leave(conversationId: string): Promise<Conversation> {
    try {
      await this.api.leaveGroup(conversationId);
    } catch (error) {
      if (!(error instanceof ParleyError && error.code === 'NOT_GROUP_MEMBER')) throw error;
    }
    return this.lane.run(async () =>
      this.conversations.markLeft(await this.conversations.require(conversationId)),
    );
  }

  private removeLeaves(
    conversationId: string,
    leaves: (member: DeviceRef) => boolean,
  ): Promise<Conversation> {
    return this.commitChange(conversationId, async (state) => {
      const leaving = mls
        .membersOf(state)
        .filter((m) => leaves(m) && m.deviceId !== this.device.deviceId);
      const committed = await mls.commit(state, { removeLeaves: leaving.map((m) => m.leaf) });
      return { committed, add: [], remove: leaving.map((m) => m.deviceId) };
    });
  }

  /** Commits a change, and if another member's Commit won the epoch, catches up and retries. */
  private async commitChange(
    conversationId: string,
    make: (state: ClientState) => Promise<Change>,
  ): Promise<Conversation> {
    for (let attempt = 0; ; attempt++) {
      const outcome = await this.lane.run(async () => {
        const stored = await this.conversations.require(conversationId);
        const change = await make(await mls.decodeState(stored.state));
        try {
          await this.api.commit(conversationId, {
            epoch: stored.epoch,
            commit: change.committed.commit,
            ...(change.committed.welcome ? { welcome: change.committed.welcome } : {}),
            add: change.add,
            remove: change.remove,
          });
        } catch (error) {
          if (error instanceof ParleyError && error.code === 'EPOCH_CONFLICT') {
            return { conflict: epochIn(error) ?? stored.epoch + 1 };
          }
          throw error;
        }
        return {
          conversation: await this.conversations.adopt(conversationId, change.committed.state, {
            by: this.device,
          }),
        };
      });
      if (outcome.conversation) return publicView(outcome.conversation);
      if (attempt >= COMMIT_RETRIES) {
        throw new ParleyError('EPOCH_CONFLICT', {
          details: { conversationId, attempts: attempt + 1 },
        });
      }
      await this.conversations.waitForEpoch(conversationId, outcome.conflict);
    }
  }

  private async claim(accountIds: string[]): Promise<ClaimedKeyPackage[]> {
    const { keyPackages } = await this.api.claimKeyPackages(accountIds);
    return keyPackages.filter((k) => k.deviceId !== this.device.deviceId);
  }
}

/** The epoch an EPOCH_CONFLICT names: the group's current one on the server. */
function epochIn(error: ParleyError): number | undefined {
  const epoch = (error.details as { epoch?: unknown } | undefined)?.epoch;
  return typeof epoch === 'number' ? epoch : undefined;
}
