/**
 * Deleting an account: every effect (the credential refused, sockets closed, the other members
 * told, the filter delta) and the promise itself — afterwards no table holds the account id, a
 * device id, a credential hash, the directory element, fingerprint or lookup token. Immediately,
 * the only rows left naming it are the entries other members still have to receive and the
 * directory's removal; once those are acknowledged and forgotten, nothing at all.
 */

import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { CLOSE_CODES, loadOprf, MembershipFilter, toBase64Url } from '@parley/core';
import { sql } from 'kysely';
import type { Directory } from '../directory/directory.js';
import type { Db } from '../infra/db/database.js';
import { deviceSocket, testServer } from '../testing/index.js';
import { tableNames } from '../testing/test-databases.js';

type Registered = { accountId: string; deviceId: string; credential: string };
type Server = Awaited<ReturnType<typeof testServer>>;

/** What identifies an account in the database: ids as text, the rest as bytes. */
interface Needles {
  texts: string[];
  blobs: Uint8Array[];
}

/** Every table, every row, every column: where any needle occurs, as `table.column`. */
export async function traces(db: Db, needles: Needles): Promise<string[]> {
  const hexes = needles.blobs.map((b) => Buffer.from(b).toString('hex'));
  const found: string[] = [];
  for (const name of await tableNames(db)) {
    const rows = await sql<Record<string, unknown>>`select * from ${sql.table(name)}`.execute(db);
    for (const row of rows.rows) {
      for (const [column, value] of Object.entries(row)) {
        const text =
          typeof value === 'string'
            ? value
            : value instanceof Uint8Array
              ? Buffer.from(value).toString('latin1')
              : '';
        const hex = value instanceof Uint8Array ? Buffer.from(value).toString('hex') : '';
        if (
          needles.texts.some((t) => text.includes(t)) ||
          hexes.some((h) => hex.includes(h) || text.toLowerCase().includes(h))
        ) {
          found.push(`${name}.${column}`);
        }
      }
    }
  }
  return found;
}

/** The account's ids and secrets as the database holds them, read before it is deleted. */
async function needlesOf(
  db: Db,
  entries: ReturnType<Directory['entries']>,
  devices: Registered[],
): Promise<Needles> {
  const account = await db
    .selectFrom('accounts')
    .innerJoin(entries, 'account_seq', 'accounts.seq')
    .select(['element', 'fingerprint', 'token'])
    .where('accounts.id', '=', devices[0]!.accountId)
    .executeTakeFirstOrThrow();
  const hashes = devices.map((d) =>
    createHash('sha256').update(d.credential.split('.')[1]!).digest(),
  );
  return {
    texts: [devices[0]!.accountId, ...devices.map((d) => d.deviceId)],
    blobs: [account.element, account.fingerprint, account.token, ...hashes],
  };
}

/** A device's WebSocket, authenticated (testing/index.ts). */
const connect = (t: Server, credential: string) => deviceSocket(t.server.url, credential);

async function heldFilter(t: Server) {
  const { directory } = t.server.services;
  const payload = await directory.payload();
  if (payload.type !== 'snapshot') throw new Error('expected a snapshot');
  const data = await directory.snapshotBytes(payload.keyId, payload.version);
  return { payload, filter: MembershipFilter.decode(data) };
}

