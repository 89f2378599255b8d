/**
 * The membership filter: a Golomb–Rice coded set (GCS) of the 64-bit fingerprints of the server's
 * discoverable users. Clients download it once, keep it current with deltas, and test their
 * contacts' fingerprints locally; only matches go back to the server.
 *
 * What a GCS is. Map every fingerprint f (uniform in [0, 2^64)) into the filter's range M by
 * multiply-shift, v = floor(f · M / 2^64), sort the distinct values and write the gaps between
 * neighbours with a Rice code of parameter k: gap g = q·2^k + r is q zero bits, a one bit, then r
 * in k bits. The n values are (almost exactly) uniform in [0, M), so the gaps are close to
 * geometric with mean μ = M/n, whose entropy is about log2(e·μ) bits; the best Rice parameter for
 * such gaps is k = 1 + floor(log2(μ · ln φ)) (Kiely 2004; φ the golden ratio), which spends within
 * ~0.1 bit of that entropy. With M = c · 2^32 for a capacity c ≥ n that is ~log2(c/n) + 33.5 bits
 * per entry: 33.6 at c = n, 33.7 with the server's 1/8 headroom — at every n, not only at powers
 * of two (a range of 2^bits, the earlier format, cost up to one bit more just above a power of two).
 *
 * Why not a cuckoo filter. Kales et al. ("Mobile Private Contact Discovery at Scale", USENIX
 * Security 2019) shipped a cuckoo filter: ~33.5 bits/entry for a false-positive rate of 2^-29
 * (32-bit tags, ~95 % load, 8 candidate slots per lookup). A GCS costs about the same size for an
 * 8× lower rate (2^-32); a cuckoo filter at 2^-32 needs ~36.6 bits/entry. The price is that the
 * compressed form has no random access — the client decodes it once into two sorted Uint32Arrays
 * (8 bytes/entry in memory) and answers has() by binary search inside a bucket of a lazily built
 * index (≤ 0.5 byte/entry). Being a sorted set, it takes deltas naturally: merging sorted
 * added/removed lists costs one O(n) copy plus O(m log n) for m changes.
 *
 * False-positive rate. A contact who is not registered has a fingerprint that is uniform and
 * independent of the registered set. Each value v of [0, M) is the image of floor(2^64/M) or
 * ceil(2^64/M) fingerprints, so a lookup hits one of the n stored values with probability at most
 * n · ceil(2^64/M) / 2^64 ≈ n/M (no approximation beyond that rounding, unlike a Bloom filter).
 * filterCapacity(M) is the largest n for which that bound is ≤ 2^-32: c − ~c²/2^32 for M = c·2^32.
 * Deltas can grow the set past it; needsResize() then says so and the client fetches a fresh
 * snapshot. (Mapping also means two registered fingerprints may share a value — about n²/(2M)
 * pairs, ~2^-9 at n = 2^24; the server never removes a value another member still maps to.)
 *
 * Multiply-shift keeps order (f ≤ f' ⇒ v ≤ v') and nests: for M' = ceil(M / 2^s), the value of f in
 * a filter of range M, shifted right by s, is a prefix in [0, M'). Deltas name removals that way
 * (removalPrefixRange), since the receiver already holds the full value.
 *
 * Encoding (integers big-endian):
 *   offset  0  4 bytes  magic 'PGCS'
 *           4  1 byte   format version, 2
 *           5  1 byte   k, the Rice parameter; must be riceParameter(range, count)
 *           6  2 bytes  reserved, 0
 *           8  4 bytes  count: number of distinct values, ≤ range
 *          12  8 bytes  range − 1 (range M from 1 to 2^64)
 *          20  ...      bitstream, most significant bit first: for each value v_i in increasing
 *                       order its gap g_0 = v_0, g_i = v_i − v_(i−1) − 1, as floor(g / 2^k) zero bits,
 *                       a one bit and g mod 2^k in k bits; zero-padded to a whole byte, nothing after.
 * The encoding is canonical: one set of values and one range give exactly one byte string.
 *
 * Values are up to 64 bits, so they are kept as a high and a low 32-bit half in two Uint32Arrays;
 * hot paths use only 32-bit and exact double arithmetic (no BigInt, no per-entry objects), so the
 * same code runs in browsers. BigInt appears only once per filter or per delta entry.
 */

import { FINGERPRINT_BYTES } from './directory-keys.js';

const MAGIC = [0x50, 0x47, 0x43, 0x53]; // 'PGCS'
const FORMAT_VERSION = 2;
const HEADER_LENGTH = 20;
const MAX_COUNT = 0xffffffff;
/** Bit positions must stay below 2^32 so that `>>> 3` and `& 7` work on them. */
const MAX_STREAM_BYTES = 2 ** 29 - HEADER_LENGTH;
const TWO_32 = 2 ** 32;
const TWO_64 = 1n << 64n;
/** Per-value false-positive bound the filters are sized for: 2^-32. */
const FPR_LOG2 = 32;
/**
 * How much shorter than an entry a removal prefix is: 2^26 values of the client's range share one
 * prefix, so a prefix of a filter of capacity c names one of ~c·2^6 slots. About 1 in 64 would
 * name two entries of a full filter; the server sends those at full width instead
 * (docs/design.md, Membership filter).
 */
