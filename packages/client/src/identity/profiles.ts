/**
 * Profiles on this device: this account's own (its name, the profile key and the version on the
 * server) and the ones other people shared (their key and version from a `profile` envelope in
 * MLS, the name read with it). The server holds only sealed profiles (core profile.ts); this
 * module seals, saves, fetches and opens them.
 *
 * What the server serves is checked: a profile that does not open under the key its owner gave,
 * for that account and version, is PROFILE_UNREADABLE, one larger than any profile is
 * PROFILE_TOO_LARGE; either is reported and the name already known is kept. A version lower than
 * one read before is ignored (the server may withhold an update, not roll one back unseen).
 *
 * @example
 * const profiles = new Profiles(store, api, accountId, report);
 * const announce = await profiles.setName('Ada');   // then send `announce` in every conversation
 * await profiles.learn(bobId, envelope.key, envelope.version);
 * profiles.nameOf(bobId); // 'Bob'
 */

import {
  fromBase64Url,
  newProfileKey,
  normalizeProfileName,
  openProfile,
  ParleyError,
  type ProfileEnvelope,
  sealProfile,
  toBase64Url,
} from '@parley/core';
import type { ClientStore } from '../store/store.js';
import type { ApiClient } from '../transport/api.js';

const OWN = 'profile-own';
const KNOWN = 'profiles-known';

export interface OwnProfile {
  name: string;
  /** The profile key, base64url. */
  key: string;
  version: number;
}

export interface KnownProfile {
  /** The key the account shared, base64url, and the version it said was current. */
  key: string;
  version: number;
  /** The name read, and the version it was read from; absent until one was read. */
  name?: string;
  readVersion?: number;
}

export class Profiles {
  /** Fetches under way, so a burst of envelopes from one account fetches once. */
  private readonly fetching = new Map<string, Promise<void>>();

  constructor(
    private readonly store: ClientStore,
    private readonly api: ApiClient,
    private readonly accountId: string,
    /** Where a refused profile is reported (the messenger's 'error' event). */
    private readonly report: (error: ParleyError) => void,
    /** Told when a name was read (the messenger's 'profile' event). */
    private readonly onName: (accountId: string, name: string) => void = () => {},
  ) {}

  own(): Promise<OwnProfile | undefined> {
    return this.store.get<OwnProfile>(OWN);
  }

  /** The envelope that gives this account's profile key to a conversation; none before a name. */
  async envelope(): Promise<ProfileEnvelope | undefined> {
    const own = await this.own();
    return own && { v: 1, type: 'profile', key: own.key, version: own.version };
  }

  /**
   * Seals and saves this account's name under its profile key (made now if this device has
   * none), one version up; another device's newer save is read and gone past. Returns the
   * envelope to send in every conversation, so the members fetch the new version.
   */
  async setName(raw: string): Promise<ProfileEnvelope> {
    const name = normalizeProfileName(raw);
    const own = await this.own();
    const key = own ? fromBase64Url(own.key)! : await newProfileKey();
    let version = (own?.version ?? 0) + 1;
    for (let attempt = 0; ; attempt++) {
      const sealed = await sealProfile(key, this.accountId, version, { name });
      try {
        await this.api.putProfile({ version, ciphertext: toBase64Url(sealed) });
        break;
      } catch (error) {
        const current = (error as ParleyError).details as { version?: number } | undefined;
        if (
          !(error instanceof ParleyError) ||
          error.code !== 'PROFILE_VERSION_CONFLICT' ||
          attempt > 2
        ) {
          throw error;
        }
        version = Math.max(version, current?.version ?? 0) + 1;
      }
    }
    const saved: OwnProfile = { name, key: toBase64Url(key), version };
    await this.store.set(OWN, saved);
    return { v: 1, type: 'profile', key: saved.key, version };
  }

  /** The name to show for an account: the one it shared, or this account's own. */
  async nameOf(accountId: string): Promise<string | undefined> {
    if (accountId === this.accountId) return (await this.own())?.name;
    return (await this.knownProfiles())[accountId]?.name;
  }

