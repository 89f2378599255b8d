// npm run attack:enumerate: plays a scraper's strategies against Parley's real rules and reports
// how many phone numbers one verified number, and one IP address, can test per day.
//
// The servers are real (`startServer`, HTTP on loopback, the real database, limits, budgets and
// OPRF) but run on a simulated clock, so two days pass in seconds: every limit and budget counts
// by that clock. Loopback only, bounded (every strategy stops after its simulated days), and it
// stops by itself. The attacker's blinded elements are reused from a pool of 1,024 for speed: the
// server cannot tell a reused blinded element from a fresh one (that is what blinding is for), so
// the counts are those of fresh numbers.
//
//   npm run attack:enumerate [-- --json]
//
// Strategies (each from a fresh server at the configured defaults):
//   one-account      one verified number, one device, evaluating whenever the budget allows
//   re-register      the same, and whenever the budget runs out: delete the account and register
//                    the same number again (as often as the verification limits allow)
//   devices          one number, 3 devices (the 2 more linked by the first: an SMS code alone adds
//                    none), each evaluating
//   rotation         a key rotation in the middle of day 1; fresh elements sent to translate
//   two-nodes        two nodes on one PostgreSQL (needs 127.0.0.1:5432), alternating
//   resolve-only     resolve without evaluate: random tokens
//   accounts-per-ip  new accounts from one address, then numbers tested per IP per day
//   timing           resolve and verification latency, registered vs not, to see a leak

import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = new URL('../', import.meta.url);
const server = {
  ...(await import(new URL('packages/server/dist/index.js', ROOT).href)),
  ...(await import(new URL('packages/server/dist/testing/index.js', ROOT).href)),
};
const { InProcessBus } = await import(
  new URL('packages/server/dist/infra/bus/in-process.js', ROOT).href
);
const { InboxSmsProvider } = server;
const core = await import(new URL('packages/core/dist/index.js', ROOT).href);

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const STEP = 10 * 60_000; // the attacker acts every 10 simulated minutes
const DAYS = 2;
const log = (m) => process.stderr.write(`[attack] ${m}\n`);

const { values: args } = parseArgs({ options: { json: { type: 'boolean', default: false } } });

const oprf = await core.loadOprf();
const pool = Array.from({ length: core.LIMITS.evaluateBatch }, (_, i) =>
  core.toBase64Url(
    oprf.blind(core.phoneNumberInput(`+1202555${String(i).padStart(4, '0')}`)).blindedElement,
  ),
);

/** A simulated clock shared by the servers of one strategy. */
function makeClock() {
  const clock = { t: Date.UTC(2026, 0, 5), now: () => clock.t };
  return clock;
}

