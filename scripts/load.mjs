// npm run load: a load test of the messaging relay. Starts its own `parley serve` on loopback (a
// temporary data directory; the generator never targets another host), registers N devices over
// the HTTP API, pairs them into one-to-one groups, opens N real WebSockets, sends at a target rate
// for a bounded time, drains, stops the server and reports:
//   delivered/s, p50/p95/p99 send→deliver latency (one clock: this process sends and receives),
//   errors by code, lost messages (answered "stored" but never delivered) and duplicates (the same
//   id delivered twice) — both must be zero —, sends refused for now (a retryable error: resent
//   with the same id, as the SDK's outbox does; see isRetryable), sends still unanswered when the
//   drain ends, and the server's CPU-seconds and peak memory.
//
//   npm run load -- --devices 1000 --rate 2000 --duration 20 [--storage sqlite|postgres]
//                   [--nodes 1|2] [--json]
//
// --storage postgres puts the server on a fresh database of the PostgreSQL at 127.0.0.1:5432
// (dropped afterwards); --nodes 2 runs two server processes on that PostgreSQL and the Redis at
// 127.0.0.1:6379, and connects the two devices of every conversation to different nodes, so every
// message crosses from one node to the other. CPU is then reported per role: the server nodes
// (what the cost-per-message goal is about), and PostgreSQL and Redis. On PostgreSQL,
// pg_stat_activity is sampled every 50 ms from a connection of its own (scripts/pg-activity.mjs):
// the share of samples in which a backend waited on a lock, and in which one sat idle in a
// transaction. PostgreSQL's CPU is that of this database's backends and the server's shared
// processes (WAL writer, checkpointer), not of other databases' backends.
//
// Payloads are opaque random bytes the size of a 100-byte text's MLS ciphertext: the server never
// decrypts, so MLS would only load this process. Groups are made with placeholder Commits for the
// same reason (the server sequences Commits; it does not parse them).

import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { postgresPids, sampleActivity } from './pg-activity.mjs';

const ROOT = new URL('../', import.meta.url);
const PAYLOAD_BYTES = 334;
const TICKS_PER_SECOND = 100; // Linux USER_HZ, the unit of utime/stime in /proc/<pid>/stat
const LIMITS = {
  devices: [2, 20_000],
  rate: [1, 100_000],
  duration: [1, 600],
};

class UsageError extends Error {}

/**
 * Error codes that answer a send with "not now" rather than "no": the client sends the same id
 * again after `retryAfterMs` (or RETRY_DEFAULT_MS), as the SDK's outbox does, and the send counts
 * as refused, not answered. A node that cannot store more yet refuses this way (SERVER_BUSY,
 * issue 16). LOAD_RETRYABLE_CODES (comma-separated) adds codes.
 */
const RETRYABLE_CODES = new Set([
  'SERVER_BUSY',
  'SERVICE_UNAVAILABLE',
  'RATE_LIMITED',
  ...(process.env.LOAD_RETRYABLE_CODES ?? '').split(',').filter(Boolean),
]);
export const isRetryable = (code) => RETRYABLE_CODES.has(code);
export const RETRY_DEFAULT_MS = 20;

// The SDK outbox's own backoff, when this build's SDK has one (issue 16 added it).
const outbox = await import(new URL('packages/client/dist/messaging/outbox.js', ROOT).href);

/**
 * The wait before resending after the `round`-th refusal in a row (from 1): the SDK outbox's
 * backoff (its base doubling, jittered, never below the server's hint) when the SDK has one, else
 * the hint, else RETRY_DEFAULT_MS.
 */
export function retryDelayMs(round, hintMs) {
  if (typeof outbox.busyBackoffMs !== 'function') return hintMs ?? RETRY_DEFAULT_MS;
  return outbox.busyBackoffMs(round, outbox.BUSY_RETRY_MS, hintMs ?? 0, Math.random());
}

