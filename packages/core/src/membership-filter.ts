/**
 * The membership filter: a Golomb–Rice coded set (GCS) of the 64-bit fingerprints of the server's
 * discoverable users. Clients download it once, keep it current with deltas, and test their
 * contacts' fingerprints locally; only matches go back to the server.
 *
 * What a GCS is. Cut every fingerprint to its top `bits` bits, sort the distinct values and write
 * the gaps between neighbours with a Rice code of parameter k: gap g = q·2^k + r is q zero bits, a
 * one bit, then r in k bits. Fingerprints are uniformly random (they come from OPRF outputs), so
 * the n values are uniform in [0, 2^bits) and the gaps are close to geometric with mean 2^bits/n,
 * whose entropy is about log2(e·2^bits/n) = (bits − log2 n) + 1.44 bits. With
 * k = bits − ceil(log2 n) the mean gap lies in [2^k, 2^(k+1)) and the code spends k + 1 + E[q]
 * bits per entry, within ~0.2 bit of that entropy: about 33.6 bits/entry when n is a power of two,
 * rising to about 34.5 just above one (33.9 at n = 100 000).
 *
 * Why not a cuckoo filter. Kales et al. ("Mobile Private Contact Discovery at Scale", USENIX
 * Security 2019) shipped a cuckoo filter: ~33.5 bits/entry for a false-positive rate of 2^-29
 * (32-bit tags, ~95 % load, 8 candidate slots per lookup). A GCS costs about the same size for an
 * 8× lower rate (2^-32); a cuckoo filter at 2^-32 needs ~36.6 bits/entry. The price is that the
 * compressed form has no random access — the client decodes it once into two sorted Uint32Arrays
 * (8 bytes/entry in memory) and answers has() by binary search inside a bucket of a lazily built
 * index (≤ 0.5 byte/entry). Being a sorted set, it takes deltas naturally: apply() merges sorted
 * added/removed lists with one O(n) copy plus O(m log n) for m changes.
 *
 * False-positive rate. A contact who is not registered has a fingerprint that is uniform and
 * independent of the registered set, so its top `bits` bits hit one of the n stored distinct values
 * with probability exactly n / 2^bits (no approximation, unlike a Bloom filter). The producer picks
 * bits = ceil(log2 n) + 32 (clamped to [32, 64]), so the rate is ≤ 2^-32 per lookup for as long as
 * n ≤ 2^(bits − 32). Deltas can grow the set past that; needsResize() then says so and the client
 * should fetch a fresh snapshot. (Truncation also means two registered fingerprints may share a
 * value — about n²/2^(bits+1) pairs, ~2^-9 at n = 2^24; removing one of them then hides the other
 * until the next snapshot.)
 *
 * Encoding (integers big-endian):
 *   offset  0  4 bytes  magic 'PGCS'
 *           4  1 byte   format version, 1
 *           5  1 byte   bits, 32..64
 *           6  1 byte   k, the Rice parameter; must be bits − ceil(log2 max(count, 1))
 *           7  1 byte   reserved, 0
 *           8  4 bytes  count: number of distinct values
 *          12  ...      bitstream, most significant bit first: for each value v_i in increasing
 *                       order its gap g_0 = v_0, g_i = v_i − v_(i−1) − 1, as floor(g / 2^k) zero bits,
 *                       a one bit and g mod 2^k in k bits; zero-padded to a whole byte, nothing after.
 * The encoding is canonical: one set and one `bits` give exactly one byte string.
 *
 * Values are up to 64 bits, so they are kept as a high and a low 32-bit half in two Uint32Arrays;
 * hot paths use only 32-bit and exact double arithmetic (no BigInt, no per-entry objects).
 */

/** Length in bytes of a filter fingerprint. */
export const FINGERPRINT_LENGTH = 8;

