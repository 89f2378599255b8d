import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it, test } from 'node:test';
import { FINGERPRINT_BYTES } from './directory-keys.js';
import {
  encodeFilter,
  encodeFilterPacked,
  encodeFilterPrefixes,
  encodeSortedFingerprints,
  expectedFalsePositiveRate,
  falsePositiveBound,
  filterCapacity,
  filterRangeFor,
  filterValue,
  fingerprintRank,
  MembershipFilter,
  pairValue,
  prefixRange,
  REMOVAL_PREFIX_SHIFT,
  removalPrefixRange,
  riceParameter,
  sortFingerprints,
  updateFingerprints,
} from './membership-filter.js';

const TWO_64 = 1n << 64n;

/** n random fingerprints as views into one buffer. */
function randomFingerprints(n: number): Uint8Array[] {
  const buf = randomBytes(n * FINGERPRINT_BYTES);
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    out.push(new Uint8Array(buf.buffer, buf.byteOffset + i * 8, 8));
  }
  return out;
}

function fromBigInt(v: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, v);
  return out;
}

function toBigInt(fp: Uint8Array): bigint {
  return new DataView(fp.buffer, fp.byteOffset, 8).getBigUint64(0);
}

function randomBigInt(below: bigint): bigint {
  const r = (toBigInt(randomBytes(8)) << 64n) | toBigInt(randomBytes(8));
  return r % below;
}

/** The reference model: the set of the fingerprints' values floor(f · range / 2^64). */
function valueSet(fps: Iterable<Uint8Array>, range: bigint): Set<bigint> {
  const set = new Set<bigint>();
  for (const fp of fps) set.add((toBigInt(fp) * range) >> 64n);
  return set;
}

function hex(fp: Uint8Array): string {
  return Buffer.from(fp).toString('hex');
}

function expectMalformed(data: Uint8Array, pattern?: RegExp): void {
  const started = performance.now();
  assert.throws(
    () => MembershipFilter.decode(data),
    (err: unknown) => {
      assert.ok(err instanceof RangeError, `expected RangeError, got ${String(err)}`);
      if (pattern) assert.match(err.message, pattern);
      return true;
    },
  );
  assert.ok(performance.now() - started < 1000, 'decode must fail promptly');
}

/** Size of a Rice code of these sorted values with parameter k, in bits. */
function riceBits(values: bigint[], k: number): number {
  let bits = 0;
  let prev = -1n;
  for (const v of values) {
    bits += Number((v - prev - 1n) >> BigInt(k)) + 1 + k;
    prev = v;
  }
  return bits;
}

