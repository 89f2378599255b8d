// A synthetic blind directory of `count` discoverable accounts, for the sections that need a server
// with 2^20 or 2^24 registered users (discovery, rebuild). Registering that many through the API
// would take days, so the accounts are written straight into the server's SQLite database, in the
// exact shape the server itself writes them (a row of the accounts table, and its entry in the
// current key's directory table: the element with the fingerprint and token derived from it under
// the key id by @parley/core's directoryFingerprint/directoryToken).
//
// Elements. An account's element must be a valid ristretto255 point (key rotation multiplies it by
// k'/k). For synthetic users any valid point will do: it is k·P for P = k⁻¹·element, a point whose
// preimage nobody knows — like a real user's number seen without the key. They come from
// crypto_core_ristretto255_from_hash over random bytes, in the native addon (system libsodium,
// ~20 µs) when it is built, else in libsodium.js (~50 µs), on one worker thread per core. (Sums
// A_i + B_j of two small random sets are no cheaper: libsodium's ristretto255_add decodes both
// operands and encodes the sum, three inverse square roots, the same work as from_hash.)
// `realNumbers` become proper accounts with element = k·HashToGroup(E.164), so a benchmark client
// that has these numbers in its address book discovers exactly them.
//
// Cache. Generating 2^24 accounts takes minutes, so the finished data directory (parley.sqlite,
// oprf-keys.json, admin-token) is kept under $BENCH_CACHE_DIR (default <os tmpdir>/parley-bench-cache)
// in directory-v1-n<count>-r<hash of realNumbers>-s<hash of the schema>/ and copied on later runs.
// A schema change (new migration) gives a new name; an older entry for the same count is deleted
// when the new one is built. Delete the folder to force regeneration (about 5 GB at 2^24).
//
// Usage: const dir = await createSyntheticDirectory({ dataDir, count, realNumbers })
//   → { dataDir, keyId, count, realNumbers, cached, generatedMs, cachePath }
// then start the server with PARLEY_DATA_DIR = dataDir.

