/**
 * `GET /metrics` on a real server: it needs the admin token, speaks Prometheus' text format, and
 * every metric moves when its event happens (connections, stores, deliveries, acknowledgements,
 * queue depth, delivery latency, evaluations, refusals, HTTP durations, the OPRF pool).
 */

import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { loadOprf, toBase64Url } from '@parley/core';
import WebSocket from 'ws';
import { adminTokenPath } from '../../server.js';
import { testServer } from '../../testing/index.js';
import { Buckets } from './counters.js';

type Frame = Record<string, unknown> & { t: string };

/** A raw device socket that authenticates and keeps every frame it gets. */
async function deviceSocket(url: string, credential: string) {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/v1/socket`);
  const frames: Frame[] = [];
  ws.on('message', (data) => {
    for (const line of String(data).split('\n')) frames.push(JSON.parse(line) as Frame);
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ t: 'auth', credential }));
  await until('ready', () => frames.some((f) => f.t === 'ready'));
  return { ws, frames, send: (frame: Frame) => ws.send(JSON.stringify(frame)) };
}

async function until(what: string, test: () => boolean | Promise<boolean>, ms = 10_000) {
  const end = Date.now() + ms;
  while (!(await test())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('Prometheus metrics', () => {
  let t: Awaited<ReturnType<typeof testServer>>;
  let admin: string;

  /** One sample's value from the exposition text (0 when absent). */
  async function sample(name: string, labels = ''): Promise<number> {
    const r = await fetch(new URL('/metrics', t.server.url), {
      headers: { authorization: `Bearer ${admin}` },
    });
    assert.equal(r.status, 200);
    const text = await r.text();
    const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
    return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
  }

  /**
   * Waits until a metric reads `expected`, then asserts it: whether the server counts before or
   * after it sends the frame a test waited for is not what these tests are about.
   */
  async function settles(name: string, expected: number, labels = '', message?: string) {
    let last = Number.NaN;
    await until(`${name}${labels} = ${expected}`, async () => {
      last = await sample(name, labels);
      return last === expected;
    }).catch(() => undefined);
    assert.equal(last, expected, message ?? `${name}${labels}`);
  }

  before(async () => {
    t = await testServer({
      PARLEY_DISCOVERY_BUDGET: '3',
      PARLEY_VERIFICATION_PER_NUMBER: '1',
    });
    admin = readFileSync(adminTokenPath(t.config.dataDir), 'utf8').trim();
  });
  after(() => t.server.close());

  it('needs the admin token and answers in the text exposition format', async () => {
    const url = new URL('/metrics', t.server.url);
    assert.equal((await fetch(url)).status, 401);
    const wrong = await fetch(url, { headers: { authorization: 'Bearer nope' } });
    assert.equal(wrong.status, 401);
    assert.equal(((await wrong.json()) as { code: string }).code, 'ADMIN_UNAUTHORIZED');
    const device = await t.register('+14155550301');
    const asDevice = await fetch(url, {
      headers: { authorization: `Bearer ${device.credential}` },
    });
    assert.equal(asDevice.status, 401, 'a device credential is not the admin token');
    const ok = await fetch(url, { headers: { authorization: `Bearer ${admin}` } });
    assert.equal(ok.status, 200);
    assert.match(ok.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await ok.text();
    for (const name of [
      'parley_websocket_connections',
      'parley_messages_stored_total',
      'parley_queue_depth',
      'parley_delivery_latency_seconds',
      'parley_http_request_duration_seconds',
      'process_cpu_user_seconds_total',
      'nodejs_eventloop_lag_seconds',
    ]) {
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
    }
    assert.match(text, /^parley_delivery_latency_seconds_bucket\{le="\+Inf"\} 0$/m);
  });

  it('counts connections, stores, deliveries, acknowledgements, queue depth and latency', async () => {
    const a = await t.register('+14155550302');
    const b = await t.register('+14155550303');
    const groupId = 'M'.repeat(22);
    await t.server.services.groups.commit(a, groupId, {
      epoch: 0,
      commit: 'AAAA',
      welcome: 'AAAA',
      add: [{ deviceId: b.deviceId, keyPackageId: 'kp-metrics-01' }],
      remove: [],
    });
    const depth0 = await sample('parley_queue_depth');
    assert.ok(depth0 >= 1, 'the Welcome waits in b’s queue');

    const sender = await deviceSocket(t.server.url, a.credential);
    await settles('parley_websocket_connections', 1);
    const ids = ['1', '2', '3'].map((c) => c.repeat(22));
    for (const id of ids) sender.send({ t: 'send', id, groupId, epoch: 1, payload: 'AQID' });
    sender.send({ t: 'send', id: ids[0]!, groupId, epoch: 1, payload: 'AQID' }); // a retry
    await until('4 answers', () => sender.frames.filter((f) => f.t === 'stored').length === 4);
    await settles('parley_messages_stored_total', 3, '', 'the retry is not counted');
    await settles('parley_queue_depth', depth0 + 3);

    const delivered0 = await sample('parley_queue_entries_delivered_total');
    const receiver = await deviceSocket(t.server.url, b.credential);
    await settles('parley_websocket_connections', 2);
    await until(
      'the welcome and 3 messages',
      () => receiver.frames.filter((f) => f.t === 'deliver').length === 4,
    );
    await settles('parley_queue_entries_delivered_total', delivered0 + 4);
    await settles('parley_delivery_latency_seconds_count', 0);

    const seqs = receiver.frames.filter((f) => f.t === 'deliver').map((f) => f.seq as number);
    receiver.send({ t: 'ack', seqs });
    // The acknowledgement puts one receipt in a's queue, which a's socket gets at once.
    await until('the receipt', () => sender.frames.some((f) => f.t === 'deliver'));
    await settles('parley_queue_entries_acknowledged_total', 4);
    await settles('parley_delivery_latency_seconds_count', 3, '', 'one per message');
    await settles('parley_delivery_latency_seconds_bucket', 3, '{le="+Inf"}');
    await settles('parley_delivery_latency_seconds_bucket', 3, '{le="3600"}');
    assert.ok((await sample('parley_delivery_latency_seconds_sum')) < 60);
    await settles('parley_queue_entries_delivered_total', delivered0 + 5);
    await settles('parley_queue_depth', depth0 - 1 + 1, '', 'b’s queue empty, a receipt');

    receiver.ws.close();
    sender.ws.close();
    await until('no connections', async () => (await sample('parley_websocket_connections')) === 0);
  });

  it('counts discovery evaluations, budget refusals and the OPRF pool’s work', async () => {
    const { credential } = await t.register('+14155550304');
    const oprf = await loadOprf();
    const blinded = (n: number) =>
      Array.from({ length: n }, () => toBase64Url(oprf.blind(randomBytes(8)).blindedElement));
    const keyId = t.server.services.directory.currentKeyId;
    const evaluations0 = await sample('parley_discovery_evaluations_total');
    const elements0 = await sample('parley_oprf_elements_total');
    const tasks0 = await sample('parley_oprf_tasks_total');
    const ok = await t.call('POST', '/v1/discovery/evaluate', {
      token: credential,
      body: { keyId, blindedElements: blinded(2) },
    });
    assert.equal(ok.status, 200);
    assert.equal(await sample('parley_discovery_evaluations_total'), evaluations0 + 2);
    assert.equal(await sample('parley_oprf_elements_total'), elements0 + 2);
    // One task evaluates the 2 elements, one more finishes their batched VOPRF proof.
    assert.equal(await sample('parley_oprf_tasks_total'), tasks0 + 2);
    assert.equal(await sample('parley_oprf_pending_tasks'), 0);
    assert.equal(await sample('parley_discovery_budget_refusals_total'), 0);
    const refused = await t.call('POST', '/v1/discovery/evaluate', {
      token: credential,
      body: { keyId, blindedElements: blinded(2) },
    });
    assert.equal(refused.json.code, 'DISCOVERY_BUDGET_EXHAUSTED');
    assert.equal(await sample('parley_discovery_budget_refusals_total'), 1);
    assert.equal(await sample('parley_discovery_evaluations_total'), evaluations0 + 2);
  });

  it('counts rate-limit refusals by kind', async () => {
    const kind = (k: string) => sample('parley_rate_limit_refusals_total', `{kind="${k}"}`);
    assert.equal(await kind('verification'), 0);
    const number = { phoneNumber: '+14155550305' };
    assert.equal((await t.call('POST', '/v1/verifications', { body: number })).status, 201);
    const limited = await t.call('POST', '/v1/verifications', { body: number });
    assert.equal(limited.json.code, 'VERIFICATION_RATE_LIMITED');
    assert.equal(await kind('verification'), 1);

    // 5,000 lookup tokens per account per hour: the 20th batch of 256 is refused.
    const { credential } = await t.register('+14155550306');
    const keyId = t.server.services.directory.currentKeyId;
    const tokens = Array.from({ length: 256 }, () => toBase64Url(randomBytes(32)));
    let answer = 0;
    for (let i = 0; i < 20; i++) {
      const r = await t.call('POST', '/v1/discovery/resolve', {
        token: credential,
        body: { keyId, tokens },
      });
      answer = r.status;
    }
    assert.equal(answer, 429);
    assert.equal(await kind('resolve'), 1);
    assert.equal(await kind('key_claim'), 0);
    // The claim limit (1,000 accounts an hour) is too slow to reach here; its code and route are.
    t.server.metrics.refused('RATE_LIMITED', '/v1/keys/claim');
    assert.equal(await kind('key_claim'), 1);
    t.server.metrics.refused('RATE_LIMITED', '/v1/some/new/limit');
    assert.equal(await kind('other'), 1);
    assert.equal(await kind('resolve'), 1);
  });

  it('times HTTP requests by route pattern and status class', async () => {
    const h = (labels: string) => sample('parley_http_request_duration_seconds_count', labels);
    const ok = '{method="GET",route="/healthz",status_class="2xx"}';
    const before = await h(ok);
    await t.call('GET', '/healthz');
    await t.call('GET', '/healthz');
    assert.equal(await h(ok), before + 2);
    // The raw URL never becomes a label (it could hold anything, a number included).
    await t.call('GET', '/v1/nothing/+14155550307');
    assert.equal(await h('{method="GET",route="unmatched",status_class="4xx"}'), 1);
    const text = await (
      await fetch(new URL('/metrics', t.server.url), {
        headers: { authorization: `Bearer ${admin}` },
      })
    ).text();
    assert.ok(!text.includes('4155550307'));
    assert.ok(
      (await h('{method="POST",route="/v1/verifications",status_class="4xx"}')) >= 1,
      'the refused verification',
    );
  });
});

describe('latency buckets', () => {
  it('puts each observation in the first bucket whose bound it does not exceed', () => {
    const b = new Buckets([1, 5]);
    for (const v of [0.5, 1, 3, 5, 9]) b.observe(v);
    assert.deepEqual([...b.counts], [2, 2]);
    assert.equal(b.count, 5);
    assert.equal(b.sum, 18.5);
  });
});
