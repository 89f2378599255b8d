// Starts a real Parley server in this process (temp data dir, random port, silent logs) and
// registers one discoverable account through the HTTP API, for sections that measure the server
// end to end. In-process so the section can watch the server's own event loop.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';

const serverDist = new URL('../../packages/server/dist/index.js', import.meta.url);

/**
 * @param {{ env?: Record<string,string>, phoneNumber?: string }} options extra PARLEY_* settings
 * @returns {Promise<{ url, credential, keyId, server, close }>}
 */
export async function startBenchServer({ env = {}, phoneNumber = '+14152223344' } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-bench-server-'));
  const { server, codes } = await startServerOn(dataDir, env);
  const close = async () => {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const credential = await register(server.url, codes, phoneNumber);
    const directory = await call(server.url, 'GET', '/v1/directory', undefined, credential);
    return { url: server.url, credential, keyId: directory.keyId, server, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * A server in this process on `dataDir` (random port, silent logs, one OPRF worker per core), with
 * an SMS provider that keeps the codes it is asked to send, so a section can register accounts.
 * @param {string} dataDir
 * @param {Record<string,string>} env extra PARLEY_* settings
 * @returns {Promise<{ server, codes: Map<string,string> }>}
 */
export async function startServerOn(dataDir, env = {}) {
  const { loadConfig, startServer } = await import(serverDist.href);
  const cores = availableParallelism();
  const config = loadConfig(
    {
      PARLEY_DATA_DIR: dataDir,
      PARLEY_PORT: '0',
      PARLEY_LOG_LEVEL: 'silent',
      PARLEY_OPRF_WORKERS: String(cores),
      ...env,
    },
    cores,
  );
  const codes = new Map();
  const sms = {
    name: 'bench',
    sendVerification: async (message) => {
      codes.set(message.verificationId, message.code);
    },
  };
  return { server: await startServer(config, { sms }), codes };
}

async function register(url, codes, phoneNumber) {
  const { verificationId } = await call(url, 'POST', '/v1/verifications', { phoneNumber });
  const account = await call(url, 'POST', '/v1/accounts', {
    verificationId,
    code: codes.get(verificationId),
    discoverable: true,
    presence: 'nobody',
    deviceName: 'bench',
    // A fresh identity key (32 bytes): the server stores and relays it, it vouches for nothing.
    identityKey: randomBytes(32).toString('base64url'),
  });
  return account.credential;
}

/** One JSON request; throws with the server's error body on a non-2xx answer. */
export async function call(url, method, path, body, credential) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (credential) headers.authorization = `Bearer ${credential}`;
  const response = await fetch(new URL(path, url), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return JSON.parse(text);
}
