/**
 * Deltas over many changes: a client filter that applies the server's delta ends up exactly equal
 * to a fresh snapshot of the same set at its range, although most removals travel as short
 * prefixes and some of those would name two entries of the client's filter (the server sends
 * those at full width); and removalForm decides each case from the neighbours.
 */

import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  filterValue,
  MembershipFilter,
  REMOVAL_PREFIX_SHIFT,
  removalPrefixRange,
} from '@parley/core';
import { encodeFilter, encodeFilterPrefixes, sortFingerprints } from '@parley/core/server';
import { insertAccounts, testServer } from '../testing/index.js';
import { removalForm } from './publication.js';

const fp = (v: bigint) => {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, v);
  return out;
};
const packed = (values: bigint[]) => {
  const out = new Uint8Array(values.length * 8);
  for (const [i, v] of values.entries()) out.set(fp(v), i * 8);
  return sortFingerprints(out);
};

describe('removalForm', () => {
  // Range 2^40: a value is the top 40 bits, a removal prefix the top 14.
  const range = 1n << 40n;
  const prefixBit = 1n << BigInt(64 - 40 + REMOVAL_PREFIX_SHIFT); // 2^50: next prefix
  const valueBit = 1n << 24n; // next value
  const x = 0x1234n * prefixBit + 77n * valueBit + 5n;

  it('prefix when no neighbour shares the prefix, in any set', () => {
    const set = packed([x, x - prefixBit, x + prefixBit]);
    assert.equal(removalForm(fp(x), range, [set, packed([])]), 'prefix');
    assert.equal(removalForm(fp(x), range, [packed([x + prefixBit * 5n])]), 'prefix');
  });

  it('full when a neighbour above or below shares the prefix, or one in the logged set does', () => {
    assert.equal(removalForm(fp(x), range, [packed([x, x + 3n * valueBit])]), 'full');
    assert.equal(removalForm(fp(x), range, [packed([x - 70n * valueBit, x])]), 'full');
    assert.equal(
      removalForm(fp(x), range, [packed([x, x + prefixBit]), packed([x + valueBit])]),
      'full',
    );
    // Absent from the sets itself (already removed from the member set): neighbours still count.
    assert.equal(removalForm(fp(x), range, [packed([x + valueBit])]), 'full');
  });

  it('keep when another member maps to the very same value', () => {
    assert.equal(removalForm(fp(x), range, [packed([x, x + 1n])]), 'keep');
    assert.equal(removalForm(fp(x), range, [packed([x]), packed([x - 5n])]), 'keep');
    assert.equal(filterValue(fp(x + 1n), range), filterValue(fp(x), range));
  });
});