export const REMOVAL_PREFIX_SHIFT = 26;
/** ln φ, the golden ratio's logarithm, as a fraction for exact integer arithmetic. */
const LN_PHI_NUM = 48_121_182_505_960_344n;
const LN_PHI_DEN = 100_000_000_000_000_000n;

function bitLength(x: bigint): number {
  return x === 0n ? 0 : x.toString(2).length;
}

function checkRange(range: bigint, what = 'range'): void {
  if (typeof range !== 'bigint' || range < 1n || range > TWO_64) {
    throw new RangeError(
      `membership filter: ${what} must be a bigint from 1 to 2^64, got ${range}`,
    );
  }
}

function checkFingerprint(fingerprint: Uint8Array, what: string): void {
  if (!(fingerprint instanceof Uint8Array) || fingerprint.length !== FINGERPRINT_BYTES) {
    const got =
      fingerprint instanceof Uint8Array ? `${fingerprint.length} bytes` : typeof fingerprint;
    throw new RangeError(
      `membership filter: ${what} must be a ${FINGERPRINT_BYTES}-byte Uint8Array, got ${got}`,
    );
  }
}

/**
 * The Rice parameter for `count` values in [0, range): 1 + floor(log2(μ · ln φ)) for the mean gap
 * μ = range / count (0 when that is negative), in exact integer arithmetic so that every engine
 * agrees on it.
 */
export function riceParameter(range: bigint, count: number): number {
  checkRange(range);
  const n = BigInt(Math.max(1, count));
  return bitLength((range * LN_PHI_NUM) / (n * LN_PHI_DEN));
}

/**
 * The smallest range whose filterCapacity is at least `capacity` (≥ 1, at most 2^32): each value
 * may have p = floor(2^32 / capacity) fingerprints as preimages, so the range is ceil(2^64 / p),
 * about capacity · 2^32 (exactly that when capacity is a power of two).
 */
export function filterRangeFor(capacity: number): bigint {
  if (!Number.isSafeInteger(capacity) || capacity < 0) {
    throw new RangeError(
      `membership filter: capacity must be a non-negative integer, got ${capacity}`,
    );
  }
  const perValue = (1n << BigInt(FPR_LOG2)) / BigInt(Math.min(TWO_32, Math.max(1, capacity)));
  return (TWO_64 + perValue - 1n) / perValue;
}

/**
 * The most entries a filter of this range holds with a false-positive rate ≤ 2^-32 per lookup:
 * the largest n with n · ceil(2^64 / range) ≤ 2^32.
 */
export function filterCapacity(range: bigint): number {
  checkRange(range);
  const perValue = (TWO_64 + range - 1n) / range;
  return Number((1n << BigInt(FPR_LOG2)) / perValue);
}

/**
 * A filter range sent as decimal digits (schemas.ts FilterRange), or undefined unless it is an
 * integer from 2^32 to 2^64 — the ranges a filter sized for a 2^-32 false-positive rate can have.
 */
export function parseFilterRange(text: string): bigint | undefined {
  if (!/^[1-9][0-9]{0,19}$/.test(text)) return undefined;
  const range = BigInt(text);
  return range >= 1n << 32n && range <= TWO_64 ? range : undefined;
}

/** The range of prefixes v >> shift of values v in [0, range): ceil(range / 2^shift). */
export function prefixRange(range: bigint, shift: number): bigint {
  checkRange(range);
  if (!Number.isInteger(shift) || shift < 0 || shift > 64) {
    throw new RangeError(`membership filter: shift must be an integer from 0 to 64, got ${shift}`);
  }
  return ((range - 1n) >> BigInt(shift)) + 1n;
}

/** The range of the prefixes a delta uses to name removals from a filter of `range`. */
export function removalPrefixRange(range: bigint): bigint {
  return prefixRange(range, REMOVAL_PREFIX_SHIFT);
}

/** Average probability that a random fingerprint not in the set matches: size / range. */
export function expectedFalsePositiveRate(size: number, range: bigint): number {
  checkRange(range);
  if (!(size >= 0)) throw new RangeError(`membership filter: size must be ≥ 0, got ${size}`);
  return Math.min(1, size / Number(range));
}

/** Upper bound on that probability for any set of `size` values: size · ceil(2^64/range) / 2^64. */
export function falsePositiveBound(size: number, range: bigint): number {
  checkRange(range);
  if (!(size >= 0)) throw new RangeError(`membership filter: size must be ≥ 0, got ${size}`);
  return Math.min(1, (size * Number((TWO_64 + range - 1n) / range)) / 2 ** 64);
}

/** The value of a fingerprint in a filter of `range`: floor(f · range / 2^64). */
export function filterValue(fingerprint: Uint8Array, range: bigint): bigint {
  checkFingerprint(fingerprint, 'a fingerprint');
  checkRange(range);
  const f = new DataView(fingerprint.buffer, fingerprint.byteOffset, 8).getBigUint64(0);
  return (f * range) >> 64n;
}

// --- multiply-shift into a range, on 32-bit halves -----------------------------------------------

/**
 * Maps 64-bit values (hi, lo) into [0, range) as floor(x · range / 2^64), in 16-bit limbs so that
 * every partial product and sum is exact in a double. range = 2^64 is the identity.
 */
