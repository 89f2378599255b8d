/**
 * The two backup files `parley admin backup` writes, and reading them back with a typed error for
 * each way one can be wrong (errors.ts: BACKUP_CORRUPT, BACKUP_TRUNCATED, BACKUP_PASSPHRASE_WRONG).
 *
 * Both have one layout: an 8-byte magic naming the kind, a 4-byte big-endian header length, the
 * header (JSON), the payload (as long as the header says), and a SHA-256 of everything before it.
 * The digest tells a damaged file from a wrong passphrase: an intact key backup that does not open
 * was sealed under another passphrase.
 *
 * - database (`PRLYDB01`): the SQLite file SQLite's online backup API made, in clear.
 * - keys (`PRLYKY01`): the secret files, sealed under a key derived from a passphrase with
 *   Argon2id (crypto_pwhash, libsodium) and encrypted with XChaCha20-Poly1305 (libsodium's AEAD,
 *   the header as associated data, so its parameters cannot be changed unnoticed).
 */

import { createHash } from 'node:crypto';
import { ParleyError } from '@parley/core';
import { loadSodium } from '@parley/core/server';

export type BackupKind = 'database' | 'keys';

const MAGIC: Record<BackupKind, string> = { database: 'PRLYDB01', keys: 'PRLYKY01' };
const DIGEST_BYTES = 32;

/** What a database backup's header records. */
export interface DatabaseHeader {
  kind: 'sqlite';
  createdAt: string;
  /** The last migration the database had run: a restore onto older code is refused by it. */
  schema: string;
  payloadBytes: number;
}

interface KeysHeader {
  createdAt: string;
  kdf: { alg: 'argon2id13'; opslimit: number; memlimit: number; salt: string };
  nonce: string;
  payloadBytes: number;
}

/** The files of a key backup: name in the data directory → content. */
export type KeyFiles = Record<string, Buffer>;

/**
 * Argon2id's cost: libsodium's MODERATE operations over 128 MiB. The key backup can be attacked
 * offline by whoever gets a copy, so each guess should cost far more than an interactive login's;
 * the figures travel in the header, so a later release may raise them and still read old files.
 */
const KDF = { opslimit: 3, memlimit: 128 * 1024 * 1024 } as const;

export function encodeDatabaseBackup(
  sqlite: Buffer,
  header: Omit<DatabaseHeader, 'payloadBytes'>,
): Buffer {
  return frame('database', { ...header, payloadBytes: sqlite.length }, sqlite);
}

export function decodeDatabaseBackup(file: Buffer): { header: DatabaseHeader; sqlite: Buffer } {
  const { header, payload } = unframe('database', file);
  const h = header as Partial<DatabaseHeader>;
  if (h.kind !== 'sqlite' || typeof h.schema !== 'string') {
    throw new ParleyError('BACKUP_CORRUPT', {
      message: 'This database backup names a database kind this version cannot restore.',
    });
  }
  return { header: header as unknown as DatabaseHeader, sqlite: payload };
}

/** Seals the key files under `passphrase`. */
export async function sealKeys(files: KeyFiles, passphrase: string): Promise<Buffer> {
  const sodium = await loadSodium();
  const salt = sodium.randombytes_buf(sodium.crypto_pwhash_SALTBYTES);
  const nonce = sodium.randombytes_buf(sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  const plain = Buffer.from(
    JSON.stringify(
      Object.fromEntries(
        Object.entries(files).map(([name, data]) => [name, data.toString('base64')]),
      ),
    ),
  );
  const key = deriveKey(sodium, passphrase, salt, KDF.opslimit, KDF.memlimit);
  const header: KeysHeader = {
    createdAt: new Date().toISOString(),
    kdf: { alg: 'argon2id13', ...KDF, salt: Buffer.from(salt).toString('base64') },
    nonce: Buffer.from(nonce).toString('base64'),
    payloadBytes: plain.length + sodium.crypto_aead_xchacha20poly1305_ietf_ABYTES,
  };
  const headerBytes = Buffer.from(JSON.stringify(header));
  const sealed = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
    plain,
    headerBytes,
    null,
    nonce,
    key,
  );
  sodium.memzero(key);
  return frameBytes('keys', headerBytes, Buffer.from(sealed));
}

