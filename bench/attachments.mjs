// Section "attachments": what end-to-end encrypted files cost, and whether the server streams
// them. Why: issue 19 asked for attachment throughput through one node, up and down, encrypted,
// against a plain HTTP file copy in the same run, and for the server's memory while 20 clients
// upload 10 MB each (goal: streaming, no whole-file buffers on the server).
//   - up: the SDK's messenger.sendFile (secretstream encryption, SHA-256, 1 MiB chunks over HTTP,
//     the MLS message), against the same bytes PUT to a plain Node HTTP server that streams the
//     request into a file;
//   - down: the SDK's fetchAttachment (download, length and digest check, decryption), against a
//     plain GET streaming that file back;
//   - memory: a real `parley serve` (SQLite, files under its data directory) while 20 clients each
//     upload a 10 MB ciphertext at once, its peak RSS growth sampled every 20 ms.
// Both servers are their own processes on loopback; this process is every client.
// Usage: node bench/attachments.mjs (one JSON object on the last stdout line; progress on stderr).
// BENCH_SMOKE=1: 2 MB files, 1 round, 3 concurrent uploads of 2 MB (lib/smoke.mjs).

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emit, median, progress, RUNS } from './lib/measure.mjs';
import { SMOKE, setting, smokeNote } from './lib/smoke.mjs';

const ROOT = new URL('../', import.meta.url);
const { ServerProcess } = await import(
  new URL('packages/e2e/dist/harness/server-process.js', ROOT).href
);
const { MemoryStore, nodeSocket, ParleyClient } = await import(
  new URL('packages/client/dist/node.js', ROOT).href
);
const core = await import(new URL('packages/core/dist/index.js', ROOT).href);

const MB = 1024 * 1024;
const FILE_MB = setting('BENCH_ATTACHMENT_MB', 10, 2);
const CLIENTS = setting('BENCH_ATTACHMENT_CLIENTS', 20, 3);
/** The memory goal: far below what holding every file at once would take. */
const MEMORY_GOAL_MB = 100;

function rssKiB(pid) {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
}

const mbps = (bytes, ms) => bytes / MB / (ms / 1000);

// --- the baseline: a plain HTTP file server in its own process ---

const PLAIN_SERVER = `
const http = require('node:http');
const fs = require('node:fs');
const { pipeline } = require('node:stream/promises');
const path = process.argv[1] + '/file';
http.createServer(async (req, res) => {
  if (req.method === 'PUT') {
    await pipeline(req, fs.createWriteStream(path));
    res.end('{}');
  } else {
    res.writeHead(200, { 'content-type': 'application/octet-stream',
      'content-length': fs.statSync(path).size });
    await pipeline(fs.createReadStream(path), res);
  }
}).listen(0, '127.0.0.1', function () { console.log(this.address().port); });
`;

