// npm run attack:operator-scan: what the operator, holding the directory's OPRF key, pays to test
// phone numbers against its own directory (docs/security.md, "The operator and the OPRF key").
//
// One trial is what recovering a registered number by brute force takes per candidate number:
// HashToGroup(E.164), multiply by the key (k·H: the directory element N), derive the 64-bit
// fingerprint the directory publishes, look it up among the registered ones. Run on one thread
// with Parley's own code (@parley/core, libsodium WASM); a native build or a GPU is faster, so
// the figure is an upper bound on the cost. No server is involved: the key is all it takes.
//
//   npm run attack:operator-scan [-- --seconds 10]

import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' } } });
const seconds = Number(values.seconds);
const { loadOprf, directoryFingerprint, phoneNumberInput } = await import('@parley/core');
const oprf = await loadOprf();
const key = oprf.generateSecretKey();
const keyId = 'k1';
const hex = (bytes) => Buffer.from(bytes).toString('hex');
const trial = (e164) =>
  hex(
    directoryFingerprint(
      oprf.sha512,
      keyId,
      oprf.scalarMult(key, oprf.hashToGroup(phoneNumberInput(e164))),
    ),
  );

// A directory of 1,000 registered numbers, spread over the block scanned below.
const base = 4_155_000_000;
const registered = new Set();
for (let i = 0; i < 1000; i++) registered.add(trial(`+1${base + i * 997}`));

let tried = 0;
let found = 0;
const start = performance.now();
while (performance.now() - start < seconds * 1000) {
  for (let i = 0; i < 1000; i++, tried++) {
    if (registered.has(trial(`+1${base + tried}`))) found++;
  }
}
const perSecond = tried / ((performance.now() - start) / 1000);
const space = 1e10;
console.log(
  `${Math.round(perSecond).toLocaleString('en')} trials/s on one core (${tried.toLocaleString('en')} tried, ${found} registered found); ` +
    `a 10-digit national number space (10^10) takes ${Math.round(space / perSecond / 3600).toLocaleString('en')} core-hours; one number, ${((1 / perSecond) * 1e6).toFixed(0)} µs`,
);
