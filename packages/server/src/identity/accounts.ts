/**
 * Accounts and devices. An account is a random id whose only link to a phone number is its
 * directory element; a device holds a credential of which the server keeps only a hash.
 */

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  type AccountResponse,
  type AccountUpdateRequest,
  type DeviceRef,
  ParleyError,
  type PresenceVisibility,
  type RegisterResponse,
} from '@parley/core';
import type { Directory, DirectoryChange } from '../directory/directory.js';
import type { BudgetCarry } from '../discovery/budget-carry.js';
import type { Db } from '../infra/db/database.js';
import type { Realtime } from '../realtime/port.js';
import { credentialOf, devicesOf, insertDevice } from './device-store.js';

const newId = () => randomBytes(16).toString('base64url');
const hashSecret = (secret: string) => createHash('sha256').update(secret).digest();

export class Accounts {
  constructor(
    private readonly db: Db,
    private readonly directory: Directory,
    private readonly realtime: Realtime,
    private readonly budgets: BudgetCarry,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Creates the account for a verified number, or adds a device to the one it already has, and
   * applies the discoverability the user chose. The number is dropped when this returns.
   */
  async register(
    phoneNumber: string,
    discoverable: boolean,
    presence: PresenceVisibility,
    deviceName: string,
  ): Promise<RegisterResponse> {
    const deviceId = newId();
    const secret = randomBytes(32).toString('base64url');
    const now = new Date().toISOString();
    return this.directory.write(
      async (change, entry) => {
        const { trx, entries, log } = change;
        // The token determines the element, so the token's index finds the account.
        const existing = await trx
          .selectFrom(entries)
          .innerJoin('accounts', 'accounts.seq', 'account_seq')
          .select(['accounts.id as id', 'accounts.discoverable as discoverable'])
          .where('token', '=', entry.token)
          .executeTakeFirst();
        let accountId: string;
        if (existing) {
          accountId = existing.id;
          await trx.updateTable('accounts').set({ presence }).where('id', '=', accountId).execute();
          if (presence === 'nobody') this.realtime.unwatchAccount(accountId);
          if (Boolean(existing.discoverable) !== discoverable) {
            await setDiscoverable(change, accountId, entry.fingerprint, discoverable);
          }
        } else {
          accountId = newId();
          // A number whose earlier account was deleted starts where that account's budget was.
          const carried = await this.budgets.take(trx, entry.token);
          const { seq } = await trx
            .insertInto('accounts')
            .values({
              id: accountId,
              discoverable: discoverable ? 1 : 0,
              presence,
              created_at: now,
              budget_level: carried?.level ?? 0,
              budget_at: carried?.at ?? this.now(),
            })
            .returning('seq')
            .executeTakeFirstOrThrow();
          await trx
            .insertInto(entries)
            .values({
              account_seq: seq,
              element: entry.element,
              fingerprint: entry.fingerprint,
              token: entry.token,
            })
            .execute();
          if (discoverable) await log(entry.fingerprint, 'add');
        }
        await insertDevice(trx, {
          id: deviceId,
          accountId,
          name: deviceName,
          credentialHash: hashSecret(secret),
          createdAt: now,
        });
        return {
          accountId,
          deviceId,
          credential: `${deviceId}.${secret}`,
          discoverable,
          presence,
          existingAccount: existing !== undefined,
        };
      },
      // Under the write lock, so the key it is evaluated under is still current at the insert.
      () => this.directory.entryForNumber(phoneNumber),
    );
  }

  /** Checks `Authorization: Bearer <deviceId>.<secret>`; UNAUTHENTICATED otherwise. */
  async authenticate(header: string | undefined): Promise<DeviceRef> {
    const match = /^Bearer ([A-Za-z0-9_-]{8,64})\.([A-Za-z0-9_-]{43})$/.exec(header ?? '');
    if (!match) throw new ParleyError('UNAUTHENTICATED');
    const device = await credentialOf(this.db, match[1]!);
    const presented = hashSecret(match[2]!);
    if (!device || !timingSafeEqual(Buffer.from(device.credential_hash), presented)) {
      throw new ParleyError('UNAUTHENTICATED');
    }
    return { accountId: device.account_id, deviceId: device.id };
  }

  async get(accountId: string): Promise<AccountResponse> {
    const account = await this.db
      .selectFrom('accounts')
      .select(['id', 'discoverable', 'presence', 'created_at'])
      .where('id', '=', accountId)
      .executeTakeFirst();
    if (!account) throw new ParleyError('UNAUTHENTICATED');
    const devices = await devicesOf(this.db, accountId);
    return {
      accountId: account.id,
      discoverable: Boolean(account.discoverable),
      presence: account.presence,
      createdAt: account.created_at,
      devices: devices.map((d) => ({ deviceId: d.id, name: d.name, createdAt: d.created_at })),
    };
  }

  async update(accountId: string, change: AccountUpdateRequest): Promise<AccountResponse> {
    if (change.presence !== undefined) {
      await this.db
        .updateTable('accounts')
        .set({ presence: change.presence })
        .where('id', '=', accountId)
        .execute();
      // Watchers were admitted under the old setting; a narrower one takes effect at once.
      if (change.presence === 'nobody') this.realtime.unwatchAccount(accountId);
    }
    if (change.discoverable !== undefined) {
      const discoverable = change.discoverable;
      await this.directory.write(async (change) => {
        const account = await change.trx
          .selectFrom('accounts')
          .innerJoin(change.entries, 'account_seq', 'accounts.seq')
          .select(['accounts.discoverable as discoverable', 'fingerprint'])
          .where('accounts.id', '=', accountId)
          .executeTakeFirstOrThrow();
        if (Boolean(account.discoverable) === discoverable) return;
        await setDiscoverable(change, accountId, account.fingerprint, discoverable);
      });
    }
    return this.get(accountId);
  }
}

/** Changes whether an account is discoverable, and logs its filter change in the same write. */
async function setDiscoverable(
  { trx, log }: DirectoryChange,
  accountId: string,
  fingerprint: Uint8Array,
  discoverable: boolean,
): Promise<void> {
  await trx
    .updateTable('accounts')
    .set({ discoverable: discoverable ? 1 : 0 })
    .where('id', '=', accountId)
    .execute();
  await log(fingerprint, discoverable ? 'add' : 'remove');
}