async function startNode(clock, env = {}, bus) {
  const dataDir = env.PARLEY_DATA_DIR ?? mkdtempSync(join(tmpdir(), 'parley-attack-'));
  const inbox = new InboxSmsProvider();
  const config = server.loadConfig({
    PARLEY_PORT: '0',
    PARLEY_DATA_DIR: dataDir,
    PARLEY_LOG_LEVEL: 'silent',
    PARLEY_WEB_DIR: 'off',
    PARLEY_OPRF_WORKERS: '1',
    ...env,
  });
  const running = await server.startServer(config, { sms: inbox, clock: clock.now, bus });
  const call = async (method, path, body, token) => {
    const response = await fetch(new URL(path, running.url), {
      method,
      headers: {
        ...(body ? { 'content-type': 'application/json' } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    return { status: response.status, json: text ? JSON.parse(text) : {} };
  };
  return { running, inbox, call, dataDir, config };
}

/** Registers `number` (a new device); null with the wait when the verification limits refuse. */
async function register(node, number) {
  const v = await node.call('POST', '/v1/verifications', { phoneNumber: number });
  if (v.status === 429) return { refused: true, retryAfterMs: v.json.retryAfterMs ?? HOUR };
  if (v.status !== 201) throw new Error(`verification: ${v.status} ${JSON.stringify(v.json)}`);
  const r = await node.call('POST', '/v1/accounts', {
    verificationId: v.json.verificationId,
    code: node.inbox.codeFor(v.json.verificationId),
    discoverable: true,
    presence: 'nobody',
    deviceName: 'scraper',
    // A fresh identity key (32 bytes): the server stores and relays it, it vouches for nothing.
    identityKey: randomBytes(32).toString('base64url'),
  });
  if (r.status !== 201) throw new Error(`register: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json;
}

/** Evaluates as many elements as the budget allows now; how many were evaluated. */
async function evaluateAll(node, credential) {
  let total = 0;
  for (;;) {
    const keyId = node.running.services.directory.currentKeyId;
    const r = await node.call(
      'POST',
      '/v1/discovery/evaluate',
      { keyId, blindedElements: pool.slice(0, 64) },
      credential,
    );
    if (r.status === 429) {
      // A smaller batch may still fit what is left.
      const left = r.json.details?.remaining ?? 0;
      if (left <= 0) return total;
      const rest = await node.call(
        'POST',
        '/v1/discovery/evaluate',
        { keyId, blindedElements: pool.slice(0, Math.min(left, 64)) },
        credential,
      );
      if (rest.status !== 200) return total;
      total += Math.min(left, 64);
      continue;
    }
    if (r.status !== 200) throw new Error(`evaluate: ${r.status} ${JSON.stringify(r.json)}`);
    total += 64;
  }
}

/** Runs `act` every STEP for DAYS simulated days; its counts per day. */
async function days(clock, act) {
  const perDay = [];
  for (let d = 0; d < DAYS; d++) {
    let count = 0;
    for (let t = 0; t < DAY; t += STEP) {
      count += await act(d, t);
      clock.t += STEP;
    }
    perDay.push(count);
  }
  return perDay;
}

const results = [];
function report(strategy, what, perDay, extra = {}) {
  results.push({ strategy, what, perDay, ...extra });
  log(`${strategy}: ${perDay.map((n, d) => `day ${d + 1}: ${n}`).join(', ')}`);
}

let numberSeq = 0;
/** A fresh number, in its own block of 1,000 (a different prefix each time). */
const freshNumber = () => {
  const n = numberSeq++;
  return `+1303${200 + (n % 800)}${1000 + Math.floor(n / 800)}`;
};

async function oneAccount() {
  const clock = makeClock();
  const node = await startNode(clock);
  try {
    const me = await register(node, freshNumber());
    const perDay = await days(clock, () => evaluateAll(node, me.credential));
    report('one-account', 'numbers tested by one verified number, one device', perDay);
  } finally {
    await node.running.close();
  }
}

async function reRegister() {
  const clock = makeClock();
  const node = await startNode(clock);
  const number = freshNumber();
  let registrations = 0;
  let refused = 0;
  try {
    let me = await register(node, number);
    registrations++;
    let waitUntil = 0;
    const perDay = await days(clock, async () => {
      let n = await evaluateAll(node, me.credential);
      if (clock.t < waitUntil) return n;
      // Out of budget. The best order: ask for a code first (so a refusal costs nothing), then
      // delete the account, then confirm the code, which makes a new account.
      const v = await node.call('POST', '/v1/verifications', { phoneNumber: number });
      if (v.status === 429) {
        refused++;
        waitUntil = clock.t + (v.json.retryAfterMs ?? HOUR);
        return n;
      }
      const gone = await fetch(new URL('/v1/account', node.running.url), {
        method: 'DELETE',
        headers: { authorization: `Bearer ${me.credential}` },
      });
      if (gone.status !== 204) throw new Error(`delete: ${gone.status}`);
      const r = await node.call('POST', '/v1/accounts', {
        verificationId: v.json.verificationId,
        code: node.inbox.codeFor(v.json.verificationId),
        discoverable: true,
        presence: 'nobody',
        deviceName: 'scraper',
        // A fresh identity key (32 bytes): the server stores and relays it, it vouches for nothing.
        identityKey: randomBytes(32).toString('base64url'),
      });
      if (r.status !== 201) throw new Error(`register: ${r.status} ${JSON.stringify(r.json)}`);
      me = r.json;
      registrations++;
      n += await evaluateAll(node, me.credential);
      return n;
    });
    report('re-register', 'numbers tested by one number deleting and re-registering', perDay, {
      registrations,
      refusals: refused,
    });
  } finally {
    await node.running.close();
  }
}

async function devices() {
  const clock = makeClock();
  const node = await startNode(clock);
  try {
    const number = freshNumber();
    const first = await register(node, number);
    const mine = [first];
    // A second registration would sign the first device out (a new identity): devices are linked.
    for (let i = 0; i < 2; i++) {
      mine.push(await server.linkDevice(node.running.url, first.credential, `scraper ${i + 2}`));
    }
    const perDay = await days(clock, async () => {
      let n = 0;
      for (const d of mine) n += await evaluateAll(node, d.credential);
      return n;
    });
    report('devices', 'numbers tested by one number on 3 devices', perDay);
  } finally {
    await node.running.close();
  }
}

async function rotation() {
  const clock = makeClock();
  const node = await startNode(clock);
  try {
    const me = await register(node, freshNumber());
    const admin = readFileSync(join(node.dataDir, 'admin-token'), 'utf8').trim();
    let translated = 0;
    let translateRefused = 0;
    const perDay = await days(clock, async (d, t) => {
      let n = await evaluateAll(node, me.credential);
      if (d === 0 && t === 12 * HOUR) {
        const before = node.running.services.directory.currentKeyId;
        const rotated = await node.call('POST', '/v1/admin/rotate-key', undefined, admin);
        if (rotated.status !== 200) throw new Error(`rotate: ${rotated.status}`);
        // Translate is free but only for what was evaluated under the old key: fresh elements
        // sent there are refused once that allowance is used, and re-keyed ones name no new
        // number (the client already knows which numbers it had evaluated).
        for (;;) {
          const r = await node.call(
            'POST',
            '/v1/discovery/translate',
            { fromKeyId: before, toKeyId: rotated.json.keyId, blindedElements: pool.slice(0, 256) },
            me.credential,
          );
          if (r.status !== 200) {
            translateRefused++;
            break;
          }
          translated += 256;
        }
        n += await evaluateAll(node, me.credential);
      }
      return n;
    });
    report('rotation', 'numbers tested by one number across a key rotation', perDay, {
      translatedFree: translated,
      translateRefusals: translateRefused,
    });
  } finally {
    await node.running.close();
  }
}

async function twoNodes() {
  if (!(await server.postgresReachable())) {
    report('two-nodes', 'not run: no PostgreSQL at 127.0.0.1:5432', []);
    return;
  }
  const clock = makeClock();
  const bus = new InProcessBus(clock.now);
  const url = await server.createPostgresDatabase();
  const a = await startNode(clock, { PARLEY_DATABASE_URL: url }, bus);
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-attack-'));
  for (const f of ['oprf-keys.json', 'link-key', 'directory-signing-key', 'admin-token']) {
    const { copyFileSync } = await import('node:fs');
    copyFileSync(join(a.dataDir, f), join(dataDir, f));
  }
  const b = await startNode(clock, { PARLEY_DATABASE_URL: url, PARLEY_DATA_DIR: dataDir }, bus);
  try {
    const number = freshNumber();
    const onA = await register(a, number);
    // The device on node B is linked by the one on A (an SMS code alone would replace it).
    const onB = await server.linkDevice(b.running.url, onA.credential, 'scraper on b');
    const perDay = await days(clock, async () => {
      return (await evaluateAll(a, onA.credential)) + (await evaluateAll(b, onB.credential));
    });
    report('two-nodes', 'numbers tested by one number with a device on each of two nodes', perDay);
  } finally {
    await a.running.close();
    await b.running.close();
    await bus.close();
    await server.dropPostgresDatabases();
  }
}

async function resolveOnly() {
  const clock = makeClock();
  const node = await startNode(clock);
  try {
    const me = await register(node, freshNumber());
    // Someone to find, discoverable.
    await register(node, freshNumber());
    let matches = 0;
    let allowed = 0;
    let refused = 0;
    for (let i = 0; i < 40; i++) {
      const keyId = node.running.services.directory.currentKeyId;
      const tokens = Array.from({ length: 256 }, () => core.toBase64Url(randomBytes(32)));
      const r = await node.call('POST', '/v1/discovery/resolve', { keyId, tokens }, me.credential);
      if (r.status === 200) {
        allowed += tokens.length;
        matches += r.json.matches.length;
      } else refused++;
    }
    report('resolve-only', 'registrations learned by resolving random tokens', [matches], {
      tokensResolved: allowed,
      refusedRequests: refused,
    });
  } finally {
    await node.running.close();
  }
}

async function accountsPerIp(perAccountDay1) {
  const clock = makeClock();
  const node = await startNode(clock);
  try {
    let accounts = 0;
    let blockAccounts = 0;
    const end = clock.t + DAY;
    while (clock.t < end) {
      const r = await register(node, freshNumber());
      if (r.refused) clock.t += r.retryAfterMs;
      else accounts++;
    }
    // And numbers from one block of 1,000 (bulk SIM cards), from many addresses: the prefix limit.
    const blockNode = await startNode(clock, { PARLEY_VERIFICATION_PER_IP: '100000' });
    const blockEnd = clock.t + DAY;
    let i = 0;
    while (clock.t < blockEnd && i < 1000) {
      const r = await register(blockNode, `+1720555${String(i).padStart(4, '0')}`);
      if (r.refused) clock.t += r.retryAfterMs;
      else {
        blockAccounts++;
        i++;
      }
    }
    await blockNode.running.close();
    report('accounts-per-ip', 'new accounts one IP address can verify per day', [accounts], {
      numbersPerIpPerDay: accounts * perAccountDay1,
      accountsPerBlockPerDay: blockAccounts,
    });
  } finally {
    await node.running.close();
  }
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function timing() {
  const clock = makeClock();
  const node = await startNode(clock, {
    PARLEY_VERIFICATION_PER_IP: '100000',
    PARLEY_VERIFICATION_PER_PREFIX: '100000',
    PARLEY_DISCOVERY_BUDGET: '100000',
  });
  try {
    const me = await register(node, freshNumber());
    // Registered but not discoverable: resolves exactly like an unregistered number, by design.
    const hidden = [];
    for (let i = 0; i < 20; i++) {
      const number = `+1512555${String(i).padStart(4, '0')}`;
      const v = await node.call('POST', '/v1/verifications', { phoneNumber: number });
      await node.call('POST', '/v1/accounts', {
        verificationId: v.json.verificationId,
        code: node.inbox.codeFor(v.json.verificationId),
        discoverable: false,
        presence: 'nobody',
        deviceName: 'x',
        // A fresh identity key (32 bytes): the server stores and relays it, it vouches for nothing.
        identityKey: randomBytes(32).toString('base64url'),
      });
      hidden.push(number);
    }
    const unregistered = hidden.map((_, i) => `+1512556${String(i).padStart(4, '0')}`);
    const keyId = node.running.services.directory.currentKeyId;
    const tokensOf = async (numbers) => {
      const blinded = numbers.map((n) => oprf.blind(core.phoneNumberInput(n)));
      const r = await node.call(
        'POST',
        '/v1/discovery/evaluate',
        { keyId, blindedElements: blinded.map((b) => core.toBase64Url(b.blindedElement)) },
        me.credential,
      );
      return r.json.evaluatedElements.map((e, i) =>
        core.toBase64Url(
          core.directoryToken(
            oprf.sha512,
            keyId,
            oprf.unblind(blinded[i].blind, core.fromBase64Url(e)),
          ),
        ),
      );
    };
    const sets = { hidden: await tokensOf(hidden), unregistered: await tokensOf(unregistered) };
    const times = { hidden: [], unregistered: [] };
    const answers = { hidden: new Set(), unregistered: new Set() };
    for (let round = 0; round < 15; round++) {
      for (const kind of round % 2 ? ['hidden', 'unregistered'] : ['unregistered', 'hidden']) {
        for (const token of sets[kind]) {
          const t0 = performance.now();
          const r = await node.call(
            'POST',
            '/v1/discovery/resolve',
            { keyId, tokens: [token] },
            me.credential,
          );
          times[kind].push(performance.now() - t0);
          answers[kind].add(`${r.status} ${JSON.stringify(r.json)}`);
        }
      }
    }
    // The verification request for a registered number vs a fresh one.
    const vt = { registered: [], unregistered: [] };
    for (let i = 0; i < 20; i++) {
      for (const [kind, number] of [
        ['registered', hidden[i]],
        ['unregistered', unregistered[i]],
      ]) {
        clock.t += HOUR; // past the per-number limit
        const t0 = performance.now();
        await node.call('POST', '/v1/verifications', { phoneNumber: number });
        vt[kind].push(performance.now() - t0);
      }
    }
    report(
      'timing',
      'what timing and answers tell apart (registered, not discoverable vs not registered)',
      [],
      {
        resolveAnswersIdentical:
          answers.hidden.size === 1 &&
          answers.unregistered.size === 1 &&
          [...answers.hidden][0] === [...answers.unregistered][0],
        resolveMedianMs: {
          registered: median(times.hidden),
          unregistered: median(times.unregistered),
        },
        verificationMedianMs: {
          registered: median(vt.registered),
          unregistered: median(vt.unregistered),
        },
      },
    );
  } finally {
    await node.running.close();
  }
}

const started = performance.now();
await oneAccount();
await reRegister();
await devices();
await rotation();
await twoNodes();
await resolveOnly();
const day1 = results.find((r) => r.strategy === 'one-account').perDay[0];
await accountsPerIp(day1);
await timing();

const best = Math.max(
  ...results.filter((r) => r.perDay.length === DAYS).map((r) => Math.max(...r.perDay)),
);
const steady = Math.max(
  ...results.filter((r) => r.perDay.length === DAYS).map((r) => r.perDay[DAYS - 1]),
);
const summary = {
  config: {
    budget: Number(process.env.PARLEY_DISCOVERY_BUDGET ?? 2000),
    refillPerHour: Number(process.env.PARLEY_DISCOVERY_REFILL_PER_HOUR ?? 100),
  },
  perNumberFirstDay: best,
  perNumberPerDayAfter: steady,
  perIpPerDay: results.find((r) => r.strategy === 'accounts-per-ip').numbersPerIpPerDay,
  seconds: (performance.now() - started) / 1000,
  results,
};
if (args.json) process.stdout.write(`${JSON.stringify(summary, null, 1)}\n`);
else {
  for (const r of results) {
    const { strategy, what, perDay, ...extra } = r;
    process.stdout.write(
      `${strategy.padEnd(16)} ${what}: ${perDay.map((n, d) => `day ${d + 1} ${n}`).join(', ') || '—'}${Object.keys(extra).length ? ` ${JSON.stringify(extra)}` : ''}\n`,
    );
  }
  process.stdout.write(
    `\nOne verified number: at most ${best} numbers tested on its first day, ${steady} per day after.\nOne IP address: at most ${summary.perIpPerDay} per day (new accounts it can verify × the first-day figure; each needs its own SIM card).\n(${summary.seconds.toFixed(0)} s)\n`,
  );
}
process.exit(0);