describe('ranges, capacity and the Rice parameter', () => {
  test('filterRangeFor(c) ≈ c · 2^32: the smallest range of capacity ≥ c', () => {
    assert.equal(filterRangeFor(0), 1n << 32n);
    assert.equal(filterRangeFor(1), 1n << 32n);
    assert.equal(filterRangeFor(2 ** 24), 1n << 56n);
    assert.equal(filterRangeFor(2 ** 32), TWO_64);
    assert.equal(filterRangeFor(2 ** 40), TWO_64);
    assert.throws(() => filterRangeFor(-1), RangeError);
    assert.throws(() => filterRangeFor(1.5), RangeError);
    for (const c of [2, 3, 1000, 100_000, 1_179_648, 2 ** 20 + 1, 18_874_368, 2 ** 31 + 1]) {
      const range = filterRangeFor(c);
      const ideal = BigInt(c) << 32n;
      assert.ok(range >= ideal, `c = ${c}`);
      assert.ok(Number(range - ideal) / Number(ideal) <= c / 2 ** 31, `c = ${c}: ${range}`);
      assert.ok(filterCapacity(range) >= c, `c = ${c}`);
      assert.ok(filterCapacity(range - 1n) < c, `c = ${c}: the smallest such range`);
    }
  });

  test('capacity is the largest size whose false-positive bound is ≤ 2^-32', () => {
    const ranges = [1n << 32n, 3n << 32n, filterRangeFor(18_874_368), 12_345_678_901_234n, TWO_64];
    for (let i = 0; i < 50; i++) ranges.push(randomBigInt(TWO_64 - (1n << 32n)) + (1n << 32n));
    for (const range of ranges) {
      const capacity = filterCapacity(range);
      assert.ok(falsePositiveBound(capacity, range) <= 2 ** -32, `range ${range}`);
      assert.ok(falsePositiveBound(capacity + 1, range) > 2 ** -32, `range ${range}`);
      assert.ok(expectedFalsePositiveRate(capacity, range) <= 2 ** -32);
    }
    // Powers of two divide 2^64: every value has exactly 2^64 / range preimages.
    assert.equal(filterCapacity(1n << 56n), 2 ** 24);
    assert.equal(expectedFalsePositiveRate(2 ** 24, 1n << 56n), 2 ** -32);
    assert.equal(expectedFalsePositiveRate(0, 1n << 32n), 0);
    assert.throws(() => filterCapacity(0n), RangeError);
    assert.throws(() => filterCapacity(TWO_64 + 1n), RangeError);
  });

  test('the Rice parameter is the one that codes geometric gaps shortest', () => {
    // Random sets at the ranges the server uses: no other k gives a shorter code.
    for (const [n, capacity] of [
      [1000, 1000],
      [1000, 1125],
      [4096, 4608],
      [3000, 3001],
    ] as const) {
      const range = filterRangeFor(capacity);
      const values = [...valueSet(randomFingerprints(n), range)].sort((a, b) =>
        a < b ? -1 : a > b ? 1 : 0,
      );
      const k = riceParameter(range, values.length);
      for (const other of [k - 1, k + 1]) {
        assert.ok(riceBits(values, k) <= riceBits(values, other), `n ${n}, k ${k} vs ${other}`);
      }
    }
    assert.equal(
      riceParameter(1n << 56n, 2 ** 24),
      31,
      'mean gap 2^32: k = 31 (33.54 bits, k = 32: 33.58)',
    );
    assert.equal(riceParameter(1n << 57n, 2 ** 24), 32, 'mean gap 2^33: k = 32, not 33');
    assert.equal(riceParameter(filterRangeFor(18_874_368), 2 ** 24), 32);
    assert.equal(riceParameter(1n, 1), 0);
    assert.equal(riceParameter(TWO_64, 0), 63);
  });

  test('prefix ranges nest: a value shifted right lies in prefixRange', () => {
    assert.equal(prefixRange(1n << 40n, 8), 1n << 32n);
    assert.equal(prefixRange((1n << 40n) + 1n, 8), (1n << 32n) + 1n);
    assert.equal(prefixRange(TWO_64, 64), 1n);
    assert.equal(removalPrefixRange(1000n << 32n), 1000n << 6n);
    assert.equal(removalPrefixRange((1000n << 32n) + 1n), (1000n << 6n) + 1n);
    assert.equal(REMOVAL_PREFIX_SHIFT, 26);
    assert.throws(() => prefixRange(1n, 65), RangeError);
  });
});

describe('multiply-shift', () => {
  test('filter values match floor(f · range / 2^64) at edge values and random ranges', () => {
    const edges = [0n, 1n, 0xffffn, 0x10000n, 0xffffffffn, 1n << 32n, TWO_64 - 1n, 1n << 63n];
    const ranges = [
      1n,
      2n,
      3n,
      65_537n,
      1n << 32n,
      (1n << 32n) + 1n,
      filterRangeFor(18_874_368),
      filterRangeFor(1_179_648),
      TWO_64 - 1n,
      TWO_64,
    ];
    for (let i = 0; i < 200; i++) ranges.push(randomBigInt(TWO_64) + 1n);
    for (const range of ranges) {
      const fps = [...edges.map(fromBigInt), ...randomFingerprints(20)];
      const model = valueSet(fps, range);
      const filter = MembershipFilter.decode(encodeFilter(fps, range));
      assert.equal(filter.range, range);
      assert.equal(filter.size, model.size, `range ${range}`);
      for (const fp of fps) {
        assert.equal(filterValue(fp, range), (toBigInt(fp) * range) >> 64n);
        assert.ok(filter.has(fp), `range ${range}: missing ${hex(fp)}`);
      }
      // Fingerprints just beside a member's preimage interval do not match.
      for (const v of [...model].slice(0, 5)) {
        const first = (v * TWO_64 + range - 1n) / range; // smallest f with value v
        if (first > 0n && !model.has(v - 1n))
          assert.equal(filter.has(fromBigInt(first - 1n)), false);
        assert.equal(filter.has(fromBigInt(first)), true);
      }
    }
  });
});

