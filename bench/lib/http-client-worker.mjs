// HTTP clients for bench/pool.mjs, each in its own worker thread so that neither the load
// generator's JSON work nor the prober's timers run on the server's event loop being measured.
//   role 'probe': GET /healthz every 5 ms until told to stop; answers with the latencies (ms).
//   role 'load':  on each message, `concurrent` POST /v1/discovery/evaluate of the elements at once.

import { parentPort, workerData } from 'node:worker_threads';

const { role, url } = workerData;

async function timed(path, init) {
  const start = performance.now();
  const response = await fetch(new URL(path, url), init);
  const body = await response.text();
  if (!response.ok) throw new Error(`${path}: ${response.status} ${body.slice(0, 200)}`);
  return { ms: performance.now() - start, body };
}

function probe({ intervalMs = 5 }) {
  const latencies = [];
  const inflight = new Set();
  let failure;
  const tick = () => {
    const request = timed('/healthz')
      .then(({ ms }) => latencies.push(ms))
      .catch((error) => {
        failure ??= String(error);
      })
      .finally(() => inflight.delete(request));
    inflight.add(request);
  };
  const timer = setInterval(tick, intervalMs);
  tick();
  parentPort.postMessage({ type: 'ready' });
  parentPort.once('message', async () => {
    clearInterval(timer);
    await Promise.all(inflight);
    parentPort.postMessage({ type: 'done', latencies, failure });
  });
}

/** Waits for 'round' commands; each sends `concurrent` requests at once and reports back. */
function load({ credential, keyId, elements, concurrent }) {
  const body = JSON.stringify({ keyId, blindedElements: elements });
  const init = {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${credential}` },
    body,
  };
  const round = async () => {
    const start = performance.now();
    const answers = await Promise.all(
      Array.from({ length: concurrent }, () => timed('/v1/discovery/evaluate', init)),
    );
    for (const { body: text } of answers) {
      const count = JSON.parse(text).evaluatedElements.length;
      if (count !== elements.length) throw new Error(`got ${count} evaluated elements`);
    }
    return {
      elapsedMs: performance.now() - start,
      evaluations: concurrent * elements.length,
      latencies: answers.map((a) => a.ms),
    };
  };
  parentPort.on('message', () =>
    round().then(
      (result) => parentPort.postMessage({ type: 'done', ...result }),
      (error) => parentPort.postMessage({ type: 'done', failure: String(error) }),
    ),
  );
  parentPort.postMessage({ type: 'ready' });
}

if (role === 'probe') probe(workerData);
else load(workerData);