/** The key files of a key backup; BACKUP_PASSPHRASE_WRONG if `passphrase` does not open it. */
export async function openKeys(file: Buffer, passphrase: string): Promise<KeyFiles> {
  const { header, headerBytes, payload } = unframe('keys', file);
  const h = header as Partial<KeysHeader>;
  const kdf = h.kdf;
  if (
    kdf?.alg !== 'argon2id13' ||
    !Number.isSafeInteger(kdf.opslimit) ||
    !Number.isSafeInteger(kdf.memlimit) ||
    typeof kdf.salt !== 'string' ||
    typeof h.nonce !== 'string'
  ) {
    throw new ParleyError('BACKUP_CORRUPT', {
      message: 'This key backup names a key derivation this version does not know.',
    });
  }
  const sodium = await loadSodium();
  const key = deriveKey(
    sodium,
    passphrase,
    Buffer.from(kdf.salt, 'base64'),
    kdf.opslimit,
    kdf.memlimit,
  );
  let plain: Uint8Array;
  try {
    plain = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
      null,
      payload,
      headerBytes,
      Buffer.from(h.nonce, 'base64'),
      key,
    );
  } catch {
    // The digest matched, so the file is as written: the key, hence the passphrase, is wrong.
    throw new ParleyError('BACKUP_PASSPHRASE_WRONG');
  } finally {
    sodium.memzero(key);
  }
  const entries = Object.entries(JSON.parse(Buffer.from(plain).toString('utf8')) as object);
  return Object.fromEntries(
    entries.map(([name, data]) => [name, Buffer.from(String(data), 'base64')]),
  );
}

/** Which kind of backup a file is, if it is one (for messages that name the other file). */
export function backupKindOf(file: Buffer): BackupKind | undefined {
  const magic = file.subarray(0, 8).toString('latin1');
  return (Object.keys(MAGIC) as BackupKind[]).find((k) => MAGIC[k] === magic);
}

function deriveKey(
  sodium: Awaited<ReturnType<typeof loadSodium>>,
  passphrase: string,
  salt: Uint8Array,
  opslimit: number,
  memlimit: number,
): Uint8Array {
  return sodium.crypto_pwhash(
    sodium.crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
    passphrase.normalize('NFC'),
    salt,
    opslimit,
    memlimit,
    sodium.crypto_pwhash_ALG_ARGON2ID13,
  );
}

function frame(kind: BackupKind, header: object, payload: Buffer): Buffer {
  return frameBytes(kind, Buffer.from(JSON.stringify(header)), payload);
}

function frameBytes(kind: BackupKind, header: Buffer, payload: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(header.length);
  const body = Buffer.concat([Buffer.from(MAGIC[kind], 'latin1'), length, header, payload]);
  return Buffer.concat([body, createHash('sha256').update(body).digest()]);
}

function unframe(
  kind: BackupKind,
  file: Buffer,
): { header: Record<string, unknown>; headerBytes: Buffer; payload: Buffer } {
  const found = backupKindOf(file);
  if (found !== kind) {
    throw new ParleyError('BACKUP_CORRUPT', {
      message: found
        ? `This is a Parley ${found} backup, not a ${kind} backup; give the files in the right places (--from the database backup, --keys the key backup).`
        : file.length < 8
          ? `This file is too short to be a Parley ${kind} backup (cut off?); use another copy.`
          : `This file is not a Parley ${kind} backup; give the file \`parley admin backup\` wrote.`,
    });
  }
  if (file.length < 12) throw new ParleyError('BACKUP_TRUNCATED');
  const headerLength = file.readUInt32BE(8);
  if (file.length < 12 + headerLength) throw new ParleyError('BACKUP_TRUNCATED');
  const headerBytes = file.subarray(12, 12 + headerLength);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(headerBytes.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new ParleyError('BACKUP_CORRUPT');
  }
  const payloadBytes = header.payloadBytes;
  if (typeof payloadBytes !== 'number' || !Number.isSafeInteger(payloadBytes) || payloadBytes < 0) {
    throw new ParleyError('BACKUP_CORRUPT');
  }
  const end = 12 + headerLength + payloadBytes;
  if (file.length < end + DIGEST_BYTES) throw new ParleyError('BACKUP_TRUNCATED');
  const digest = createHash('sha256').update(file.subarray(0, end)).digest();
  if (file.length > end + DIGEST_BYTES || !digest.equals(file.subarray(end))) {
    throw new ParleyError('BACKUP_CORRUPT');
  }
  return { header, headerBytes, payload: file.subarray(12 + headerLength, end) };
}
