/**
 * The two backup files `parley admin backup` writes, and reading them back with a typed error for
 * each way one can be wrong (errors.ts: BACKUP_CORRUPT, BACKUP_TRUNCATED, BACKUP_PASSPHRASE_WRONG).
 *
 * Both have one layout: an 8-byte magic naming the kind, a 4-byte big-endian header length, the
 * header (JSON), the payload (as long as the header says), and a SHA-256 of everything before it.
 * The digest tells a damaged file from a wrong passphrase: an intact key backup that does not open
 * was sealed under another passphrase.
 *
 * - database (`PRLYDB01`): the SQLite file SQLite's online backup API made, in clear, written and
 *   read in chunks (a database of any size).
 * - keys (`PRLYKY01`): the secret files, sealed under a key derived from a passphrase with
 *   Argon2id (crypto_pwhash, libsodium) and encrypted with XChaCha20-Poly1305 (libsodium's AEAD,
 *   the header as associated data, so its parameters cannot be changed unnoticed).
 */

import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  fstatSync,
  fsyncSync,
  openSync,
  readSync,
  statSync,
  writeSync,
} from 'node:fs';
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

/**
 * Writes the database backup at `path` from the SQLite file `sqliteFile`, in chunks (a database of
 * any size, never whole in memory), synced to disk.
 */
export function writeDatabaseBackup(
  path: string,
  sqliteFile: string,
  header: Omit<DatabaseHeader, 'payloadBytes'>,
): void {
  const size = statSync(sqliteFile).size;
  const headerBytes = Buffer.from(JSON.stringify({ ...header, payloadBytes: size }));
  const hash = createHash('sha256');
  const fd = openSync(path, 'w', 0o600);
  try {
    const put = (bytes: Buffer) => {
      hash.update(bytes);
      writeAll(fd, bytes);
    };
    put(lead('database', headerBytes));
    const source = openSync(sqliteFile, 'r');
    try {
      for (const chunk of chunks(source, 0, size)) put(chunk);
    } finally {
      closeSync(source);
    }
    writeAll(fd, hash.digest());
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(path, 0o600);
}

/**
 * Checks the database backup at `path` whole (kind, length, digest) and copies the SQLite file it
 * holds to `sqliteFile` (0600, synced); its header.
 */
export function extractDatabaseBackup(path: string, sqliteFile: string): DatabaseHeader {
  const fd = openSync(path, 'r');
  try {
    const { header, payloadStart, payloadEnd } = unframe('database', fileSource(fd));
    const h = header as Partial<DatabaseHeader>;
    if (h.kind !== 'sqlite' || typeof h.schema !== 'string') {
      throw new ParleyError('BACKUP_CORRUPT', {
        message: 'This database backup names a database kind this version cannot restore.',
      });
    }
    const out = openSync(sqliteFile, 'w', 0o600);
    try {
      for (const chunk of chunks(fd, payloadStart, payloadEnd)) writeAll(out, chunk);
      fsyncSync(out);
    } finally {
      closeSync(out);
    }
    chmodSync(sqliteFile, 0o600);
    return header as unknown as DatabaseHeader;
  } finally {
    closeSync(fd);
  }
}

/**
 * Seals the key files under `passphrase`. `cost` is Argon2id's (libsodium opslimit and memlimit in
 * bytes); tests that re-derive the key with another implementation give a small one.
 */
export async function sealKeys(
  files: KeyFiles,
  passphrase: string,
  cost: { opslimit: number; memlimit: number } = KDF,
): Promise<Buffer> {
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
  const key = deriveKey(sodium, passphrase, salt, cost.opslimit, cost.memlimit);
  const header: KeysHeader = {
    createdAt: new Date().toISOString(),
    kdf: {
      alg: 'argon2id13',
      opslimit: cost.opslimit,
      memlimit: cost.memlimit,
      salt: Buffer.from(salt).toString('base64'),
    },
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
  const { header, headerBytes, payloadStart, payloadEnd } = unframe('keys', bufferSource(file));
  const payload = file.subarray(payloadStart, payloadEnd);
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

/** Magic, header length and header: what comes before the payload. */
function lead(kind: BackupKind, header: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(header.length);
  return Buffer.concat([Buffer.from(MAGIC[kind], 'latin1'), length, header]);
}

function frameBytes(kind: BackupKind, header: Buffer, payload: Buffer): Buffer {
  const body = Buffer.concat([lead(kind, header), payload]);
  return Buffer.concat([body, createHash('sha256').update(body).digest()]);
}

/** A backup file to read: in memory, or an open file read in chunks. */
interface Source {
  size: number;
  read(position: number, length: number): Buffer;
  /** The bytes from `start` to `end`, in chunks. */
  chunks(start: number, end: number): Iterable<Buffer>;
}

function bufferSource(file: Buffer): Source {
  return {
    size: file.length,
    read: (position, length) => file.subarray(position, position + length),
    chunks: (start, end) => [file.subarray(start, end)],
  };
}

function fileSource(fd: number): Source {
  return {
    size: fstatSync(fd).size,
    read(position, length) {
      const buffer = Buffer.alloc(length);
      return buffer.subarray(0, readSync(fd, buffer, 0, length, position));
    },
    chunks: (start, end) => chunks(fd, start, end),
  };
}

const CHUNK = 1 << 20;

function* chunks(fd: number, start: number, end: number): Generator<Buffer> {
  const buffer = Buffer.alloc(CHUNK);
  for (let position = start; position < end; ) {
    const read = readSync(fd, buffer, 0, Math.min(CHUNK, end - position), position);
    if (read === 0) throw new ParleyError('BACKUP_TRUNCATED');
    yield buffer.subarray(0, read);
    position += read;
  }
}

function writeAll(fd: number, bytes: Buffer): void {
  for (let offset = 0; offset < bytes.length; ) offset += writeSync(fd, bytes, offset);
}

/** Checks kind, length and digest; where the header and payload are. */
function unframe(
  kind: BackupKind,
  file: Source,
): {
  header: Record<string, unknown>;
  headerBytes: Buffer;
  payloadStart: number;
  payloadEnd: number;
} {
  const start = file.read(0, 12);
  const found = backupKindOf(start);
  if (found !== kind) {
    throw new ParleyError('BACKUP_CORRUPT', {
      message: found
        ? `This is a Parley ${found} backup, not a ${kind} backup; give the files in the right places (--from the database backup, --keys the key backup).`
        : start.length < 8
          ? `This file is too short to be a Parley ${kind} backup (cut off?); use another copy.`
          : `This file is not a Parley ${kind} backup; give the file \`parley admin backup\` wrote.`,
    });
  }
  if (start.length < 12) throw new ParleyError('BACKUP_TRUNCATED');
  const headerLength = start.readUInt32BE(8);
  if (file.size < 12 + headerLength) throw new ParleyError('BACKUP_TRUNCATED');
  const headerBytes = file.read(12, headerLength);
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
  if (file.size < end + DIGEST_BYTES) throw new ParleyError('BACKUP_TRUNCATED');
  if (file.size > end + DIGEST_BYTES) throw new ParleyError('BACKUP_CORRUPT');
  const hash = createHash('sha256');
  for (const chunk of file.chunks(0, end)) hash.update(chunk);
  if (!hash.digest().equals(file.read(end, DIGEST_BYTES))) throw new ParleyError('BACKUP_CORRUPT');
  return { header, headerBytes, payloadStart: 12 + headerLength, payloadEnd: end };
}
