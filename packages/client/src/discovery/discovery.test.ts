/**
 * The client's filter copy: a copy saved in an older format is replaced by a snapshot instead of
 * breaking discovery, and a delta is applied for the held range (removal prefixes, full-width
 * removals, additions) to exactly the server's set. And every filter is checked before it is
 * used (filter-checks.ts): a doctored one — range 1, a count over capacity, a version going back,
 * bytes other than the signed ones, a statement signed by another key — is refused.
 */

import * as assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  type DirectoryStatement,
  directoryStatementBytes,
  filterRangeFor,
  filterValue,
  ParleyError,
  REMOVAL_PREFIX_SHIFT,
  toBase64Url,
} from '@parley/core';
import { encodeFilter, encodeFilterPrefixes } from '@parley/core/server';
import type { Consent } from '../privacy/consent.js';
import { MemoryStore } from '../store/store.js';
import type { ApiClient } from '../transport/api.js';
import { DiscoveryEngine } from './discovery.js';

const fingerprints = (n: number) => Array.from({ length: n }, () => new Uint8Array(randomBytes(8)));

/** The server's directory signing key, as node:crypto makes it (an independent Ed25519). */
function signer() {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const signingKey = publicKey.export({ format: 'jwk' }).x!;
  return (statement: DirectoryStatement) => ({
    signingKey,
    signature: toBase64Url(sign(null, directoryStatementBytes(statement), privateKey)),
  });
}

type Sign = ReturnType<typeof signer>;

/** A snapshot answer for these bytes, signed; `lie` changes what is claimed after signing. */
function snapshotAnswer(
  data: Uint8Array,
  sign: Sign,
  fields: { version?: number; count: number; range: bigint },
) {
  const digest = createHash('sha256').update(data).digest();
  const version = fields.version ?? 5;
  return {
    type: 'snapshot',
    keyId: 'k1',
    version,
    count: fields.count,
    range: String(fields.range),
    bytes: data.length,
    path: `/v1/directory/snapshots/k1/${version}`,
    digest: toBase64Url(digest),
    ...sign({
      kind: 'snapshot',
      keyId: 'k1',
      version,
      count: fields.count,
      range: fields.range,
      digest,
    }),
  };
}

/** An API that serves one snapshot answer and then one delta, recording what the client asked. */
function fakeApi(
  snapshot: Uint8Array,
  answer: Record<string, unknown>,
  delta?: Record<string, unknown>,
) {
  const asked: unknown[] = [];
  const api = {
    serverUrl: 'http://server.test',
    async directory(held?: { keyId: string; version: number; range: bigint }) {
      asked.push(held);
      if (held && delta) return delta;
      return answer;
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
    const range = filterRangeFor(1024);
    const data = encodeFilter(members, range);
    const { api, asked } = fakeApi(data, snapshotAnswer(data, signer(), { count: 100, range }));
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
    const sign = signer();
    const data = encodeFilter(members, range);
    const { api, asked } = fakeApi(data, snapshotAnswer(data, sign, { count: 900, range }), {
      type: 'delta',
      keyId: 'k1',
      fromVersion: 5,
      version: 9,
      range: String(range),
      added: toBase64Url(encodeFilter(added, range)),
      removed: toBase64Url(encodeFilterPrefixes(members.slice(0, 30), range, REMOVAL_PREFIX_SHIFT)),
      removedFull: toBase64Url(encodeFilter(members.slice(30, 35), range)),
      count: 905,
      ...sign({ kind: 'state', keyId: 'k1', version: 9, count: 905 }),
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

describe('a doctored filter is refused before anything is looked up in it', () => {
  const refused = (reason: string) => (e: unknown) =>
    e instanceof ParleyError &&
    e.code === 'FILTER_REFUSED' &&
    (e.details as { reason: string }).reason === reason;
  const range = filterRangeFor(1024);
  const members = fingerprints(50);
  const data = encodeFilter(members, range);

  it('a range-1 filter that matches every number', async () => {
    // 21 bytes: header and one entry, range 1: everything maps to value 0.
    const everything = encodeFilter([new Uint8Array(8)], 1n);
    const answer = { ...snapshotAnswer(everything, signer(), { count: 1, range }) };
    const engine = new DiscoveryEngine(
      new MemoryStore(),
      fakeApi(everything, answer).api,
      consent,
      oprf,
    );
    await assert.rejects(engine.syncFilter(), refused('snapshot range'));
  });

  it('a count over what the range holds at 2⁻³²', async () => {
    const sign = signer();
    const crowded = snapshotAnswer(data, sign, { count: 10_000_000, range });
    const engine = new DiscoveryEngine(
      new MemoryStore(),
      fakeApi(data, crowded).api,
      consent,
      oprf,
    );
    await assert.rejects(engine.syncFilter(), refused('count over capacity'));
  });

  it('bytes other than the signed ones, and a claim changed after signing', async () => {
    const sign = signer();
    const answer = snapshotAnswer(data, sign, { count: 50, range });
    const other = encodeFilter(fingerprints(50), range);
    const swapped = new DiscoveryEngine(
      new MemoryStore(),
      fakeApi(other, answer).api,
      consent,
      oprf,
    );
    await assert.rejects(swapped.syncFilter(), refused('digest'));
    const relabelled = { ...answer, count: 40 };
    const engine = new DiscoveryEngine(
      new MemoryStore(),
      fakeApi(data, relabelled).api,
      consent,
      oprf,
    );
    await assert.rejects(engine.syncFilter(), refused('signature'));
  });

  it('a statement signed by another key than the pinned one', async () => {
    const store = new MemoryStore();
    const first = fakeApi(data, snapshotAnswer(data, signer(), { count: 50, range })).api;
    await new DiscoveryEngine(store, first, consent, oprf).syncFilter();
    const second = fakeApi(
      data,
      snapshotAnswer(data, signer(), { count: 50, range, version: 6 }),
    ).api;
    await assert.rejects(
      new DiscoveryEngine(store, second, consent, oprf).syncFilter(),
      refused('signing key changed'),
    );
  });

  it('a version going back', async () => {
    const store = new MemoryStore();
    const sign = signer();
    const newer = fakeApi(data, snapshotAnswer(data, sign, { count: 50, range, version: 8 })).api;
    await new DiscoveryEngine(store, newer, consent, oprf).syncFilter();
    const older = fakeApi(data, snapshotAnswer(data, sign, { count: 50, range, version: 7 })).api;
    await assert.rejects(
      new DiscoveryEngine(store, older, consent, oprf).syncFilter(),
      refused('version went back'),
    );
  });
});