import { createHash, hash, randomFillSync } from 'node:crypto';
import {
  constants,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

const WORKER_ROLE = 'parley-synthetic-directory';
const GENERATOR_VERSION = 2;
/** Rows per worker task and per SQLite transaction. */
const CHUNK = 100_000;
const serverDist = new URL('../../packages/server/dist/index.js', import.meta.url);

/** SHA-512 as @parley/core's directory keys expect it (a Buffer is a Uint8Array). */
const sha512 = (data) => hash('sha512', data, 'buffer');

/**
 * Numbers the benchmark client has in its address book that are registered (discoverable) in
 * every synthetic directory. Shared by the sections so that they share one cache entry per size.
 */
export const BENCH_REAL_NUMBERS = Object.freeze(
  Array.from({ length: 32 }, (_, i) => `+1415222${String(i).padStart(4, '0')}`),
);

export function cacheRoot() {
  return process.env.BENCH_CACHE_DIR || join(tmpdir(), 'parley-bench-cache');
}

function progress(message) {
  process.stderr.write(`${message}\n`);
}

function shortHash(text) {
  return createHash('sha256').update(text).digest('hex').slice(0, 12);
}

/** Starts the server once on `dataDir` (migrations, OPRF key, admin token), then closes it. */
async function initialiseDataDir(dataDir) {
  const { loadConfig, startServer } = await import(serverDist.href);
  const config = loadConfig({
    PARLEY_DATA_DIR: dataDir,
    PARLEY_PORT: '0',
    PARLEY_LOG_LEVEL: 'silent',
    PARLEY_OPRF_WORKERS: '1',
  });
  const server = await startServer(config, {
    sms: { name: 'bench', sendVerification: async () => {} },
  });
  await server.close();
}

async function openSqlite(path) {
  const Database = (await import('better-sqlite3')).default;
  return new Database(path);
}

/** A hash of the database schema, so a cache built before a migration changed is not reused. */
function schemaHash(sqlite) {
  const rows = sqlite
    .prepare(
      "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .all();
  // The current key's directory table is named after the key id, which each scratch has anew.
  return shortHash(JSON.stringify(rows).replace(/directory_[0-9a-f]{10}/g, 'directory_KEY'));
}

const workDirs = new Set();
let signalsHandled = false;

/**
 * A fresh temporary data directory for a section's server, <os tmpdir>/parley-bench-<kind>-<pid>-*
 * (a copy of a cached directory: 5 GB at 2^24). Directories of earlier runs whose process is gone
 * (bench/run.mjs kills a section that overruns) are deleted first, and this one is deleted when
 * the process is interrupted; call the returned remove() when done.
 */
export function benchWorkDir(kind) {
  const prefix = `parley-bench-${kind}-`;
  for (const entry of readdirSync(tmpdir())) {
    const pid = Number(/^(\d+)-/.exec(entry.slice(prefix.length))?.[1]);
    if (!entry.startsWith(prefix) || !pid || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch {
      rmSync(join(tmpdir(), entry), { recursive: true, force: true });
    }
  }
  const dir = mkdtempSync(join(tmpdir(), `${prefix}${process.pid}-`));
  if (!signalsHandled) {
    signalsHandled = true;
    for (const signal of ['SIGINT', 'SIGTERM']) {
      process.once(signal, () => {
        for (const d of workDirs) rmSync(d, { recursive: true, force: true });
        process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
      });
    }
  }
  workDirs.add(dir);
  return {
    dir,
    remove() {
      workDirs.delete(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Deletes scratch directories left by builds that were killed (their builder is gone). */
function removeAbandonedBuilds(root) {
  for (const entry of readdirSync(root)) {
    if (!entry.startsWith('building-')) continue;
    const dir = join(root, entry);
    let alive = false;
    try {
      process.kill(Number(readFileSync(join(dir, 'builder.pid'), 'utf8')), 0);
      alive = true;
    } catch {
      // No such process; or no pid file (a build's first moment, or an older generator's build,
      // which never runs for hours).
      const age = Date.now() - statSync(dir).mtimeMs;
      alive = !existsSync(join(dir, 'builder.pid')) && age < 2 * 3600_000;
    }
    if (!alive) rmSync(dir, { recursive: true, force: true });
  }
}

/** Copies every file of a cached data directory (not its info.json) into `dataDir`. */
function copyDataDir(from, to) {
  mkdirSync(to, { recursive: true, mode: 0o700 });
  for (const name of readdirSync(from)) {
    if (name === 'info.json' || name === 'builder.pid') continue;
    copyFileSync(join(from, name), join(to, name), constants.COPYFILE_FICLONE);
  }
}

/**
 * Creates (or copies from the cache) a data directory holding `count` synthetic discoverable
 * accounts plus one proper account per number of `realNumbers`.
 */
export async function createSyntheticDirectory({
  dataDir,
  count,
  realNumbers = BENCH_REAL_NUMBERS,
  log = progress,
}) {
  const root = cacheRoot();
  mkdirSync(root, { recursive: true });
  // Initialise a scratch directory next to the cache: it gives the schema hash, and it is where a
  // missing cache entry is built before being renamed into place.
  removeAbandonedBuilds(root);
  const scratch = mkdtempSync(join(root, 'building-'));
  writeFileSync(join(scratch, 'builder.pid'), String(process.pid));
  try {
    await initialiseDataDir(scratch);
    const sqlite = await openSqlite(join(scratch, 'parley.sqlite'));
    const schema = schemaHash(sqlite);
    const prefix = `directory-v${GENERATOR_VERSION}-n${count}-`;
    const name = `${prefix}r${shortHash([...realNumbers].sort().join(','))}-s${schema}`;
    const cachePath = join(root, name);
    if (existsSync(join(cachePath, 'info.json'))) {
      sqlite.close();
      const info = JSON.parse(readFileSync(join(cachePath, 'info.json'), 'utf8'));
      log(`synthetic directory: ${count} accounts from the cache ${cachePath}`);
      const started = performance.now();
      copyDataDir(cachePath, dataDir);
      log(`synthetic directory: copied in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      return { ...info, dataDir, cached: true, cachePath };
    }
    log(`synthetic directory: generating ${count} accounts (cached afterwards in ${cachePath})`);
    const started = performance.now();
    const filled = await fill(sqlite, scratch, count, realNumbers, log);
    sqlite.close();
    const info = {
      count,
      realNumbers: [...realNumbers],
      keyId: filled.keyId,
      backend: filled.backend,
      generatedMs: Math.round(performance.now() - started),
      generatedAt: new Date().toISOString(),
    };
    writeFileSync(join(scratch, 'info.json'), `${JSON.stringify(info, null, 2)}\n`);
    rmSync(join(scratch, 'builder.pid'));
    // Entries of this size for another schema or number list are stale. One under this very name
    // was finished by a concurrent run meanwhile: keep it (it may be being copied) and use ours.
    for (const old of readdirSync(root)) {
      if (old.startsWith(prefix) && old !== name) {
        rmSync(join(root, old), { recursive: true, force: true });
      }
    }
    if (existsSync(join(cachePath, 'info.json'))) {
      copyDataDir(scratch, dataDir);
    } else {
      rmSync(cachePath, { recursive: true, force: true });
      renameSync(scratch, cachePath);
      copyDataDir(cachePath, dataDir);
    }
    log(`synthetic directory: ${count} accounts in ${(info.generatedMs / 1000).toFixed(1)} s`);
    return { ...info, dataDir, cached: false, cachePath };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Writes the real and synthetic accounts into the initialised database. */
async function fill(sqlite, dataDir, count, realNumbers, log) {
  const keyId = sqlite.prepare("SELECT value FROM meta WHERE name = 'current_key_id'").get().value;
  const keyFile = JSON.parse(readFileSync(join(dataDir, 'oprf-keys.json'), 'utf8'));
  const secret = new Uint8Array(
    Buffer.from(keyFile.keys.find((k) => k.id === keyId).secret, 'base64'),
  );
  checkColumns(sqlite);
  // Bulk-load settings for this connection only: the scratch copy is thrown away on failure, and
  // the server switches the file back to WAL when it opens it.
  sqlite.pragma('journal_mode = OFF');
  sqlite.pragma('synchronous = OFF');
  sqlite.pragma('locking_mode = EXCLUSIVE');
  sqlite.pragma('temp_store = MEMORY');
  sqlite.pragma(`cache_size = ${-Math.min(2 << 20, Math.max(64 << 10, Math.ceil(count / 8)))}`);
  const table = `directory_${keyId}`;
  if (!/^directory_[0-9a-f]{10}$/.test(table)) throw new Error(`unexpected key id ${keyId}`);
  // The token index is dropped while loading and built again after (one sort), with the
  // server's own statement so the schema stays exactly the server's.
  const tokenIndex = sqlite
    .prepare("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?")
    .get(`${table}_token`)?.sql;
  if (!tokenIndex) throw new Error(`synthetic directory: no index ${table}_token`);
  sqlite.exec(`DROP INDEX ${table}_token`);
  const insertAccount = sqlite.prepare(
    `INSERT INTO accounts (seq, id, discoverable, created_at, budget_level, budget_at)
       VALUES (?, ?, 1, ?, 0, 0)`,
  );
  const insertEntry = sqlite.prepare(
    `INSERT INTO ${table} (account_seq, element, fingerprint, token) VALUES (?, ?, ?, ?)`,
  );
  const createdAt = new Date().toISOString();
  let seq = 0;
  /** Ids sort in insertion order, so the id index only ever appends. */
  const insert = (prefix, element, fp, token) => {
    seq++;
    insertAccount.run(seq, `${prefix}${String(seq).padStart(21, '0')}`, createdAt);
    insertEntry.run(seq, element, fp, token);
  };

  const { loadOprf, directoryFingerprint, directoryToken, normalizePhoneNumber } = await import(
    '@parley/core'
  );
  const oprf = await loadOprf();
  sqlite.transaction(() => {
    for (const number of realNumbers) {
      const normalized = normalizePhoneNumber(number);
      if (!normalized.ok || normalized.e164 !== number) {
        throw new Error(`synthetic directory: ${number} is not a valid E.164 number`);
      }
      const element = oprf.scalarMult(secret, oprf.hashToGroup(new TextEncoder().encode(number)));
      const fp = directoryFingerprint(sha512, keyId, element);
      const token = directoryToken(sha512, keyId, element);
      insert('r', element, fp, token);
    }
  })();

  const generated = await generate(count, keyId, log);
  // One transaction per CHUNK rows, in seq order: every table and index appends except the
  // token index, which is built at the end.
  const insertChunk = sqlite.transaction((from, to) => {
    const { elements, fingerprints, tokens } = generated;
    for (let i = from; i < to; i++) {
      insert(
        's',
        elements.subarray(i * 32, i * 32 + 32),
        fingerprints.subarray(i * 8, i * 8 + 8),
        tokens.subarray(i * 32, i * 32 + 32),
      );
    }
  });
  const started = performance.now();
  let lastReport = started;
  for (let from = 0; from < count; from += CHUNK) {
    const to = Math.min(count, from + CHUNK);
    insertChunk(from, to);
    const now = performance.now();
    if (now - lastReport > 10_000 || to === count) {
      lastReport = now;
      log(`  inserted ${to}/${count} accounts (${Math.round(to / ((now - started) / 1000))}/s)`);
    }
  }
  const indexed = performance.now();
  sqlite.exec(tokenIndex);
  log(`  token index built in ${((performance.now() - indexed) / 1000).toFixed(1)} s`);
  sqlite.pragma('journal_mode = WAL');
  return { keyId, backend: generated.backend };
}

/**
 * Random valid elements with their fingerprints and tokens, made on one worker thread per core;
 * all in memory (72 bytes per account: 1.2 GB at 2^24).
 */
async function generate(count, keyId, log) {
  const elements = Buffer.alloc(32 * count);
  const fingerprints = Buffer.alloc(8 * count);
  const tokens = Buffer.alloc(32 * count);
  const threads = Math.max(1, availableParallelism());
  const workers = Array.from(
    { length: threads },
    () => new Worker(new URL(import.meta.url), { workerData: { role: WORKER_ROLE, keyId } }),
  );
  let backend = 'unknown';
  try {
    let queued = 0;
    let done = 0;
    const started = performance.now();
    let lastReport = started;
    await new Promise((resolve, reject) => {
      const feed = (worker) => {
        if (queued >= count) return;
        const n = Math.min(CHUNK, count - queued);
        worker.postMessage({ at: queued, n });
        queued += n;
      };
      for (const worker of workers) {
        worker.on('error', reject);
        worker.on('message', (result) => {
          feed(worker);
          backend = result.backend;
          elements.set(new Uint8Array(result.elements), result.at * 32);
          fingerprints.set(new Uint8Array(result.fingerprints), result.at * 8);
          tokens.set(new Uint8Array(result.tokens), result.at * 32);
          done += result.n;
          const now = performance.now();
          if (now - lastReport > 10_000 || done === count) {
            lastReport = now;
            const rate = Math.round(done / ((now - started) / 1000));
            log(
              `  generated ${done}/${count} elements (${rate}/s, ${threads} threads, ${backend})`,
            );
          }
          if (done === count) resolve();
        });
        feed(worker);
        feed(worker);
      }
      if (count === 0) resolve();
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return { elements, fingerprints, tokens, backend };
}

/** Fails clearly if the accounts table gained a required column this generator does not fill. */
function checkColumns(sqlite) {
  const filled = new Set(['seq', 'id', 'discoverable', 'created_at', 'budget_level', 'budget_at']);
  for (const column of sqlite.pragma('table_info(accounts)')) {
    if (!filled.has(column.name) && column.notnull && column.dflt_value === null) {
      throw new Error(
        `synthetic directory: accounts.${column.name} is NOT NULL without a default; teach bench/lib/synthetic-directory.mjs to fill it`,
      );
    }
  }
}

// --- worker thread: random valid elements and their fingerprints and tokens ----------------------

async function elementMaker() {
  try {
    const { loadNativeOprf } = await import('@parley/oprf-native');
    const native = loadNativeOprf();
    if (native) return { backend: 'native libsodium', fromHash: (u) => native.fromHash(u) };
  } catch {
    // Not installed: fall through to WASM.
  }
  const sodium = (await import('libsodium-wrappers-sumo')).default;
  await sodium.ready;
  return {
    backend: 'libsodium.js (WASM)',
    fromHash: (u) => sodium.crypto_core_ristretto255_from_hash(u),
  };
}

async function runWorker() {
  const { keyId } = workerData;
  const { directoryFingerprint, directoryToken } = await import('@parley/core');
  const maker = await elementMaker();
  parentPort.on('message', ({ at, n }) => {
    const uniform = randomFillSync(new Uint8Array(64 * n));
    const elements = new Uint8Array(32 * n);
    const fingerprints = new Uint8Array(8 * n);
    const tokens = new Uint8Array(32 * n);
    for (let i = 0; i < n; i++) {
      const element = maker.fromHash(uniform.subarray(i * 64, i * 64 + 64));
      elements.set(element, i * 32);
      fingerprints.set(directoryFingerprint(sha512, keyId, element), i * 8);
      tokens.set(directoryToken(sha512, keyId, element), i * 32);
    }
    parentPort.postMessage(
      {
        at,
        n,
        elements: elements.buffer,
        fingerprints: fingerprints.buffer,
        tokens: tokens.buffer,
        backend: maker.backend,
      },
      [elements.buffer, fingerprints.buffer, tokens.buffer],
    );
  });
}

if (!isMainThread && workerData?.role === WORKER_ROLE) await runWorker();
