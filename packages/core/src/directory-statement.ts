/**
 * The directory statement: what the server signs about the filter it publishes, so that every
 * client checks the same claim and a doctored filter is a signed, attributable lie (and, once key
 * transparency lands, a logged one). The server signs with its directory signing key (Ed25519),
 * which clients pin on first use per server.
 *
 * Bytes signed (all integers big-endian):
 *
 *     "parley directory statement v1\0" | kind (1: snapshot, 2: state)
 *     | u8 n | keyId (n, ASCII) | u64 version | u64 count
 *     | u8 p | the key id's OPRF public key k·G (p = 32, or 0 when not published)
 *     | snapshot only: u8 m | range (m, decimal ASCII) | SHA-256 of the snapshot's bytes (32)
 *
 * A snapshot statement binds the filter exactly (its digest); a state statement (sent with a
 * delta) binds the key id, version and count, which bound the filter's false-positive rate.
 */

import { concatBytes, shortField as short, u64, utf8 } from './encoding.js';
import { loadSodium } from './sodium.js';

const CONTEXT = utf8('parley directory statement v1\0');

export type DirectoryStatement = (
  | {
      kind: 'snapshot';
      keyId: string;
      version: number;
      count: number;
      range: bigint;
      digest: Uint8Array;
    }
  | { kind: 'state'; keyId: string; version: number; count: number }
) & {
  /** The key id's OPRF public key k·G, when the server publishes it (VOPRF). */
  publicKey?: Uint8Array;
};

/** The bytes the server signs and the client verifies. */
export function directoryStatementBytes(s: DirectoryStatement): Uint8Array {
  const common = concatBytes(
    CONTEXT,
    Uint8Array.of(s.kind === 'snapshot' ? 1 : 2),
    short(s.keyId),
    u64(s.version),
    u64(s.count),
    Uint8Array.of(s.publicKey?.length ?? 0),
    s.publicKey ?? new Uint8Array(0),
  );
  if (s.kind === 'state') return common;
  if (s.digest.length !== 32) throw new RangeError('a snapshot digest is 32 bytes');
  return concatBytes(common, short(s.range.toString(10)), s.digest);
}

/** Whether `signature` is the directory signing key's over the statement; never throws. */
export async function verifyDirectoryStatement(
  statement: DirectoryStatement,
  signature: Uint8Array,
  signingKey: Uint8Array,
): Promise<boolean> {
  const sodium = await loadSodium();
  try {
    return (
      signature.length === 64 &&
      signingKey.length === 32 &&
      sodium.crypto_sign_verify_detached(signature, directoryStatementBytes(statement), signingKey)
    );
  } catch {
    return false;
  }
}

/** SHA-256 of a snapshot's bytes, as a snapshot statement names it. */
export async function snapshotDigest(bytes: Uint8Array): Promise<Uint8Array> {
  return (await loadSodium()).crypto_hash_sha256(bytes);
}
