// Section "flood": a sign-up flood must not starve other users (issue 7). A real `parley serve`
// process behind a trusted proxy address (PARLEY_TRUST_PROXY, so X-Forwarded-For names clients)
// serves two people chatting over WebSockets and a newcomer registering, first alone (the
// baseline), then while 16 connections flood code requests for random numbers: from one address
// (refused by the per-address limit), and from a botnet of ever-new addresses (each allowed its
// first requests: real verifications, SMS and all). Reported: the chat's send→deliver latency and
// the newcomer's registration time, p50 and p99, as ratios to the baseline, and the flood's rate.
// Usage: node bench/flood.mjs. BENCH_FLOOD_SECONDS (default 10 per phase; 1 under BENCH_SMOKE=1,
// lib/smoke.mjs).

import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { emit, progress, quantile } from './lib/measure.mjs';
import { SMOKE, setting, smokeNote } from './lib/smoke.mjs';

const ROOT = new URL('../', import.meta.url);
const { ServerProcess } = await import(
  new URL('packages/e2e/dist/harness/server-process.js', ROOT).href
);
const { framesOf } = await import(new URL('scripts/load.mjs', ROOT).href);
const SECONDS = setting('BENCH_FLOOD_SECONDS', 10, 1);
const FLOODERS = 16;

// The flood runs in a child process of its own, so it does not share this process's event loop
// with the chat and the newcomers whose latency is measured.
if (process.argv[2] === '--flood') {
  const [url, mode] = process.argv.slice(3);
  let k = 0;
  let n = 1_000_000;
  const counts = { requests: 0, refused: 0, accepted: 0 };
  const address = () =>
    mode === 'one' ? '198.51.100.66' : `10.${(k >> 16) & 255}.${(k >> 8) & 255}.${k++ & 255}`;
  let stop = false;
  process.on('message', () => {
    stop = true;
  });
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (!stop) {
        const i = n++;
        const response = await fetch(new URL('/v1/verifications', url), {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-forwarded-for': address() },
          body: JSON.stringify({
            phoneNumber: `+1312${200 + (i % 800)}${1000 + (Math.floor(i / 800) % 9000)}`,
          }),
        });
        await response.arrayBuffer();
        counts.requests++;
        if (response.status === 429) counts.refused++;
        else if (response.status === 201) counts.accepted++;
      }
    }),
  );
  process.send(counts);
  process.exit(0);
}

const server = await ServerProcess.start({
  PARLEY_LOG_LEVEL: 'warn',
  PARLEY_WEB_DIR: 'off',
  PARLEY_OPRF_WORKERS: '1',
  PARLEY_TRUST_PROXY: '127.0.0.1',
});