describe('encode and decode', () => {
  for (const n of [100_000, 2 ** 17]) {
    test(`${n} random fingerprints round-trip in ≤ 33.7 bits/entry (≤ 33.8 with 1/8 headroom)`, () => {
      const fps = randomFingerprints(n);
      const data = encodeFilter(fps);
      const filter = MembershipFilter.decode(data);
      assert.equal(filter.range, filterRangeFor(n));
      assert.equal(filter.size, valueSet(fps, filter.range).size);
      for (const fp of fps) assert.ok(filter.has(fp), `missing ${hex(fp)}`);
      const bitsPerEntry = (data.length * 8) / n;
      const roomy = encodeFilter(fps, filterRangeFor(Math.ceil(n * 1.125)));
      const roomyPerEntry = (roomy.length * 8) / n;
      console.log(
        `membership filter: ${n} entries, ${bitsPerEntry.toFixed(3)} bits/entry; with 1/8 headroom ${roomyPerEntry.toFixed(3)}`,
      );
      assert.ok(bitsPerEntry <= 33.7, `${bitsPerEntry} bits/entry`);
      assert.ok(roomyPerEntry <= 33.8, `${roomyPerEntry} bits/entry with headroom`);
      assert.deepEqual(filter.encode(), data, 'encoding is canonical');
      assert.equal(filter.needsResize(), false);
    });
  }

  test('decodes from a view at any byte offset', () => {
    const fps = randomFingerprints(300);
    const data = encodeFilter(fps, 1n << 45n);
    const host = new Uint8Array(data.length + 3);
    host.set(data, 3);
    const filter = MembershipFilter.decode(host.subarray(3));
    assert.equal(filter.range, 1n << 45n);
    for (const fp of fps) assert.ok(filter.has(fp));
    assert.deepEqual(filter.encode(), data);
  });

  test('iterables and duplicates', () => {
    const fps = randomFingerprints(50);
    const withDuplicates = [...fps, ...fps.slice(0, 20).map((fp) => fp.slice())];
    const a = encodeFilter(fps);
    assert.deepEqual(encodeFilter(withDuplicates), a, 'duplicates are dropped before sizing');
    assert.deepEqual(encodeFilter(new Set(fps)), a);
    assert.deepEqual(encodeFilter(fps.slice().reverse()), a, 'order does not matter');
    assert.equal(MembershipFilter.decode(a).size, 50);
  });

  test('the default range yields no false positives on 10^6 random negatives', () => {
    const filter = MembershipFilter.decode(encodeFilter(randomFingerprints(100_000)));
    let hits = 0;
    for (const fp of randomFingerprints(1_000_000)) if (filter.has(fp)) hits++;
    assert.equal(hits, 0);
  });

  test('measured false-positive rate matches size / range', () => {
    // range = n · 2^12 (not a power of two): rate 2^-12, so 2^22 negatives give ~1024 hits.
    const n = 3 * 2 ** 18;
    const range = BigInt(n) << 12n;
    const filter = MembershipFilter.decode(encodeFilter(randomFingerprints(n), range));
    // Mapping merges a few of the values (~n²/2·range ≈ 96); the rate uses the true size.
    assert.ok(filter.size <= n && filter.size > n - 400, `size ${filter.size}`);
    assert.ok(filter.needsResize());
    const trials = 2 ** 22;
    let hits = 0;
    for (const fp of randomFingerprints(trials)) if (filter.has(fp)) hits++;
    const expected = trials * expectedFalsePositiveRate(filter.size, range);
    const sigma = Math.sqrt(expected);
    console.log(
      `membership filter: ${hits} false positives in ${trials} lookups, expected ${expected.toFixed(1)} ± ${sigma.toFixed(1)}`,
    );
    assert.ok(Math.abs(hits - expected) < 6 * sigma, `${hits} vs ${expected}`);
  });
});

