/**
 * The OPRF key rotation statement: when the server moves to a new OPRF key, the old key vouches
 * for the new one, so a client that pinned the old key accepts the new one only with the old
 * key's endorsement (docs/design.md, "Key rotation statements"), not merely because the directory
 * signing key says so.
 *
 * Bytes signed (integers big-endian):
 *
 *     "parley oprf key rotation v1\0"
 *     | u8 n | oldKeyId (n, ASCII) | pk_old (32) | u8 m | newKeyId (m, ASCII) | pk_new (32)
 *     | u64 rotatedAt (milliseconds since 1970)
 *
 * The signature is RFC 9497's own machinery, a Chaum–Pedersen signature (Chaum and Pedersen 1992;
 * the "EDL" signature of Goh and Jarecki 2003) made of the VOPRF's evaluation and DLEQ proof in a
 * context string of its own:
 *
 *     T = HashToGroup(statement)          with DST "HashToGroup-" || ROTATION_CONTEXT_STRING
 *     Z = k_old·T
 *     proof = GenerateProof(k_old, G, pk_old, [T], [Z])      (§2.2.1, same context string)
 *     signature = Z || proof              (32 + 64 bytes)
 *
 * and is verified by VerifyProof(G, pk_old, [T], [Z], proof). The proof is a Fiat–Shamir proof of
 * knowledge of k_old = log_G(pk_old) = log_T(Z) whose challenge hashes T, so it binds the
 * statement; nobody without k_old can make one.
 *
 * Why a context string of its own: the evaluate endpoint hands anyone k·X and a DLEQ proof for any
 * element X they send (it cannot tell a blinded number from anything else), so a signature made in
 * the discovery context (OPRFV1-\x01-ristretto255-SHA512) could be obtained by asking the server to
 * "evaluate" T. With ROTATION_CONTEXT_STRING every hash of the proof (seed, composite weights,
 * challenge) lives in another domain: the evaluate endpoint's proofs are never valid here, and
 * its evaluations (Z alone) are useless without one. The string has the RFC's shape, so an
 * independent implementation (@noble/curves' createOPRF with this identifier) checks it in tests.
 */

import { bytesEqual, concatBytes, shortField, u64, utf8 } from './encoding.js';
import type { Oprf } from './oprf.js';
import {
  loadVoprf,
  PROOF_LENGTH,
  RISTRETTO255_GENERATOR,
  VOPRF_MODE,
  type Voprf,
} from './voprf.js';

const CONTEXT = utf8('parley oprf key rotation v1\0');

/** The identifier in ROTATION_CONTEXT_STRING, as an RFC 9497 suite identifier would stand. */
export const ROTATION_SUITE_ID = 'ParleyKeyRotation-ristretto255-SHA512';
/** "OPRFV1-" || I2OSP(0x01, 1) || "-" || ROTATION_SUITE_ID. */
export const ROTATION_CONTEXT_STRING = concatBytes(
  utf8('OPRFV1-'),
  Uint8Array.of(VOPRF_MODE),
  utf8(`-${ROTATION_SUITE_ID}`),
);
/** Z (32) || proof (64). */
export const ROTATION_SIGNATURE_LENGTH = 32 + PROOF_LENGTH;

export interface RotationStatement {
  oldKeyId: string;
  /** pk_old = k_old·G. */
  oldPublicKey: Uint8Array;
  newKeyId: string;
  /** pk_new = k_new·G. */
  newPublicKey: Uint8Array;
  /** When the server switched to the new key, milliseconds since 1970. */
  rotatedAt: number;
}

/** The bytes the old key signs. */
export function rotationStatementBytes(s: RotationStatement): Uint8Array {
  if (s.oldPublicKey.length !== 32 || s.newPublicKey.length !== 32) {
    throw new RangeError('a rotation statement names two 32-byte public keys');
  }
  return concatBytes(
    CONTEXT,
    shortField(s.oldKeyId),
    s.oldPublicKey,
    shortField(s.newKeyId),
    s.newPublicKey,
    u64(s.rotatedAt),
  );
}

export interface RotationSigner {
  /**
   * The old key's signature over the statement. `oldSecretKey` must be the key whose public key
   * the statement names as pk_old; `r` fixes the proof's nonce (tests).
   */
  sign(oldSecretKey: Uint8Array, statement: RotationStatement, r?: Uint8Array): Uint8Array;
  /**
   * Whether `signature` is pk_old's over the statement, and the statement well formed (two
   * different key ids, two valid public keys). Never throws.
   */
  verify(statement: RotationStatement, signature: Uint8Array): boolean;
}

/** Signs and verifies rotation statements, on top of a loaded OPRF. */
export async function loadRotationSigner(
  oprf: Oprf,
  options: { randomScalar?: () => Uint8Array } = {},
): Promise<RotationSigner> {
  const voprf: Voprf = await loadVoprf(oprf, {
    ...options,
    contextString: ROTATION_CONTEXT_STRING,
  });
  const G = RISTRETTO255_GENERATOR;
  return Object.freeze({
    sign(oldSecretKey: Uint8Array, statement: RotationStatement, r?: Uint8Array): Uint8Array {
      const publicKey = voprf.publicKey(oldSecretKey);
      if (!bytesEqual(publicKey, statement.oldPublicKey)) {
        throw new RangeError('the secret key is not the one the statement names as the old key');
      }
      const t = voprf.hashToGroup(rotationStatementBytes(statement));
      const z = oprf.scalarMult(oldSecretKey, t);
      return concatBytes(z, voprf.generateProof(oldSecretKey, G, publicKey, [t], [z], r));
    },
    verify(statement: RotationStatement, signature: Uint8Array): boolean {
      if (!(signature instanceof Uint8Array) || signature.length !== ROTATION_SIGNATURE_LENGTH) {
        return false;
      }
      try {
        if (statement.oldKeyId === statement.newKeyId) return false;
        // §3.3: a public key is a valid, non-identity element (pk_old is checked by VerifyProof).
        oprf.deserializeElement(statement.newPublicKey);
        const t = voprf.hashToGroup(rotationStatementBytes(statement));
        return voprf.verifyProof(
          G,
          statement.oldPublicKey,
          [t],
          [signature.subarray(0, 32)],
          signature.subarray(32),
        );
      } catch {
        return false;
      }
    },
  });
}
