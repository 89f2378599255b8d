// Samples pg_stat_activity of one database from a connection of its own while a benchmark runs:
// how often some backend waits on a lock (advisory or row/table, wait_event_type 'Lock') and how
// often one sits "idle in transaction" (holding its locks while its node is busy elsewhere). A
// cluster-wide lock shows as a waiter in most samples; per-device ordering should leave few
// (issue 16: lock waits in ≤ 5 % of samples). Also: which PostgreSQL processes work for that
// database, for reading their CPU from /proc (scripts/load.mjs, bench/writers.mjs) without counting
// the backends of other databases on the same server.

import pg from 'pg';

/** The database name of a postgres:// URL. */
export const databaseOf = (url) => decodeURIComponent(new URL(url).pathname.slice(1));

/**
 * Starts sampling every `intervalMs` (one query at a time: a slow answer delays the next sample,
 * never stacks them). `stop()` resolves to the shares of samples (0–1) and the sample count.
 */
export async function sampleActivity(url, { intervalMs = 50 } = {}) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const database = databaseOf(url);
  const counts = { samples: 0, lockWait: 0, advisoryWait: 0, idleInTransaction: 0 };
  let running = true;
  const loop = (async () => {
    while (running) {
      const { rows } = await client.query(
        `select
           count(*) filter (where wait_event_type = 'Lock')::int as lock_wait,
           count(*) filter (where wait_event_type = 'Lock' and wait_event = 'advisory')::int as advisory_wait,
           count(*) filter (where state = 'idle in transaction')::int as idle_in_transaction
         from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()`,
        [database],
      );
      const r = rows[0];
      counts.samples++;
      if (r.lock_wait > 0) counts.lockWait++;
      if (r.advisory_wait > 0) counts.advisoryWait++;
      if (r.idle_in_transaction > 0) counts.idleInTransaction++;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await client.end();
      const share = (n) => (counts.samples ? n / counts.samples : Number.NaN);
      return {
        samples: counts.samples,
        lockWaitShare: share(counts.lockWait),
        advisoryWaitShare: share(counts.advisoryWait),
        idleInTransactionShare: share(counts.idleInTransaction),
      };
    },
  };
}

/**
 * The pids of the backends connected to the database at `url` (this query's own excluded) and of
 * the server's shared processes (WAL writer, checkpointer, background writer: no database, so they
 * also work for any other database in use at the time).
 */
export async function postgresPids(url) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query(
      'select pid from pg_stat_activity where (datname = $1 or datname is null) and pid <> pg_backend_pid()',
      [databaseOf(url)],
    );
    return rows.map((r) => r.pid);
  } finally {
    await client.end();
  }
}
