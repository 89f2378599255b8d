/**
 * The directory signing key: the server signs every directory statement (core
 * directory-statement.ts) with it, and clients pin it on first use. Its 32-byte Ed25519 seed lives
 * beside the data (`directory-signing-key`, mode 0600), shared by every node like the OPRF keys.
 */

import { createPrivateKey, createPublicKey, type KeyObject, sign } from 'node:crypto';
import { type DirectoryStatement, directoryStatementBytes, toBase64Url } from '@parley/core';

/** RFC 8410's PKCS#8 prefix for an Ed25519 private key: the 32-byte seed follows. */
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');

export class DirectorySigner {
  private readonly key: KeyObject;
  /** The public key, base64url, as responses carry it. */
  readonly publicKey: string;

  constructor(seed: Uint8Array) {
    if (seed.length !== 32) throw new RangeError('the directory signing seed is 32 bytes');
    this.key = createPrivateKey({
      key: Buffer.concat([PKCS8_ED25519, seed]),
      format: 'der',
      type: 'pkcs8',
    });
    const jwk = createPublicKey(this.key).export({ format: 'jwk' });
    this.publicKey = jwk.x!;
  }

  /** `{ signingKey, signature }` for a statement, base64url, to go into the response. */
  sign(statement: DirectoryStatement): { signingKey: string; signature: string } {
    return {
      signingKey: this.publicKey,
      signature: toBase64Url(sign(null, directoryStatementBytes(statement), this.key)),
    };
  }
}
