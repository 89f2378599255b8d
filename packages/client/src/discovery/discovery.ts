/**
 * Blind contact discovery, client side (docs/design.md, "Discovery"):
 *   normalise → blind → evaluate (server, budgeted) → unblind → look up the fingerprint in the
 *   local copy of the membership filter → resolve the matches only.
 * The unblinded element of every checked number is cached per key id, so a later run sends only
 * numbers never checked before. When the server rotates its key, cached elements are re-keyed
 * through `translate`, which costs no budget, and the filter is downloaded afresh.
 *
 * Every evaluation and translation is verified (RFC 9497 VOPRF, docs/design.md "Verifiable
 * evaluation"): the server's public key for a key id is pinned (key-pins.ts: the first on first
 * use, later ones only through the old key's signed rotation statements), and a batch whose proof
 * does not verify against the pinned key fails with OPRF_PROOF_INVALID before anything from it is
 * cached.
 */

import {
  type Budget,
  directoryFingerprint,
  directoryToken,
  LIMITS,
  loadVoprf,
  MembershipFilter,
  type Oprf,
  ParleyError,
  phoneNumberInput,
  RISTRETTO255_GENERATOR,
  removalPrefixRange,
  toBase64Url,
  type Voprf,
} from '@parley/core';
import type { Consent } from '../privacy/consent.js';
import type { ClientStore } from '../store/store.js';
import type { ApiClient } from '../transport/api.js';
import {
  checkSnapshot,
  checkStatement,
  checkVersion,
  forgetDirectoryPins,
} from './filter-checks.js';
import { decode, OprfKeyPins, proofInvalid } from './key-pins.js';

export interface DiscoveryProgress {
  phase: 'filter' | 'rekey' | 'evaluate' | 'resolve';
  done: number;
  total: number;
}

export interface DiscoveredNumber {
  phoneNumber: string;
  /** 'unresolved': the filter matched but lazy mode has not asked the server yet. */
  status: 'on-parley' | 'not-on-parley' | 'unresolved';
  accountId?: string;
  deviceIds?: string[];
}

export interface DiscoveryReport {
  keyId: string;
  numbers: DiscoveredNumber[];
  stats: {
    numbers: number;
    /** Numbers sent (blinded) for evaluation in this run. */
    evaluated: number;
    fromCache: number;
    rekeyed: number;
    filterMatches: number;
    resolved: number;
    /** Filter matches the server did not confirm (false positives or just removed). */
    unconfirmed: number;
  };
  budget: Budget | undefined;
}

export interface RunOptions {
  resolve?: 'eager' | 'lazy';
  onProgress?: (p: DiscoveryProgress) => void;
  /**
   * The numbers were typed in by the user, one by one, to reach those people: not read from the
   * address book, so the address-book consent is not required. They still leave only blinded.
   */
  typedByUser?: boolean;
}

/** Discovery's local state, as exported (exportData). */
export interface DiscoveryExport {
  keyId: string;
  /** The version of the filter copy the listing was read from; null without one. */
  filterVersion: number | null;
  /** Every number checked; `listed`: the filter copy has it (null without a copy). */
  numbers: Array<{ phoneNumber: string; listed: boolean | null }>;
}

interface Cache {
  keyId: string;
  /** E.164 → unblinded element k·H(number), base64url. */
  elements: Record<string, string>;
  /** Lookup tokens the server confirmed under this key id (people it knows this user has). */
  resolved?: string[];
}

interface StoredFilter {
  keyId: string;
  version: number;
  /** The filter in its binary encoding (stores keep Uint8Array values as bytes). */
  data: Uint8Array;
}

export interface HeldFilter {
  keyId: string;
  version: number;
  filter: MembershipFilter;
}

const CACHE = 'discoveryCache';
const FILTER = 'directoryFilter';
export class DiscoveryEngine {
  private held: HeldFilter | undefined;
  private voprfLoaded: Promise<Voprf> | undefined;
  private readonly pins: OprfKeyPins;

  constructor(
    private readonly store: ClientStore,
    private readonly api: ApiClient,
    private readonly consent: Consent,
    private readonly oprf: () => Promise<Oprf>,
  ) {
    this.pins = new OprfKeyPins(store, api, oprf);
  }

