// A loopback TCP proxy that adds a fixed delay to every round trip: what a real network between
// the nodes and their database costs, which loopback hides (bench/writers.mjs). Every chunk the
// server sends back is held until `delayMs` after it was read, so each request/response exchange
// (a PostgreSQL statement, a COMMIT) costs `delayMs` more; the requests go through at once.
//
// Node's timers cannot wait less than a millisecond, so the wait is Atomics.wait on a private
// buffer (sub-millisecond, sleeping, no CPU): one chunk at a time, the event loop turning between
// chunks so that what arrives meanwhile is read and stamped. A chunk read while the proxy slept
// is stamped when read, up to one delay late: the added time per round trip is between `delayMs`
// and twice it, close to `delayMs` unless the proxy is saturated (the section reports its CPU).
//
// Run as its own process (its CPU is measured apart from the writers'):
//   node bench/lib/delay-proxy.mjs <target host:port> <delay ms>
// It prints `{"port":N}` on stdout once listening, and stops when its stdin closes.

import { createConnection, createServer } from 'node:net';

/** Starts the proxy in this process; resolves to its server once listening on 127.0.0.1. */
export function startDelayProxy({ host, port, delayMs }) {
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  /** Chunks on their way back, in the order read: the delay is fixed, so due times ascend. */
  const held = [];
  let draining = false;

  function drain() {
    const next = held[0];
    if (!next) {
      draining = false;
      return;
    }
    const wait = next.due - performance.now();
    if (wait > 0) Atomics.wait(sleeper, 0, 0, wait);
    held.shift();
    if (!next.socket.destroyed) next.socket.write(next.chunk);
    // One chunk per turn: between two, the event loop reads what arrived and stamps it.
    setImmediate(drain);
  }

  const server = createServer((client) => {
    client.setNoDelay(true);
    const upstream = createConnection({ host, port });
    upstream.setNoDelay(true);
    client.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk) => {
      held.push({ due: performance.now() + delayMs, socket: client, chunk });
      if (!draining) {
        draining = true;
        setImmediate(drain);
      }
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', close);
    upstream.on('close', close);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [target, delay] = process.argv.slice(2);
  const match = /^([^:]+):(\d+)$/.exec(target ?? '');
  const delayMs = Number(delay);
  if (!match || !(delayMs >= 0)) {
    process.stderr.write('usage: node bench/lib/delay-proxy.mjs <host:port> <delay ms>\n');
    process.exit(2);
  }
  const server = await startDelayProxy({ host: match[1], port: Number(match[2]), delayMs });
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
  process.stdin.resume();
  process.stdin.on('close', () => process.exit(0));
  process.stdin.on('end', () => process.exit(0));
}
