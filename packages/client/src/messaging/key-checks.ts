/**
 * The messenger's use of the trust store (identity/trust.ts): every certificate that would put a
 * device into a conversation — a claimed KeyPackage before this device adds it, every leaf of a
 * tree after a Welcome or a Commit — is judged against the identity keys this device has pinned.
 * - A refused certificate is never encrypted to: a claimed KeyPackage is dropped, a tree that
 *   holds one is not adopted. Either way a `KEY_REFUSED` warning says so.
 * - A changed identity key is shown first: a notice ("Alice's safety number changed") in every
 *   conversation with that account, and an `identity` event, before anything is encrypted to it.
 * - A verified contact whose key changed blocks sending (SAFETY_NUMBER_CHANGED) until the user
 *   accepts the new key or verifies it again.
 */

import {
  type ClaimedKeyPackage,
  type DeviceCertificate,
  type DeviceRef,
  ParleyError,
} from '@parley/core';
import type { ClientState, KeyPackage } from 'ts-mls';
import type { Trust, TrustVerdict } from '../identity/trust.js';
import type { Conversations } from './conversations.js';
import * as mls from './mls.js';
import type { MessengerEventSink } from './model.js';

export class KeyChecks {
  constructor(
    private readonly device: DeviceRef,
    private readonly trust: Trust,
    private readonly conversations: Conversations,
    private readonly events: MessengerEventSink,
  ) {}

  /**
   * The claimed KeyPackages this device may add: each verified (mls.peerKeyPackage) and judged.
   * Refused ones are left out with a warning; if a named account keeps none, nothing is added.
   */
  async claimed(
    conversationId: string,
    claimed: readonly ClaimedKeyPackage[],
    accountIds: readonly string[],
  ): Promise<Array<{ claim: ClaimedKeyPackage; keyPackage: KeyPackage }>> {
    const checked: Array<{
      claim: ClaimedKeyPackage;
      keyPackage: KeyPackage;
      certificate: DeviceCertificate;
    }> = [];
    let refused = 0;
    for (const claim of claimed) {
      try {
        checked.push({ claim, ...(await mls.peerKeyPackage(claim.keyPackage, claim)) });
      } catch {
        refused++;
        this.refused(conversationId, claim, 'no-certificate');
      }
    }
    const verdict = await this.judge(checked.map((c) => c.certificate));
    for (const { certificate, reason } of verdict.refused) {
      this.refused(conversationId, certificate, reason);
    }
    const ok = checked.filter((c) => verdict.accepted.includes(c.certificate));
    const missing = accountIds.filter(
      (a) => a !== this.device.accountId && !ok.some((c) => c.claim.accountId === a),
    );
    if (missing.length > 0 && refused + verdict.refused.length > 0) {
      throw new ParleyError('IDENTITY_REFUSED', { details: { accountIds: missing } });
    }
    await this.requireSendable(accountIds);
    return ok.map(({ claim, keyPackage }) => ({ claim, keyPackage }));
  }

  /**
   * Judges every leaf of a group state about to be adopted; IDENTITY_REFUSED (and a warning)
   * when one is refused, so the state is not adopted.
   */
  async tree(conversationId: string, state: ClientState): Promise<void> {
    const verdict = await this.judge(await mls.leafCertificates(state));
    if (verdict.refused.length === 0) return;
    for (const { certificate, reason } of verdict.refused) {
      this.refused(conversationId, certificate, reason);
    }
    throw new ParleyError('IDENTITY_REFUSED', {
      details: {
        conversationId,
        devices: verdict.refused.map(({ certificate: c }) => ({
          accountId: c.accountId,
          deviceId: c.deviceId,
        })),
      },
    });
  }

  /** SAFETY_NUMBER_CHANGED when a verified contact among these has a key not yet accepted. */
  async requireSendable(accountIds: readonly string[]): Promise<void> {
    const blocked = await this.trust.blocked(accountIds);
    if (blocked.length > 0) {
      throw new ParleyError('SAFETY_NUMBER_CHANGED', { details: { accountIds: blocked } });
    }
  }

  private async judge(certificates: DeviceCertificate[]): Promise<TrustVerdict> {
    const verdict = await this.trust.admit(certificates);
    for (const accountId of verdict.changed) await this.showChange(accountId);
    return verdict;
  }

  /** The notice in every conversation with the account, then the event. */
  private async showChange(accountId: string): Promise<void> {
    const notice = {
      change: 'identity-changed' as const,
      by: { accountId, deviceId: '' },
      accounts: [accountId],
      devices: [],
    };
    for (const c of await this.conversations.list()) {
      const withThem =
        c.members.some((m) => m.accountId === accountId) ||
        (await this.conversations.history(c.id)).some((m) => m.from.accountId === accountId);
      if (withThem) await this.conversations.notify(c.id, notice);
    }
    const pin = await this.trust.pin(accountId);
    this.events.emit('identity', {
      accountId,
      change: 'changed',
      blocked: pin?.unaccepted === true,
    });
  }

  private refused(conversationId: string, device: DeviceRef, reason: string): void {
    this.events.emit('warning', {
      code: 'KEY_REFUSED',
      conversationId,
      detail: { claimed: { accountId: device.accountId, deviceId: device.deviceId }, reason },
    });
  }
}