describe('DELETE /v1/account', () => {
  let t: Server;
  before(async () => {
    t = await testServer();
  });
  after(async () => t.server.close());

  it('leaves no trace of the account once others have what they need', async () => {
    const { db, directory, groups, mailbox, keyPackages } = t.server.services;
    // The account, on two devices, discoverable and visible to contacts.
    const a = await t.register('+14155550301', true, 'contacts');
    const a2 = await t.link(a, 'second');
    const b = await t.register('+14155550302', true, 'contacts');
    const c = await t.register('+14155550303', true, 'contacts');
    assert.equal(a2.accountId, a.accountId);

    // Everything the account can leave behind: KeyPackages, a group with others, messages in
    // both directions (its queues, its sent ids), a discovery budget and key usage, contact links
    // both ways, directory log entries.
    await keyPackages.upload(a, {
      keyPackages: [{ id: 'kp-a-0001', keyPackage: await (await t.certify(a)).keyPackage() }],
    });
    const groupId = 'D'.repeat(22);
    await groups.commit(a, groupId, {
      epoch: 0,
      commit: 'AAAA',
      welcome: 'AAAA',
      add: [a2, b, c].map((d, i) => ({ deviceId: d.deviceId, keyPackageId: `kp-${i}` })),
      remove: [],
    });
    await mailbox.store(a, { t: 'send', id: 'A'.repeat(22), groupId, epoch: 1, payload: 'AQID' });
    await mailbox.store(b, { t: 'send', id: 'B'.repeat(22), groupId, epoch: 1, payload: 'BAUG' });
    const loneGroup = 'L'.repeat(22);
    await groups.commit(a, loneGroup, { epoch: 0, commit: 'AAAA', add: [], remove: [] });

    const oprf = await loadOprf();
    const keyId = directory.currentKeyId;
    const { blindedElement } = oprf.blind(new TextEncoder().encode('+14155550399'));
    const evaluated = await t.call('POST', '/v1/discovery/evaluate', {
      token: a.credential,
      body: { keyId, blindedElements: [toBase64Url(blindedElement)] },
    });
    assert.equal(evaluated.status, 200);
    const tokenOf = async (r: Registered) =>
      toBase64Url(
        (
          await db
            .selectFrom('accounts')
            .innerJoin(directory.entries(), 'account_seq', 'accounts.seq')
            .select('token')
            .where('accounts.id', '=', r.accountId)
            .executeTakeFirstOrThrow()
        ).token,
      );
    for (const [viewer, subject] of [
      [a, b],
      [b, a],
      [c, b],
    ] as const) {
      const resolved = await t.call('POST', '/v1/discovery/resolve', {
        token: viewer.credential,
        body: { keyId, tokens: [await tokenOf(subject)] },
      });
      assert.equal(resolved.status, 200);
    }
    await t.call('PATCH', '/v1/account', { token: a.credential, body: { discoverable: false } });
    await t.call('PATCH', '/v1/account', { token: a.credential, body: { discoverable: true } });

    const needles = await needlesOf(db, directory.entries(), [a, a2]);
    const before = await traces(db, needles);
    for (const table of [
      'accounts',
      'devices',
      'key_packages',
      'group_members',
      'queue',
      'sent_messages',
      'key_usage',
      'directory_log',
    ]) {
      assert.ok(
        before.some((f) => f.startsWith(`${table}.`)),
        `the scan sees the account in ${table}`,
      );
    }
    const links = async () =>
      Number(
        (
          await db
            .selectFrom('contact_links')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    assert.equal(await links(), 3);
    // Presence goes by allow-lists: A lets B see it, B lets A, C lets B.
    for (const [owner, member] of [
      [a, b],
      [b, a],
      [c, b],
    ] as const) {
      const changed = await t.call('POST', '/v1/presence/allow-list', {
        token: owner.credential,
        body: { add: [member.accountId] },
      });
      assert.equal(changed.status, 200);
    }
    const allowed = async () =>
      (await db.selectFrom('presence_allow').select('owner_id').execute()).map((r) => r.owner_id);
    assert.equal((await allowed()).length, 3);

    const held = await heldFilter(t);
    const fingerprint = needles.blobs[1]!;
    assert.equal(held.filter.has(fingerprint), true);
    const socketA = await connect(t, a.credential);
    const socketB = await connect(t, b.credential);
    await socketA.waitFor((f) => f.t === 'ready');
    await socketB.waitFor((f) => f.t === 'ready');
    socketB.ws.send(JSON.stringify({ t: 'presence', accountIds: [a.accountId] }));
    await socketB.waitFor((f) => f.t === 'presence' && f.online);

    const deleted = await fetch(new URL('/v1/account', t.server.url), {
      method: 'DELETE',
      headers: { authorization: `Bearer ${a.credential}` },
    });
    assert.equal(deleted.status, 204);
    assert.equal(await deleted.text(), '');
    const second = await fetch(new URL('/v1/account', t.server.url), {
      method: 'DELETE',
      headers: { authorization: `Bearer ${a2.credential}` },
    });
    assert.equal(second.status, 401, 'the first call deleted every device of the account');

    // Its sockets are closed, and its credentials refused everywhere.
    assert.equal(await socketA.closed, CLOSE_CODES.accountDeleted);
    for (const d of [a, a2]) {
      const r = await t.call('GET', '/v1/account', { token: d.credential });
      assert.equal(r.status, 401);
      assert.equal(r.json.code, 'UNAUTHENTICATED');
    }
    const again = await connect(t, a.credential);
    assert.equal(await again.closed, CLOSE_CODES.authFailed);

    // The other members learn that it left, from it; its watchers see it go offline.
    const leave = await socketB.waitFor((f) => f.t === 'deliver' && f.kind === 'leave');
    assert.ok(leave.t === 'deliver' && leave.groupId === groupId);
    assert.equal(leave.t === 'deliver' && leave.from.accountId, a.accountId);
    await socketB.waitFor((f) => f.t === 'presence' && f.accountId === a.accountId && !f.online);
    const group = await groups.get(b, groupId);
    assert.deepEqual(group.members.map((m) => m.deviceId).sort(), [b.deviceId, c.deviceId].sort());
    await assert.rejects(groups.get(b, loneGroup), { code: 'GROUP_NOT_FOUND' });

    // A client holding the filter removes it with a delta.
    const delta = await directory.payload(keyId, held.payload.version, held.payload.range);
    assert.equal(delta.type, 'delta');
    if (delta.type !== 'delta') return;
    const client = held.filter;
    client.removeByPrefix(MembershipFilter.decode(delta.removed));
    client.removeByPrefix(MembershipFilter.decode(delta.removedFull));
    assert.equal(client.has(fingerprint), false);
    assert.equal((await heldFilter(t)).filter.has(fingerprint), false, 'nor is a snapshot');

    // Links with it are gone (cleared after the deleting transaction), the one between others is not.
    await t.server.services.links.idle();
    assert.equal(await links(), 1);
    // Its own allow-list went with its row; its place on B's with the links.
    assert.deepEqual(await allowed(), [c.accountId]);

    // Now: only what others still have to receive, and the directory's removal.
    const now = await traces(db, needles);
    assert.deepEqual([...new Set(now)].sort(), [
      'directory_log.fingerprint',
      'queue.sender_account',
      'queue.sender_device',
    ]);
    const queuedFromIt = await db
      .selectFrom('queue')
      .select(['device_id', 'seq'])
      .where('sender_account', '=', a.accountId)
      .execute();
    assert.deepEqual(
      [...new Set(queuedFromIt.map((q) => q.device_id))].sort(),
      [b.deviceId, c.deviceId].sort(),
    );
    for (const d of [b, c]) {
      await mailbox.ack(
        d,
        queuedFromIt.filter((q) => q.device_id === d.deviceId).map((q) => q.seq),
      );
    }
    assert.equal(await directory.forgetTombstones(Date.now() + t.config.deletionTombstoneMs), 1);
    assert.deepEqual(await traces(db, needles), []);
    // The removal is forgotten: a client that synced before it gets a snapshot without it.
    const late = await directory.payload(keyId, held.payload.version, held.payload.range);
    assert.equal(late.type, 'snapshot');
    socketB.ws.close();
  });
});

describe('DELETE /v1/account racing other requests', () => {
  let t: Server;
  before(async () => {
    t = await testServer();
  });
  after(async () => t.server.close());

  const remove = (r: Registered) =>
    fetch(new URL('/v1/account', t.server.url), {
      method: 'DELETE',
      headers: { authorization: `Bearer ${r.credential}` },
    });

  it('closes a socket that authenticated just before the deletion and attached after it', async () => {
    const { keyPackages } = t.server.services;
    const x = await t.register('+14155550321');
    const stock = keyPackages.stock;
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let entered = () => {};
    const inside = new Promise<void>((resolve) => {
      entered = resolve;
    });
    // The socket's authentication pauses after the credential check, until the account is gone.
    keyPackages.stock = async (deviceId: string) => {
      const answer = await stock.call(keyPackages, deviceId);
      entered();
      await held;
      return answer;
    };
    try {
      const socket = await connect(t, x.credential);
      await inside;
      assert.equal((await remove(x)).status, 204);
      release();
      assert.equal(await socket.closed, CLOSE_CODES.accountDeleted);
    } finally {
      keyPackages.stock = stock;
    }
  });

  it('records no contact link for an account deleted while the resolve ran', async () => {
    const { db, links } = t.server.services;
    const x = await t.register('+14155550322');
    const y = await t.register('+14155550323');
    assert.equal((await remove(x)).status, 204);
    await links.record(y.accountId, [x.accountId]);
    await links.record(x.accountId, [y.accountId]);
    assert.deepEqual(await db.selectFrom('contact_links').selectAll().execute(), []);
    const z = await t.register('+14155550324');
    await links.record(y.accountId, [x.accountId, z.accountId]);
    assert.equal((await db.selectFrom('contact_links').selectAll().execute()).length, 1);
  });
});

describe('DELETE /v1/account with PARLEY_DELETION_TOMBSTONE_HOURS=0', () => {
  let t: Server;
  before(async () => {
    t = await testServer({ PARLEY_DELETION_TOMBSTONE_HOURS: '0' });
  });
  after(async () => t.server.close());

  it('holds nothing at once; clients that synced before fetch a snapshot without it', async () => {
    const { db, directory } = t.server.services;
    const keep = await t.register('+14155550311');
    const gone = await t.register('+14155550312');
    const needles = await needlesOf(db, directory.entries(), [gone]);
    const held = await heldFilter(t);
    assert.equal(held.filter.has(needles.blobs[1]!), true);

    const r = await fetch(new URL('/v1/account', t.server.url), {
      method: 'DELETE',
      headers: { authorization: `Bearer ${gone.credential}` },
    });
    assert.equal(r.status, 204);
    assert.equal(await r.text(), '');
    assert.deepEqual(await traces(db, needles), []);

    const payload = await directory.payload(
      directory.currentKeyId,
      held.payload.version,
      held.payload.range,
    );
    assert.equal(payload.type, 'snapshot');
    const fresh = await heldFilter(t);
    assert.ok(fresh.payload.version > held.payload.version);
    assert.equal(fresh.filter.has(needles.blobs[1]!), false);
    assert.equal(fresh.payload.count, 1);
    // A client that synced after it goes on with deltas.
    const next = await directory.payload(
      directory.currentKeyId,
      fresh.payload.version,
      fresh.payload.range,
    );
    assert.equal(next.type, 'delta');
    assert.equal((await t.call('GET', '/v1/account', { token: keep.credential })).status, 200);
  });
});

describe('deleting and registering the same number again', () => {
  it('does not refill the discovery budget: the new account starts where the old one was', async () => {
    const t = await testServer({
      PARLEY_DISCOVERY_BUDGET: '10',
      PARLEY_DISCOVERY_REFILL_PER_HOUR: '1',
    });
    try {
      const oprf = await loadOprf();
      const keyId = t.server.services.directory.currentKeyId;
      const evaluate = (credential: string, count: number) =>
        t.call('POST', '/v1/discovery/evaluate', {
          token: credential,
          body: {
            keyId,
            blindedElements: Array.from({ length: count }, (_, i) =>
              toBase64Url(
                oprf.blind(new TextEncoder().encode(`+1415555${4000 + i}`)).blindedElement,
              ),
            ),
          },
        });
      const first = await t.register('+14155550391');
      assert.equal((await evaluate(first.credential, 10)).status, 200);
      assert.equal((await evaluate(first.credential, 1)).json.code, 'DISCOVERY_BUDGET_EXHAUSTED');
      const deleted = await fetch(new URL('/v1/account', t.server.url), {
        method: 'DELETE',
        headers: { authorization: `Bearer ${first.credential}` },
      });
      assert.equal(deleted.status, 204);
      const kept = await t.server.services.db.selectFrom('budget_carry').selectAll().execute();
      assert.equal(kept.length, 1, 'the level is kept after the account is gone');
      assert.equal(kept[0]!.level, 10);

      const again = await t.register('+14155550391');
      assert.notEqual(again.accountId, first.accountId, 'a new account');
      const refused = await evaluate(again.credential, 1);
      assert.equal(refused.status, 429);
      assert.equal(refused.json.code, 'DISCOVERY_BUDGET_EXHAUSTED');
      // Another number is not affected.
      const other = await t.register('+14155550392');
      assert.equal((await evaluate(other.credential, 10)).status, 200);
      // The kept level names no account: only a keyed digest, a level and times.
      const carried = await t.server.services.db.selectFrom('budget_carry').selectAll().execute();
      assert.deepEqual(carried, [], 'taken over by the new account, not kept twice');
    } finally {
      await t.server.close();
    }
  });
});
