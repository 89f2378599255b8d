/**
 * Key rotation at more than one batch: every account is re-keyed to (k'/k)·element with matching
 * fingerprint and token, accounts created while the rotation runs are re-keyed too, and the new
 * snapshot holds exactly the discoverable accounts.
 */

import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadOprf, MembershipFilter, type Oprf } from '@parley/core';
import { sql } from 'kysely';
import { testServer } from './testing.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('key rotation over many accounts', () => {
  let t: Awaited<ReturnType<typeof testServer>>;
  let oprf: Oprf;
  const count = 10_000;

  before(async () => {
    oprf = await loadOprf();
    t = await testServer({ PARLEY_OPRF_WORKERS: '2' });
    const { db, directory } = t.server.services;
    const keyId = directory.currentKeyId;
    const rows = Array.from({ length: count }, (_, i) => {
      const entry = directory.derive(keyId, oprf.hashToGroup(randomBytes(16)));
      return {
        id: `synthetic${String(i).padStart(8, '0')}`,
        element: entry.element,
        key_id: keyId,
        fingerprint: entry.fingerprint,
        token: entry.token,
        discoverable: i % 3 === 0 ? 0 : 1,
        created_at: new Date().toISOString(),
        budget_level: 0,
        budget_at: 0,
      };
    });
    for (let i = 0; i < rows.length; i += 1000) {
      await db
        .insertInto('accounts')
        .values(rows.slice(i, i + 1000))
        .execute();
    }
  });
  after(() => t.server.close());

  it('re-keys every account, including one registered during the rotation', async () => {
    const { db, directory } = t.server.services;
    const oldKeyId = directory.currentKeyId;
    const secrets = () =>
      new Map(
        (
          JSON.parse(readFileSync(join(t.config.dataDir, 'oprf-keys.json'), 'utf8')) as {
            keys: { id: string; secret: string }[];
          }
        ).keys.map((k) => [k.id, new Uint8Array(Buffer.from(k.secret, 'base64'))]),
      );
    const before = new Map(
      (await db.selectFrom('accounts').select(['id', 'element']).execute()).map((r) => [
        r.id,
        r.element,
      ]),
    );
    // Hold the write lock so that the rotation's first pass ends before its switch, and change
    // rows in between: an account created meanwhile (a larger row id, staged by the second pass)
    // and a row id reused by another account after a deletion (staged for the wrong account: the
    // switch must see that and re-key the new one on its own).
    let release!: () => void;
    const held = directory.writeLock.run(() => new Promise<void>((r) => (release = r)));
    const rotation = directory.rotate();
    for (;;) {
      const staged = await sql<{ n: number }>`select count(*) as n from rotation_stage`
        .execute(db)
        .catch(() => ({ rows: [{ n: 0 }] }));
      if (staged.rows[0]!.n === count) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const newRow = (id: string, rowid?: number) => {
      const entry = directory.derive(oldKeyId, oprf.hashToGroup(randomBytes(16)));
      before.set(id, entry.element);
      return sql`insert into accounts (rowid, id, element, key_id, fingerprint, token,
          discoverable, created_at, budget_level, budget_at)
        values (${rowid ?? null}, ${id}, ${entry.element}, ${oldKeyId}, ${entry.fingerprint},
          ${entry.token}, 1, ${new Date().toISOString()}, 0, 0)`.execute(db);
    };
    const { rows: victim } = await sql<{
      rowid: number;
    }>`select rowid from accounts where id = 'synthetic00000007'`.execute(db);
    await db.deleteFrom('accounts').where('id', '=', 'synthetic00000007').execute();
    before.delete('synthetic00000007');
    await newRow('reused', victim[0]!.rowid);
    await newRow('straggler');
    release();
    await held;
    const late = await t.register('+14152223344'); // queued behind the rotation: new key
    const result = await rotation;
    assert.equal(result.previousKeyId, oldKeyId);
    assert.equal(result.accountsRekeyed, count + 1);

    const keys = secrets();
    const factor = oprf.scalarMul(keys.get(result.keyId)!, oprf.scalarInvert(keys.get(oldKeyId)!));
    const after = await db.selectFrom('accounts').selectAll().execute();
    assert.equal(after.length, count + 2);
    assert.ok(after.some((r) => r.id === 'reused') && after.some((r) => r.id === 'straggler'));
    for (const row of after) {
      assert.equal(row.key_id, result.keyId);
      const old = before.get(row.id);
      if (old) assert.equal(hex(row.element), hex(oprf.scalarMult(factor, old)));
      const entry = directory.derive(result.keyId, row.element);
      assert.equal(hex(row.fingerprint), hex(entry.fingerprint));
      assert.equal(hex(row.token), hex(entry.token));
    }
    const lateRow = after.find((r) => r.id === late.accountId)!;
    const expected = oprf.scalarMult(
      keys.get(result.keyId)!,
      oprf.hashToGroup(new TextEncoder().encode('+14152223344')),
    );
    assert.equal(hex(lateRow.element), hex(expected));

    const payload = await directory.payload();
    assert.equal(payload.type, 'snapshot');
    if (payload.type !== 'snapshot') return;
    const filter = MembershipFilter.decode(
      await directory.snapshotBytes(payload.keyId, payload.version),
    );
    const discoverable = after.filter((r) => r.discoverable === 1);
    assert.equal(filter.size, discoverable.length);

    // The switch rebuilt the unique indexes it dropped, and the stage is gone.
    const schema = await sql<{ name: string }>`select name from sqlite_master`.execute(db);
    const names = schema.rows.map((r) => r.name);
    assert.ok(names.includes('accounts_element') && names.includes('accounts_token'));
    assert.ok(!names.includes('rotation_stage'));
    await assert.rejects(
      db
        .insertInto('accounts')
        .values({ ...after[0]!, id: 'duplicate' })
        .execute(),
      /UNIQUE/,
      'element and token are unique again',
    );
    assert.ok(discoverable.every((r) => filter.has(r.fingerprint)));
  });
});