describe('deltas', () => {
  test('apply equals a fresh encode of the resulting set', () => {
    const base = randomFingerprints(20_000);
    const filter = MembershipFilter.decode(encodeFilter(base, filterRangeFor(22_500)));
    const range = filter.range;
    const added = randomFingerprints(700);
    const removed = base.slice(0, 900);
    filter.apply({ added, removed });
    const expectedSet = [...base.slice(900), ...added];
    assert.deepEqual(filter.encode(), encodeFilter(expectedSet, range));
    assert.equal(filter.size, valueSet(expectedSet, range).size);
    for (const fp of added) assert.ok(filter.has(fp));
    for (const fp of removed) assert.equal(filter.has(fp), false);
  });

  test('a sequence of deltas tracks the set', () => {
    let current = randomFingerprints(5000);
    const filter = MembershipFilter.decode(encodeFilter(current, filterRangeFor(6000)));
    for (let round = 0; round < 5; round++) {
      const added = randomFingerprints(100);
      const removed = current.slice(round * 50, round * 50 + 50);
      filter.apply({ added, removed });
      const gone = new Set(removed.map(hex));
      current = [...current.filter((fp) => !gone.has(hex(fp))), ...added];
      assert.deepEqual(filter.encode(), encodeFilter(current, filter.range), `round ${round}`);
    }
  });

  test('removing absent and adding present entries is idempotent', () => {
    const base = randomFingerprints(1000);
    const filter = MembershipFilter.decode(encodeFilter(base));
    const before = filter.encode();
    filter.apply({ added: base.slice(0, 100), removed: randomFingerprints(100) });
    assert.deepEqual(filter.encode(), before);
    filter.apply({ added: [], removed: [] });
    assert.deepEqual(filter.encode(), before);
    const delta = { added: randomFingerprints(10), removed: base.slice(0, 10) };
    filter.apply(delta);
    const once = filter.encode();
    filter.apply(delta);
    assert.deepEqual(filter.encode(), once, 'applying a delta twice changes nothing more');
  });

  test('a fingerprint both added and removed ends up present', () => {
    const [x, y] = randomFingerprints(2);
    const filter = MembershipFilter.decode(encodeFilter([y!]));
    filter.apply({ added: [x!, y!], removed: [x!, y!] });
    assert.ok(filter.has(x!));
    assert.ok(filter.has(y!));
  });

  test('growing past the capacity asks for a new snapshot', () => {
    const filter = MembershipFilter.decode(
      encodeFilter(randomFingerprints(1000), filterRangeFor(1025)),
    );
    assert.equal(filter.capacity, 1025);
    assert.equal(filter.needsResize(), false);
    filter.apply({ added: randomFingerprints(25), removed: [] });
    assert.equal(filter.size, 1025);
    assert.equal(filter.needsResize(), false);
    filter.apply({ added: randomFingerprints(1), removed: [] });
    assert.equal(filter.needsResize(), true);
    assert.ok(falsePositiveBound(filter.size, filter.range) > 2 ** -32);
    const re = MembershipFilter.decode(filter.encode());
    assert.equal(re.range, filterRangeFor(1025), 'a re-encoded filter keeps its range');
    assert.equal(re.needsResize(), true);
  });

  test('merge adds a delta list coded at the same range', () => {
    const base = randomFingerprints(5000);
    const added = randomFingerprints(300);
    const range = filterRangeFor(6000);
    const viaRaw = MembershipFilter.decode(encodeFilter(base, range));
    viaRaw.apply({ added, removed: [] });
    const viaDelta = MembershipFilter.decode(encodeFilter(base, range));
    viaDelta.merge(MembershipFilter.decode(encodeFilter(added, range)));
    assert.deepEqual(viaDelta.encode(), viaRaw.encode());
    assert.ok(added.every((fp) => viaDelta.has(fp)));
    assert.throws(
      () => viaDelta.merge(MembershipFilter.decode(encodeFilter(added, range + 1n))),
      RangeError,
    );
  });

  test('invalid fingerprints are rejected before anything changes', () => {
    const filter = MembershipFilter.decode(encodeFilter(randomFingerprints(10)));
    const before = filter.encode();
    assert.throws(
      () => filter.apply({ added: [...randomFingerprints(3), new Uint8Array(7)], removed: [] }),
      RangeError,
    );
    assert.throws(() => filter.apply({ added: [], removed: [new Uint8Array(9)] }), RangeError);
    assert.deepEqual(filter.encode(), before);
    assert.throws(() => filter.has(new Uint8Array(4)), RangeError);
    assert.throws(() => encodeFilter([new Uint8Array(16)]), RangeError);
    assert.throws(() => encodeFilter([], 0n), RangeError);
    assert.throws(() => encodeFilter([], TWO_64 + 1n), RangeError);
  });
});

