/**
 * The protocol core, safe for browsers: schemas, the error catalog, phone numbers, the OPRF
 * client, directory keys, the membership filter reader and the protocol constants. What only the
 * server needs (building filters) is on the `@parley/core/server` subpath.
 */
export * from './attachment-crypto.js';
export * from './attachment-envelope.js';
export * from './attachment-schemas.js';
export * from './directory-keys.js';
export * from './directory-statement.js';
export * from './encoding.js';
export * from './envelope.js';
export * from './error-docs.js';
export * from './errors.js';
export * from './identity.js';
export * from './linking.js';
export {
  expectedFalsePositiveRate,
  falsePositiveBound,
  filterCapacity,
  filterRangeFor,
  filterValue,
  MembershipFilter,
  parseFilterRange,
  prefixRange,
  REMOVAL_PREFIX_SHIFT,
  removalPrefixRange,
  riceParameter,
} from './membership-filter.js';
export * from './messaging-schemas.js';
export * from './oprf.js';
export * from './people-schemas.js';
export * from './phone.js';
export * from './profile.js';
export * from './protocol.js';
export * from './push-schemas.js';
export * from './rerun.js';
export * from './rotation-statement.js';
export {
  compareScannedSafetyNumber,
  SAFETY_NUMBER_ITERATIONS,
  SAFETY_NUMBER_SCANNABLE_LENGTH,
  SAFETY_NUMBER_SCANNABLE_VERSION,
  SAFETY_NUMBER_VERSION,
  type SafetyNumber,
  type SafetyNumberParty,
  type ScannedSafetyNumber,
  safetyNumber,
} from './safety-number.js';
export * from './schemas.js';
export * from './voprf.js';
export * from './wait-time.js';
