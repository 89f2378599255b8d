/**
 * Two nodes changing the directory at once, on one PostgreSQL, ordered by the `directory` lock
 * (infra/db/database.ts; any narrower ordering must keep these): a reader following the log after
 * the last version it saw, while registrations run through both nodes, sees every version the log
 * ends with, in order (a version committed below one it had passed would be skipped); and one new
 * number registered through both nodes at once makes one account, not two and not an error; and a
 * publication's read (a version, then the rows it labels) is one snapshot, blind to another node's
 * commit in between.
 * Needs the PostgreSQL at 127.0.0.1:5432 (skipped without it, failed under CI); SQLite is one
 * node.
 */

import * as assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadIdentityCrypto, toBase64Url } from '@parley/core';
import { snapshotReads } from '../infra/db/dialect.js';
import { type TestServer, testCluster } from '../testing/index.js';
import {
  createPostgresDatabase,
  dropPostgresDatabases,
  POSTGRES_ADMIN_URL,
  postgresReachable,
} from '../testing/test-databases.js';

const LIMITS = { PARLEY_VERIFICATION_PER_IP: '100000', PARLEY_VERIFICATION_PER_PREFIX: '100000' };

const reachable = await postgresReachable();

describe('two nodes changing the directory at once', {
  skip: !reachable && process.env.CI !== 'true' ? `no PostgreSQL at ${POSTGRES_ADMIN_URL}` : false,
}, () => {
  type Node = TestServer;
  let a: Node;
  let b: Node;

  before(async () => {
    assert.ok(
      reachable,
      `PostgreSQL is not reachable at ${POSTGRES_ADMIN_URL} (required under CI)`,
    );
    const url = await createPostgresDatabase();
    [a, b] = await testCluster(url, LIMITS);
  });

  after(async () => {
    await Promise.all([a?.server.close(), b?.server.close()]);
    await dropPostgresDatabases();
  });

  /** The log after `version`, as a delta reads it (DirectoryLog.since). */
  const logAfter = (node: Node, version: number) =>
    node.server.services.db
      .selectFrom('directory_log')
      .select(['version', 'op'])
      .where('version', '>', version)
      .orderBy('version')
      .execute();

  it('a reader following the log while both nodes register skips no version', async () => {
    const total = 80;
    let next = 0;
    let done = false;
    const seen: number[] = [];
    const reader = (async () => {
      let last = 0;
      for (let finished = false; !finished; ) {
        finished = done;
        for (const row of await logAfter(b, last)) {
          seen.push(Number(row.version));
          last = Number(row.version);
        }
      }
    })();
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let i = next++; i < total; i = next++) {
          await (i % 2 ? b : a).register(`+1415255${String(i).padStart(4, '0')}`);
        }
      }),
    );
    done = true;
    await reader;
    const final = (await logAfter(a, 0)).map((r) => Number(r.version));
    assert.equal(final.length, total, 'one add per registration');
    assert.deepEqual(seen, final, 'the reader saw every version, in order, each once');
  });

  it('one new number registered through both nodes at once makes one account', async () => {
    const numbers = Array.from({ length: 8 }, (_, i) => `+1415266${String(i).padStart(4, '0')}`);
    const crypto = await loadIdentityCrypto();
    const identityKey = () => toBase64Url(crypto.newIdentityKeys().publicKey);
    const answers = await Promise.all(
      numbers.flatMap((n) =>
        [a, b].map((node) => node.registerRaw(n, { identityKey: identityKey() })),
      ),
    );
    for (const [i, n] of numbers.entries()) {
      const pair = answers.slice(2 * i, 2 * i + 2);
      assert.deepEqual(
        pair.map((r) => r.status),
        [201, 201],
        `${n}: ${JSON.stringify(pair.map((r) => r.json))}`,
      );
      assert.equal(pair[0]!.json.accountId, pair[1]!.json.accountId, 'one account');
      assert.deepEqual(
        pair.map((r) => r.json.existingAccount).sort(),
        [false, true],
        'one created it, the other started a new identity on it',
      );
    }
    const adds = await a.server.services.db
      .selectFrom('directory_log')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('op', '=', 'add')
      .executeTakeFirstOrThrow();
    assert.equal(Number(adds.n), 80 + numbers.length, 'one add per new number');
  });
  it("a publication's read transaction is one snapshot: another node's commit in between is unseen", async () => {
    const db = a.server.services.db;
    const logged = async (ex: Pick<typeof db, 'selectFrom'>) =>
      Number(
        (
          await ex
            .selectFrom('directory_log')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    const [first, second] = await db.transaction().execute(async (trx) => {
      await snapshotReads(trx);
      const before = await logged(trx);
      await b.register('+14152770000');
      return [before, await logged(trx)];
    });
    assert.equal(second, first, 'the same state within the transaction');
    assert.equal(await logged(db), first + 1, 'the registration committed meanwhile');
  });
});
