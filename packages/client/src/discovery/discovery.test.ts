/**
 * The client's filter copy: a copy saved in an older format is replaced by a snapshot instead of
 * breaking discovery, and a delta is applied for the held range (removal prefixes, full-width
 * removals, additions) to exactly the server's set.
 */

import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { filterRangeFor, filterValue, REMOVAL_PREFIX_SHIFT, toBase64Url } from '@parley/core';
import { encodeFilter, encodeFilterPrefixes } from '@parley/core/server';
import type { Consent } from '../privacy/consent.js';
import { MemoryStore } from '../store/store.js';
import type { ApiClient } from '../transport/api.js';
import { DiscoveryEngine } from './discovery.js';

const fingerprints = (n: number) => Array.from({ length: n }, () => new Uint8Array(randomBytes(8)));

/** An API that serves one snapshot and then one delta, recording what the client asked. */
function fakeApi(snapshot: Uint8Array, delta?: Record<string, unknown>) {
  const asked: unknown[] = [];
  const api = {
    async directory(held?: { keyId: string; version: number; range: bigint }) {
      asked.push(held);
      if (held && delta) return delta;
      return {
        type: 'snapshot',
        keyId: 'k1',
        version: 5,
        count: 0,
        range: '0',
        bytes: snapshot.length,
        path: '/v1/directory/snapshots/k1/5',
      };
    },
    async snapshot() {
      return snapshot;
    },
  };
  return { api: api as unknown as ApiClient, asked };
}

const consent = {} as Consent;
const oprf = async () => {
  throw new Error('not needed');
};

describe('DiscoveryEngine.syncFilter', () => {
  it('replaces a filter saved in an older format with a fresh snapshot', async () => {
    const store = new MemoryStore();
    // Format version 1 (a bit width instead of a range), as earlier clients saved it.
    const v1 = new Uint8Array([0x50, 0x47, 0x43, 0x53, 1, 32, 32, 0, 0, 0, 0, 0]);
    await store.set('directoryFilter', { keyId: 'k1', version: 3, data: v1 });
    const members = fingerprints(100);
    const { api, asked } = fakeApi(encodeFilter(members, filterRangeFor(1024)));
    const engine = new DiscoveryEngine(store, api, consent, oprf);
    const held = await engine.syncFilter();
    assert.deepEqual(asked, [undefined], 'asked for a snapshot, not a delta for the old copy');
    assert.equal(held.version, 5);
    assert.ok(members.every((fp) => held.filter.has(fp)));
  });

  it('applies a delta for its range: prefixes, full-width removals and additions', async () => {
    const range = filterRangeFor(1024);
    // Removals by prefix only where the prefix names one member, as the server ensures.
    const prefix = (fp: Uint8Array) => filterValue(fp, range) >> BigInt(REMOVAL_PREFIX_SHIFT);
    const all = fingerprints(900);
    const seen = new Map<bigint, number>();
    for (const fp of all) seen.set(prefix(fp), (seen.get(prefix(fp)) ?? 0) + 1);
    const members = [
      ...all.filter((fp) => seen.get(prefix(fp)) === 1),
      ...all.filter((fp) => seen.get(prefix(fp))! > 1),
    ];
    const added = fingerprints(40);
    const { api, asked } = fakeApi(encodeFilter(members, range), {
      type: 'delta',
      keyId: 'k1',
      fromVersion: 5,
      version: 9,
      range: String(range),
      added: toBase64Url(encodeFilter(added, range)),
      removed: toBase64Url(encodeFilterPrefixes(members.slice(0, 30), range, REMOVAL_PREFIX_SHIFT)),
      removedFull: toBase64Url(encodeFilter(members.slice(30, 35), range)),
    });
    const store = new MemoryStore();
    const engine = new DiscoveryEngine(store, api, consent, oprf);
    await engine.syncFilter();
    const held = await engine.syncFilter();
    assert.deepEqual(asked[1], { keyId: 'k1', version: 5, range });
    assert.equal(held.version, 9);
    const now = [...members.slice(35), ...added];
    assert.deepEqual(held.filter.encode(), encodeFilter(now, range));
    const saved = await store.get<{ version: number; data: Uint8Array }>('directoryFilter');
    assert.equal(saved?.version, 9);
    assert.deepEqual(saved?.data, encodeFilter(now, range));
  });
});
