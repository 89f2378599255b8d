/**
 * Key rotation at more than one batch: every account's entry in the new key's table is
 * (k'/k)·element with matching fingerprint and token, accounts created or deleted while the
 * rotation runs are handled, the old key's table is dropped after the switch, the new snapshot
 * holds exactly the discoverable accounts, and an interrupted rotation resumes where it stopped.
 * Each rotation leaves the old key's signed statement naming the new one, which every node
 * sharing the database serves as one chain.
 */

import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  fromBase64Url,
  loadOprf,
  loadRotationSigner,
  MembershipFilter,
  type Oprf,
  RISTRETTO255_GENERATOR,
  type RotationsResponse,
} from '@parley/core';
import { sql } from 'kysely';
import type { RunningServer } from '../server.js';
import { insertAccounts, testServer } from '../testing/index.js';
import { indexDefinition, schemaNames } from '../testing/test-databases.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const G = RISTRETTO255_GENERATOR;

type TestServer = Awaited<ReturnType<typeof testServer>>;

function secrets(dataDir: string): Map<string, Uint8Array> {
  const file = JSON.parse(readFileSync(join(dataDir, 'oprf-keys.json'), 'utf8')) as {
    keys: { id: string; secret: string }[];
  };
  return new Map(file.keys.map((k) => [k.id, new Uint8Array(Buffer.from(k.secret, 'base64'))]));
}

async function addSynthetic(server: RunningServer, oprf: Oprf, count: number, prefix: string) {
  const { directory } = server.services;
  const accounts = Array.from({ length: count }, (_, i) => ({
    id: `${prefix}${String(i).padStart(8, '0')}`,
    ...directory.derive(directory.currentKeyId, oprf.hashToGroup(randomBytes(16))),
    discoverable: i % 3 !== 0,
  }));
  await insertAccounts(server, accounts);
  return accounts;
}

/** Every account's element by id, under the current key. */
async function elements(server: RunningServer): Promise<Map<string, Uint8Array>> {
  const { db, directory } = server.services;
  const rows = await db
    .selectFrom('accounts')
    .innerJoin(directory.entries(), 'account_seq', 'accounts.seq')
    .select(['accounts.id as id', 'element'])
    .execute();
  return new Map(rows.map((r) => [r.id, r.element]));
}

async function tableNames(server: RunningServer): Promise<string[]> {
  return schemaNames(server.services.db);
}

async function stagedRows(server: RunningServer): Promise<number> {
  const { db } = server.services;
  const target = await db
    .selectFrom('meta')
    .select('value')
    .where('name', '=', 'rotation_key_id')
    .executeTakeFirst();
  if (!target) return 0;
  const { rows } = await sql<{ n: number }>`select count(*) as n
    from ${sql.table(`directory_${target.value}`)}`
    .execute(db)
    .catch(() => ({ rows: [{ n: 0 }] }));
  return rows[0]!.n;
}

/**
 * Checks that every account is under `keyId` with the entry derived from its old element, and
 * that the snapshot holds exactly the discoverable ones.
 */
async function assertRekeyed(
  t: TestServer,
  oprf: Oprf,
  oldKeyId: string,
  keyId: string,
  old: Map<string, Uint8Array>,
) {
  const { db, directory } = t.server.services;
  assert.equal(directory.currentKeyId, keyId);
  const keys = secrets(t.config.dataDir);
  const factor = oprf.scalarMul(keys.get(keyId)!, oprf.scalarInvert(keys.get(oldKeyId)!));
  const rows = await db
    .selectFrom('accounts')
    .leftJoin(directory.entries(), 'account_seq', 'accounts.seq')
    .select([
      'accounts.id as id',
      'accounts.discoverable as discoverable',
      'element',
      'fingerprint',
      'token',
    ])
    .execute();
  for (const row of rows) {
    assert.ok(row.element && row.fingerprint && row.token, `${row.id} has an entry`);
    const before = old.get(row.id);
    if (before) assert.equal(hex(row.element), hex(oprf.scalarMult(factor, before)), row.id);
    const entry = directory.derive(keyId, row.element);
    assert.equal(hex(row.fingerprint), hex(entry.fingerprint));
    assert.equal(hex(row.token), hex(entry.token));
  }
  const payload = await directory.payload();
  assert.equal(payload.type, 'snapshot');
  if (payload.type !== 'snapshot') return rows;
  const filter = MembershipFilter.decode(
    await directory.snapshotBytes(payload.keyId, payload.version),
  );
  const discoverable = rows.filter((r) => r.discoverable === 1);
  assert.equal(filter.size, discoverable.length);
  assert.ok(discoverable.every((r) => filter.has(r.fingerprint!)));
  return rows;
}