async function post(path, body, { ip = '198.51.100.1', token } = {}) {
  const response = await fetch(new URL(path, server.url), {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-forwarded-for': ip,
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : {} };
}

let seq = 0;
/** A new valid number, each in its own block of 1,000. */
const number = () => {
  const n = seq++;
  return `+1720${200 + (n % 800)}${1000 + Math.floor(n / 800)}`;
};

async function register(ip) {
  const v = await post('/v1/verifications', { phoneNumber: number() }, { ip });
  if (v.status !== 201) throw new Error(`verification ${v.status} ${JSON.stringify(v.json)}`);
  const r = await post(
    '/v1/accounts',
    {
      verificationId: v.json.verificationId,
      code: await server.codeFor(v.json.verificationId),
      discoverable: false,
      presence: 'nobody',
      deviceName: 'bench',
      // A fresh identity key (32 bytes): the server stores and relays it, it vouches for nothing.
      identityKey: randomBytes(32).toString('base64url'),
    },
    { ip },
  );
  if (r.status !== 201) throw new Error(`register ${r.status} ${JSON.stringify(r.json)}`);
  return r.json;
}

function open(credential) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/v1/socket`);
    ws.once('error', reject);
    ws.once('open', () => ws.send(JSON.stringify({ t: 'auth', credential })));
    const onReady = (data) => {
      if (framesOf(data).some((f) => f.t === 'ready')) {
        ws.off('message', onReady);
        resolve(ws);
      }
    };
    ws.on('message', onReady);
  });
}

// Alice and Bob, in one conversation (placeholder MLS: the server does not parse it).
const alice = await register('203.0.113.1');
const bob = await register('203.0.113.2');
const groupId = randomBytes(16).toString('base64url');
const made = await post(
  `/v1/groups/${groupId}/commits`,
  {
    epoch: 0,
    commit: 'AAAA',
    welcome: 'AAAA',
    add: [{ deviceId: bob.deviceId, keyPackageId: 'bench-kp-0001' }],
    remove: [],
  },
  { token: alice.credential },
);
if (made.status !== 200) throw new Error(`group ${made.status}`);
const aliceWs = await open(alice.credential);
const bobWs = await open(bob.credential);
const sentAt = new Map();
let latencies = [];
bobWs.on('message', (data) => {
  const now = performance.now();
  const acks = [];
  for (const f of framesOf(data)) {
    if (f.t !== 'deliver') continue;
    acks.push(f.seq);
    const t0 = sentAt.get(f.id);
    if (t0 !== undefined) {
      latencies.push(now - t0);
      sentAt.delete(f.id);
    }
  }
  if (acks.length) bobWs.send(JSON.stringify({ t: 'ack', seqs: acks }));
});

/** The legitimate work for SECONDS: a message every 20 ms, a newcomer registering every 500 ms. */
async function legitimate() {
  latencies = [];
  const registrations = [];
  const end = performance.now() + SECONDS * 1000;
  let i = 0;
  const chat = (async () => {
    while (performance.now() < end) {
      const id = `${randomBytes(12).toString('base64url')}${String(i++).padStart(6, '0')}`.slice(
        0,
        22,
      );
      sentAt.set(id, performance.now());
      aliceWs.send(JSON.stringify({ t: 'send', id, groupId, epoch: 1, payload: 'AQIDBAUG' }));
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const newcomers = (async () => {
    let n = 0;
    while (performance.now() < end) {
      const t0 = performance.now();
      await register(`192.0.2.${1 + (n++ % 250)}`);
      registrations.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  await Promise.all([chat, newcomers]);
  await new Promise((r) => setTimeout(r, 500)); // the last deliveries
  return {
    chat: [...latencies].sort((a, b) => a - b),
    registrations: registrations.sort((a, b) => a - b),
  };
}

/** A child process flooding code requests for random numbers until `end()`; its counts. */
function flood(mode) {
  const child = fork(fileURLToPath(import.meta.url), ['--flood', server.url, mode], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const counts = new Promise((resolve) => child.once('message', resolve));
  return {
    async end() {
      child.send('stop');
      return counts;
    },
  };
}

const rows = [];
const phases = [
  { name: 'alone (baseline)', mode: null },
  { name: 'flood from one address', mode: 'one' },
  { name: 'flood from ever-new addresses (a botnet)', mode: 'many' },
];
let baseline;
try {
  for (const phase of phases) {
    progress(`flood: ${phase.name}, ${SECONDS} s`);
    const f = phase.mode ? flood(phase.mode) : null;
    const t0 = performance.now();
    const r = await legitimate();
    const elapsed = (performance.now() - t0) / 1000;
    const counts = await f?.end();
    const figures = {
      chatP50: quantile(r.chat, 0.5),
      chatP99: quantile(r.chat, 0.99),
      regP50: quantile(r.registrations, 0.5),
      regP99: quantile(r.registrations, 0.99),
    };
    baseline ??= figures;
    const flooding = counts
      ? `; flood ${Math.round(counts.requests / elapsed)} requests/s (${Math.round((100 * counts.refused) / Math.max(1, counts.requests))} % refused, ${counts.accepted} verifications made)`
      : '';
    rows.push({
      what: `${phase.name}: a chat's send → deliver latency, p99 (50 msg/s)`,
      value: Number(figures.chatP99.toFixed(1)),
      unit: `ms (p50 ${figures.chatP50.toFixed(1)} ms; ${r.chat.length} messages${flooding})`,
      ...(f
        ? {
            ratio: figures.chatP99 / baseline.chatP99,
            baseline: `alone: ${baseline.chatP99.toFixed(1)} ms`,
          }
        : {}),
      ...(f ? { goal: '≤ 50 ms (the messaging goal)', met: figures.chatP99 <= 50 } : {}),
    });
    rows.push({
      what: `${phase.name}: a newcomer's registration (code request + account), p99`,
      value: Number(figures.regP99.toFixed(1)),
      unit: `ms (p50 ${figures.regP50.toFixed(1)} ms; ${r.registrations.length} registrations)`,
      ...(f
        ? {
            ratio: figures.regP99 / baseline.regP99,
            baseline: `alone: ${baseline.regP99.toFixed(1)} ms`,
          }
        : {}),
    });
  }
} finally {
  aliceWs.terminate();
  bobWs.terminate();
  await server.stop();
}
emit({
  section: 'flood',
  title: 'Sign-up flood: other users keep being served',
  rows,
  notes: [
    `${FLOODERS} flooding connections (in a process of their own) ask for codes for new random numbers as fast as the server answers; the console SMS provider prints each code (real work: HMACs, a sealed session, the SMS).`,
    'The server, the flood, the chat and the newcomers share the 2 cores; latencies are wall time on loopback.',
    ...(SMOKE ? [smokeNote(`phases of ${SECONDS} s instead of 10 s`)] : []),
  ],
});