  /**
   * Brings the local filter up to date: a delta coded at the held filter's width when the server
   * has one, else a binary snapshot. The decoded filter stays in memory between runs.
   */
  async syncFilter(): Promise<HeldFilter> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.syncFilterOnce();
      } catch (error) {
        // A snapshot superseded between the two requests: ask again.
        const stale = error instanceof ParleyError && error.code === 'DIRECTORY_SNAPSHOT_STALE';
        if (!stale || attempt >= 2) throw error;
      }
    }
  }

  private async syncFilterOnce(): Promise<HeldFilter> {
    let held = this.held;
    if (!held) {
      const stored = await this.store.get<StoredFilter>(FILTER);
      if (stored) {
        try {
          held = {
            keyId: stored.keyId,
            version: stored.version,
            filter: MembershipFilter.decode(stored.data),
          };
        } catch (error) {
          // Saved by an older client in an earlier filter format (or damaged): start afresh.
          if (!(error instanceof RangeError)) throw error;
          await this.store.delete(FILTER);
        }
      }
    }
    const response = await this.api.directory(
      held ? { keyId: held.keyId, version: held.version, range: held.filter.range } : undefined,
    );
    // Checked before anything is looked up in it or evaluated under it (filter-checks.ts).
    await checkStatement(this.store, this.api.serverUrl, response);
    checkVersion(held, response);
    await this.pins.accept(response.keyId, response.publicKey);
    if (response.type === 'snapshot') {
      const data = await this.api.snapshot(response.path, response.bytes);
      let filter: MembershipFilter;
      try {
        filter = MembershipFilter.decode(data);
      } catch (cause) {
        throw new ParleyError('FILTER_REFUSED', { cause, details: { reason: 'malformed' } });
      }
      await checkSnapshot(response, data, filter);
      await this.store.set<StoredFilter>(FILTER, {
        keyId: response.keyId,
        version: response.version,
        data,
      });
      this.held = { keyId: response.keyId, version: response.version, filter };
      return this.held;
    }
    if (!held || held.keyId !== response.keyId || String(held.filter.range) !== response.range) {
      throw new ParleyError('INVALID_RESPONSE', { details: { reason: 'unexpected delta' } });
    }
    const added = MembershipFilter.decode(decode(response.added));
    const removed = MembershipFilter.decode(decode(response.removed));
    const removedFull = MembershipFilter.decode(decode(response.removedFull));
    const range = held.filter.range;
    if (
      added.range !== range ||
      removed.range !== removalPrefixRange(range) ||
      removedFull.range !== range
    ) {
      throw new ParleyError('INVALID_RESPONSE', { details: { reason: 'delta range' } });
    }
    const changes = added.size + removed.size + removedFull.size;
    if (changes > 0) {
      // Removals come as prefixes of entries this filter holds (and the few the server found
      // ambiguous at full width); an ambiguous one all the same (the filter holds something the
      // server did not expect) means the delta cannot be applied safely, so the filter is dropped
      // and a fresh snapshot fetched instead.
      const applied =
        held.filter.removeByPrefix(removed) && held.filter.removeByPrefix(removedFull);
      if (applied) held.filter.merge(added);
      if (!applied || held.filter.needsResize()) {
        // The delta grew the set past the filter's false-positive bound: fetch a new one.
        this.held = undefined;
        await this.store.delete(FILTER);
        return this.syncFilterOnce();
      }
    }
    if (changes > 0 || held.version !== response.version) {
      await this.store.set<StoredFilter>(FILTER, {
        keyId: held.keyId,
        version: response.version,
        data: held.filter.encode(),
      });
    }
    this.held = { keyId: held.keyId, version: response.version, filter: held.filter };
    return this.held;
  }

  private loadVoprf(oprf: Oprf): Promise<Voprf> {
    this.voprfLoaded ??= loadVoprf(oprf);
    return this.voprfLoaded;
  }

  async run(phoneNumbers: string[], options: RunOptions = {}): Promise<DiscoveryReport> {
    try {
      return await this.runOnce(phoneNumbers, options);
    } catch (error) {
      // The key rotated between the filter download and an evaluation: start over once, which
      // picks up the new key and re-keys what was already evaluated.
      if (error instanceof ParleyError && error.code === 'KEY_ID_UNKNOWN') {
        return this.runOnce(phoneNumbers, options);
      }
      throw error;
    }
  }

  private async runOnce(phoneNumbers: string[], options: RunOptions): Promise<DiscoveryReport> {
    if (!options.typedByUser) await this.consent.require();
    const oprf = await this.oprf();
    const voprf = await this.loadVoprf(oprf);
    const progress = options.onProgress ?? (() => {});
    const numbers = [...new Set(phoneNumbers)];
    progress({ phase: 'filter', done: 0, total: 1 });
    const { keyId, filter } = await this.syncFilter();
    progress({ phase: 'filter', done: 1, total: 1 });

    let cache = await this.store.get<Cache>(CACHE);
    let rekeyed = 0;
    if (cache && cache.keyId !== keyId) {
      const result = await this.rekey(oprf, voprf, cache, keyId, progress);
      cache = result.cache;
      rekeyed = result.rekeyed;
    }
    if (!cache) cache = { keyId, elements: {} };

    const fresh = numbers.filter((n) => cache.elements[n] === undefined);
    const publicKey = fresh.length > 0 ? await this.pins.publicKey(keyId) : undefined;
    if (fresh.length > 0 && !publicKey) {
      // Nothing is sent that could not be checked.
      throw proofInvalid(keyId, 'the server published no public key for this key id');
    }
    let budget: Budget | undefined;
    for (let start = 0; start < fresh.length; start += LIMITS.evaluateBatch) {
      const batch = fresh.slice(start, start + LIMITS.evaluateBatch);
      const blinded = batch.map((n) => oprf.blind(phoneNumberInput(n)));
      const response = await this.api.evaluate(
        keyId,
        blinded.map((b) => toBase64Url(b.blindedElement)),
      );
      budget = response.budget;
      if (response.evaluatedElements.length !== batch.length) {
        throw new ParleyError('INVALID_RESPONSE', { details: { reason: 'element count' } });
      }
      const evaluated = response.evaluatedElements.map(decode);
      // VerifyProof(G, pkS, blindedElements, evaluatedElements, proof) against the pinned key:
      // a server evaluating this client under a key of its own is caught here.
      const verified = voprf.verifyProof(
        RISTRETTO255_GENERATOR,
        publicKey!,
        blinded.map((b) => b.blindedElement),
        evaluated,
        decode(response.proof),
      );
      if (!verified) throw proofInvalid(keyId, 'the evaluation proof does not verify');
      const unblinded = oprf.unblindAll(
        blinded.map((b) => b.blind),
        evaluated,
      );
      batch.forEach((n, i) => {
        cache.elements[n] = toBase64Url(unblinded[i]!);
      });
      // Saved per batch: an interrupted run keeps what it already paid for.
      await this.store.set(CACHE, cache);
      progress({ phase: 'evaluate', done: start + batch.length, total: fresh.length });
    }
    await this.store.set(CACHE, cache);

    const candidates = new Map<string, string>();
    const fingerprints = new Map<string, Uint8Array>();
    for (const n of numbers) {
      const element = decode(cache.elements[n]!);
      const fingerprint = directoryFingerprint(oprf.sha512, keyId, element);
      if (filter.has(fingerprint)) {
        const token = toBase64Url(directoryToken(oprf.sha512, keyId, element));
        candidates.set(token, n);
        fingerprints.set(token, fingerprint);
      }
    }

    const found = new Map<string, { accountId: string; deviceIds: string[] }>();
    if ((options.resolve ?? 'eager') === 'eager' && candidates.size > 0) {
      const record = (matches: Awaited<ReturnType<ApiClient['resolve']>>['matches']) => {
        for (const m of matches) {
          const n = candidates.get(m.token);
          if (n) {
            found.set(n, { accountId: m.accountId, deviceIds: m.devices.map((d) => d.deviceId) });
          }
        }
      };
      // Tokens that resolved before name people the server already knows this user has: they
      // go in batches. A new match goes alone, and the first one the server does not confirm
      // stops discovery (unless a fresh filter no longer lists it): a doctored filter gets at
      // most one number out of this device.
      const known = new Set(cache.resolved ?? []);
      const tokens = [...candidates.keys()];
      const old = tokens.filter((t) => known.has(t));
      const fresh = tokens.filter((t) => !known.has(t));
      for (let start = 0; start < old.length; start += LIMITS.resolveBatch) {
        record(
          (await this.api.resolve(keyId, old.slice(start, start + LIMITS.resolveBatch))).matches,
        );
        progress({ phase: 'resolve', done: start, total: tokens.length });
      }
      for (const [i, token] of fresh.entries()) {
        const { matches } = await this.api.resolve(keyId, [token]);
        record(matches);
        if (matches.some((m) => m.token === token)) {
          known.add(token);
        } else {
          const latest = await this.syncFilter();
          if (latest.keyId === keyId && latest.filter.has(fingerprints.get(token)!)) {
            throw new ParleyError('FILTER_REFUSED', {
              details: { reason: 'a listed match did not resolve', keyId, resolved: found.size },
            });
          }
        }
        progress({ phase: 'resolve', done: old.length + i + 1, total: tokens.length });
      }
      cache.resolved = [...known];
      await this.store.set(CACHE, cache);
    }
    const lazy = options.resolve === 'lazy';
    const matched = new Set(candidates.values());
    const results: DiscoveredNumber[] = numbers.map((phoneNumber) => {
      const hit = found.get(phoneNumber);
      if (hit) return { phoneNumber, status: 'on-parley', ...hit };
      if (lazy && matched.has(phoneNumber)) return { phoneNumber, status: 'unresolved' };
      return { phoneNumber, status: 'not-on-parley' };
    });
    return {
      keyId,
      numbers: results,
      stats: {
        numbers: numbers.length,
        evaluated: fresh.length,
        fromCache: numbers.length - fresh.length,
        rekeyed,
        filterMatches: candidates.size,
        resolved: found.size,
        unconfirmed: lazy ? 0 : candidates.size - found.size,
      },
      budget,
    };
  }

  /**
   * Moves cached elements to the new key: each is blinded afresh, multiplied by k'/k on the
   * server and unblinded. Elements the server will not re-key (key no longer retained) are
   * dropped and will be evaluated again. Each batch's proof must show the factor is
   * k_new/k_old of the two pinned keys; without a pin for both, nothing is translated.
   */
  private async rekey(
    oprf: Oprf,
    voprf: Voprf,
    cache: Cache,
    keyId: string,
    progress: (p: DiscoveryProgress) => void,
  ): Promise<{ cache: Cache; rekeyed: number }> {
    const entries = Object.entries(cache.elements);
    const next: Cache = { keyId, elements: {} };
    const oldKey = await this.pins.publicKey(cache.keyId);
    const newKey = await this.pins.publicKey(keyId);
    // Elements cached before keys were pinned cannot be checked: evaluate them again instead.
    const start0 = oldKey && newKey ? 0 : entries.length;
    for (let start = start0; start < entries.length; start += LIMITS.translateBatch) {
      const batch = entries.slice(start, start + LIMITS.translateBatch);
      const blinds = batch.map(() => oprf.generateSecretKey());
      const blinded = batch.map(([, e], i) => toBase64Url(oprf.scalarMult(blinds[i]!, decode(e))));
      try {
        const response = await this.api.translate(cache.keyId, keyId, blinded);
        const translated = response.translatedElements.map(decode);
        if (translated.length !== batch.length) {
          throw new ParleyError('INVALID_RESPONSE', { details: { reason: 'element count' } });
        }
        // The same DLEQ with generator pk_old: log_pkOld(pkNew) = log_C[i](D[i]).
        const verified = voprf.verifyProof(
          oldKey!,
          newKey!,
          blinded.map(decode),
          translated,
          decode(response.proof),
        );
        if (!verified) throw proofInvalid(keyId, 'the translation proof does not verify');
        const unblinded = oprf.unblindAll(blinds, translated);
        batch.forEach(([n], i) => {
          next.elements[n] = toBase64Url(unblinded[i]!);
        });
      } catch (error) {
        if (
          error instanceof ParleyError &&
          (error.code === 'KEY_ID_UNKNOWN' || error.status === 429)
        ) {
          break;
        }
        throw error;
      }
      progress({ phase: 'rekey', done: start + batch.length, total: entries.length });
    }
    await this.store.set(CACHE, next);
    return { cache: next, rekeyed: Object.keys(next.elements).length };
  }

  /** Resolves one number on demand (lazy mode: when a conversation opens). */
  async resolveOne(phoneNumber: string): Promise<DiscoveredNumber> {
    const report = await this.run([phoneNumber], { resolve: 'eager' });
    return report.numbers[0]!;
  }

  /**
   * What discovery keeps on this device, for an export: each number checked and whether the
   * filter copy lists it (as of that copy's version; no request is made). Null before any run.
   */
  async exportResults(): Promise<DiscoveryExport | null> {
    const cache = await this.store.get<Cache>(CACHE);
    if (!cache) return null;
    const stored = await this.store.get<StoredFilter>(FILTER);
    let filter: MembershipFilter | undefined;
    try {
      if (stored?.keyId === cache.keyId) filter = MembershipFilter.decode(stored.data);
    } catch {
      filter = undefined; // an old format: report the numbers without the listing
    }
    const oprf = filter ? await this.oprf() : undefined;
    return {
      keyId: cache.keyId,
      filterVersion: filter ? stored!.version : null,
      numbers: Object.entries(cache.elements).map(([phoneNumber, element]) => ({
        phoneNumber,
        listed:
          filter && oprf
            ? filter.has(directoryFingerprint(oprf.sha512, cache.keyId, decode(element)))
            : null,
      })),
    };
  }

  /** Forgets the server's pinned keys: the OPRF public keys and the directory signing key. */
  async forgetPins(): Promise<void> {
    await this.pins.forget();
    await forgetDirectoryPins(this.store);
  }

  /** Erases the discovery cache and the filter copy (consent withdrawn). */
  async clear(): Promise<void> {
    this.held = undefined;
    await this.store.delete(CACHE);
    await this.store.delete(FILTER);
  }
}