class RangeMap {
  readonly identity: boolean;
  readonly #b0: number;
  readonly #b1: number;
  readonly #b2: number;
  readonly #b3: number;

  constructor(range: bigint) {
    checkRange(range);
    this.identity = range === TWO_64;
    const r = this.identity ? 0n : range;
    this.#b0 = Number(r & 0xffffn);
    this.#b1 = Number((r >> 16n) & 0xffffn);
    this.#b2 = Number((r >> 32n) & 0xffffn);
    this.#b3 = Number((r >> 48n) & 0xffffn);
  }

  /** The value of the last map() call: high and low halves. */
  h = 0;
  l = 0;

  /** Maps (h, l); the result is in this.h and this.l (no allocation on the hot path). */
  map(h: number, l: number): void {
    if (this.identity) {
      this.h = h;
      this.l = l;
      return;
    }
    const b0 = this.#b0;
    const b1 = this.#b1;
    const b2 = this.#b2;
    const b3 = this.#b3;
    const a0 = l & 0xffff;
    const a1 = l >>> 16;
    const a2 = h & 0xffff;
    const a3 = h >>> 16;
    // Column sums of the 4 × 4 limb product (each < 2^34), carried upwards; only the top four
    // limbs are kept, but the lower columns' carries reach them.
    // Every sum is below 2^35 and non-negative, so `(t / 65536) >>> 0` is floor(t / 2^16).
    let c = ((a0 * b0) / 65536) >>> 0;
    c = ((a0 * b1 + a1 * b0 + c) / 65536) >>> 0;
    c = ((a0 * b2 + a1 * b1 + a2 * b0 + c) / 65536) >>> 0;
    c = ((a0 * b3 + a1 * b2 + a2 * b1 + a3 * b0 + c) / 65536) >>> 0;
    let t = a1 * b3 + a2 * b2 + a3 * b1 + c;
    c = (t / 65536) >>> 0;
    const r4 = t - c * 65536;
    t = a2 * b3 + a3 * b2 + c;
    c = (t / 65536) >>> 0;
    const r5 = t - c * 65536;
    t = a3 * b3 + c;
    c = (t / 65536) >>> 0;
    const r6 = t - c * 65536;
    this.h = c * 65536 + r6;
    this.l = r5 * 65536 + r4;
  }

  /** Writes the value of (h, l) at outH[i], outL[i]. */
  mapInto(h: number, l: number, outH: Uint32Array, outL: Uint32Array, i: number): void {
    this.map(h, l);
    outH[i] = this.h;
    outL[i] = this.l;
  }
}

/** Reads a fingerprint's halves into hi[i], lo[i]. */
function readFingerprint(f: Uint8Array, hi: Uint32Array, lo: Uint32Array, i: number): void {
  hi[i] = ((f[0]! << 24) | (f[1]! << 16) | (f[2]! << 8) | f[3]!) >>> 0;
  lo[i] = ((f[4]! << 24) | (f[5]! << 16) | (f[6]! << 8) | f[7]!) >>> 0;
}

/** Shifts the pair (hi[i], lo[i]) right by `shift` bits (0..64) in place. */
function shiftPairRight(hi: Uint32Array, lo: Uint32Array, i: number, shift: number): void {
  if (shift === 0) return;
  const h = hi[i]!;
  const l = lo[i]!;
  if (shift >= 64) {
    hi[i] = 0;
    lo[i] = 0;
  } else if (shift >= 32) {
    hi[i] = 0;
    lo[i] = shift === 32 ? h : h >>> (shift - 32);
  } else {
    hi[i] = h >>> shift;
    lo[i] = ((h << (32 - shift)) | (l >>> shift)) >>> 0;
  }
}

// --- sorted pairs of (hi, lo) halves -------------------------------------------------------------

/** Sorts the pairs (hi[i], lo[i]) ascending, in place: LSD radix sort, 16-bit digits. */
function sortPairs(hi: Uint32Array, lo: Uint32Array): void {
  const n = hi.length;
  if (n < 64) {
    for (let i = 1; i < n; i++) {
      const h = hi[i]!;
      const l = lo[i]!;
      let j = i - 1;
      while (j >= 0 && (hi[j]! > h || (hi[j] === h && lo[j]! > l))) {
        hi[j + 1] = hi[j]!;
        lo[j + 1] = lo[j]!;
        j--;
      }
      hi[j + 1] = h;
      lo[j + 1] = l;
    }
    return;
  }
  let srcH: Uint32Array = hi;
  let srcL: Uint32Array = lo;
  let dstH: Uint32Array = new Uint32Array(n);
  let dstL: Uint32Array = new Uint32Array(n);
  const counts = new Uint32Array(65536);
  for (let pass = 0; pass < 4; pass++) {
    const keys = pass < 2 ? srcL : srcH;
    const shift = (pass & 1) * 16;
    counts.fill(0);
    for (let i = 0; i < n; i++) {
      const d = (keys[i]! >>> shift) & 0xffff;
      counts[d] = counts[d]! + 1;
    }
    if (counts[(keys[0]! >>> shift) & 0xffff] === n) continue; // one digit value: nothing to do
    let sum = 0;
    for (let d = 0; d < 65536; d++) {
      const c = counts[d]!;
      counts[d] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const d = (keys[i]! >>> shift) & 0xffff;
      const p = counts[d]!;
      counts[d] = p + 1;
      dstH[p] = srcH[i]!;
      dstL[p] = srcL[i]!;
    }
    [srcH, dstH] = [dstH, srcH];
    [srcL, dstL] = [dstL, srcL];
  }
  if (srcH !== hi) {
    hi.set(srcH);
    lo.set(srcL);
  }
}