describe('key rotation over many accounts', () => {
  let t: TestServer;
  let oprf: Oprf;
  const count = 10_000;

  before(async () => {
    oprf = await loadOprf();
    t = await testServer({ PARLEY_OPRF_WORKERS: '2' });
    await addSynthetic(t.server, oprf, count, 'synthetic');
  });
  after(() => t.server.close());

  it('re-keys every account, including those created or deleted during the rotation', async () => {
    const { db, directory } = t.server.services;
    const oldKeyId = directory.currentKeyId;
    const before = await elements(t.server);
    // Hold the write lock so that the rotation's first pass ends before its switch, and change
    // rows in between: an account deleted after its entry was staged (its entries go with it),
    // and one created meanwhile (a larger seq, staged by the second pass).
    let release!: () => void;
    const held = directory.writeLock.run(() => new Promise<void>((r) => (release = r)));
    const rotation = directory.rotate();
    const deadline = Date.now() + 120_000;
    while ((await stagedRows(t.server)) < count) {
      assert.ok(Date.now() < deadline, 'the rotation staged every entry within two minutes');
      await new Promise((r) => setTimeout(r, 10));
    }
    await db.deleteFrom('accounts').where('id', '=', 'synthetic00000007').execute();
    before.delete('synthetic00000007');
    const [straggler] = await addSynthetic(t.server, oprf, 1, 'straggler');
    before.set(straggler!.id, straggler!.element);
    release();
    await held;
    const late = await t.register('+14152223344'); // queued behind the rotation: new key
    const result = await rotation;
    assert.equal(result.previousKeyId, oldKeyId);
    assert.equal(result.accountsRekeyed, count + 1);

    const rows = await assertRekeyed(t, oprf, oldKeyId, result.keyId, before);
    assert.equal(rows.length, count + 1);
    assert.ok(rows.some((r) => r.id === straggler!.id));
    const lateRow = rows.find((r) => r.id === late.accountId)!;
    const expected = oprf.scalarMult(
      secrets(t.config.dataDir).get(result.keyId)!,
      oprf.hashToGroup(new TextEncoder().encode('+14152223344')),
    );
    assert.equal(hex(lateRow.element!), hex(expected));

    // The old key's table is emptied and dropped in the background; the new one is indexed.
    await directory.retired();
    const names = await tableNames(t.server);
    assert.ok(!names.includes(`directory_${oldKeyId}`), 'the old table is gone');
    assert.ok(names.includes(`directory_${result.keyId}_token`));
    const target = await db
      .selectFrom('meta')
      .select('value')
      .where('name', '=', 'rotation_key_id')
      .executeTakeFirst();
    assert.equal(target, undefined, 'no rotation is pending');
    const index = await indexDefinition(db, `directory_${result.keyId}_token`);
    assert.match(index ?? '', /create unique index/i);
    // Registering the same number again finds the account under the new key.
    const again = await t.register('+14152223344');
    assert.equal(again.accountId, late.accountId);
  });
});

