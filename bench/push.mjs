// Section "push": Web Push wake-ups for devices with no open socket (issue 18, docs/design.md
// "Push notifications"). Measured on the real server (in process, SQLite) against the local push
// service of the server's testing module, which checks the VAPID JWT and decrypts every body:
//
// 1. Latency: the time from a message being stored (its send answered) for offline devices to
//    each device's push request leaving the server (the sender's hook, just before fetch), p50 and
//    p99. One conversation of a sender and BENCH_PUSH_DEVICES recipients; the server's clock is
//    moved past the coalescing window between messages, so every message wakes every recipient.
// 2. Coalescing: BENCH_PUSH_MESSAGES messages sent in bursts (BENCH_PUSH_BURST at once, every
//    BENCH_PUSH_GAP_MS) to the same offline recipients, within one window: the pushes sent per
//    1,000 messages (ideal: one per device per window, whatever the rate).
//
// Usage: node bench/push.mjs. BENCH_SMOKE=1: 4 devices, 5 latency messages, 200 messages in bursts.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { emit, formatNumber, progress, quantile } from './lib/measure.mjs';
import { SMOKE, setting, smokeNote } from './lib/smoke.mjs';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const testing = await import(
  new URL('packages/server/dist/testing/index.js', `file://${ROOT}`).href
);

const devices = setting('BENCH_PUSH_DEVICES', 20, 4);
const latencyMessages = setting('BENCH_PUSH_LATENCY_MESSAGES', 50, 5);
const messages = setting('BENCH_PUSH_MESSAGES', 1000, 200);
const burst = setting('BENCH_PUSH_BURST', 50, 20);
const gapMs = setting('BENCH_PUSH_GAP_MS', 100, 20);
const WINDOW_SECONDS = 30;

const dataDir = mkdtempSync(join(tmpdir(), 'parley-bench-push-'));
const service = await testing.TestPushService.start();
let offset = 0;
/** When each device's latest push request left, by device id. */
const left = new Map();
const t = await testing.testServer(
  {
    PARLEY_DATA_DIR: dataDir,
    PARLEY_WEB_DIR: 'off',
    PARLEY_PUSH_ALLOW_HTTP_LOOPBACK: 'true',
    PARLEY_PUSH_COALESCE_SECONDS: String(WINDOW_SECONDS),
    // 21 registrations from one address and one number prefix: past the default limits.
    PARLEY_VERIFICATION_PER_IP: '1000',
    PARLEY_VERIFICATION_PER_PREFIX: '1000',
  },
  {
    clock: () => Date.now() + offset,
    push: { onRequest: (target) => left.set(target.deviceId, performance.now()) },
  },
);

try {
  const services = t.server.services;
  progress(`push: registering a sender and ${devices} recipients`);
  const sender = await t.register('+14155559000');
  const recipients = [];
  for (let i = 0; i < devices; i++) {
    recipients.push(await t.register(`+1415555${String(9001 + i).padStart(4, '0')}`));
  }
  const groupId = 'P'.repeat(22);
  const from = { accountId: sender.accountId, deviceId: sender.deviceId };
  await services.groups.commit(from, groupId, {
    epoch: 0,
    commit: 'AAAA',
    welcome: 'AAAA',
    add: recipients.map((r, i) => ({ deviceId: r.deviceId, keyPackageId: `kp-${i}` })),
    remove: [],
  });
  await services.push.idle();
  for (const r of recipients) {
    const s = service.subscribe();
    await services.push.subscriptions.put(r.deviceId, { endpoint: s.endpoint, keys: s.keys });
  }
  let n = 0;
  const send = () => {
    n += 1;
    return services.mailbox.store(from, {
      t: 'send',
      id: `b${String(n).padStart(21, '0')}`,
      groupId,
      epoch: 1,
      payload: Buffer.from(`bench ${n}`).toString('base64url'),
    });
  };

  progress(`push: latency, ${latencyMessages} messages × ${devices} offline devices`);
  const latencies = [];
  for (let i = 0; i < latencyMessages; i++) {
    offset += (WINDOW_SECONDS + 1) * 1000;
    left.clear();
    await send();
    const stored = performance.now();
    await services.push.idle();
    for (const r of recipients) {
      const at = left.get(r.deviceId);
      if (at !== undefined) latencies.push(Math.max(0, at - stored));
    }
  }

  progress(`push: coalescing, ${messages} messages in bursts of ${burst} every ${gapMs} ms`);
  offset += (WINDOW_SECONDS + 1) * 1000;
  const sentBefore = services.push.stats.sent;
  const began = performance.now();
  for (let sent = 0; sent < messages; sent += burst) {
    const size = Math.min(burst, messages - sent);
    await Promise.all(Array.from({ length: size }, send));
    await new Promise((resolve) => setTimeout(resolve, gapMs));
  }
  const burstSeconds = (performance.now() - began) / 1000;
  await services.push.idle();
  const pushes = services.push.stats.sent - sentBefore;

  const rows = [
    {
      what: 'stored → push request leaving the server, p50',
      value: Number(formatNumber(quantile(latencies, 0.5))),
      unit: 'ms',
    },
    {
      what: 'stored → push request leaving the server, p99',
      value: Number(formatNumber(quantile(latencies, 0.99))),
      unit: 'ms',
    },
    {
      what: `pushes per 1,000 messages to ${devices} offline devices, bursty (${formatNumber(messages / burstSeconds)} msg/s)`,
      value: Math.round((pushes / messages) * 1000),
      unit: 'pushes',
      goal: `${Math.round((devices / messages) * 1000)} (one per device per window)`,
      met: pushes === devices,
    },
  ];
  const notes = [
    `${latencies.length} latency samples (${latencyMessages} messages, each waking ${devices} devices; the server's clock moved past the ${WINDOW_SECONDS} s window between them). Measured from the send's answer ("stored") to the push request leaving (the sender's hook before fetch): the wake-up decision (which devices have no socket), the claim (one conditional UPDATE), and the request built by web-push (RFC 8291 encryption, VAPID JWT).`,
    `Coalescing: ${messages} messages in ${formatNumber(burstSeconds)} s, all within one ${WINDOW_SECONDS} s window: ${pushes} pushes. Every push was checked by the local push service (VAPID JWT, RFC 8291 decryption); rejected: ${service.rejected.length}.`,
  ];
  if (SMOKE) {
    notes.push(
      smokeNote(
        `${devices} devices, ${latencyMessages} latency messages, ${messages} messages in bursts`,
      ),
    );
  }
  emit({ section: 'push', title: 'Push wake-ups: latency and coalescing', rows, notes });
} finally {
  await t.server.close();
  await service.close();
  rmSync(dataDir, { recursive: true, force: true });
}