/** Removes adjacent duplicates from sorted pairs in place; returns the new length. */
function dedupPairs(hi: Uint32Array, lo: Uint32Array, n: number): number {
  if (n === 0) return 0;
  let o = 1;
  for (let i = 1; i < n; i++) {
    const h = hi[i]!;
    const l = lo[i]!;
    if (h !== hi[o - 1] || l !== lo[o - 1]) {
      hi[o] = h;
      lo[o] = l;
      o++;
    }
  }
  return o;
}

/** Sorted distinct 64-bit numbers as high and low 32-bit halves. */
export interface SortedPairs {
  hi: Uint32Array;
  lo: Uint32Array;
}

/**
 * The values of the fingerprints in a filter of `range`, shifted right by `shift` (prefixes),
 * sorted and deduplicated.
 */
function valuesOf(
  fingerprints: readonly Uint8Array[],
  range: bigint,
  shift: number,
  what: string,
): SortedPairs {
  const n = fingerprints.length;
  const hi = new Uint32Array(n);
  const lo = new Uint32Array(n);
  const map = new RangeMap(range);
  for (let i = 0; i < n; i++) {
    const fingerprint = fingerprints[i]!;
    checkFingerprint(fingerprint, what);
    readFingerprint(fingerprint, hi, lo, i);
    map.mapInto(hi[i]!, lo[i]!, hi, lo, i);
    shiftPairRight(hi, lo, i, shift);
  }
  sortPairs(hi, lo);
  const m = dedupPairs(hi, lo, n);
  return { hi: hi.subarray(0, m), lo: lo.subarray(0, m) };
}

/**
 * Fingerprints packed back to back (8 bytes each, as a server reads them from its database),
 * sorted and deduplicated as 64-bit numbers: no per-entry objects, 2 × 64 MiB at 2^24.
 */
export function sortFingerprints(packed: Uint8Array): SortedPairs {
  if (packed.length % FINGERPRINT_BYTES !== 0) {
    throw new RangeError('membership filter: packed fingerprints must be 8 bytes each');
  }
  const n = packed.length / FINGERPRINT_BYTES;
  const view = new DataView(packed.buffer, packed.byteOffset, packed.byteLength);
  const hi = new Uint32Array(n);
  const lo = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    hi[i] = view.getUint32(i * 8);
    lo[i] = view.getUint32(i * 8 + 4);
  }
  sortPairs(hi, lo);
  const m = dedupPairs(hi, lo, n);
  return { hi: hi.subarray(0, m), lo: lo.subarray(0, m) };
}

/** The first index in [from, to) whose pair is ≥ (h, l), or `to`. */
function lowerBound(
  hi: Uint32Array,
  lo: Uint32Array,
  h: number,
  l: number,
  from: number,
  to: number,
): number {
  let a = from;
  let b = to;
  while (a < b) {
    const mid = (a + b) >>> 1;
    const mh = hi[mid]!;
    if (mh < h || (mh === h && lo[mid]! < l)) a = mid + 1;
    else b = mid;
  }
  return a;
}

/**
 * (set − rem) ∪ add for sorted distinct pairs, as new arrays (a value in both add and rem ends up
 * present). Cost O(n) copying plus O(m log n) searching for m changes.
 */
function mergePairs(set: SortedPairs, add: SortedPairs, rem: SortedPairs): SortedPairs {
  const aN = add.hi.length;
  const rN = rem.hi.length;
  const H = set.hi;
  const L = set.lo;
  const n = H.length;
  if (aN === 0 && rN === 0) return set;
  const outH = new Uint32Array(n + aN);
  const outL = new Uint32Array(n + aN);
  let i = 0; // next existing entry not yet copied or dropped
  let o = 0;
  let a = 0;
  let r = 0;
  while (a < aN || r < rN) {
    // The next change in sorted order; a value both added and removed counts as added.
    let h: number;
    let l: number;
    let isAdd: boolean;
    if (r >= rN) {
      isAdd = true;
    } else if (a >= aN) {
      isAdd = false;
    } else {
      const ah = add.hi[a]!;
      const rh = rem.hi[r]!;
      isAdd = ah < rh || (ah === rh && add.lo[a]! <= rem.lo[r]!);
      if (ah === rh && add.lo[a] === rem.lo[r]) r++;
    }
    if (isAdd) {
      h = add.hi[a]!;
      l = add.lo[a]!;
      a++;
    } else {
      h = rem.hi[r]!;
      l = rem.lo[r]!;
      r++;
    }
    const j = lowerBound(H, L, h, l, i, n);
    if (j > i) {
      outH.set(H.subarray(i, j), o);
      outL.set(L.subarray(i, j), o);
      o += j - i;
    }
    i = j;
    if (i < n && H[i] === h && L[i] === l) i++; // present: re-added below, or dropped
    if (isAdd) {
      outH[o] = h;
      outL[o] = l;
      o++;
    }
  }
  if (i < n) {
    outH.set(H.subarray(i), o);
    outL.set(L.subarray(i), o);
    o += n - i;
  }
  return { hi: outH.subarray(0, o), lo: outL.subarray(0, o) };
}