describe('removal by prefix', () => {
  test('removes exactly the entries named by removal prefixes', () => {
    const base = randomFingerprints(50_000);
    const range = filterRangeFor(60_000);
    // A prefix is ambiguous with probability ~size/range·2^26 = 2^-6.3 each; keep only removals
    // whose prefix names one entry (the server checks this the same way), plus absent ones.
    const prefixOf = (fp: Uint8Array) => filterValue(fp, range) >> BigInt(REMOVAL_PREFIX_SHIFT);
    const counts = new Map<bigint, number>();
    for (const fp of base) counts.set(prefixOf(fp), (counts.get(prefixOf(fp)) ?? 0) + 1);
    // 500 removals, with at least one ambiguous prefix among them whatever the random draw.
    const firstAmbiguous = base.findIndex((fp, i) => i >= 500 && counts.get(prefixOf(fp))! > 1);
    const gone = [...base.slice(0, 499), base[firstAmbiguous]!];
    const expected = MembershipFilter.decode(encodeFilter(base, range));
    expected.apply({ added: [], removed: gone });
    const filter = MembershipFilter.decode(encodeFilter(base, range));
    const unique = gone.filter((fp) => counts.get(prefixOf(fp)) === 1);
    const ambiguous = gone.filter((fp) => counts.get(prefixOf(fp))! > 1);
    assert.ok(unique.length > 400 && ambiguous.length > 0, `${unique.length}, ${ambiguous.length}`);
    const absent = randomFingerprints(50).filter((fp) => !counts.has(prefixOf(fp)));
    const prefixes = MembershipFilter.decode(
      encodeFilterPrefixes([...unique, ...absent], range, REMOVAL_PREFIX_SHIFT),
    );
    assert.equal(prefixes.range, removalPrefixRange(range));
    assert.equal(filter.removeByPrefix(prefixes), true);
    // The ambiguous ones at full width (shift 0).
    assert.equal(
      filter.removeByPrefix(MembershipFilter.decode(encodeFilter(ambiguous, range))),
      true,
    );
    assert.deepEqual(filter.encode(), expected.encode());
  });

  test('refuses an ambiguous prefix and changes nothing', () => {
    const a = fromBigInt(0x0102030405060001n);
    const b = fromBigInt(0x010203040506ff01n); // same top 48 bits as a
    const filter = MembershipFilter.decode(encodeFilter([a, b], TWO_64));
    const before = filter.encode();
    assert.equal(
      filter.removeByPrefix(MembershipFilter.decode(encodeFilterPrefixes([a], TWO_64, 16))),
      false,
    );
    assert.deepEqual(filter.encode(), before);
    assert.equal(filter.removeByPrefix(MembershipFilter.decode(encodeFilter([a], TWO_64))), true);
    assert.equal(filter.size, 1);
    assert.ok(filter.has(b));
    assert.throws(
      () => filter.removeByPrefix(MembershipFilter.decode(encodeFilter([a], 12345n))),
      RangeError,
      'a range that is no prefix range of this filter',
    );
  });
});

