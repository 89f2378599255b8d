// npm run load: a load test of the messaging relay. Starts its own `parley serve` on loopback (a
// temporary data directory; the generator never targets another host), registers N devices over
// the HTTP API, pairs them into one-to-one groups, opens N real WebSockets, sends at a target rate
// for a bounded time, drains, stops the server and reports:
//   delivered/s, p50/p95/p99 send→deliver latency (one clock: this process sends and receives),
//   errors by code, lost messages (answered "stored" but never delivered) and duplicates (the same
//   id delivered twice) — both must be zero —, and the server's CPU-seconds and peak memory.
//
//   npm run load -- --devices 1000 --rate 2000 --duration 20 [--json]
//
// Payloads are opaque random bytes the size of a 100-byte text's MLS ciphertext: the server never
// decrypts, so MLS would only load this process. Groups are made with placeholder Commits for the
// same reason (the server sequences Commits; it does not parse them).

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';

const ROOT = new URL('../', import.meta.url);
const PAYLOAD_BYTES = 334;
const TICKS_PER_SECOND = 100; // Linux USER_HZ, the unit of utime/stime in /proc/<pid>/stat
const LIMITS = {
  devices: [2, 20_000],
  rate: [1, 100_000],
  duration: [1, 600],
};

class UsageError extends Error {}

function options() {
  const { values } = parseArgs({
    options: {
      devices: { type: 'string', default: '1000' },
      rate: { type: 'string', default: '2000' },
      duration: { type: 'string', default: '20' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      'npm run load -- [--devices N (even, 2–20000)] [--rate msg/s (1–100000)] [--duration s (1–600)] [--json]\n',
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
  return { devices, rate: number('rate'), duration: number('duration'), json: values.json };
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

function cpuTicks(pid) {
  // Fields after the command name (which may hold spaces): utime is the 14th field, stime the 15th.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
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

export async function runLoad({ devices, rate, duration }) {
  const { ServerProcess } = await import(
    new URL('packages/cli/dist/testing/server-process.js', ROOT).href
  );
  const server = await ServerProcess.start(
    {
      PARLEY_LOG_LEVEL: 'warn',
      PARLEY_OPRF_WORKERS: '1',
      // One machine registers every simulated device: lift the per-IP sign-up limit for this run.
      PARLEY_VERIFICATION_PER_IP: '100000',
    },
    undefined,
    // e.g. LOAD_SERVER_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile the server.
    process.env.LOAD_SERVER_NODE_ARGS ? process.env.LOAD_SERVER_NODE_ARGS.split(' ') : [],
  );
  const sockets = [];
  try {
    log(`server ${server.url} (pid ${server.pid}); registering ${devices} devices`);
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
    const socketUrl = `${server.url.replace('http', 'ws')}/v1/socket`;
    await pool(devices, 64, async (i) => {
      sockets[i] = await openDevice(socketUrl, accounts[i].credential);
    });

    const payload = b64(randomBytes(PAYLOAD_BYTES));
    const sentAt = new Map(); // id → send time, until delivered
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
          } else if (frame.t === 'error') {
            answered++;
            errors.set(frame.code, (errors.get(frame.code) ?? 0) + 1);
          }
        }
      });
    }

    log(`sending ${rate} msg/s for ${duration} s`);
    const prefix = b64(randomBytes(9));
    let sent = 0;
    let peakRss = rssBytes(server.pid);
    const cpu0 = cpuTicks(server.pid);
    const ownCpu0 = process.cpuUsage();
    const start = performance.now();
    const end = start + duration * 1000;
    let lastSample = start;
    while (performance.now() < end) {
      const due = Math.floor(((performance.now() - start) / 1000) * rate);
      while (sent < due) {
        const device = sent % devices;
        const id = `${prefix}${sent.toString(36).padStart(10, '0')}`;
        sentAt.set(id, performance.now());
        sockets[device].send(
          JSON.stringify({ t: 'send', id, groupId: groups[device >> 1], epoch: 1, payload }),
        );
        sent++;
      }
      if (performance.now() - lastSample > 500) {
        lastSample = performance.now();
        peakRss = Math.max(peakRss, rssBytes(server.pid));
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
    const cpuSeconds = (cpuTicks(server.pid) - cpu0) / TICKS_PER_SECOND;
    peakRss = Math.max(peakRss, rssBytes(server.pid));
    const lost = [...stored].filter((id) => !delivered.has(id)).length;
    latencies.sort((a, b) => a - b);
    return {
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
      closedSockets: closed,
      lost,
      duplicates,
      generatorCpuShare,
      server: {
        cpuSeconds,
        cpuSecondsPer1000Delivered: (cpuSeconds / Math.max(1, delivered.size)) * 1000,
        peakRssMiB: peakRss / 2 ** 20,
      },
    };
  } finally {
    for (const ws of sockets) ws?.terminate();
    await server.stop();
  }
}

function render(r) {
  const ms = (v) => `${v.toFixed(1)} ms`;
  const errors =
    Object.entries(r.errors)
      .map(([code, n]) => `${code} ×${n}`)
      .join(', ') || 'none';
  return [
    `devices ${r.devices}, target ${r.targetRate} msg/s for ${r.durationS} s`,
    `sent ${r.sent}, stored ${r.stored}, delivered ${r.delivered}`,
    `delivered/s ${Math.round(r.deliveredPerSecond)}`,
    `latency p50 ${ms(r.latencyMs.p50)}, p95 ${ms(r.latencyMs.p95)}, p99 ${ms(r.latencyMs.p99)}`,
    `errors ${errors}; unanswered ${r.unanswered}; sockets closed ${r.closedSockets}`,
    `lost ${r.lost}, duplicated ${r.duplicates}`,
    `load generator busy ${(r.generatorCpuShare * 100).toFixed(0)} % of one core while sending`,
    `server CPU ${r.server.cpuSeconds.toFixed(2)} s (${r.server.cpuSecondsPer1000Delivered.toFixed(3)} s per 1,000 delivered), peak RSS ${r.server.peakRssMiB.toFixed(0)} MiB`,
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