const MAGIC = [0x50, 0x47, 0x43, 0x53]; // 'PGCS'
const FORMAT_VERSION = 1;
const HEADER_LENGTH = 12;
const MIN_BITS = 32;
const MAX_BITS = 64;
const MAX_COUNT = 0xffffffff;
/** Bit positions must stay below 2^32 so that `>>> 3` and `& 7` work on them. */
const MAX_STREAM_BYTES = 2 ** 29 - HEADER_LENGTH;
const TWO_32 = 2 ** 32;

/** ceil(log2(max(n, 1))) for a non-negative integer n. */
function ceilLog2(n: number): number {
  if (n <= 1) return 0;
  if (n <= TWO_32) return 32 - Math.clz32(n - 1);
  return Math.ceil(Math.log2(n));
}

function checkBits(bits: number): void {
  if (!Number.isInteger(bits) || bits < MIN_BITS || bits > MAX_BITS) {
    throw new RangeError(
      `membership filter: bits must be an integer from ${MIN_BITS} to ${MAX_BITS}, got ${bits}`,
    );
  }
}

function checkFingerprint(fingerprint: Uint8Array, what: string): void {
  if (!(fingerprint instanceof Uint8Array) || fingerprint.length !== FINGERPRINT_LENGTH) {
    const got =
      fingerprint instanceof Uint8Array ? `${fingerprint.length} bytes` : typeof fingerprint;
    throw new RangeError(
      `membership filter: ${what} must be a ${FINGERPRINT_LENGTH}-byte Uint8Array, got ${got}`,
    );
  }
}

/** The Rice parameter for `count` values of `bits` bits. */
function riceParameter(bits: number, count: number): number {
  return bits - ceilLog2(count);
}

/** The `bits` a snapshot of `count` entries uses: ceil(log2 count) + 32, clamped to [32, 64]. */
export function filterBitsFor(count: number): number {
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new RangeError(`membership filter: count must be a non-negative integer, got ${count}`);
  }
  return Math.min(MAX_BITS, ceilLog2(count) + 32);
}

/**
 * Width of the prefixes a delta uses to name removals from a filter of `bits` bits: 16 bits
 * fewer (at least 32), so a prefix names one entry except with probability about 2^-16.
 */
export function removalPrefixBits(bits: number): number {
  checkBits(bits);
  return Math.max(32, bits - 16);
}

/** Probability that a random fingerprint not in the set matches: size / 2^bits. */
export function expectedFalsePositiveRate(size: number, bits: number): number {
  checkBits(bits);
  if (!(size >= 0)) throw new RangeError(`membership filter: size must be ≥ 0, got ${size}`);
  return Math.min(1, size / 2 ** bits);
}

// --- sorted pairs of (hi, lo) halves -------------------------------------------------------------

/**
 * Reads fingerprints[i] as a 64-bit big-endian number, keeps its top 64 − shift bits and stores the
 * result's halves at hi[i], lo[i].
 */
function truncateInto(
  fingerprint: Uint8Array,
  shift: number,
  hi: Uint32Array,
  lo: Uint32Array,
  i: number,
): void {
  const f = fingerprint;
  const h = ((f[0]! << 24) | (f[1]! << 16) | (f[2]! << 8) | f[3]!) >>> 0;
  const l = ((f[4]! << 24) | (f[5]! << 16) | (f[6]! << 8) | f[7]!) >>> 0;
  if (shift === 0) {
    hi[i] = h;
    lo[i] = l;
  } else if (shift === 32) {
    hi[i] = 0;
    lo[i] = h;
  } else {
    hi[i] = h >>> shift;
    lo[i] = ((h << (32 - shift)) | (l >>> shift)) >>> 0;
  }
}

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

