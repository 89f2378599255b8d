/**
 * Backup files and restore (backup-file.ts, backup.ts): the key backup opens with its passphrase
 * only; a damaged, cut-off or misplaced file is refused with its own typed error before anything
 * is written; a restore refuses a directory a server has open, and a non-empty one without force;
 * a restored directory holds the database and every key file, owner-only.
 */

import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { argon2id } from '@noble/hashes/argon2.js';
import { ParleyError } from '@parley/core';
import { loadSodium } from '@parley/core/server';
import { MIGRATION_NAMES, testServer } from '../../testing/index.js';
import { SECRET_FILES, sqlitePath } from '../data-dir.js';
import { backupSqlite, collectKeys, databaseInUse, restore } from './backup.js';
import { backupKindOf, openKeys, sealKeys, writeDatabaseBackup } from './backup-file.js';

const PASSPHRASE = 'correct horse battery staple';

const code = (c: string) => (e: unknown) => e instanceof ParleyError && e.code === c;

describe('key backup', () => {
  it('opens with its passphrase only, and tells damage from a wrong passphrase', async () => {
    const files = { 'link-key': Buffer.from('link\n'), 'admin-token': Buffer.from('t0ken\n') };
    const sealed = await sealKeys(files, PASSPHRASE);
    assert.equal(backupKindOf(sealed), 'keys');
    assert.ok(!sealed.includes(Buffer.from('t0ken')), 'the content is encrypted');
    assert.deepEqual(await openKeys(sealed, PASSPHRASE), files);
    await assert.rejects(openKeys(sealed, `${PASSPHRASE}!`), code('BACKUP_PASSPHRASE_WRONG'));
    const damaged = Buffer.from(sealed);
    damaged[damaged.length - 40]! ^= 1;
    await assert.rejects(openKeys(damaged, PASSPHRASE), code('BACKUP_CORRUPT'));
    for (const length of [0, 5, 11, 20, sealed.length - 33, sealed.length - 1]) {
      await assert.rejects(
        openKeys(sealed.subarray(0, length), PASSPHRASE),
        length < 8 ? code('BACKUP_CORRUPT') : code('BACKUP_TRUNCATED'),
        `cut at ${length}`,
      );
    }
    await assert.rejects(
      openKeys(Buffer.concat([sealed, Buffer.from('x')]), PASSPHRASE),
      code('BACKUP_CORRUPT'),
    );
  });
});

describe('key backup format', () => {
  it('XChaCha20-Poly1305 as libsodium runs it matches draft-irtf-cfrg-xchacha-03 A.3.1', async () => {
    const v = JSON.parse(
      readFileSync(
        new URL('../../../src/infra/backup/test-vectors/xchacha20poly1305.json', import.meta.url),
        'utf8',
      ),
    ) as Record<string, string>;
    const hex = (name: string) => Buffer.from(v[name]!, 'hex');
    const sodium = await loadSodium();
    const sealed = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
      hex('plaintext'),
      hex('aad'),
      null,
      hex('iv'),
      hex('key'),
    );
    assert.equal(Buffer.from(sealed).toString('hex'), v.ciphertext! + v.tag!);
  });

  it('is opened by an independent implementation (noble Argon2id and XChaCha20-Poly1305)', async () => {
    const files = {
      'oprf-keys.json': Buffer.from('{"keys":[]}\n'),
      'link-key': Buffer.from('k\n'),
    };
    const sealed = await sealKeys(files, PASSPHRASE, { opslimit: 2, memlimit: 4 * 1024 * 1024 });
    // The layout as backup-file.ts documents it, read here without its code.
    assert.equal(sealed.subarray(0, 8).toString('latin1'), 'PRLYKY01');
    const headerLength = sealed.readUInt32BE(8);
    const headerBytes = sealed.subarray(12, 12 + headerLength);
    const header = JSON.parse(headerBytes.toString()) as {
      kdf: { alg: string; opslimit: number; memlimit: number; salt: string };
      nonce: string;
      payloadBytes: number;
    };
    const end = 12 + headerLength + header.payloadBytes;
    assert.equal(sealed.length, end + 32);
    assert.deepEqual(
      sealed.subarray(end),
      createHash('sha256').update(sealed.subarray(0, end)).digest(),
    );
    assert.equal(header.kdf.alg, 'argon2id13');
    // libsodium's crypto_pwhash: Argon2id v1.3, one lane, memlimit in bytes (noble: KiB).
    const key = argon2id(PASSPHRASE, Buffer.from(header.kdf.salt, 'base64'), {
      t: header.kdf.opslimit,
      m: header.kdf.memlimit / 1024,
      p: 1,
      dkLen: 32,
    });
    const plain = xchacha20poly1305(key, Buffer.from(header.nonce, 'base64'), headerBytes).decrypt(
      sealed.subarray(12 + headerLength, end),
    );
    const opened = JSON.parse(Buffer.from(plain).toString()) as Record<string, string>;
    assert.deepEqual(
      Object.fromEntries(Object.entries(opened).map(([n, b64]) => [n, Buffer.from(b64, 'base64')])),
      files,
    );
  });
});

