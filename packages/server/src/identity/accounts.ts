/**
 * Accounts and devices. An account is a random id and an identity key; its only link to a phone
 * number is its directory element; a device holds a credential of which the server keeps only a
 * hash.
 *
 * Registering a number that has an account never joins that identity: it starts a new one on the
 * same account id (the old devices signed out, the identity key replaced), unless the account's
 * registration lock refuses it (registration-lock.ts). Devices join an identity only by being
 * linked from one of its devices (linking.ts).
 */

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  type AccountResponse,
  type AccountUpdateRequest,
  type DeviceRef,
  ParleyError,
  type PresenceVisibility,
  type RegisterResponse,
  toBase64Url,
} from '@parley/core';
import type { Directory, DirectoryChange } from '../directory/directory.js';
import type { BudgetCarry } from '../discovery/budget-carry.js';
import type { Db } from '../infra/db/database.js';
import type { Realtime } from '../realtime/port.js';
import { credentialOf, deviceIdsOf, devicesOf, insertDevice, touchDevice } from './device-store.js';
import type { Devices, SignedOut } from './devices.js';
import { type PinCheck, pinMatches, type RegistrationLock } from './registration-lock.js';

export const newId = () => randomBytes(16).toString('base64url');
export const hashSecret = (secret: string) => createHash('sha256').update(secret).digest();

/** A device's last-seen time is written at most this often (the registration lock's window). */
const SEEN_EVERY_MS = 3_600_000;

/** What a registration asks for, besides the verified number. */
export interface Registration {
  discoverable: boolean;
  presence: PresenceVisibility;
  deviceName: string;
  identityKey: Uint8Array;
  registrationLockPin?: string;
}

type Outcome = { registered: RegisterResponse; signedOut?: SignedOut } | { check: PinCheck };

export class Accounts {
  constructor(
    private readonly db: Db,
    private readonly directory: Directory,
    private readonly realtime: Realtime,
    private readonly budgets: BudgetCarry,
    private readonly devices: Devices,
    readonly lock: RegistrationLock,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Creates the account for a verified number, or — when the number has one — starts a new
   * identity on it, if its registration lock lets this through. The number is dropped when this
   * returns.
   */
  async register(phoneNumber: string, registration: Registration): Promise<RegisterResponse> {
    const pin = registration.registrationLockPin;
    // The lock verifier the PIN was found to match, once checked.
    let passed: string | undefined;
    for (;;) {
      const outcome = await this.directory.write(
        async (change, entry): Promise<Outcome> => {
          const { trx, entries } = change;
          // The token determines the element, so the token's index finds the account.
          const existing = await trx
            .selectFrom(entries)
            .innerJoin('accounts', 'accounts.seq', 'account_seq')
            .select([
              'accounts.id as id',
              'accounts.discoverable as discoverable',
              'accounts.registration_lock as lock',
              'accounts.lock_failures as failures',
            ])
            .where('token', '=', entry.token)
            .executeTakeFirst();
          if (!existing) return { registered: await this.create(change, entry, registration) };
          const gate = await this.lock.gate(trx, existing, pin, passed);
          if (gate !== 'open') return { check: gate };
          return this.newIdentity(change, existing, entry.fingerprint, registration);
        },
        // Under the write lock, so the key it is evaluated under is still current at the insert.
        () => this.directory.entryForNumber(phoneNumber),
      );
      if ('registered' in outcome) {
        if (outcome.signedOut) {
          this.devices.announce(outcome.signedOut);
          // Watchers were admitted under the old identity's setting: they ask again.
          this.realtime.unwatchAccount(outcome.registered.accountId);
        }
        return outcome.registered;
      }
      // Outside the transaction (scrypt is slow on purpose); the attempt is already counted.
      if (pin === undefined || !(await pinMatches(pin, outcome.check.verifier))) {
        throw this.lock.wrongPin(outcome.check);
      }
      passed = outcome.check.verifier;
    }
  }

  private async create(
    { trx, entries, log }: DirectoryChange,
    entry: { element: Uint8Array; fingerprint: Uint8Array; token: Uint8Array },
    registration: Registration,
  ): Promise<RegisterResponse> {
    const accountId = newId();
    // A number whose earlier account was deleted starts where that account's budget was.
    const carried = await this.budgets.take(trx, entry.token);
    const { seq } = await trx
      .insertInto('accounts')
      .values({
        id: accountId,
        identity_key: registration.identityKey,
        discoverable: registration.discoverable ? 1 : 0,
        presence: registration.presence,
        created_at: new Date().toISOString(),
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
    if (registration.discoverable) await log(entry.fingerprint, 'add');
    return this.addDevice(trx, accountId, registration, false);
  }

  /**
   * The number's account starts a new identity: every old device is signed out as
   * DELETE /v1/devices does, the identity key is replaced, the lock cleared, and the account's
   * settings become this registration's answers. Nothing of the old identity reaches the device.
   */
  private async newIdentity(
    change: DirectoryChange,
    existing: { id: string; discoverable: number },
    fingerprint: Uint8Array,
    registration: Registration,
  ): Promise<Outcome> {
    const { trx } = change;
    const accountId = existing.id;
    const old = await deviceIdsOf(trx, accountId);
    const signedOut = await this.devices.signOutIn(trx, accountId, old);
    await trx
      .updateTable('accounts')
      .set({
        identity_key: registration.identityKey,
        registration_lock: null,
        lock_failures: 0,
        presence: registration.presence,
      })
      .where('id', '=', accountId)
      .execute();
    if (Boolean(existing.discoverable) !== registration.discoverable) {
      await setDiscoverable(change, accountId, fingerprint, registration.discoverable);
    }
    const registered = await this.addDevice(trx, accountId, registration, true);
    return { registered, signedOut };
  }

  private async addDevice(
    trx: DirectoryChange['trx'],
    accountId: string,
    registration: Registration,
    existingAccount: boolean,
  ): Promise<RegisterResponse> {
    const deviceId = newId();
    const secret = randomBytes(32).toString('base64url');
    await insertDevice(trx, {
      id: deviceId,
      accountId,
      name: registration.deviceName,
      credentialHash: hashSecret(secret),
      createdAt: new Date().toISOString(),
      lastSeenAt: this.now(),
    });
    return {
      accountId,
      deviceId,
      credential: `${deviceId}.${secret}`,
      discoverable: registration.discoverable,
      presence: registration.presence,
      existingAccount,
    };
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
    // Activity for the registration lock's window; one write an hour at most per device.
    const now = this.now();
    if (now - Number(device.last_seen_at) >= SEEN_EVERY_MS)
      await touchDevice(this.db, device.id, now);
    return { accountId: device.account_id, deviceId: device.id };
  }

  async get(accountId: string): Promise<AccountResponse> {
    const account = await this.db
      .selectFrom('accounts')
      .select(['id', 'discoverable', 'presence', 'created_at', 'identity_key', 'registration_lock'])
      .where('id', '=', accountId)
      .executeTakeFirst();
    if (!account) throw new ParleyError('UNAUTHENTICATED');
    const devices = await devicesOf(this.db, accountId);
    return {
      accountId: account.id,
      ...(account.identity_key ? { identityKey: toBase64Url(account.identity_key) } : {}),
      discoverable: Boolean(account.discoverable),
      presence: account.presence,
      registrationLock: account.registration_lock !== null,
      createdAt: account.created_at,
      devices: devices.map((d) => ({
        deviceId: d.id,
        name: d.name,
        createdAt: d.created_at,
        ...(d.certificate ? { certificate: toBase64Url(d.certificate) } : {}),
      })),
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