/** The fingerprints cut to 64 − shift bits, sorted and deduplicated. */
function truncatedSorted(
  fingerprints: readonly Uint8Array[],
  shift: number,
  what: string,
): { hi: Uint32Array; lo: Uint32Array } {
  const n = fingerprints.length;
  const hi = new Uint32Array(n);
  const lo = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const fingerprint = fingerprints[i]!;
    checkFingerprint(fingerprint, what);
    truncateInto(fingerprint, shift, hi, lo, i);
  }
  sortPairs(hi, lo);
  const m = dedupPairs(hi, lo, n);
  return { hi: hi.subarray(0, m), lo: lo.subarray(0, m) };
}

const hiOf = (v: bigint) => Number((v >> 32n) & 0xffffffffn);
const loOf = (v: bigint) => Number(v & 0xffffffffn);

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

/** The value (hi, lo) shifted right by `shift` (8 ≤ shift ≤ 60, result < 2^24). */
function bucketOf(hi: number, lo: number, shift: number): number {
  if (shift >= 32) return hi >>> (shift - 32);
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

function encodeSorted(bits: number, hi: Uint32Array, lo: Uint32Array): Uint8Array {
  const count = hi.length;
  if (count > MAX_COUNT) {
    throw new RangeError(`membership filter: ${count} entries exceed the format's ${MAX_COUNT}`);
  }
  const k = riceParameter(bits, count);
  const streamBits = riceEncode(hi, lo, k, null, 0);
  const streamBytes = Math.ceil(streamBits / 8);
  if (streamBytes > MAX_STREAM_BYTES) {
    throw new RangeError(`membership filter: ${streamBytes} bytes of bitstream is too large`);
  }
  const out = new Uint8Array(HEADER_LENGTH + streamBytes);
  out.set(MAGIC, 0);
  out[4] = FORMAT_VERSION;
  out[5] = bits;
  out[6] = k;
  out[7] = 0;
  new DataView(out.buffer, out.byteOffset, HEADER_LENGTH).setUint32(8, count);
  riceEncode(hi, lo, k, out, HEADER_LENGTH * 8);
  return out;
}

function malformed(message: string): RangeError {
  return new RangeError(`membership filter: malformed data: ${message}`);
}

/**
 * Encodes the set of fingerprints (duplicates are dropped) as a filter of `bits` bits, by default
 * filterBitsFor(number of distinct fingerprints).
 */
export function encodeFilter(fingerprints: Iterable<Uint8Array>, bits?: number): Uint8Array {
  if (bits !== undefined) checkBits(bits);
  const list: readonly Uint8Array[] = Array.isArray(fingerprints)
    ? (fingerprints as Uint8Array[])
    : Array.from(fingerprints);
  const { hi, lo } = truncatedSorted(list, 0, 'a fingerprint');
  return encodeTruncated(hi, lo, bits);
}

/**
 * encodeFilter() for fingerprints packed back to back in one buffer (8 bytes each), as a server
 * reads them from its database: no per-entry objects, so 2^24 entries cost 2 × 64 MiB of arrays.
 */
export function encodeFilterPacked(packed: Uint8Array, bits?: number): Uint8Array {
  if (bits !== undefined) checkBits(bits);
  if (packed.length % FINGERPRINT_LENGTH !== 0) {
    throw new RangeError('membership filter: packed fingerprints must be 8 bytes each');
  }
  const n = packed.length / FINGERPRINT_LENGTH;
  const view = new DataView(packed.buffer, packed.byteOffset, packed.byteLength);
  const hi = new Uint32Array(n);
  const lo = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    hi[i] = view.getUint32(i * 8);
    lo[i] = view.getUint32(i * 8 + 4);
  }
  sortPairs(hi, lo);
  const m = dedupPairs(hi, lo, n);
  return encodeTruncated(hi.subarray(0, m), lo.subarray(0, m), bits);
}

