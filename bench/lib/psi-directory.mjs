// The discovery job done with @openmined/psi.js (ECDH-PSI over P-256, Golomb-coded server setup),
// for bench/discovery.mjs to compare against. The server's set is `count` E.164 strings that
// include BENCH_REAL_NUMBERS; a client asks about 1,024 numbers.
//
// The server setup (one P-256 multiplication per server element, ~1 ms each in psi.js's WASM) is
// psi.js's counterpart of our filter build: done once per server key, reused by every client. At
// 2^20 it takes tens of minutes, so the setup message and the server key that made it are cached
// like the synthetic directories: $BENCH_CACHE_DIR (default <os tmpdir>/parley-bench-cache)
// /psi-v1-n<count>-c<client size>-p<per-element FPR exponent>/ {key.bin, setup.bin, info.json};
// info.json records how long the setup took when it was made.

import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageVersion } from './measure.mjs';
import { BENCH_REAL_NUMBERS, cacheRoot } from './synthetic-directory.mjs';

const VERSION = 1;

/** The server's elements: the real numbers, then synthetic E.164 strings up to `count`. */
export function psiServerSet(count) {
  const set = BENCH_REAL_NUMBERS.slice(0, count);
  for (let i = 0; set.length < count; i++) set.push(`+1${2_000_000_000 + i}`);
  return set;
}

export async function loadPsi() {
  const PSI = (await import('@openmined/psi.js')).default;
  return { lib: await PSI(), version: packageVersion('@openmined/psi.js') };
}

function cacheDir({ count, clientSize, fprLog2 }) {
  return join(cacheRoot(), `psi-v${VERSION}-n${count}-c${clientSize}-p${-fprLog2}`);
}

/** Whether the setup for these parameters is in the cache. */
export function psiSetupCached(params) {
  return existsSync(join(cacheDir(params), 'info.json'));
}

/**
 * The psi.js server for a set of `count` elements with its setup message, from the cache or made
 * now. `fprLog2` is the per-element false-positive rate's exponent (psi.js takes the rate for the
 * whole client set, so it gets clientSize · 2^fprLog2).
 */
export async function psiServer(lib, { count, clientSize, fprLog2, log }) {
  const dir = cacheDir({ count, clientSize, fprLog2 });
  if (existsSync(join(dir, 'info.json'))) {
    const info = JSON.parse(readFileSync(join(dir, 'info.json'), 'utf8'));
    const server = lib.server.createFromKey(
      new Uint8Array(readFileSync(join(dir, 'key.bin'))),
      true,
    );
    const setup = new Uint8Array(readFileSync(join(dir, 'setup.bin')));
    log(`psi.js: setup for 2^${Math.log2(count)} from the cache ${dir}`);
    return { server, setup, setupMs: info.setupMs, cached: true, cachePath: dir };
  }
  const inputs = psiServerSet(count);
  const server = lib.server.createWithNewKey(true);
  log(`psi.js: server setup over ${count} elements (one P-256 multiplication each; slow)`);
  const started = performance.now();
  const setup = server.createSetupMessage(clientSize * 2 ** fprLog2, clientSize, inputs);
  const bytes = setup.serializeBinary();
  const setupMs = performance.now() - started;
  log(`psi.js: setup done in ${(setupMs / 1000).toFixed(1)} s, ${bytes.length} bytes`);
  mkdirSync(cacheRoot(), { recursive: true });
  const partial = `${dir}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial);
  writeFileSync(join(partial, 'key.bin'), server.getPrivateKeyBytes());
  writeFileSync(join(partial, 'setup.bin'), bytes);
  writeFileSync(
    join(partial, 'info.json'),
    `${JSON.stringify({ count, clientSize, fprLog2, setupMs: Math.round(setupMs), madeAt: new Date().toISOString() }, null, 2)}\n`,
  );
  rmSync(dir, { recursive: true, force: true });
  renameSync(partial, dir);
  return { server, setup: bytes, setupMs, cached: false, cachePath: dir };
}

/**
 * One discovery: the client's request for `inputs`, the server's response, the client's
 * intersection against the setup it holds (`setup`, deserialized once beforehand, as a client
 * would keep it). Returns the matched inputs and the time of each step.
 */
export function psiDiscover(lib, server, setup, inputs) {
  const t0 = performance.now();
  const client = lib.client.createWithNewKey(true);
  const request = client.createRequest(inputs).serializeBinary();
  const t1 = performance.now();
  const response = server.processRequest(lib.request.deserializeBinary(request)).serializeBinary();
  const t2 = performance.now();
  const indices = client.getIntersection(setup, lib.response.deserializeBinary(response));
  const t3 = performance.now();
  client.delete();
  return {
    matched: indices.map((i) => inputs[i]),
    requestMs: t1 - t0,
    responseMs: t2 - t1,
    intersectMs: t3 - t2,
    totalMs: t3 - t0,
    requestBytes: request.length,
    responseBytes: response.length,
  };
}