async function plainServer(dir) {
  const child = spawn(process.execPath, ['-e', PLAIN_SERVER, dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise((resolve) =>
    child.stdout.once('data', (d) => resolve(String(d).trim())),
  );
  return { url: `http://127.0.0.1:${port}/file`, close: () => child.kill() };
}

async function plainCopy(url, bytes) {
  let t = performance.now();
  await (await fetch(url, { method: 'PUT', body: bytes })).arrayBuffer();
  const up = performance.now() - t;
  t = performance.now();
  const back = new Uint8Array(await (await fetch(url)).arrayBuffer());
  const down = performance.now() - t;
  if (back.byteLength !== bytes.byteLength) throw new Error('the plain copy lost bytes');
  return { up, down };
}

// --- Parley: two SDK clients in one conversation ---

async function sdkClient(server, number) {
  const client = await ParleyClient.open({
    serverUrl: server.url,
    store: new MemoryStore(),
    socket: nodeSocket,
  });
  const { verificationId } = await client.requestCode(number);
  await client.register({
    verificationId,
    code: await server.codeFor(verificationId),
    discoverable: true,
    presence: 'nobody',
    deviceName: 'bench',
  });
  await client.messenger.start();
  return client;
}

async function throughputRows(rows, notes) {
  const dir = mkdtempSync(join(tmpdir(), 'parley-bench-attach-'));
  const server = await ServerProcess.start({
    PARLEY_LOG_LEVEL: 'warn',
    PARLEY_OPRF_WORKERS: '1',
  });
  const plain = await plainServer(dir);
  const alice = await sdkClient(server, '+14155550391');
  const bob = await sdkClient(server, '+14155550392');
  try {
    const chat = await alice.messenger.createConversation([bob.account.accountId]);
    const inbox = [];
    bob.messenger.on('message', (m) => inbox.push(m));
    const file = randomBytes(FILE_MB * MB);
    const up = { parley: [], plain: [] };
    const down = { parley: [], plain: [] };
    for (let run = 0; run < RUNS; run++) {
      progress(`attachments: round ${run + 1}/${RUNS}, ${FILE_MB} MB`);
      const copy = await plainCopy(plain.url, file);
      up.plain.push(copy.up);
      down.plain.push(copy.down);
      let t = performance.now();
      const sent = await alice.messenger.sendFile(chat.id, file, { name: 'bench.bin' });
      up.parley.push(performance.now() - t);
      while (!inbox.some((m) => m.id === sent.id)) await new Promise((r) => setTimeout(r, 10));
      t = performance.now();
      const got = await bob.messenger.fetchAttachment(inbox.find((m) => m.id === sent.id));
      down.parley.push(performance.now() - t);
      if (got.byteLength !== file.byteLength) throw new Error('the attachment lost bytes');
    }
    const bytes = file.byteLength;
    for (const [what, parley, base] of [
      [
        'up: messenger.sendFile (encrypt, SHA-256, chunked upload, MLS message)',
        up.parley,
        up.plain,
      ],
      [
        'down: fetchAttachment (download, length and digest check, decrypt)',
        down.parley,
        down.plain,
      ],
    ]) {
      const value = mbps(bytes, median(parley));
      const baseline = mbps(bytes, median(base));
      rows.push({
        what: `${what}, ${FILE_MB} MB file`,
        value: Number(value.toFixed(1)),
        unit: 'MB/s',
        ratio: Number((value / baseline).toFixed(2)),
        baseline: `plain HTTP file copy (${what.startsWith('up') ? 'PUT' : 'GET'}, streamed to/from a file): ${baseline.toFixed(1)} MB/s`,
      });
    }
    notes.push(
      `Throughput: median of ${RUNS} round(s), one ${FILE_MB} MB random file; a real \`parley serve\` (SQLite, blobs as files under its data directory) and a plain Node HTTP server, each its own process on loopback; SDK clients in this process.`,
    );
  } finally {
    alice.close();
    bob.close();
    plain.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

// --- memory: many uploads at once, raw HTTP, one conversation each ---

async function call(url, method, path, body, credential) {
  const headers = {};
  if (credential) headers.authorization = `Bearer ${credential}`;
  if (body instanceof Uint8Array) headers['content-type'] = 'application/octet-stream';
  else if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(new URL(path, url), {
    method,
    headers,
    body: body instanceof Uint8Array || body === undefined ? body : JSON.stringify(body),
  });
  const json = await response.json();
  if (!response.ok)
    throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

async function memoryRows(rows, notes) {
  const server = await ServerProcess.start({
    PARLEY_LOG_LEVEL: 'warn',
    PARLEY_OPRF_WORKERS: '1',
    PARLEY_ATTACHMENT_QUOTA_MB: String(FILE_MB * 2),
  });
  try {
    const uploaders = [];
    for (let i = 0; i < CLIENTS; i++) {
      const number = `+1415555${String(4000 + i).padStart(4, '0')}`;
      const { verificationId } = await call(server.url, 'POST', '/v1/verifications', {
        phoneNumber: number,
      });
      const account = await call(server.url, 'POST', '/v1/accounts', {
        verificationId,
        code: await server.codeFor(verificationId),
        discoverable: false,
        presence: 'nobody',
        deviceName: 'bench',
        identityKey: randomBytes(32).toString('base64url'),
      });
      const groupId = randomBytes(16).toString('base64url');
      await call(
        server.url,
        'POST',
        `/v1/groups/${groupId}/commits`,
        { epoch: 0, commit: 'AAAA', add: [], remove: [] },
        account.credential,
      );
      uploaders.push({ credential: account.credential, groupId });
    }
    const { ciphertext } = await core.encryptAttachment(randomBytes(FILE_MB * MB));
    await new Promise((r) => setTimeout(r, 500));
    const before = rssKiB(server.pid);
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssKiB(server.pid));
    }, 20);
    const t = performance.now();
    progress(`attachments: ${CLIENTS} clients uploading ${FILE_MB} MB each at once`);
    await Promise.all(
      uploaders.map(async ({ credential, groupId }) => {
        const upload = await call(
          server.url,
          'POST',
          '/v1/attachments',
          { groupId, size: ciphertext.byteLength },
          credential,
        );
        for (let i = 0; i < upload.chunkCount; i++) {
          const chunk = ciphertext.subarray(i * upload.chunkBytes, (i + 1) * upload.chunkBytes);
          await call(
            server.url,
            'PUT',
            `/v1/attachments/${upload.id}/chunks/${i}`,
            chunk,
            credential,
          );
        }
        await call(
          server.url,
          'POST',
          `/v1/attachments/${upload.id}/complete`,
          undefined,
          credential,
        );
      }),
    );
    const ms = performance.now() - t;
    clearInterval(sampler);
    const growthMb = (peak - before) / 1024;
    const total = CLIENTS * FILE_MB;
    rows.push({
      what: `server peak RSS growth while ${CLIENTS} clients upload ${FILE_MB} MB each at once`,
      value: Number(growthMb.toFixed(1)),
      unit: 'MB',
      ratio: Number((growthMb / total).toFixed(3)),
      baseline: `the files together: ${total} MB`,
      goal: `≤ ${MEMORY_GOAL_MB} MB (streaming, no whole-file buffers)`,
      met: growthMb <= MEMORY_GOAL_MB,
    });
    rows.push({
      what: `aggregate upload rate of those ${CLIENTS} clients`,
      value: Number(mbps(total * MB, ms).toFixed(1)),
      unit: 'MB/s',
    });
    notes.push(
      `Memory: RSS of the \`parley serve\` process (SQLite) from /proc, sampled every 20 ms, before and during ${CLIENTS} concurrent uploads of one ${FILE_MB} MB ciphertext each in 1 MiB chunks (raw HTTP, one conversation per uploader).`,
    );
  } finally {
    await server.stop();
  }
}

const rows = [];
const notes = [];
await throughputRows(rows, notes);
await memoryRows(rows, notes);
if (SMOKE) {
  notes.push(
    smokeNote(
      `${FILE_MB} MB files instead of 10, ${RUNS} round(s), ${CLIENTS} concurrent uploaders instead of 20`,
    ),
  );
}
emit({
  section: 'attachments',
  title: 'Attachments: encrypted throughput up and down, server memory under concurrent uploads',
  rows,
  notes,
});