/** Truncates sorted, distinct 64-bit pairs to `bits` (default: what their count needs) and codes them. */
function encodeTruncated(hi: Uint32Array, lo: Uint32Array, bits?: number): Uint8Array {
  const b = bits ?? filterBitsFor(hi.length);
  if (b < 64) {
    // Truncation is monotone, so the values stay sorted; only neighbours can collide.
    const shift = 64 - b;
    for (let i = 0; i < hi.length; i++) {
      const h = hi[i]!;
      const l = lo[i]!;
      if (shift === 32) {
        hi[i] = 0;
        lo[i] = h;
      } else {
        hi[i] = h >>> shift;
        lo[i] = ((h << (32 - shift)) | (l >>> shift)) >>> 0;
      }
    }
    const m = dedupPairs(hi, lo, hi.length);
    hi = hi.subarray(0, m);
    lo = lo.subarray(0, m);
  }
  return encodeSorted(b, hi, lo);
}

/** A decoded membership filter: the sorted truncated fingerprints, updatable with deltas. */
export class MembershipFilter {
  readonly bits: number;
  #hi: Uint32Array;
  #lo: Uint32Array;
  /**
   * Lookup index, built on first use: #index[j] is the first entry whose top #indexBits bits are
   * ≥ j, so has() binary-searches only a bucket of ~4–8 neighbours instead of the whole array.
   */
  #index: Uint32Array | null = null;
  #indexBits = 0;

