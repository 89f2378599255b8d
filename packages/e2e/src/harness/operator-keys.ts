/**
 * The operator's own keys, read from its server's data directory as a modified server would use
 * them: the directory signing key, to sign a directory answer of the operator's making exactly as
 * the real server signs its own (core directory-statement.ts), and the OPRF keys of its key file.
 */

import { createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type DirectoryStatement, directoryStatementBytes, toBase64Url } from '@parley/core';

/** RFC 8410's PKCS#8 prefix for an Ed25519 private key: the 32-byte seed follows. */
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');

interface DirectoryAnswer {
  type: 'snapshot' | 'delta';
  keyId: string;
  version: number;
  count: number;
  range: string;
  digest?: string;
  publicKey?: string;
}

/** Signs directory answers with the server's directory signing key (from `dataDir`). */
export function directorySigner(dataDir: string) {
  const seed = Buffer.from(
    readFileSync(join(dataDir, 'directory-signing-key'), 'utf8').trim(),
    'base64url',
  );
  const key = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const signingKey = createPublicKey(key).export({ format: 'jwk' }).x!;
  /** The answer with `signingKey` and `signature` for what it now says. */
  return <T extends DirectoryAnswer>(answer: T): T & { signingKey: string; signature: string } => {
    const publicKey = answer.publicKey ? Buffer.from(answer.publicKey, 'base64url') : undefined;
    const base = { keyId: answer.keyId, version: answer.version, count: answer.count };
    const statement: DirectoryStatement =
      answer.type === 'snapshot'
        ? {
            kind: 'snapshot',
            ...base,
            range: BigInt(answer.range),
            digest: Buffer.from(answer.digest ?? '', 'base64url'),
          }
        : { kind: 'state', ...base };
    if (publicKey) statement.publicKey = publicKey;
    return {
      ...answer,
      signingKey,
      signature: toBase64Url(sign(null, directoryStatementBytes(statement), key)),
    };
  };
}

/** The server's secret OPRF keys by key id, as the operator reads them from its key file. */
export function oprfSecretKeys(dataDir: string): Record<string, Uint8Array> {
  const file = JSON.parse(readFileSync(join(dataDir, 'oprf-keys.json'), 'utf8')) as {
    keys: { id: string; secret: string }[];
  };
  const keys: Record<string, Uint8Array> = {};
  for (const k of file.keys) keys[k.id] = new Uint8Array(Buffer.from(k.secret, 'base64'));
  return keys;
}