describe('deltas over many changes', () => {
  let t: Awaited<ReturnType<typeof testServer>>;
  const count = 20_000;
  const ids: string[] = [];

  before(async () => {
    t = await testServer();
    const accounts = Array.from({ length: count }, (_, i) => {
      ids.push(`synthetic${String(i).padStart(8, '0')}`);
      return {
        id: ids[i]!,
        element: randomBytes(32),
        fingerprint: randomBytes(8),
        token: randomBytes(32),
        discoverable: true,
      };
    });
    await insertAccounts(t.server, accounts);
  });
  after(() => t.server.close());

  /** Marks accounts (not) discoverable through the directory log, as the account code does. */
  async function setDiscoverable(which: string[], discoverable: boolean) {
    const { directory } = t.server.services;
    await directory.write(async ({ trx, entries, log }) => {
      for (const id of which) {
        const row = await trx
          .selectFrom('accounts')
          .innerJoin(entries, 'account_seq', 'accounts.seq')
          .select('fingerprint')
          .where('accounts.id', '=', id)
          .executeTakeFirstOrThrow();
        await trx
          .updateTable('accounts')
          .set({ discoverable: discoverable ? 1 : 0 })
          .where('id', '=', id)
          .execute();
        await log(row.fingerprint, discoverable ? 'add' : 'remove');
      }
    });
  }

  async function snapshotFilter() {
    const { directory } = t.server.services;
    const payload = await directory.payload();
    assert.equal(payload.type, 'snapshot');
    if (payload.type !== 'snapshot') throw new Error('unreachable');
    const data = await directory.snapshotBytes(payload.keyId, payload.version);
    return { payload, filter: MembershipFilter.decode(data) };
  }

  async function discoverableFingerprints() {
    const { db, directory } = t.server.services;
    const rows = await db
      .selectFrom('accounts')
      .innerJoin(directory.entries(), 'account_seq', 'accounts.seq')
      .select('fingerprint')
      .where('accounts.discoverable', '=', 1)
      .execute();
    return rows.map((r) => r.fingerprint);
  }

  it('a client applying the delta holds exactly the new set, ambiguous prefixes included', async () => {
    const { directory } = t.server.services;
    const held = await snapshotFilter();
    const { range } = held.filter;
    // 3,000 removals and 1,000 re-additions of earlier removals plus their own changes.
    await setDiscoverable(ids.slice(0, 3000), false);
    const mid = await snapshotFilter(); // the server's member set moves past the client's version
    assert.ok(mid.payload.version > held.payload.version);
    await setDiscoverable(ids.slice(0, 1000), true);
    await setDiscoverable(ids.slice(5000, 5500), false);

    const delta = await directory.payload(directory.currentKeyId, held.payload.version, range);
    assert.equal(delta.type, 'delta');
    if (delta.type !== 'delta') return;
    const added = MembershipFilter.decode(delta.added);
    const removed = MembershipFilter.decode(delta.removed);
    const removedFull = MembershipFilter.decode(delta.removedFull);
    assert.equal(added.size, 0, 'the 1,000 came back: net no change for them');
    assert.equal(removed.range, removalPrefixRange(range));
    assert.equal(removedFull.range, range);
    // ~n·2^26/range ≈ 1/72 of the 2,500 removals share a prefix with another entry.
    assert.ok(removedFull.size > 5 && removedFull.size < 150, `${removedFull.size} at full width`);
    assert.equal(removed.size + removedFull.size, 2500);

    const original = held.filter.encode();
    const client = held.filter;
    assert.equal(client.removeByPrefix(removed), true, 'no prefix is ambiguous for the client');
    assert.equal(client.removeByPrefix(removedFull), true);
    client.merge(added);
    const now = await discoverableFingerprints();
    assert.equal(now.length, count - 2500);
    assert.deepEqual(client.encode(), encodeFilter(now, range));

    // Sent all as prefixes, the same removals would have been ambiguous for this client.
    const gone = await t.server.services.db
      .selectFrom('accounts')
      .innerJoin(directory.entries(), 'account_seq', 'accounts.seq')
      .select('fingerprint')
      .where('accounts.discoverable', '=', 0)
      .execute();
    const naive = MembershipFilter.decode(original);
    const allPrefixes = encodeFilterPrefixes(
      gone.map((r) => r.fingerprint),
      range,
      REMOVAL_PREFIX_SHIFT,
    );
    assert.equal(naive.removeByPrefix(MembershipFilter.decode(allPrefixes)), false);
  });

  it('additions come at the client range; a client past its capacity gets a snapshot', async () => {
    const { directory } = t.server.services;
    const held = await snapshotFilter();
    await setDiscoverable(ids.slice(0, 1000), true);
    const delta = await directory.payload(
      directory.currentKeyId,
      held.payload.version,
      held.filter.range,
    );
    assert.equal(delta.type, 'delta');
    if (delta.type !== 'delta') return;
    const client = held.filter;
    const added = MembershipFilter.decode(delta.added);
    assert.equal(added.size, 1000);
    client.merge(added);
    assert.deepEqual(client.encode(), encodeFilter(await discoverableFingerprints(), client.range));
    // A filter sized for fewer entries than the directory now has cannot take a delta.
    const small = await directory.payload(directory.currentKeyId, held.payload.version, 1n << 44n);
    assert.equal(small.type, 'snapshot');
  });
});
