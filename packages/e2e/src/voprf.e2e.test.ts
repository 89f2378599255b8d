/**
 * Issue 15, item 2: a server that evaluates one client under a key of its own — to tag that
 * client's contacts and tell them apart from everyone else's — is caught by the VOPRF proof
 * check, in discovery and in the re-keying after a rotation. A real `parley serve` behind the
 * malicious-operator proxy, which holds the server's key file (the operator does) and rewrites
 * the answers as a modified server would: another key with a valid proof for that key, another
 * key with the honest proof kept, another public key for a pinned key id, a translation under a
 * factor of its own with a valid proof for it.
 */

import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { ParleyClient } from '@parley/client/node';
import {
  fromBase64Url,
  loadOprf,
  loadVoprf,
  type Oprf,
  ParleyError,
  toBase64Url,
  type Voprf,
} from '@parley/core';
import { MaliciousOperator } from './harness/malicious-operator.js';
import { directorySigner, oprfSecretKeys } from './harness/operator-keys.js';
import { registerThrough } from './harness/register.js';
import { BIN } from './harness/server-process.js';

const run = promisify(execFile);
const ALICE = '+14155550611';
const VICTIM = '+14155550622';
const root = mkdtempSync(join(tmpdir(), 'parley-voprf-'));

const proofInvalid = (e: unknown) => e instanceof ParleyError && e.code === 'OPRF_PROOF_INVALID';
const unb64 = (s: string) => fromBase64Url(s)!;

describe('VOPRF against a malicious operator (real server behind a rewriting proxy)', {
  timeout: 240_000,
}, () => {
  let operator: MaliciousOperator;
  let victim: ParleyClient;
  let oprf: Oprf;
  let voprf: Voprf;
  /** The key the operator tags the victim with. */
  let evilKey: Uint8Array;
  let evaluateRequests = 0;

  const register = (name: string, number: string) => registerThrough(operator, root, name, number);

  const serverKeys = () => oprfSecretKeys(operator.server.dataDir);

  /** Installs an evaluate hook for one call. */
  async function withEvaluate<T>(
    rewrite: (blinded: Uint8Array[], json: { proof: string }) => Record<string, unknown>,
    call: () => Promise<T>,
  ): Promise<T> {
    const remove = operator.onResponse('POST', '/v1/discovery/evaluate', (req, status, json) => {
      if (status !== 200) return json;
      const body = req.body as { blindedElements: string[] };
      return { ...(json as object), ...rewrite(body.blindedElements.map(unb64), json as never) };
    });
    try {
      return await call();
    } finally {
      remove();
    }
  }

  before(async () => {
    oprf = await loadOprf();
    voprf = await loadVoprf(oprf);
    evilKey = oprf.generateSecretKey();
    operator = await MaliciousOperator.start({ PARLEY_LOG_LEVEL: 'warn' });
    operator.onResponse('POST', '/v1/discovery/evaluate', (_req, _status, json) => {
      evaluateRequests += 1;
      return json;
    });
    await register('alice', ALICE);
    victim = await register('victim', VICTIM);
  });
  after(async () => {
    await victim?.close();
    await operator?.close();
  });

  it('an honest server: the victim finds Alice and pins the key', async () => {
    const found = await victim.lookupNumber(ALICE);
    assert.equal(found.status, 'on-parley');
  });

  it('evaluating the victim under another key, with a valid proof for that key, is caught', async () => {
    const evilPk = voprf.publicKey(evilKey);
    await assert.rejects(
      withEvaluate(
        (c) => {
          const out = voprf.blindEvaluate(evilKey, evilPk, c);
          return {
            evaluatedElements: out.evaluatedElements.map(toBase64Url),
            proof: toBase64Url(out.proof),
          };
        },
        () => victim.lookupNumber('+14155550633'),
      ),
      proofInvalid,
    );
  });

  it('evaluating under another key and keeping the honest proof is caught', async () => {
    await assert.rejects(
      withEvaluate(
        (c) => ({
          evaluatedElements: c.map((e) => toBase64Url(oprf.scalarMult(evilKey, e))),
        }),
        () => victim.lookupNumber('+14155550644'),
      ),
      proofInvalid,
    );
  });

  it('publishing another public key for the pinned key id is refused before anything is sent', async () => {
    // Signed with the server's own directory key, so only the pin can catch it.
    const resign = directorySigner(operator.server.dataDir);
    const remove = operator.onResponse('GET', '/v1/directory', (_req, status, json) =>
      status === 200
        ? resign({
            ...(json as Parameters<typeof resign>[0]),
            publicKey: toBase64Url(voprf.publicKey(evilKey)),
          })
        : json,
    );
    const before = evaluateRequests;
    try {
      await assert.rejects(victim.lookupNumber('+14155550655'), proofInvalid);
    } finally {
      remove();
    }
    assert.equal(evaluateRequests, before, 'no evaluation was asked for');
    // The pin survives: the honest server is still accepted.
    assert.equal((await victim.lookupNumber('+14155550666')).status, 'not-on-parley');
  });

  it('after a rotation, a translation under a factor of the operator’s own is caught; the honest one passes', async () => {
    const { stdout } = await run(process.execPath, [
      BIN,
      'admin',
      'rotate-key',
      '--data',
      operator.server.dataDir,
      '--server',
      operator.server.url,
      '--json',
    ]);
    const rotated = JSON.parse(stdout) as { keyId: string; previousKeyId: string };
    const keys = serverKeys();
    const oldKey = keys[rotated.previousKeyId]!;
    // k_evil/k_old, proved valid for (pk_old, pk_evil): everything a lying server can produce.
    const factor = oprf.scalarMul(evilKey, oprf.scalarInvert(oldKey));
    let translations = 0;
    const remove = operator.onResponse('POST', '/v1/discovery/translate', (req, status, json) => {
      if (status !== 200) return json;
      translations += 1;
      const c = (req.body as { blindedElements: string[] }).blindedElements.map(unb64);
      const d = c.map((e) => oprf.scalarMult(factor, e));
      const proof = voprf.generateProof(
        factor,
        voprf.publicKey(oldKey),
        voprf.publicKey(evilKey),
        c,
        d,
      );
      return {
        ...(json as object),
        translatedElements: d.map(toBase64Url),
        proof: toBase64Url(proof),
      };
    });
    try {
      await assert.rejects(victim.lookupNumber(ALICE), proofInvalid);
    } finally {
      remove();
    }
    assert.equal(translations, 1);
    // Honest again: the cached elements are re-keyed (no evaluation) and Alice is found.
    const before = evaluateRequests;
    assert.equal((await victim.lookupNumber(ALICE)).status, 'on-parley');
    assert.equal(evaluateRequests, before, 're-keyed, not evaluated again');
  });
});
