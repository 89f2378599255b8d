/**
 * The client's filter copy: a copy saved in an older format is replaced by a snapshot instead of
 * breaking discovery, and a delta is applied for the held range (removal prefixes, full-width
 * removals, additions) to exactly the server's set. And every filter is checked before it is
 * used (filter-checks.ts): a doctored one — range 1, a count over capacity, a version going back,
 * bytes other than the signed ones, another key id than the signed one, a statement signed by
 * another key — is refused.
 */

import * as assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  type DirectoryStatement,
  directoryStatementBytes,
  filterRangeFor,
  filterValue,
  fromBase64Url,
  loadOprf,
  loadRotationSigner,
  loadVoprf,
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

/** A snapshot answer for these bytes, signed as the server signs it. */
function snapshotAnswer(
  data: Uint8Array,
  sign: Sign,
  fields: { version?: number; count: number; range: bigint; keyId?: string; publicKey?: string },
) {
  const digest = createHash('sha256').update(data).digest();
  const version = fields.version ?? 5;
  const keyId = fields.keyId ?? 'k1';
  const publicKey = fields.publicKey === undefined ? undefined : fromBase64Url(fields.publicKey)!;
  return {
    type: 'snapshot',
    keyId,
    ...(fields.publicKey === undefined ? {} : { publicKey: fields.publicKey }),
    version,
    count: fields.count,
    range: String(fields.range),
    bytes: data.length,
    path: `/v1/directory/snapshots/${keyId}/${version}`,
    digest: toBase64Url(digest),
    ...sign({
      kind: 'snapshot',
      keyId,
      version,
      count: fields.count,
      range: fields.range,
      digest,
      ...(publicKey ? { publicKey } : {}),
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
/** A canonical non-zero scalar (a server's OPRF key). */
const randomScalar = (): Uint8Array => {
  const s = new Uint8Array(randomBytes(32));
  s[31]! &= 0x0f;
  s[0]! |= 1;
  return s;
};
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
    // Another key id than the signed one (a new key id with a valid signature must come with the
    // old OPRF key's rotation statement: key-pins.test.ts).
    const otherKey = new DiscoveryEngine(
      new MemoryStore(),
      fakeApi(data, { ...answer, keyId: 'k9' }).api,
      consent,
      oprf,
    );
    await assert.rejects(otherKey.syncFilter(), refused('signature'));
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

/** One directory signing key for every in-process proving server (their clients pin it). */
const provingServerSign = signer();

/**
 * A server in process for the proof checks: it evaluates under `evalKey` (honest when that is
 * the published key) and proves for whatever key it used, as a dishonest server would. Its keys
 * rotate in the order given, each signing the next (rotation-statement.ts) unless `signed` is
 * turned off.
 */
async function provingApi(options: { keys: Record<string, Uint8Array>; evalKey?: Uint8Array }) {
  const core = await loadOprf();
  const voprf = await loadVoprf(core);
  const rotationSigner = await loadRotationSigner(core);
  const range = filterRangeFor(1024);
  const snapshot = encodeFilter([], range);
  const state = {
    keyId: Object.keys(options.keys)[0]!,
    evaluations: 0,
    translations: 0,
    signed: true,
  };
  const publicKey = (id: string) => toBase64Url(voprf.publicKey(options.keys[id]!));
  const unb64 = (s: string) => fromBase64Url(s)!;
  const api = {
    serverUrl: 'http://proving.test',
    async directory() {
      return snapshotAnswer(snapshot, provingServerSign, {
        keyId: state.keyId,
        publicKey: publicKey(state.keyId),
        version: 1,
        count: 0,
        range,
      });
    },
    async snapshot() {
      return snapshot;
    },
    async rotations(from?: string) {
      const ids = Object.keys(options.keys);
      const rotations = [];
      for (let i = 1; state.signed && i <= ids.indexOf(state.keyId); i++) {
        const statement = {
          oldKeyId: ids[i - 1]!,
          oldPublicKey: voprf.publicKey(options.keys[ids[i - 1]!]!),
          newKeyId: ids[i]!,
          newPublicKey: voprf.publicKey(options.keys[ids[i]!]!),
          rotatedAt: 1_000 * i,
        };
        rotations.push({
          ...statement,
          oldPublicKey: toBase64Url(statement.oldPublicKey),
          newPublicKey: toBase64Url(statement.newPublicKey),
          signature: toBase64Url(rotationSigner.sign(options.keys[ids[i - 1]!]!, statement)),
        });
      }
      const start = rotations.findIndex((r) => r.oldKeyId === from);
      return {
        rotations: from === undefined ? rotations : start < 0 ? [] : rotations.slice(start),
      };
    },
    async evaluate(keyId: string, blinded: string[]) {
      state.evaluations += blinded.length;
      const k = options.evalKey ?? options.keys[keyId]!;
      const out = voprf.blindEvaluate(k, voprf.publicKey(k), blinded.map(unb64));
      return {
        keyId,
        evaluatedElements: out.evaluatedElements.map(toBase64Url),
        proof: toBase64Url(out.proof),
        budget: { remaining: 100, capacity: 100, refillPerHour: 0 },
      };
    },
    async translate(fromKeyId: string, toKeyId: string, blinded: string[]) {
      state.translations += blinded.length;
      const to = options.evalKey ?? options.keys[toKeyId]!;
      const factor = core.scalarMul(to, core.scalarInvert(options.keys[fromKeyId]!));
      const c = blinded.map(unb64);
      const d = c.map((e) => core.scalarMult(factor, e));
      const proof = voprf.generateProof(
        factor,
        voprf.publicKey(options.keys[fromKeyId]!),
        voprf.publicKey(to),
        c,
        d,
      );
      return { keyId: toKeyId, translatedElements: d.map(toBase64Url), proof: toBase64Url(proof) };
    },
    async resolve() {
      return { matches: [] };
    },
  };
  return { api: api as unknown as ApiClient, state, core };
}

const proofInvalid = (e: unknown) => e instanceof ParleyError && e.code === 'OPRF_PROOF_INVALID';
const granted = { require: async () => {} } as unknown as Consent;

describe('DiscoveryEngine: verifiable evaluation (RFC 9497 VOPRF)', () => {
  const NUMBERS = ['+14155550101', '+14155550102', '+14155550103'];

  it('accepts an honest server, pins its key and caches the results', async () => {
    const k1 = randomScalar();
    const { api, core } = await provingApi({ keys: { k1 } });
    const store = new MemoryStore();
    const engine = new DiscoveryEngine(store, api, granted, async () => core);
    const report = await engine.run(NUMBERS);
    assert.equal(report.stats.evaluated, 3);
    const pins = await store.get<Record<string, string>>('oprfKeyPins');
    assert.deepEqual(Object.keys(pins ?? {}), ['k1']);
  });

  it('a server evaluating this client under another key (with a valid proof for it) is caught; nothing is cached', async () => {
    const k1 = randomScalar();
    const { api, core } = await provingApi({ keys: { k1 }, evalKey: randomScalar() });
    const store = new MemoryStore();
    const engine = new DiscoveryEngine(store, api, granted, async () => core);
    await assert.rejects(engine.run(NUMBERS), proofInvalid);
    const cache = await store.get<{ elements: Record<string, string> }>('discoveryCache');
    assert.equal(Object.keys(cache?.elements ?? {}).length, 0);
  });

  it('refuses another public key for a pinned key id', async () => {
    const store = new MemoryStore();
    const first = await provingApi({ keys: { k1: randomScalar() } });
    await new DiscoveryEngine(store, first.api, granted, async () => first.core).run(NUMBERS);
    const second = await provingApi({ keys: { k1: randomScalar() } });
    const engine = new DiscoveryEngine(store, second.api, granted, async () => second.core);
    await assert.rejects(engine.run(['+14155550199']), proofInvalid);
    assert.equal(second.state.evaluations, 0, 'nothing was sent');
  });

  it('re-keys through translate only with a proof for k_new/k_old of the pinned keys', async () => {
    const keys = { k1: randomScalar(), k2: randomScalar() };
    const store = new MemoryStore();
    const honest = await provingApi({ keys });
    const engine = new DiscoveryEngine(store, honest.api, granted, async () => honest.core);
    await engine.run(NUMBERS);
    honest.state.keyId = 'k2';
    const rotated = await engine.run(NUMBERS);
    assert.equal(rotated.stats.rekeyed, 3);
    assert.equal(rotated.stats.evaluated, 0);

    // A fresh client, the same rotation, but the server re-keys under a key of its own.
    const store2 = new MemoryStore();
    const liar = await provingApi({ keys });
    const victim = new DiscoveryEngine(store2, liar.api, granted, async () => liar.core);
    await victim.run(NUMBERS); // pins k1
    liar.state.keyId = 'k2';
    await victim.syncFilter(); // pins k2
    const evil = await provingApi({ keys, evalKey: randomScalar() });
    evil.state.keyId = 'k2';
    const cheated = new DiscoveryEngine(store2, evil.api, granted, async () => evil.core);
    await assert.rejects(cheated.run(NUMBERS), proofInvalid);
    const cache = await store2.get<{ keyId: string }>('discoveryCache');
    assert.equal(cache?.keyId, 'k1', 'the cache was not replaced');
  });

  it('a new key id the old key did not sign for is refused before anything is sent under it', async () => {
    const keys = { k1: randomScalar(), k2: randomScalar() };
    const store = new MemoryStore();
    const server = await provingApi({ keys });
    const engine = new DiscoveryEngine(store, server.api, granted, async () => server.core);
    await engine.run(NUMBERS);
    const sent = server.state.evaluations;
    // The directory answer is signed with the pinned signing key; only the chain is missing.
    server.state.keyId = 'k2';
    server.state.signed = false;
    await assert.rejects(
      engine.run([...NUMBERS, '+14155550199']),
      (e: unknown) => e instanceof ParleyError && e.code === 'OPRF_KEY_UNENDORSED',
    );
    assert.equal(server.state.evaluations, sent, 'nothing evaluated');
    assert.equal(server.state.translations, 0, 'nothing translated');
    assert.equal(await store.get('oprfKeyHead'), 'k1');
    // Signed after all: the same client follows the chain and re-keys.
    server.state.signed = true;
    const report = await engine.run(NUMBERS);
    assert.equal(report.keyId, 'k2');
    assert.equal(report.stats.rekeyed, 3);
  });
});