describe('sorted fingerprint sets (server side)', () => {
  test('sort, update and encode agree with encodeFilter', () => {
    const packed = new Uint8Array(randomBytes(20_000 * 8));
    packed.set(packed.subarray(0, 8), 8); // a duplicate
    const list = Array.from({ length: 20_000 }, (_, i) => packed.subarray(i * 8, i * 8 + 8));
    const sorted = sortFingerprints(packed);
    assert.equal(sorted.hi.length, 19_999);
    for (let i = 1; i < sorted.hi.length; i++)
      assert.ok(pairValue(sorted, i - 1) < pairValue(sorted, i));
    for (const range of [undefined, 1n << 40n, filterRangeFor(22_500), TWO_64]) {
      assert.deepEqual(encodeFilterPacked(packed, range), encodeFilter(list, range));
    }
    const range = filterRangeFor(22_500);
    assert.deepEqual(encodeSortedFingerprints(sorted, range), encodeFilter(list, range));
    const added = randomFingerprints(100);
    const updated = updateFingerprints(sorted, { added, removed: list.slice(0, 50) });
    assert.equal(sorted.hi.length, 19_999, 'the argument is not changed');
    assert.deepEqual(
      encodeSortedFingerprints(updated, range),
      encodeFilter([...list.slice(50), ...added], range),
    );
    const probe = list[123]!;
    const rank = fingerprintRank(sorted, probe);
    assert.equal(pairValue(sorted, rank), toBigInt(probe));
    assert.throws(() => encodeFilterPacked(new Uint8Array(7)), RangeError);
  });
});

describe('empty filter', () => {
  test('has nothing, round-trips, and accepts deltas', () => {
    const filter = MembershipFilter.empty(1n << 32n);
    assert.equal(filter.size, 0);
    assert.equal(filter.needsResize(), false);
    assert.equal(filter.has(randomFingerprints(1)[0]!), false);
    const data = filter.encode();
    assert.deepEqual(
      data,
      new Uint8Array([
        0x50, 0x47, 0x43, 0x53, 2, 31, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,
      ]),
      'header only: PGCS, version 2, k 31, count 0, range − 1 = 2^32 − 1',
    );
    assert.deepEqual(encodeFilter([]), data);
    assert.equal(MembershipFilter.decode(data).size, 0);
    assert.equal(MembershipFilter.empty(TWO_64).size, 0);
    assert.throws(() => MembershipFilter.empty(0n), RangeError);

    const fps = randomFingerprints(3);
    const grown = MembershipFilter.empty(1n << 40n);
    grown.apply({ added: fps, removed: [] });
    assert.deepEqual(grown.encode(), encodeFilter(fps, 1n << 40n));
    grown.apply({ added: [], removed: fps });
    assert.deepEqual(grown.encode(), encodeFilter([], 1n << 40n));
  });
});

