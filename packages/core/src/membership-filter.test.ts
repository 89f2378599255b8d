import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it, test } from 'node:test';
import {
  encodeFilter,
  encodeFilterPacked,
  expectedFalsePositiveRate,
  FINGERPRINT_LENGTH,
  filterBitsFor,
  MembershipFilter,
} from './membership-filter.js';

/** n random fingerprints as views into one buffer. */
function randomFingerprints(n: number): Uint8Array[] {
  const buf = randomBytes(n * FINGERPRINT_LENGTH);
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

/** The reference model: the set of fingerprints cut to their top `bits` bits. */
function truncatedSet(fps: Iterable<Uint8Array>, bits: number): Set<bigint> {
  const shift = BigInt(64 - bits);
  const set = new Set<bigint>();
  for (const fp of fps) set.add(toBigInt(fp) >> shift);
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

describe('filterBitsFor and expectedFalsePositiveRate', () => {
  test('bits = ceil(log2 n) + 32, clamped to [32, 64]', () => {
    assert.equal(filterBitsFor(0), 32);
    assert.equal(filterBitsFor(1), 32);
    assert.equal(filterBitsFor(2), 33);
    assert.equal(filterBitsFor(3), 34);
    assert.equal(filterBitsFor(4), 34);
    assert.equal(filterBitsFor(5), 35);
    assert.equal(filterBitsFor(100_000), 49);
    assert.equal(filterBitsFor(2 ** 24), 56);
    assert.equal(filterBitsFor(2 ** 24 + 1), 57);
    assert.equal(filterBitsFor(2 ** 32), 64);
    assert.equal(filterBitsFor(2 ** 40), 64);
    assert.throws(() => filterBitsFor(-1), RangeError);
    assert.throws(() => filterBitsFor(1.5), RangeError);
  });

  test('the default bits keep the rate at or below 2^-32', () => {
    for (const n of [1, 2, 3, 1000, 100_000, 2 ** 20 + 1, 2 ** 24, 2 ** 24 + 1, 2 ** 32]) {
      assert.ok(expectedFalsePositiveRate(n, filterBitsFor(n)) <= 2 ** -32, `n = ${n}`);
    }
    assert.equal(expectedFalsePositiveRate(2 ** 24, 56), 2 ** -32);
    assert.equal(expectedFalsePositiveRate(0, 32), 0);
    assert.throws(() => expectedFalsePositiveRate(1, 31), RangeError);
  });
});

describe('encode and decode', () => {
  test('100k random fingerprints round-trip compactly', () => {
    const n = 100_000;
    const fps = randomFingerprints(n);
    const data = encodeFilter(fps);
    const filter = MembershipFilter.decode(data);
    assert.equal(filter.bits, filterBitsFor(n));
    assert.equal(filter.size, truncatedSet(fps, filter.bits).size);
    for (const fp of fps) assert.ok(filter.has(fp), `missing ${hex(fp)}`);
    const bitsPerEntry = (data.length * 8) / n;
    console.log(
      `membership filter: ${n} entries, ${data.length} bytes, ${bitsPerEntry.toFixed(3)} bits/entry`,
    );
    assert.ok(bitsPerEntry <= 34, `${bitsPerEntry} bits/entry`);
    assert.deepEqual(filter.encode(), data, 'encoding is canonical');
    assert.equal(filter.needsResize(), false);
  });

  test('decodes from a view at any byte offset', () => {
    const fps = randomFingerprints(300);
    const data = encodeFilter(fps, 45);
    const host = new Uint8Array(data.length + 3);
    host.set(data, 3);
    const filter = MembershipFilter.decode(host.subarray(3));
    assert.equal(filter.bits, 45);
    for (const fp of fps) assert.ok(filter.has(fp));
    assert.deepEqual(filter.encode(), data);
  });

  test('iterables and duplicates', () => {
    const fps = randomFingerprints(50);
    const withDuplicates = [...fps, ...fps.slice(0, 20).map((fp) => fp.slice())];
    const a = encodeFilter(fps);
    assert.deepEqual(
      encodeFilter(withDuplicates),
      a,
      'duplicates are dropped before bits are chosen',
    );
    assert.deepEqual(encodeFilter(new Set(fps)), a);
    assert.deepEqual(encodeFilter(fps.slice().reverse()), a, 'order does not matter');
    assert.equal(MembershipFilter.decode(a).size, 50);
  });

  test('every bits value, edge values and small sets match a BigInt model', () => {
    const edges = [
      0n,
      1n,
      2n,
      2n ** 32n - 1n,
      2n ** 32n,
      2n ** 63n,
      2n ** 64n - 2n,
      2n ** 64n - 1n,
    ];
    for (let bits = 32; bits <= 64; bits++) {
      const shift = BigInt(64 - bits);
      const unit = 1n << shift;
      // Values that are adjacent after truncation (gap 1), equal after truncation, and extreme.
      const special = [
        ...edges,
        unit * 5n,
        unit * 6n,
        unit * 6n + unit - 1n,
        (2n ** 64n - 1n) ^ unit,
      ].map(fromBigInt);
      for (const n of [0, 1, 2, 3, 17, 300]) {
        const fps = [
          ...special.slice(0, n),
          ...randomFingerprints(Math.max(0, n - special.length)),
        ];
        const data = encodeFilter(fps, bits);
        const filter = MembershipFilter.decode(data);
        const model = truncatedSet(fps, bits);
        assert.equal(filter.bits, bits);
        assert.equal(filter.size, model.size, `bits ${bits}, n ${n}`);
        for (const fp of fps) assert.ok(filter.has(fp), `bits ${bits}: missing ${hex(fp)}`);
        // Neighbours of each stored value (after truncation) must be absent unless stored.
        for (const v of model) {
          for (const w of [v - 1n, v + 1n]) {
            if (w < 0n || w >= 1n << BigInt(bits)) continue;
            assert.equal(filter.has(fromBigInt(w << shift)), model.has(w), `bits ${bits}, ${w}`);
          }
        }
        assert.deepEqual(filter.encode(), data);
      }
    }
  });

  test('default bits yield no false positives on 10^6 random negatives', () => {
    const filter = MembershipFilter.decode(encodeFilter(randomFingerprints(100_000)));
    let hits = 0;
    for (const fp of randomFingerprints(1_000_000)) if (filter.has(fp)) hits++;
    assert.equal(hits, 0);
  });

  test('measured false-positive rate matches size / 2^bits', () => {
    // bits = 32 = log2(n) + 12: rate 2^-12, so 2^22 negatives should give ~1024 hits.
    const n = 2 ** 20;
    const bits = 32;
    const filter = MembershipFilter.decode(encodeFilter(randomFingerprints(n), bits));
    assert.equal(filter.bits, bits);
    // Truncation merges a few of the 2^20 values (~n²/2^33 = 128); the rate uses the true size.
    assert.ok(filter.size <= n && filter.size > n - 400, `size ${filter.size}`);
    assert.ok(filter.needsResize());
    const trials = 2 ** 22;
    let hits = 0;
    for (const fp of randomFingerprints(trials)) if (filter.has(fp)) hits++;
    const expected = trials * expectedFalsePositiveRate(filter.size, bits);
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
    const filter = MembershipFilter.decode(encodeFilter(base));
    const bits = filter.bits;
    const removed = [...base.slice(100, 600), ...randomFingerprints(3)]; // 3 absent
    const added = [...randomFingerprints(700), ...base.slice(5000, 5005)]; // 5 present
    filter.apply({ added, removed });
    const removedKeys = new Set(base.slice(100, 600).map(hex));
    const expectedSet = [...base.filter((fp) => !removedKeys.has(hex(fp))), ...added];
    assert.deepEqual(filter.encode(), encodeFilter(expectedSet, bits));
    assert.equal(filter.size, truncatedSet(expectedSet, bits).size);
    for (const fp of added) assert.ok(filter.has(fp));
    for (const fp of base.slice(100, 600)) assert.equal(filter.has(fp), false);
    assert.ok(filter.has(base[0]!));
  });

  test('a sequence of deltas tracks the set', () => {
    let current = randomFingerprints(1000);
    const filter = MembershipFilter.decode(encodeFilter(current));
    for (let round = 0; round < 20; round++) {
      const removed = current.filter((_, i) => (i * 7 + round) % 13 === 0);
      const added = randomFingerprints(round * 5);
      filter.apply({ added, removed });
      const gone = new Set(removed.map(hex));
      current = [...current.filter((fp) => !gone.has(hex(fp))), ...added];
      assert.deepEqual(filter.encode(), encodeFilter(current, filter.bits), `round ${round}`);
    }
  });

  test('removing absent and adding present entries is idempotent', () => {
    const base = randomFingerprints(5000);
    const data = encodeFilter(base);
    const filter = MembershipFilter.decode(data);
    filter.apply({ added: base.slice(0, 100), removed: randomFingerprints(100) });
    assert.deepEqual(filter.encode(), data);
    filter.apply({ added: [], removed: [] });
    assert.deepEqual(filter.encode(), data);

    const delta = { added: randomFingerprints(50), removed: base.slice(200, 260) };
    filter.apply(delta);
    const once = filter.encode();
    filter.apply(delta);
    assert.deepEqual(filter.encode(), once, 'applying a delta twice changes nothing more');
  });

  test('a fingerprint both added and removed ends up present', () => {
    const [x, y] = randomFingerprints(2);
    const filter = MembershipFilter.decode(encodeFilter([x!]));
    filter.apply({ added: [x!, y!], removed: [x!, y!] });
    assert.ok(filter.has(x!));
    assert.ok(filter.has(y!));
    assert.equal(filter.size, 2);
  });

  test('growing past 2^(bits - 32) entries asks for a new snapshot', () => {
    const filter = MembershipFilter.decode(encodeFilter(randomFingerprints(1000)));
    assert.equal(filter.bits, 42);
    assert.equal(filter.needsResize(), false);
    filter.apply({ added: randomFingerprints(24), removed: [] });
    assert.equal(filter.size, 1024);
    assert.equal(filter.needsResize(), false);
    filter.apply({ added: randomFingerprints(1), removed: [] });
    assert.equal(filter.needsResize(), true);
    assert.ok(expectedFalsePositiveRate(filter.size, filter.bits) > 2 ** -32);
    const re = MembershipFilter.decode(filter.encode());
    assert.equal(re.size, 1025);
    assert.equal(re.bits, 42, 'a re-encoded filter keeps its bits');
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
    assert.throws(() => encodeFilter([], 31), RangeError);
    assert.throws(() => encodeFilter([], 65), RangeError);
  });
});

describe('empty filter', () => {
  test('has nothing, round-trips, and accepts deltas', () => {
    const filter = MembershipFilter.empty(32);
    assert.equal(filter.size, 0);
    assert.equal(filter.bits, 32);
    assert.equal(filter.needsResize(), false);
    assert.equal(filter.has(randomFingerprints(1)[0]!), false);
    const data = filter.encode();
    assert.deepEqual(
      data,
      new Uint8Array([0x50, 0x47, 0x43, 0x53, 1, 32, 32, 0, 0, 0, 0, 0]),
      'header only: PGCS, version 1, bits 32, k 32, count 0',
    );
    assert.deepEqual(encodeFilter([]), data);
    const decoded = MembershipFilter.decode(data);
    assert.equal(decoded.size, 0);
    assert.equal(MembershipFilter.empty(64).size, 0);
    assert.throws(() => MembershipFilter.empty(31), RangeError);
    assert.throws(() => MembershipFilter.empty(65), RangeError);

    const fps = randomFingerprints(3);
    const grown = MembershipFilter.empty(40);
    grown.apply({ added: fps, removed: [] });
    assert.deepEqual(grown.encode(), encodeFilter(fps, 40));
    grown.apply({ added: [], removed: fps });
    assert.deepEqual(grown.encode(), encodeFilter([], 40));
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
    expectMalformed(valid.subarray(0, 11), /header/);
    expectMalformed(patched(0, 0x51), /magic/);
    expectMalformed(patched(3, 0x00), /magic/);
    expectMalformed(patched(4, 2), /version/);
    expectMalformed(patched(5, 31), /bits 31/);
    expectMalformed(patched(5, 65), /bits 65/);
    expectMalformed(patched(5, 0), /bits 0/);
    expectMalformed(patched(6, valid[6]! + 1), /Rice parameter/);
    expectMalformed(patched(7, 1), /reserved/);
  });

  test('count too large fails before allocating', () => {
    for (const count of [0xffffffff, 51, 2 ** 24]) {
      const data = valid.slice();
      const view = new DataView(data.buffer);
      view.setUint32(8, count);
      data[6] = data[5]! - Math.ceil(Math.log2(count)); // keep k consistent with bits and count
      // 51 may pass the size check and then fail while decoding; the others cannot fit at all.
      expectMalformed(data, count === 51 ? undefined : /count/);
    }
  });

  test('every truncation of a valid filter is rejected', () => {
    for (let length = 0; length < valid.length; length++) {
      expectMalformed(valid.subarray(0, length));
    }
    const single = encodeFilter(randomFingerprints(1)); // 33 bits: 7 padding bits
    for (let length = 0; length < single.length; length++) {
      expectMalformed(single.subarray(0, length));
    }
  });

  test('trailing bytes and non-zero padding are rejected', () => {
    const extended = new Uint8Array(valid.length + 1);
    extended.set(valid);
    expectMalformed(extended, /unexpected bytes/);
    const single = encodeFilter([fromBigInt(0n)]); // 33 bits: 7 padding bits
    expectMalformed(patched(single.length - 1, single[single.length - 1]! | 1, single), /padding/);
  });

  test('long runs of zeros and overflowing values are rejected promptly', () => {
    // One entry of 64 bits followed by 1 MiB of zeros: the unary quotient never ends.
    const zeros = new Uint8Array(12 + 2 ** 20);
    zeros.set([0x50, 0x47, 0x43, 0x53, 1, 64, 64, 0, 0, 0, 0, 1]);
    expectMalformed(zeros, /stream ends/);
    // bits 32, one entry, quotient 1: the value 2^32 does not fit in 32 bits.
    const overflow = new Uint8Array([
      0x50, 0x47, 0x43, 0x53, 1, 32, 32, 0, 0, 0, 0, 1, 0x40, 0, 0, 0, 0,
    ]);
    expectMalformed(overflow, /not below 2\^32/);
    // Many entries whose values run past 2^bits.
    const ones = encodeFilter(randomFingerprints(1000), 42);
    ones.fill(0xff, 12);
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

describe('membership filter: deltas sent as filters', () => {
  it('a delta list encoded at the receiver’s bits applies exactly as the raw fingerprints', () => {
    const base = Array.from({ length: 5000 }, () => new Uint8Array(randomBytes(8)));
    const added = Array.from({ length: 300 }, () => new Uint8Array(randomBytes(8)));
    const bits = filterBitsFor(6000);
    const viaRaw = MembershipFilter.decode(encodeFilter(base, bits));
    viaRaw.apply({ added, removed: base.slice(0, 100) });
    const viaDelta = MembershipFilter.decode(encodeFilter(base, bits));
    viaDelta.apply({
      added: MembershipFilter.decode(encodeFilter(added, bits)).toFingerprints(),
      removed: MembershipFilter.decode(encodeFilter(base.slice(0, 100), bits)).toFingerprints(),
    });
    assert.deepEqual(viaDelta.encode(), viaRaw.encode());
    assert.ok(added.every((fp) => viaDelta.has(fp)));
  });
});

describe('membership filter: packed input', () => {
  it('encodeFilterPacked gives the same bytes as encodeFilter', () => {
    const packed = new Uint8Array(randomBytes(20_000 * 8));
    packed.set(packed.subarray(0, 8), 8); // a duplicate
    const list = Array.from({ length: 20_000 }, (_, i) => packed.subarray(i * 8, i * 8 + 8));
    for (const bits of [undefined, 40, 64]) {
      assert.deepEqual(encodeFilterPacked(packed, bits), encodeFilter(list, bits));
    }
    assert.throws(() => encodeFilterPacked(new Uint8Array(7)), RangeError);
  });
});

describe('membership filter: removal by prefix', () => {
  it('removes exactly the entries named by 16-bit-shorter prefixes', () => {
    const base = randomFingerprints(50_000);
    const bits = filterBitsFor(60_000);
    const gone = base.slice(0, 500);
    const expected = MembershipFilter.decode(encodeFilter(base, bits));
    expected.apply({ added: [], removed: gone });
    const filter = MembershipFilter.decode(encodeFilter(base, bits));
    const absent = randomFingerprints(50);
    const prefixes = MembershipFilter.decode(encodeFilter([...gone, ...absent], bits - 16));
    assert.equal(filter.removeByPrefix(prefixes), true);
    assert.deepEqual(filter.encode(), expected.encode());
  });

  it('refuses an ambiguous prefix and changes nothing', () => {
    const a = new Uint8Array([1, 2, 3, 4, 5, 6, 0, 1]);
    const b = new Uint8Array([1, 2, 3, 4, 5, 6, 255, 1]); // same top 48 bits as a
    const filter = MembershipFilter.decode(encodeFilter([a, b], 64));
    const before = filter.encode();
    assert.equal(filter.removeByPrefix(MembershipFilter.decode(encodeFilter([a], 48))), false);
    assert.deepEqual(filter.encode(), before);
    assert.equal(filter.removeByPrefix(MembershipFilter.decode(encodeFilter([a], 64))), true);
    assert.equal(filter.size, 1);
    assert.ok(filter.has(b));
  });
});