  private constructor(bits: number, hi: Uint32Array, lo: Uint32Array) {
    this.bits = bits;
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
    const bits = data[5]!;
    if (bits < MIN_BITS || bits > MAX_BITS) {
      throw malformed(`bits ${bits} is outside ${MIN_BITS}..${MAX_BITS}`);
    }
    const k = data[6]!;
    if (data[7] !== 0) throw malformed('reserved header byte is not zero');
    const count = new DataView(data.buffer, data.byteOffset, HEADER_LENGTH).getUint32(8);
    const expectedK = riceParameter(bits, count);
    if (k !== expectedK) {
      throw malformed(`Rice parameter ${k} does not match bits ${bits} and count ${count}`);
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
    const hiLimit = 2 ** (bits - 32);
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
      if (vH >= hiLimit) throw malformed(`entry ${i} is not below 2^${bits}`);
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
    return new MembershipFilter(bits, hi, lo);
  }

  /** A filter with no entries. */
  static empty(bits: number): MembershipFilter {
    checkBits(bits);
    return new MembershipFilter(bits, new Uint32Array(0), new Uint32Array(0));
  }

  /** Number of distinct (truncated) values in the filter. */
  get size(): number {
    return this.#hi.length;
  }

  /** Whether the fingerprint may be in the set: no false negatives, false positives ≈ size/2^bits. */
  has(fingerprint: Uint8Array): boolean {
    checkFingerprint(fingerprint, 'a fingerprint');
    const shift = 64 - this.bits;
    const f = fingerprint;
    const h0 = ((f[0]! << 24) | (f[1]! << 16) | (f[2]! << 8) | f[3]!) >>> 0;
    const l0 = ((f[4]! << 24) | (f[5]! << 16) | (f[6]! << 8) | f[7]!) >>> 0;
    let h = h0;
    let l = l0;
    if (shift === 32) {
      h = 0;
      l = h0;
    } else if (shift !== 0) {
      h = h0 >>> shift;
      l = ((h0 << (32 - shift)) | (l0 >>> shift)) >>> 0;
    }
    const hi = this.#hi;
    const lo = this.#lo;
    let from = 0;
    let to = hi.length;
    const index = this.#index ?? this.#buildIndex();
    if (index.length > 1) {
      const key = bucketOf(h, l, this.bits - this.#indexBits);
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
    const t = Math.min(24, ceilLog2(n) - 3);
    if (t < 4) {
      this.#indexBits = 0;
      this.#index = new Uint32Array(0);
      return this.#index;
    }
    const shift = this.bits - t;
    const buckets = 2 ** t;
    const index = new Uint32Array(buckets + 1);
    let j = 0;
    for (let i = 0; i < n; i++) {
      const key = bucketOf(hi[i]!, lo[i]!, shift);
      while (j <= key) index[j++] = i;
    }
    while (j <= buckets) index[j++] = n;
    this.#indexBits = t;
    this.#index = index;
    return index;
  }

  /**
   * Applies a delta: removes `removed`, then adds `added` (a fingerprint in both ends up present).
   * Removing an absent or adding a present fingerprint does nothing. Cost O(n + m log n) for m
   * changes; the arguments are validated before anything changes.
   */
  apply(delta: { added: Uint8Array[]; removed: Uint8Array[] }): void {
    const shift = 64 - this.bits;
    const add = truncatedSorted(delta.added, shift, 'an added fingerprint');
    const rem = truncatedSorted(delta.removed, shift, 'a removed fingerprint');
    const aN = add.hi.length;
    const rN = rem.hi.length;
    if (aN === 0 && rN === 0) return;
    const H = this.#hi;
    const L = this.#lo;
    const n = H.length;
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
    this.#hi = outH.subarray(0, o);
    this.#lo = outL.subarray(0, o);
    this.#index = null;
  }

  /** Whether size exceeds 2^(bits − 32), so the 2^-32 bound no longer holds: fetch a new snapshot. */
  needsResize(): boolean {
    return this.size > 2 ** (this.bits - 32);
  }

  /** The canonical encoding of the current set (what encodeFilter gives for it at these bits). */
  encode(): Uint8Array {
    return encodeSorted(this.bits, this.#hi, this.#lo);
  }

  /**
   * Removes, for each value of `prefixes` (a filter at fewer bits), the one entry whose top bits
   * equal it. Deltas send removals this way: the receiver already holds the full value, so a
   * prefix about 16 bits longer than log₂(size) names it, at half the cost of sending it whole.
   * Returns false, changing nothing, when a prefix matches two entries (probability about
   * size / 2^prefixBits each); the caller then fetches a new snapshot. A prefix matching nothing
   * is ignored, as removing an absent entry is.
   */
  removeByPrefix(prefixes: MembershipFilter): boolean {
    const shift = BigInt(this.bits - prefixes.bits);
    if (shift < 0n) throw new RangeError('membership filter: prefixes are wider than entries');
    const n = this.#hi.length;
    const removed: Uint8Array[] = [];
    for (let i = 0; i < prefixes.#hi.length; i++) {
      const prefix = (BigInt(prefixes.#hi[i]!) << 32n) | BigInt(prefixes.#lo[i]!);
      const low = prefix << shift;
      const high = (prefix + 1n) << shift;
      const from = lowerBound(this.#hi, this.#lo, hiOf(low), loOf(low), 0, n);
      const to =
        high >> 64n > 0n ? n : lowerBound(this.#hi, this.#lo, hiOf(high), loOf(high), from, n);
      if (to - from > 1) return false;
      if (to - from === 1) {
        const fp = new Uint8Array(8);
        const value = (BigInt(this.#hi[from]!) << 32n) | BigInt(this.#lo[from]!);
        new DataView(fp.buffer).setBigUint64(0, value << BigInt(64 - this.bits));
        removed.push(fp);
      }
    }
    if (removed.length > 0) this.apply({ added: [], removed });
    return true;
  }

  /**
   * The entries as 8-byte fingerprints: each truncated value moved back to the top `bits` bits,
   * low bits zero. Truncating them again gives the same values, so a delta list sent as a filter
   * at the receiver's `bits` can be applied to the receiver's filter.
   */
  toFingerprints(): Uint8Array[] {
    const out: Uint8Array[] = [];
    const shift = 64 - this.bits;
    for (let i = 0; i < this.#hi.length; i++) {
      const value = (BigInt(this.#hi[i]!) << 32n) | BigInt(this.#lo[i]!);
      const fp = new Uint8Array(8);
      new DataView(fp.buffer).setBigUint64(0, value << BigInt(shift));
      out.push(fp);
    }
    return out;
  }
}
