/**
 * `@parley/core/server`: the parts of the core only the server needs — building and updating
 * membership filters from sorted fingerprint sets. Kept off the main entry so browsers never
 * bundle them.
 */
export {
  encodeFilter,
  encodeFilterPacked,
  encodeFilterPrefixes,
  encodeSortedFingerprints,
  fingerprintRank,
  pairValue,
  type SortedPairs,
  sortFingerprints,
  updateFingerprints,
} from './membership-filter.js';
/** libsodium, for the server's own uses of it (the passphrase-sealed key backups). */
export { loadSodium, type Sodium } from './sodium.js';