describe('database backup and restore', () => {
  it('copies a running server’s database and keys, and restores them into a new directory', async () => {
    const t = await testServer();
    let restoredDir: string;
    try {
      const alice = await t.register('+14155550111');
      const out = mkdtempSync(join(tmpdir(), 'parley-backups-'));
      const databaseFile = join(out, 'db.backup');
      const header = await backupSqlite(t.config.dataDir, databaseFile);
      assert.equal(header.schema, MIGRATION_NAMES.sqlite.at(-1));
      assert.deepEqual(readdirSync(out), ['db.backup'], 'nothing staged is left beside it');
      assert.equal(statSync(databaseFile).mode & 0o777, 0o600);
      const bytes = readFileSync(databaseFile);
      assert.equal(backupKindOf(bytes), 'database');
      const { files, missing } = collectKeys(t.config);
      assert.deepEqual(
        Object.keys(files).sort(),
        SECRET_FILES.map((f) => f.name)
          .filter((n) => !missing.includes(n))
          .sort(),
      );
      for (const name of ['oprf-keys.json', 'link-key', 'directory-signing-key', 'admin-token']) {
        assert.ok(files[name], `${name} is packed`);
      }
      const sealed = await sealKeys(files, PASSPHRASE);
      const keysFile = join(out, 'keys.backup');
      writeFileSync(keysFile, sealed);
      const keys = await openKeys(sealed, PASSPHRASE);

      // The running server's own directory is refused, even with force.
      assert.ok(databaseInUse(t.config.dataDir));
      assert.throws(
        () => restore({ dataDir: t.config.dataDir, database: databaseFile, keys, force: true }),
        code('RESTORE_TARGET_IN_USE'),
      );
      const busy = mkdtempSync(join(tmpdir(), 'parley-restore-'));
      writeFileSync(join(busy, 'notes.txt'), 'mine');
      assert.throws(
        () => restore({ dataDir: busy, database: databaseFile, keys, force: false }),
        code('RESTORE_TARGET_NOT_EMPTY'),
      );
      // A damaged database backup is refused before anything is written.
      const damaged = join(out, 'damaged.backup');
      const flipped = Buffer.from(bytes);
      flipped[flipped.length - 100]! ^= 0xff;
      writeFileSync(damaged, flipped);
      const cut = join(out, 'cut.backup');
      writeFileSync(cut, bytes.subarray(0, 4096));
      restoredDir = join(mkdtempSync(join(tmpdir(), 'parley-restore-')), 'data');
      assert.throws(
        () => restore({ dataDir: restoredDir, database: damaged, keys, force: false }),
        code('BACKUP_CORRUPT'),
      );
      assert.throws(
        () => restore({ dataDir: restoredDir, database: keysFile, keys, force: false }),
        (e: unknown) => code('BACKUP_CORRUPT')(e) && /a Parley keys backup/.test(String(e)),
      );
      assert.throws(
        () =>
          restore({
            dataDir: restoredDir,
            database: cut,
            keys,
            force: false,
          }),
        code('BACKUP_TRUNCATED'),
      );
      // A backup a newer release made (a schema this one does not know) is refused.
      const copy = join(out, 'copy.sqlite');
      writeFileSync(copy, bytes.subarray(12 + bytes.readUInt32BE(8), bytes.length - 32));
      const future = join(out, 'future.backup');
      writeDatabaseBackup(future, copy, {
        kind: 'sqlite',
        createdAt: 'later',
        schema: '9999-future',
      });
      assert.throws(
        () => restore({ dataDir: restoredDir, database: future, keys, force: false }),
        (e: unknown) =>
          code('BACKUP_FROM_NEWER_RELEASE')(e) && /schema 9999-future/.test(String(e)),
      );
      assert.deepEqual(readdirSync(dirname(restoredDir)), [], 'a refused restore writes nothing');

      const result = restore({ dataDir: restoredDir, database: databaseFile, keys, force: false });
      assert.deepEqual(result.files.sort(), ['parley.sqlite', ...Object.keys(files)].sort());
      assert.equal(statSync(restoredDir).mode & 0o777, 0o700);
      for (const file of readdirSync(restoredDir)) {
        assert.equal(statSync(join(restoredDir, file)).mode & 0o777, 0o600, file);
      }
      for (const [name, data] of Object.entries(files)) {
        assert.deepEqual(readFileSync(join(restoredDir, name)), data, name);
      }
      assert.ok(readFileSync(sqlitePath(restoredDir)).length > 0);

      // Restored with --force over a stopped directory: the old database is replaced.
      assert.ok(
        restore({ dataDir: busy, database: databaseFile, keys, force: true }).files.length > 1,
      );

      // A server on the restored directory knows Alice's device.
      const restored = await testServer({ PARLEY_DATA_DIR: restoredDir });
      try {
        const me = await restored.call('GET', '/v1/account', { token: alice.credential });
        assert.equal(me.status, 200, JSON.stringify(me.json));
        assert.equal(me.json.accountId, alice.accountId);
      } finally {
        await restored.server.close();
      }
    } finally {
      await t.server.close();
    }
  });
});