function options() {
  const { values } = parseArgs({
    options: {
      devices: { type: 'string', default: '1000' },
      rate: { type: 'string', default: '2000' },
      duration: { type: 'string', default: '20' },
      storage: { type: 'string', default: 'sqlite' },
      nodes: { type: 'string', default: '1' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      'npm run load -- [--devices N (even, 2–20000)] [--rate msg/s (1–100000)] [--duration s (1–600)] [--storage sqlite|postgres] [--nodes 1|2] [--json]\n',
    );
    process.exit(0);
  }
  const number = (name) => {
    const [min, max] = LIMITS[name];
    const value = Number(values[name]);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new UsageError(
        `--${name} must be an integer from ${min} to ${max} (got '${values[name]}').`,
      );
    }
    return value;
  };
  const devices = number('devices');
  if (devices % 2 !== 0)
    throw new UsageError(`--devices must be even: devices are paired (got ${devices}).`);
  if (!['sqlite', 'postgres'].includes(values.storage)) {
    throw new UsageError(`--storage must be sqlite or postgres (got '${values.storage}').`);
  }
  if (!['1', '2'].includes(values.nodes)) {
    throw new UsageError(`--nodes must be 1 or 2 (got '${values.nodes}').`);
  }
  const nodes = Number(values.nodes);
  if (nodes === 2 && values.storage !== 'postgres') {
    throw new UsageError('--nodes 2 needs --storage postgres: nodes share one PostgreSQL.');
  }
  return {
    devices,
    rate: number('rate'),
    duration: number('duration'),
    storage: values.storage,
    nodes,
    json: values.json,
  };
}

const b64 = (bytes) => Buffer.from(bytes).toString('base64url');
/** A WebSocket message from Parley holds one or more JSON frames, one per line. */
export const framesOf = (data) =>
  String(data)
    .split('\n')
    .map((line) => JSON.parse(line));
const log = (message) => process.stderr.write(`[load] ${message}\n`);

/** One JSON API call; a non-2xx answer throws with the server's error body. */
export async function call(url, method, path, body, token) {
  const response = await fetch(new URL(path, url), {
    method,
    headers: {
      ...(body ? { 'content-type': 'application/json' } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await response.json();
  if (!response.ok)
    throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

/** Runs `task(i)` for i < count, `width` at a time. */
async function pool(count, width, task) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, count) }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

/** CPU-seconds of a number of ticks. */
export const tickSeconds = (ticks) => ticks / TICKS_PER_SECOND;

/** utime + stime of a process, in ticks (1/100 s). */
export function cpuTicks(pid) {
  // Fields after the command name (which may hold spaces): utime is the 14th field, stime the 15th.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** The processes named `name` (PostgreSQL's postmaster and backends, redis-server). */
function pidsNamed(name) {
  const pids = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === name) pids.push(Number(entry));
    } catch {}
  }
  return pids;
}

/**
 * CPU ticks of every process named `name`, by pid: a process that exits between two readings
 * takes its ticks with it, so the difference is a lower bound (PostgreSQL's backends here live as
 * long as the server's pool connections, which outlive the run).
 */
export function ticksByPid(name) {
  return ticksOf(pidsNamed(name));
}

/** CPU ticks of these processes, by pid (those gone already left out). */
export function ticksOf(pids) {
  const ticks = new Map();
  for (const pid of pids) {
    try {
      ticks.set(pid, cpuTicks(pid));
    } catch {}
  }
  return ticks;
}

export function ticksSince(before, name, pids = pidsNamed(name)) {
  let total = 0;
  for (const [pid, now] of ticksOf(pids)) total += now - (before.get(pid) ?? 0);
  return total;
}

function rssBytes(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) * 1024;
}

function quantile(sorted, q) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function openDevice(url, credential) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const timer = setTimeout(() => reject(new Error('no ready frame within 30 s')), 30_000);
    ws.once('error', reject);
    ws.once('open', () => ws.send(JSON.stringify({ t: 'auth', credential })));
    const onReady = (data) => {
      if (framesOf(data).some((f) => f.t === 'ready')) {
        clearTimeout(timer);
        ws.off('message', onReady);
        resolve(ws);
      }
    };
    ws.on('message', onReady);
  });
}