  /** Every name read so far, by account. */
  async names(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const [id, p] of Object.entries(await this.knownProfiles())) {
      if (p.name !== undefined) out[id] = p.name;
    }
    const own = await this.own();
    if (own) out[this.accountId] = own.name;
    return out;
  }

  /**
   * Records the key and version an account shared in MLS (`from` is MLS's authenticated
   * sender), then fetches and opens its profile. An envelope from another device of this
   * account hands over the account's own key. Never throws: a failure is reported.
   */
  async learn(from: string, envelope: ProfileEnvelope): Promise<void> {
    if (from === this.accountId) return this.adoptOwn(envelope);
    const known = await this.knownProfiles();
    const before = known[from];
    if (before && before.key === envelope.key && before.version >= envelope.version) {
      if (before.readVersion !== undefined && before.readVersion >= envelope.version) return;
    } else {
      const keep = before?.key === envelope.key ? before : undefined;
      known[from] = {
        key: envelope.key,
        version: Math.max(envelope.version, keep?.version ?? 0),
        ...(before?.name !== undefined ? { name: before.name } : {}),
        // A new key: what was read under the old one says nothing about what comes next.
        ...(keep?.readVersion !== undefined ? { readVersion: keep.readVersion } : {}),
      };
      await this.store.set(KNOWN, known);
    }
    await this.refresh(from);
  }

  /** Fetches and opens an account's profile with the key it shared; never throws. */
  refresh(accountId: string): Promise<void> {
    const running = this.fetching.get(accountId);
    if (running) return running;
    const work = this.fetchAndOpen(accountId)
      .catch((error: unknown) => {
        if (error instanceof ParleyError) this.report(error);
      })
      .finally(() => this.fetching.delete(accountId));
    this.fetching.set(accountId, work);
    return work;
  }

  /** Forgets everything (the account was deleted). */
  async erase(): Promise<void> {
    await this.store.delete(OWN);
    await this.store.delete(KNOWN);
  }

  private async fetchAndOpen(accountId: string): Promise<void> {
    const entry = (await this.knownProfiles())[accountId];
    if (!entry) return;
    const served = await this.api.profile(accountId);
    // Older than one read before, or than the key's owner said: withheld or rolled back.
    if (entry.readVersion !== undefined && served.version <= entry.readVersion) return;
    const sealed = fromBase64Url(served.ciphertext);
    if (!sealed) {
      throw new ParleyError('PROFILE_UNREADABLE', { details: { accountId, why: 'encoding' } });
    }
    const profile = await openProfile(fromBase64Url(entry.key)!, accountId, served.version, sealed);
    const known = await this.knownProfiles();
    const now = known[accountId];
    if (!now || now.key !== entry.key) return; // a newer key came meanwhile; it fetches again
    known[accountId] = { ...now, name: profile.name, readVersion: served.version };
    await this.store.set(KNOWN, known);
    this.onName(accountId, profile.name);
  }

  /** Another device of this account shared the key: read the name it saved under it. */
  private async adoptOwn(envelope: ProfileEnvelope): Promise<void> {
    const own = await this.own();
    if (own && own.version >= envelope.version) return;
    try {
      const served = await this.api.profile(this.accountId);
      const sealed = fromBase64Url(served.ciphertext);
      if (!sealed || served.version < envelope.version) return;
      const { name } = await openProfile(
        fromBase64Url(envelope.key)!,
        this.accountId,
        served.version,
        sealed,
      );
      await this.store.set(OWN, { name, key: envelope.key, version: served.version });
      this.onName(this.accountId, name);
    } catch (error) {
      if (error instanceof ParleyError) this.report(error);
    }
  }

  private async knownProfiles(): Promise<Record<string, KnownProfile>> {
    // Read each time: a service worker and a tab may share the store.
    return (await this.store.get<Record<string, KnownProfile>>(KNOWN)) ?? {};
  }
}