describe('malformed input', () => {
  const valid = encodeFilter(randomFingerprints(50));
  const patched = (offset: number, value: number, from: Uint8Array = valid): Uint8Array => {
    const copy = from.slice();
    copy[offset] = value;
    return copy;
  };

  test('bad header fields', () => {
    expectMalformed(new Uint8Array(0), /header/);
    expectMalformed(valid.subarray(0, 19), /header/);
    expectMalformed(patched(0, 0x51), /magic/);
    expectMalformed(patched(3, 0x00), /magic/);
    expectMalformed(patched(4, 1), /version/);
    expectMalformed(patched(5, valid[5]! + 1), /Rice parameter/);
    expectMalformed(patched(6, 1), /reserved/);
    expectMalformed(patched(7, 1), /reserved/);
    // A range that does not match k.
    expectMalformed(patched(12, 0x10), /Rice parameter/);
    // More values than the range has.
    const tiny = encodeFilter([fromBigInt(0n), fromBigInt(1n << 63n)], 2n);
    expectMalformed(patched(11, 3, tiny), /exceeds the range/);
  });

  test('count too large fails before allocating', () => {
    for (const count of [0xffffffff, 51, 2 ** 24]) {
      const data = valid.slice();
      const view = new DataView(data.buffer);
      view.setUint32(8, count);
      data[5] = riceParameter(view.getBigUint64(12) + 1n, count); // keep k consistent
      // 51 may pass the size check and then fail while decoding; the others cannot fit at all.
      expectMalformed(data, count === 51 ? undefined : /count/);
    }
  });

  test('every truncation of a valid filter is rejected', () => {
    for (let length = 0; length < valid.length; length++) {
      expectMalformed(valid.subarray(0, length));
    }
    const single = encodeFilter(randomFingerprints(1));
    for (let length = 0; length < single.length; length++) {
      expectMalformed(single.subarray(0, length));
    }
  });

  test('trailing bytes and non-zero padding are rejected', () => {
    const extended = new Uint8Array(valid.length + 1);
    extended.set(valid);
    expectMalformed(extended, /unexpected bytes/);
    const single = encodeFilter([fromBigInt(0n)]); // range 2^32, k 31: 32 bits, no padding
    const padded = encodeFilter([fromBigInt(0n)], 1n << 40n); // k 39: 40 bits, no padding either
    const odd = encodeFilter([fromBigInt(0n)], 1n << 36n); // k 35: 36 bits, 4 padding bits
    assert.equal(single.length, 24);
    assert.equal(padded.length, 25);
    expectMalformed(patched(odd.length - 1, odd[odd.length - 1]! | 1, odd), /padding/);
  });

  test('long runs of zeros and overflowing values are rejected promptly', () => {
    // One entry of range 2^64 followed by 1 MiB of zeros: the unary quotient never ends.
    const zeros = new Uint8Array(20 + 2 ** 20);
    zeros.set(encodeFilter([fromBigInt(5n)], TWO_64).subarray(0, 20));
    expectMalformed(zeros, /stream ends/);
    // Range 2^32 (k 31), one entry, quotient 2: the value 2^32 is not below the range.
    const overflow = new Uint8Array(25);
    overflow.set(encodeFilter([fromBigInt(0n)]).subarray(0, 20));
    overflow.set([0x20, 0, 0, 0, 0], 20);
    expectMalformed(overflow, /not below the range/);
    // Many entries whose values run past the range.
    const ones = encodeFilter(randomFingerprints(1000), 1n << 42n);
    ones.fill(0xff, 20);
    expectMalformed(ones);
  });

  test('random corruption only ever throws RangeError', () => {
    let rejected = 0;
    for (let trial = 0; trial < 2000; trial++) {
      const data = valid.slice();
      const flips = 1 + (trial % 4);
      for (let f = 0; f < flips; f++) {
        const [pos, bit] = randomBytes(2);
        data[pos! % data.length] = data[pos! % data.length]! ^ (1 << (bit! & 7));
      }
      try {
        MembershipFilter.decode(data);
      } catch (err) {
        assert.ok(err instanceof RangeError, String(err));
        rejected++;
      }
    }
    assert.ok(rejected > 0);
  });

  test('decode rejects non-bytes with TypeError', () => {
    assert.throws(() => MembershipFilter.decode('PGCS' as unknown as Uint8Array), TypeError);
  });
});

it('a filter grown by deltas answers like one built from scratch', () => {
  const base = randomFingerprints(3000);
  const range = filterRangeFor(3375);
  const filter = MembershipFilter.decode(encodeFilter(base, range));
  const added = randomFingerprints(200);
  filter.merge(MembershipFilter.decode(encodeFilter(added, range)));
  const fresh = MembershipFilter.decode(encodeFilter([...base, ...added], range));
  for (const fp of [...base, ...added, ...randomFingerprints(1000)]) {
    assert.equal(filter.has(fp), fresh.has(fp));
  }
});