/**
 * Applies net changes to a sorted fingerprint set (sortFingerprints output): removes `removed`,
 * then adds `added`. Returns a new set; the argument is not changed.
 */
export function updateFingerprints(
  set: SortedPairs,
  delta: { added: readonly Uint8Array[]; removed: readonly Uint8Array[] },
): SortedPairs {
  const add = valuesOf(delta.added, TWO_64, 0, 'an added fingerprint');
  const rem = valuesOf(delta.removed, TWO_64, 0, 'a removed fingerprint');
  return mergePairs(set, add, rem);
}

/** (hi, lo) as a bigint. */
export function pairValue(set: SortedPairs, i: number): bigint {
  return (BigInt(set.hi[i]!) << 32n) | BigInt(set.lo[i]!);
}

/** The first index of the sorted set whose value is ≥ the fingerprint's, or the set's size. */
export function fingerprintRank(set: SortedPairs, fingerprint: Uint8Array): number {
  checkFingerprint(fingerprint, 'a fingerprint');
  const f = fingerprint;
  const h = ((f[0]! << 24) | (f[1]! << 16) | (f[2]! << 8) | f[3]!) >>> 0;
  const l = ((f[4]! << 24) | (f[5]! << 16) | (f[6]! << 8) | f[7]!) >>> 0;
  return lowerBound(set.hi, set.lo, h, l, 0, set.hi.length);
}

/** The value (hi, lo) shifted right by `shift` (0 ≤ shift ≤ 63, result < 2^24). */
function bucketOf(hi: number, lo: number, shift: number): number {
  if (shift >= 32) return hi >>> (shift - 32);
  if (shift === 0) return lo;
  return ((hi << (32 - shift)) | (lo >>> shift)) >>> 0;
}

// --- bitstream ----------------------------------------------------------------------------------

/** The 32 bits starting at bit `pos` (MSB first); bits past the end read as zero. */
function peek32(s: Uint8Array, pos: number): number {
  const i = pos >>> 3;
  const off = pos & 7;
  const w = (s[i]! << 24) | (s[i + 1]! << 16) | (s[i + 2]! << 8) | s[i + 3]!;
  return ((w << off) | (s[i + 4]! >>> (8 - off))) >>> 0;
}

/** ORs the low n bits of v (1 ≤ n ≤ 32) into s at bit `pos`; s must be zero there. */
function writeBits(s: Uint8Array, pos: number, v: number, n: number): void {
  const w = n === 32 ? v >>> 0 : (v << (32 - n)) >>> 0;
  const i = pos >>> 3;
  const off = pos & 7;
  s[i] = s[i]! | (w >>> (24 + off));
  s[i + 1] = s[i + 1]! | ((w >>> (16 + off)) & 0xff);
  s[i + 2] = s[i + 2]! | ((w >>> (8 + off)) & 0xff);
  s[i + 3] = s[i + 3]! | ((w >>> off) & 0xff);
  if (off !== 0) s[i + 4] = s[i + 4]! | ((w << (8 - off)) & 0xff);
}

/**
 * Rice-codes the sorted, distinct values (hi[i], lo[i]) with parameter k into `out` from bit `pos`,
 * or only measures when out is null. Returns the end position.
 */
function riceEncode(
  hi: Uint32Array,
  lo: Uint32Array,
  k: number,
  out: Uint8Array | null,
  pos: number,
): number {
  const n = hi.length;
  const kHi = Math.max(k - 32, 0); // remainder bits taken from the high half
  const kLo = Math.min(k, 32); // remainder bits taken from the low half
  const hiUnit = k >= 32 ? 2 ** (k - 32) : 0;
  const loMask = k >= 32 ? 0xffffffff : 2 ** k - 1;
  const qPerHi = k < 32 ? 2 ** (32 - k) : 0;
  const loUnit = 2 ** k;
  let prevH = 0;
  let prevL = 0;
  for (let i = 0; i < n; i++) {
    const h = hi[i]!;
    const l = lo[i]!;
    let gH = h;
    let gL = l;
    if (i > 0) {
      gH = h - prevH;
      gL = l - prevL - 1;
      if (gL < 0) {
        gL += TWO_32;
        gH -= 1;
      }
    }
    prevH = h;
    prevL = l;
    let q: number;
    let rH = 0;
    let rL: number;
    if (k >= 32) {
      q = Math.floor(gH / hiUnit);
      rH = gH - q * hiUnit;
      rL = gL;
    } else {
      q = gH * qPerHi + Math.floor(gL / loUnit);
      rL = gL & loMask;
    }
    pos += q;
    if (out !== null) {
      out[pos >>> 3] = out[pos >>> 3]! | (0x80 >>> (pos & 7));
      if (kHi > 0) writeBits(out, pos + 1, rH, kHi);
      if (kLo > 0) writeBits(out, pos + 1 + kHi, rL, kLo);
    }
    pos += 1 + k;
  }
  return pos;
}