export async function runLoad({ devices, rate, duration, storage = 'sqlite', nodes = 1 }) {
  const { ServerProcess } = await import(
    new URL('packages/e2e/dist/harness/server-process.js', ROOT).href
  );
  const serverLib = await import(new URL('packages/server/dist/testing/index.js', ROOT).href);
  const env = {
    PARLEY_LOG_LEVEL: 'warn',
    PARLEY_OPRF_WORKERS: '1',
    PARLEY_WEB_DIR: 'off',
    // One machine registers every simulated device, from one block of numbers: lift the per-IP
    // and per-prefix sign-up limits for this run.
    PARLEY_VERIFICATION_PER_IP: '100000',
    PARLEY_VERIFICATION_PER_PREFIX: '100000',
  };
  const redisPrefix = `parley-load-${randomBytes(6).toString('hex')}:`;
  if (storage === 'postgres') env.PARLEY_DATABASE_URL = await serverLib.createPostgresDatabase();
  if (nodes === 2) {
    env.PARLEY_REDIS_URL = serverLib.REDIS_TEST_URL;
    env.PARLEY_REDIS_PREFIX = redisPrefix;
  }
  // e.g. LOAD_SERVER_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile the server.
  const nodeArgs = process.env.LOAD_SERVER_NODE_ARGS
    ? process.env.LOAD_SERVER_NODE_ARGS.split(' ')
    : [];
  const servers = [await ServerProcess.start(env, undefined, nodeArgs)];
  // The second node shares the first one's secrets (docs/operations.md).
  if (nodes === 2) servers.push(await ServerProcess.startPeer(servers[0], env, nodeArgs));
  const server = servers[0];
  /** The node device i talks to: the two of a conversation on different nodes when there are two. */
  const nodeOf = (i) => servers[i % servers.length];
  const sockets = [];
  try {
    log(
      `${servers.length} node(s) on ${storage} (${servers.map((s) => `pid ${s.pid}`).join(', ')}); registering ${devices} devices`,
    );
    const accounts = new Array(devices);
    await pool(devices, 16, async (i) => {
      const phoneNumber = `+1415${String(2_000_000 + i)}`;
      const { verificationId } = await call(server.url, 'POST', '/v1/verifications', {
        phoneNumber,
      });
      accounts[i] = await call(server.url, 'POST', '/v1/accounts', {
        verificationId,
        code: await server.codeFor(verificationId),
        discoverable: false,
        presence: 'nobody',
        deviceName: 'load',
        // A fresh identity key (32 bytes): the server stores and relays it, it vouches for nothing.
        identityKey: randomBytes(32).toString('base64url'),
      });
    });
    const groups = new Array(devices / 2);
    await pool(devices / 2, 16, async (p) => {
      const groupId = b64(randomBytes(16));
      await call(
        server.url,
        'POST',
        `/v1/groups/${groupId}/commits`,
        {
          epoch: 0,
          commit: 'AAAA',
          welcome: 'AAAA',
          add: [
            {
              deviceId: accounts[2 * p + 1].deviceId,
              keyPackageId: `load-kp-${String(p).padStart(6, '0')}`,
            },
          ],
          remove: [],
        },
        accounts[2 * p].credential,
      );
      groups[p] = groupId;
    });
    log(`opening ${devices} WebSockets`);
    await pool(devices, 64, async (i) => {
      const socketUrl = `${nodeOf(i).url.replace('http', 'ws')}/v1/socket`;
      sockets[i] = await openDevice(socketUrl, accounts[i].credential);
    });

    const payload = b64(randomBytes(PAYLOAD_BYTES));
    const prefix = b64(randomBytes(9));
    /** Send number n: its id (which gives n back) and the device that sends it. */
    const idOf = (n) => `${prefix}${n.toString(36).padStart(10, '0')}`;
    const numberOf = (id) => Number.parseInt(id.slice(prefix.length), 36);
    const write = (n) => {
      const device = n % devices;
      const ws = sockets[device];
      if (ws.readyState !== WebSocket.OPEN) return;
      ws.send(
        JSON.stringify({ t: 'send', id: idOf(n), groupId: groups[device >> 1], epoch: 1, payload }),
      );
    };
    // Back-pressure, as each device's SDK outbox handles it: after a refusal the device waits
    // (retryDelayMs: the server's hint, doubling while refusals go on), holding what it has to
    // send meanwhile, then sends it all; a "stored" ends the run of refusals.
    /** Per device: refusals in a row, sends held while it waits, and whether it is waiting. */
    const busyRounds = new Array(devices).fill(0);
    const held = Array.from({ length: devices }, () => []);
    const waiting = new Array(devices).fill(false);
    const sendFrame = (n) => {
      if (waiting[n % devices]) held[n % devices].push(n);
      else write(n);
    };
    const refuse = (id, hintMs) => {
      const n = numberOf(id);
      const device = n % devices;
      held[device].push(n);
      if (waiting[device]) return;
      waiting[device] = true;
      busyRounds[device]++;
      setTimeout(
        () => {
          waiting[device] = false;
          for (const m of held[device].splice(0)) write(m);
        },
        retryDelayMs(busyRounds[device], hintMs),
      );
    };
    let refused = 0;
    const sentAt = new Map(); // id → first send time, until delivered
    const stored = new Set();
    const delivered = new Set();
    const latencies = [];
    const errors = new Map();
    let duplicates = 0;
    let answered = 0;
    let closed = 0;
    for (const ws of sockets) {
      let acks = [];
      const ack = (seq) => {
        if (acks.length === 0) {
          setImmediate(() => {
            if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ t: 'ack', seqs: acks }));
            acks = [];
          });
        }
        acks.push(seq);
      };
      ws.on('close', () => closed++);
      ws.on('message', (data) => {
        const now = performance.now();
        for (const frame of framesOf(data)) {
          if (frame.t === 'deliver') {
            ack(frame.seq);
            if (frame.kind !== 'application') continue;
            if (delivered.has(frame.id)) {
              duplicates++;
              continue;
            }
            delivered.add(frame.id);
            const t0 = sentAt.get(frame.id);
            if (t0 !== undefined) {
              latencies.push(now - t0);
              sentAt.delete(frame.id);
            }
          } else if (frame.t === 'stored') {
            answered++;
            stored.add(frame.id);
            busyRounds[numberOf(frame.id) % devices] = 0;
          } else if (frame.t === 'error' && frame.ref && isRetryable(frame.code)) {
            refused++;
            refuse(frame.ref, frame.retryAfterMs);
          } else if (frame.t === 'error') {
            answered++;
            errors.set(frame.code, (errors.get(frame.code) ?? 0) + 1);
          }
        }
      });
    }

    log(`sending ${rate} msg/s for ${duration} s`);
    let sent = 0;
    const rss = () => servers.reduce((sum, s) => sum + rssBytes(s.pid), 0);
    const serverTicks = () => servers.reduce((sum, s) => sum + cpuTicks(s.pid), 0);
    let peakRss = rss();
    const cpu0 = serverTicks();
    const databaseUrl = env.PARLEY_DATABASE_URL;
    const postgres0 = databaseUrl ? ticksOf(await postgresPids(databaseUrl)) : null;
    const activity = databaseUrl ? await sampleActivity(databaseUrl) : null;
    const redis0 = nodes === 2 ? ticksByPid('redis-server') : null;
    const ownCpu0 = process.cpuUsage();
    const start = performance.now();
    const end = start + duration * 1000;
    let lastSample = start;
    while (performance.now() < end) {
      const due = Math.floor(((performance.now() - start) / 1000) * rate);
      while (sent < due) {
        sentAt.set(idOf(sent), performance.now());
        sendFrame(sent);
        sent++;
      }
      if (performance.now() - lastSample > 500) {
        lastSample = performance.now();
        peakRss = Math.max(peakRss, rss());
      }
      await sleep(2);
    }
    const sendingMs = performance.now() - start;
    const ownCpu = process.cpuUsage(ownCpu0);
    // If this process was busier than the server, its figures say more about it than the server.
    const generatorCpuShare = (ownCpu.user + ownCpu.system) / 1000 / sendingMs;
    const deliveredInWindow = delivered.size;
    // Drain: everything answered "stored" must arrive; give it up to 30 s.
    const drainStart = performance.now();
    while (performance.now() - drainStart < 30_000) {
      if (answered >= sent && [...stored].every((id) => delivered.has(id))) break;
      await sleep(50);
    }
    const cpuSeconds = (serverTicks() - cpu0) / TICKS_PER_SECOND;
    const postgresSeconds = postgres0
      ? ticksSince(postgres0, 'postgres', await postgresPids(databaseUrl)) / TICKS_PER_SECOND
      : 0;
    const lockSamples = activity ? await activity.stop() : null;
    const redisSeconds = redis0 ? ticksSince(redis0, 'redis-server') / TICKS_PER_SECOND : 0;
    peakRss = Math.max(peakRss, rss());
    const lost = [...stored].filter((id) => !delivered.has(id)).length;
    latencies.sort((a, b) => a - b);
    const per1000 = (seconds) => (seconds / Math.max(1, delivered.size)) * 1000;
    return {
      storage,
      nodes: servers.length,
      devices,
      targetRate: rate,
      durationS: duration,
      sent,
      stored: stored.size,
      delivered: delivered.size,
      deliveredPerSecond: (deliveredInWindow / sendingMs) * 1000,
      latencyMs: {
        p50: quantile(latencies, 0.5),
        p95: quantile(latencies, 0.95),
        p99: quantile(latencies, 0.99),
      },
      errors: Object.fromEntries(errors),
      unanswered: sent - answered,
      refused,
      closedSockets: closed,
      lost,
      duplicates,
      generatorCpuShare,
      server: {
        cpuSeconds,
        cpuSecondsPer1000Delivered: per1000(cpuSeconds),
        peakRssMiB: peakRss / 2 ** 20,
      },
      postgres: postgres0
        ? {
            cpuSeconds: postgresSeconds,
            cpuSecondsPer1000Delivered: per1000(postgresSeconds),
            activity: lockSamples,
          }
        : null,
      redis: redis0
        ? { cpuSeconds: redisSeconds, cpuSecondsPer1000Delivered: per1000(redisSeconds) }
        : null,
    };
  } finally {
    for (const ws of sockets) ws?.terminate();
    await Promise.all(servers.map((s) => s.stop()));
    if (storage === 'postgres') await serverLib.dropPostgresDatabases();
    if (nodes === 2) await serverLib.deleteRedisKeys(redisPrefix);
  }
}