describe('an interrupted key rotation', () => {
  it('resumes with the same key and the entries already staged, after a restart', async () => {
    const oprf = await loadOprf();
    const first = await testServer({ PARLEY_OPRF_WORKERS: '2' });
    const dataDir = first.config.dataDir;
    await addSynthetic(first.server, oprf, 40_000, 'synthetic');
    const oldKeyId = first.server.services.directory.currentKeyId;
    const before = await elements(first.server);
    // The third batch fails, as a crash midway would stop it.
    const pool = first.server.services.pool;
    const rekey = pool.rekey.bind(pool);
    let batches = 0;
    pool.rekey = (from, to, packed) => {
      if (++batches === 3) return Promise.reject(new Error('simulated crash'));
      return rekey(from, to, packed);
    };
    await assert.rejects(first.server.services.directory.rotate(), /simulated crash/);
    const staged = await stagedRows(first.server);
    assert.ok(staged > 0 && staged < 40_000, `${staged} staged before the crash`);
    const target = await first.server.services.db
      .selectFrom('meta')
      .select('value')
      .where('name', '=', 'rotation_key_id')
      .executeTakeFirstOrThrow();
    await first.server.close();

    const t = await testServer({ PARLEY_OPRF_WORKERS: '2', PARLEY_DATA_DIR: dataDir });
    try {
      const { directory } = t.server.services;
      assert.equal(directory.currentKeyId, oldKeyId, 'the old key serves until the switch');
      assert.equal(await stagedRows(t.server), staged, 'the start-up kept the staged entries');
      const resumed = t.server.services.pool;
      const rekeyAgain = resumed.rekey.bind(resumed);
      let rekeyed = 0;
      resumed.rekey = (from, to, packed) => {
        rekeyed += packed.length / 32;
        return rekeyAgain(from, to, packed);
      };
      const result = await directory.rotate();
      assert.equal(result.keyId, target.value, 'the same new key');
      assert.equal(result.accountsRekeyed, 40_000);
      assert.equal(rekeyed, 40_000 - staged, 'only the rest was re-keyed');
      await assertRekeyed(t, oprf, oldKeyId, result.keyId, before);
      const [statement, ...more] = await directory.rotations(oldKeyId);
      assert.equal(more.length, 0);
      assert.equal(statement?.newKeyId, result.keyId, 'the resumed switch signed the new key');
      assert.ok((await loadRotationSigner(oprf)).verify(statement!, statement!.signature));
      await directory.retired();
      assert.ok(!(await tableNames(t.server)).includes(`directory_${oldKeyId}`));
    } finally {
      await t.server.close();
    }
  });
});

describe('rotation statements', () => {
  it('each rotation is signed by the old key; every node on the database serves the chain', async () => {
    const oprf = await loadOprf();
    const signer = await loadRotationSigner(oprf);
    const a = await testServer();
    // A second node on the same database and key file, started before the rotations.
    const b = await testServer({ PARLEY_DATA_DIR: a.config.dataDir });
    try {
      const user = await a.register('+14155550190');
      const first = a.server.services.directory.currentKeyId;
      const one = await a.server.services.directory.rotate();
      const two = await a.server.services.directory.rotate();
      const keys = secrets(a.config.dataDir);
      const chain = async (query: string) => {
        const r = await b.call('GET', `/v1/directory/rotations${query}`, {
          token: user.credential,
        });
        assert.equal(r.status, 200);
        return (r.json as unknown as RotationsResponse).rotations;
      };
      const all = await chain('');
      assert.deepEqual(
        all.map((r) => [r.oldKeyId, r.newKeyId]),
        [
          [first, one.keyId],
          [one.keyId, two.keyId],
        ],
      );
      for (const r of all) {
        const statement = {
          ...r,
          oldPublicKey: fromBase64Url(r.oldPublicKey)!,
          newPublicKey: fromBase64Url(r.newPublicKey)!,
        };
        assert.ok(signer.verify(statement, fromBase64Url(r.signature)!), r.newKeyId);
        // The public keys are those of the key file's secrets.
        assert.deepEqual(statement.newPublicKey, oprf.scalarMult(keys.get(r.newKeyId)!, G));
      }
      assert.deepEqual(await chain(`?from=${one.keyId}`), all.slice(1));
      assert.deepEqual(await chain(`?from=${two.keyId}`), [], 'nothing after the current key');
      const unauthenticated = await b.call('GET', '/v1/directory/rotations');
      assert.equal(unauthenticated.status, 401);
    } finally {
      await b.server.close();
      await a.server.close();
    }
  });
});