/** Codes sorted distinct values, all below `range`. */
function encodeSorted(range: bigint, hi: Uint32Array, lo: Uint32Array): Uint8Array {
  const count = hi.length;
  if (count > MAX_COUNT) {
    throw new RangeError(`membership filter: ${count} entries exceed the format's ${MAX_COUNT}`);
  }
  const k = riceParameter(range, count);
  const streamBits = riceEncode(hi, lo, k, null, 0);
  const streamBytes = Math.ceil(streamBits / 8);
  if (streamBytes > MAX_STREAM_BYTES) {
    throw new RangeError(`membership filter: ${streamBytes} bytes of bitstream is too large`);
  }
  const out = new Uint8Array(HEADER_LENGTH + streamBytes);
  out.set(MAGIC, 0);
  out[4] = FORMAT_VERSION;
  out[5] = k;
  const view = new DataView(out.buffer, out.byteOffset, HEADER_LENGTH);
  view.setUint32(8, count);
  view.setBigUint64(12, range - 1n);
  riceEncode(hi, lo, k, out, HEADER_LENGTH * 8);
  return out;
}

function malformed(message: string): RangeError {
  return new RangeError(`membership filter: malformed data: ${message}`);
}

function fingerprintList(fingerprints: Iterable<Uint8Array>): readonly Uint8Array[] {
  return Array.isArray(fingerprints) ? (fingerprints as Uint8Array[]) : Array.from(fingerprints);
}

/**
 * Encodes the set of fingerprints (duplicates are dropped) as a filter of `range`, by default
 * filterRangeFor(number of distinct fingerprints).
 */
export function encodeFilter(fingerprints: Iterable<Uint8Array>, range?: bigint): Uint8Array {
  if (range !== undefined) checkRange(range);
  const list = fingerprintList(fingerprints);
  if (range === undefined) {
    const distinct = valuesOf(list, TWO_64, 0, 'a fingerprint');
    return encodeSortedFingerprints(distinct, filterRangeFor(distinct.hi.length));
  }
  const values = valuesOf(list, range, 0, 'a fingerprint');
  return encodeSorted(range, values.hi, values.lo);
}

/**
 * Encodes the fingerprints' prefixes in a filter of `range` — each value shifted right by
 * `shift` — as a filter of prefixRange(range, shift). Deltas name removals this way.
 */
export function encodeFilterPrefixes(
  fingerprints: Iterable<Uint8Array>,
  range: bigint,
  shift: number,
): Uint8Array {
  const prefixes = prefixRange(range, shift);
  const values = valuesOf(fingerprintList(fingerprints), range, shift, 'a fingerprint');
  return encodeSorted(prefixes, values.hi, values.lo);
}

/**
 * encodeFilter() for fingerprints packed back to back in one buffer (8 bytes each), as a server
 * reads them from its database: no per-entry objects, so 2^24 entries cost 2 × 64 MiB of arrays.
 */
export function encodeFilterPacked(packed: Uint8Array, range?: bigint): Uint8Array {
  if (range !== undefined) checkRange(range);
  const sorted = sortFingerprints(packed);
  return encodeSortedFingerprints(sorted, range ?? filterRangeFor(sorted.hi.length));
}

/**
 * Encodes a sorted fingerprint set (sortFingerprints output) as a filter of `range`; the set is
 * not changed. Multiply-shift keeps order, so this is one linear pass plus the coding.
 */
export function encodeSortedFingerprints(set: SortedPairs, range: bigint): Uint8Array {
  checkRange(range);
  const n = set.hi.length;
  const hi = new Uint32Array(n);
  const lo = new Uint32Array(n);
  const map = new RangeMap(range);
  for (let i = 0; i < n; i++) map.mapInto(set.hi[i]!, set.lo[i]!, hi, lo, i);
  const m = dedupPairs(hi, lo, n);
  return encodeSorted(range, hi.subarray(0, m), lo.subarray(0, m));
}

/** A decoded membership filter: the sorted values of the fingerprints, updatable with deltas. */
export class MembershipFilter {
  /** The range M the values lie in; fingerprints map to floor(f · M / 2^64). */
  readonly range: bigint;
  readonly #map: RangeMap;
  #hi: Uint32Array;
  #lo: Uint32Array;
  /**
   * Lookup index, built on first use: #index[j] is the first entry whose value shifted right by
   * #indexShift is ≥ j, so has() binary-searches only a bucket of ~4–8 neighbours instead of the
   * whole array.
   */
  #index: Uint32Array | null = null;
  #indexShift = 0;

  private constructor(range: bigint, hi: Uint32Array, lo: Uint32Array) {
    this.range = range;
    this.#map = new RangeMap(range);
    this.#hi = hi;
    this.#lo = lo;
  }