const pct = (share) => `${(share * 100).toFixed(1)} %`;

function render(r) {
  const ms = (v) => `${v.toFixed(1)} ms`;
  const errors =
    Object.entries(r.errors)
      .map(([code, n]) => `${code} ×${n}`)
      .join(', ') || 'none';
  const role = (name, x) =>
    x
      ? [
          `${name} CPU ${x.cpuSeconds.toFixed(2)} s (${x.cpuSecondsPer1000Delivered.toFixed(3)} s per 1,000 delivered)`,
        ]
      : [];
  return [
    `${r.nodes} node(s) on ${r.storage}`,
    `devices ${r.devices}, target ${r.targetRate} msg/s for ${r.durationS} s`,
    `sent ${r.sent}, stored ${r.stored}, delivered ${r.delivered}`,
    `delivered/s ${Math.round(r.deliveredPerSecond)}`,
    `latency p50 ${ms(r.latencyMs.p50)}, p95 ${ms(r.latencyMs.p95)}, p99 ${ms(r.latencyMs.p99)}`,
    `errors ${errors}; refused and resent ${r.refused}; unanswered ${r.unanswered}; sockets closed ${r.closedSockets}`,
    `lost ${r.lost}, duplicated ${r.duplicates}`,
    `load generator busy ${(r.generatorCpuShare * 100).toFixed(0)} % of one core while sending`,
    `server CPU ${r.server.cpuSeconds.toFixed(2)} s (${r.server.cpuSecondsPer1000Delivered.toFixed(3)} s per 1,000 delivered), peak RSS ${r.server.peakRssMiB.toFixed(0)} MiB`,
    ...role('PostgreSQL', r.postgres),
    ...(r.postgres?.activity
      ? [
          `pg_stat_activity (${r.postgres.activity.samples} samples): a backend waiting on a lock in ${pct(r.postgres.activity.lockWaitShare)} (advisory ${pct(r.postgres.activity.advisoryWaitShare)}), idle in transaction in ${pct(r.postgres.activity.idleInTransactionShare)}`,
        ]
      : []),
    ...role('Redis', r.redis),
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    const opts = options();
    const result = await runLoad(opts);
    process.stdout.write(opts.json ? `${JSON.stringify(result)}\n` : `${render(result)}\n`);
    // Lost or duplicated messages are failures, whatever the speed.
    process.exit(result.lost === 0 && result.duplicates === 0 && result.unanswered === 0 ? 0 : 1);
  } catch (error) {
    process.stderr.write(
      `load: ${error instanceof UsageError ? error.message : (error?.stack ?? error)}\n`,
    );
    process.exit(error instanceof UsageError ? 2 : 1);
  }
}