  /** Decodes encodeFilter() output; throws RangeError on malformed or truncated data. */
  static decode(data: Uint8Array): MembershipFilter {
    if (!(data instanceof Uint8Array)) {
      throw new TypeError('membership filter: decode expects a Uint8Array');
    }
    if (data.length < HEADER_LENGTH) {
      throw malformed(`${data.length} bytes is shorter than the ${HEADER_LENGTH}-byte header`);
    }
    for (let i = 0; i < MAGIC.length; i++) {
      if (data[i] !== MAGIC[i]) throw malformed("bad magic (expected 'PGCS')");
    }
    const version = data[4]!;
    if (version !== FORMAT_VERSION) {
      throw malformed(`unsupported format version ${version} (expected ${FORMAT_VERSION})`);
    }
    const k = data[5]!;
    if (data[6] !== 0 || data[7] !== 0) throw malformed('reserved header bytes are not zero');
    const header = new DataView(data.buffer, data.byteOffset, HEADER_LENGTH);
    const count = header.getUint32(8);
    const range = header.getBigUint64(12) + 1n;
    if (BigInt(count) > range) throw malformed(`count ${count} exceeds the range ${range}`);
    const expectedK = riceParameter(range, count);
    if (k !== expectedK) {
      throw malformed(`Rice parameter ${k} does not match range ${range} and count ${count}`);
    }
    const streamBytes = data.length - HEADER_LENGTH;
    if (streamBytes > MAX_STREAM_BYTES) {
      throw malformed(`${streamBytes} bytes of bitstream is too large`);
    }
    const totalBits = streamBytes * 8;
    if (count * (k + 1) > totalBits) {
      throw malformed(
        `count ${count} needs at least ${count * (k + 1)} bits but the stream has ${totalBits}`,
      );
    }

    const s = data.subarray(HEADER_LENGTH);
    const hi = new Uint32Array(count);
    const lo = new Uint32Array(count);
    // Values must be ≤ range − 1 = (maxH, maxL).
    const maxH = Number((range - 1n) >> 32n);
    const maxL = Number((range - 1n) & 0xffffffffn);
    const kHi = Math.max(k - 32, 0);
    const kLo = Math.min(k, 32);
    const hiUnit = k >= 32 ? 2 ** (k - 32) : 0;
    const qPerHi = k < 32 ? 2 ** (32 - k) : 0;
    const loUnit = k < 32 ? 2 ** k : 0;
    let pos = 0;
    let vH = 0;
    let vL = 0;
    for (let i = 0; i < count; i++) {
      let q = 0;
      for (;;) {
        const w = peek32(s, pos);
        if (w !== 0) {
          const z = Math.clz32(w);
          q += z;
          pos += z + 1;
          break;
        }
        q += 32;
        pos += 32;
        if (pos >= totalBits) throw malformed(`stream ends inside entry ${i} of ${count}`);
      }
      let rH = 0;
      if (kHi > 0) {
        rH = peek32(s, pos) >>> (32 - kHi);
        pos += kHi;
      }
      let rL = 0;
      if (kLo > 0) {
        rL = peek32(s, pos) >>> (32 - kLo);
        pos += kLo;
      }
      if (pos > totalBits) throw malformed(`stream ends inside entry ${i} of ${count}`);
      let addH: number;
      let addL: number;
      if (k >= 32) {
        addH = q * hiUnit + rH;
        addL = rL;
      } else {
        addH = Math.floor(q / qPerHi);
        addL = (q - addH * qPerHi) * loUnit + rL;
      }
      if (i > 0) addL += 1;
      vL += addL;
      vH += addH;
      if (vL >= TWO_32) {
        vL -= TWO_32;
        vH += 1;
      }
      if (vH > maxH || (vH === maxH && vL > maxL)) {
        throw malformed(`entry ${i} is not below the range ${range}`);
      }
      hi[i] = vH;
      lo[i] = vL;
    }
    const usedBytes = Math.ceil(pos / 8);
    if (usedBytes !== streamBytes) {
      throw malformed(`${streamBytes - usedBytes} unexpected bytes after the last entry`);
    }
    if ((pos & 7) !== 0 && (s[usedBytes - 1]! & (0xff >>> (pos & 7))) !== 0) {
      throw malformed('padding bits are not zero');
    }
    return new MembershipFilter(range, hi, lo);
  }

  /** A filter of `range` with no entries. */
  static empty(range: bigint): MembershipFilter {
    checkRange(range);
    return new MembershipFilter(range, new Uint32Array(0), new Uint32Array(0));
  }

  /** Number of distinct values in the filter. */
  get size(): number {
    return this.#hi.length;
  }

  /** The most entries this filter's range holds at a false-positive rate ≤ 2^-32. */
  get capacity(): number {
    return filterCapacity(this.range);
  }

  /** Whether the fingerprint may be in the set: no false negatives, false positives ≈ size/range. */
  has(fingerprint: Uint8Array): boolean {
    checkFingerprint(fingerprint, 'a fingerprint');
    const f = fingerprint;
    const map = this.#map;
    map.map(
      ((f[0]! << 24) | (f[1]! << 16) | (f[2]! << 8) | f[3]!) >>> 0,
      ((f[4]! << 24) | (f[5]! << 16) | (f[6]! << 8) | f[7]!) >>> 0,
    );
    const h = map.h;
    const l = map.l;
    const hi = this.#hi;
    const lo = this.#lo;
    let from = 0;
    let to = hi.length;
    const index = this.#index ?? this.#buildIndex();
    if (index.length > 1) {
      const key = bucketOf(h, l, this.#indexShift);
      from = index[key]!;
      to = index[key + 1]!;
    }
    const i = lowerBound(hi, lo, h, l, from, to);
    return i < to && hi[i] === h && lo[i] === l;
  }

  #buildIndex(): Uint32Array {
    const hi = this.#hi;
    const lo = this.#lo;
    const n = hi.length;
    // ~n/8 to n/16 buckets (≤ 0.5 byte/entry); none for small sets.
    const valueBits = bitLength(this.range - 1n);
    const t = Math.min(24, n <= 1 ? 0 : 32 - Math.clz32(n - 1) - 3, valueBits);
    if (t < 4) {
      this.#indexShift = 0;
      this.#index = new Uint32Array(0);
      return this.#index;
    }
    const shift = valueBits - t;
    const buckets = 2 ** t;
    const index = new Uint32Array(buckets + 1);
    let j = 0;
    for (let i = 0; i < n; i++) {
      const key = bucketOf(hi[i]!, lo[i]!, shift);
      while (j <= key) index[j++] = i;
    }
    while (j <= buckets) index[j++] = n;
    this.#indexShift = shift;
    this.#index = index;
    return index;
  }

  #replace(next: SortedPairs): void {
    if (next.hi === this.#hi) return;
    this.#hi = next.hi;
    this.#lo = next.lo;
    this.#index = null;
  }

  /**
   * Applies a delta given as fingerprints: removes `removed`, then adds `added` (a fingerprint in
   * both ends up present). Removing an absent or adding a present fingerprint does nothing. Cost
   * O(n + m log n) for m changes; the arguments are validated before anything changes.
   */
  apply(delta: { added: readonly Uint8Array[]; removed: readonly Uint8Array[] }): void {
    const add = valuesOf(delta.added, this.range, 0, 'an added fingerprint');
    const rem = valuesOf(delta.removed, this.range, 0, 'a removed fingerprint');
    this.#replace(mergePairs({ hi: this.#hi, lo: this.#lo }, add, rem));
  }

  /** Adds every value of `other`, a filter of the same range (a delta's additions). */
  merge(other: MembershipFilter): void {
    if (other.range !== this.range) {
      throw new RangeError(
        `membership filter: cannot merge a filter of range ${other.range} into one of ${this.range}`,
      );
    }
    const none = { hi: new Uint32Array(0), lo: new Uint32Array(0) };
    this.#replace(
      mergePairs({ hi: this.#hi, lo: this.#lo }, { hi: other.#hi, lo: other.#lo }, none),
    );
  }

  /** Whether size exceeds filterCapacity(range), so the 2^-32 bound no longer holds. */
  needsResize(): boolean {
    return this.size > this.capacity;
  }

  /** The canonical encoding of the current set (what encodeFilter gives for it at this range). */
  encode(): Uint8Array {
    return encodeSorted(this.range, this.#hi, this.#lo);
  }

  /**
   * Removes, for each value of `prefixes` — a filter of prefixRange(range, s) for some shift s,
   * such as removalPrefixRange(range) — the one entry whose value shifted right by s equals it.
   * Deltas send removals this way: the receiver already holds the full value, so a short prefix
   * names it. Returns false, changing nothing, when a prefix matches two entries; the caller
   * then fetches a new snapshot (the server sends only prefixes it found unambiguous, so this is
   * a safety net). A prefix matching nothing is ignored, as removing an absent entry is.
   */
  removeByPrefix(prefixes: MembershipFilter): boolean {
    let s = -1;
    for (let shift = 0; shift <= 64; shift++) {
      if (prefixRange(this.range, shift) === prefixes.range) {
        s = shift;
        break;
      }
    }
    if (s < 0) {
      throw new RangeError(
        `membership filter: a range of ${prefixes.range} does not hold prefixes of ${this.range}`,
      );
    }
    const shift = BigInt(s);
    const n = this.#hi.length;
    const gone = { hi: new Uint32Array(prefixes.size), lo: new Uint32Array(prefixes.size) };
    let m = 0;
    for (let i = 0; i < prefixes.#hi.length; i++) {
      const prefix = (BigInt(prefixes.#hi[i]!) << 32n) | BigInt(prefixes.#lo[i]!);
      const low = prefix << shift;
      const high = (prefix + 1n) << shift;
      const from = lowerBound(this.#hi, this.#lo, hiOf(low), loOf(low), 0, n);
      const to =
        high >> 64n > 0n ? n : lowerBound(this.#hi, this.#lo, hiOf(high), loOf(high), from, n);
      if (to - from > 1) return false;
      if (to - from === 1) {
        gone.hi[m] = this.#hi[from]!;
        gone.lo[m] = this.#lo[from]!;
        m++;
      }
    }
    const none = { hi: new Uint32Array(0), lo: new Uint32Array(0) };
    const rem = { hi: gone.hi.subarray(0, m), lo: gone.lo.subarray(0, m) };
    this.#replace(mergePairs({ hi: this.#hi, lo: this.#lo }, none, rem));
    return true;
  }
}

const hiOf = (v: bigint) => Number((v >> 32n) & 0xffffffffn);
const loOf = (v: bigint) => Number(v & 0xffffffffn);
