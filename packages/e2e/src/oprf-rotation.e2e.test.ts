/**
 * Issue 15, item 2: "a rotation publishes the new public key with a statement signed by the old
 * one". A real `parley serve` behind the malicious-operator proxy, which holds the server's key
 * file and directory signing key (the operator does). The operator swaps in an OPRF key of its own
 * — the directory answer re-signed with the real directory signing key — without the old OPRF
 * key's statement, or with one the new key signed itself: the client refuses before anything is
 * evaluated or translated. Holding the old OPRF key but not the directory signing key is not
 * enough either. An honest rotation (`parley admin rotate-key`) keeps discovery working, with the
 * translation proved; going back to the old key afterwards is refused.
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
  loadOprf,
  loadRotationSigner,
  loadVoprf,
  type Oprf,
  ParleyError,
  type RotationSigner,
  type RotationsResponse,
  toBase64Url,
  type Voprf,
} from '@parley/core';
import { MaliciousOperator } from './harness/malicious-operator.js';
import { directorySigner, oprfSecretKeys } from './harness/operator-keys.js';
import { registerThrough } from './harness/register.js';
import { BIN } from './harness/server-process.js';

const run = promisify(execFile);
const ALICE = '+14155550711';
const VICTIM = '+14155550722';
const root = mkdtempSync(join(tmpdir(), 'parley-rotation-'));

const code = (c: string) => (e: unknown) => e instanceof ParleyError && e.code === c;

describe('OPRF key rotation statements against a malicious operator', { timeout: 240_000 }, () => {
  let operator: MaliciousOperator;
  let victim: ParleyClient;
  let oprf: Oprf;
  let voprf: Voprf;
  let signer: RotationSigner;
  const sent = { evaluate: 0, translate: 0 };

  const register = (name: string, number: string) => registerThrough(operator, root, name, number);

  const serverKeys = () => oprfSecretKeys(operator.server.dataDir);

  /** The directory answers name `keyId` with `publicKey`; re-signed unless `resign` is false. */
  function nameKey(keyId: string, publicKey: Uint8Array, resign = true): () => void {
    const sign = directorySigner(operator.server.dataDir);
    return operator.onResponse('GET', '/v1/directory', (_req, status, json) => {
      if (status !== 200) return json;
      const answer = {
        ...(json as Parameters<typeof sign>[0]),
        keyId,
        publicKey: toBase64Url(publicKey),
      };
      return resign ? sign(answer) : answer;
    });
  }

  /** The rotation chain the client gets: `rotations` instead of the server's. */
  function chain(rotations: RotationsResponse['rotations']): () => void {
    return operator.onResponse('GET', '/v1/directory/rotations', () => ({ rotations }));
  }

  /** `statement` signed by `secretKey` (honest when it is the old key's). */
  function signed(
    statement: {
      oldKeyId: string;
      oldPublicKey: Uint8Array;
      newKeyId: string;
      newPublicKey: Uint8Array;
    },
    secretKey: Uint8Array,
  ): RotationsResponse['rotations'][number] {
    const full = { ...statement, rotatedAt: Date.now() };
    const signature = voprf.publicKey(secretKey).every((b, i) => b === statement.oldPublicKey[i])
      ? signer.sign(secretKey, full)
      : // The signer refuses a key that is not the named one: sign a twin naming the forger's key.
        signer.sign(secretKey, { ...full, oldPublicKey: voprf.publicKey(secretKey) });
    return {
      ...full,
      oldPublicKey: toBase64Url(statement.oldPublicKey),
      newPublicKey: toBase64Url(statement.newPublicKey),
      signature: toBase64Url(signature),
    };
  }

  async function refusedWithNothingSent(attempt: () => Promise<unknown>, errorCode: string) {
    const before = { ...sent };
    await assert.rejects(attempt(), code(errorCode));
    assert.deepEqual(sent, before, 'nothing evaluated or translated');
  }

  before(async () => {
    oprf = await loadOprf();
    voprf = await loadVoprf(oprf);
    signer = await loadRotationSigner(oprf);
    operator = await MaliciousOperator.start({ PARLEY_LOG_LEVEL: 'warn' });
    for (const path of ['evaluate', 'translate'] as const) {
      operator.onResponse('POST', `/v1/discovery/${path}`, (_req, _status, json) => {
        sent[path] += 1;
        return json;
      });
    }
    await register('alice', ALICE);
    victim = await register('victim', VICTIM);
    assert.equal((await victim.lookupNumber(ALICE)).status, 'on-parley', 'pins the first key');
  });
  after(async () => {
    await victim?.close();
    await operator?.close();
  });

  it('a fresh OPRF key without the old key’s statement is refused before anything is sent', async () => {
    const fresh = oprf.generateSecretKey();
    const remove = [nameKey('0f0f0f0f0f', voprf.publicKey(fresh))];
    try {
      // The server's own chain (empty: it never rotated) endorses nothing.
      await refusedWithNothingSent(() => victim.lookupNumber(ALICE), 'OPRF_KEY_UNENDORSED');
      // A statement the fresh key signed for itself, naming the real old key.
      const [oldKeyId, oldKey] = Object.entries(serverKeys())[0]!;
      const statement = {
        oldKeyId,
        oldPublicKey: voprf.publicKey(oldKey),
        newKeyId: '0f0f0f0f0f',
        newPublicKey: voprf.publicKey(fresh),
      };
      remove.push(chain([signed(statement, fresh)]));
      await refusedWithNothingSent(
        () => victim.lookupNumber('+14155550733'),
        'OPRF_KEY_UNENDORSED',
      );
    } finally {
      for (const r of remove) r();
    }
  });

  it('the old OPRF key’s statement without the directory signing key is refused too', async () => {
    // An operator holding the OPRF key file but not the directory signing key: a valid rotation
    // statement, a directory answer it cannot re-sign.
    const fresh = oprf.generateSecretKey();
    const [oldKeyId, oldKey] = Object.entries(serverKeys())[0]!;
    const statement = {
      oldKeyId,
      oldPublicKey: voprf.publicKey(oldKey),
      newKeyId: '0e0e0e0e0e',
      newPublicKey: voprf.publicKey(fresh),
    };
    const remove = [
      nameKey('0e0e0e0e0e', voprf.publicKey(fresh), false),
      chain([signed(statement, oldKey)]),
    ];
    try {
      await refusedWithNothingSent(() => victim.lookupNumber(ALICE), 'FILTER_REFUSED');
    } finally {
      for (const r of remove) r();
    }
  });

  it('an honest rotation: the chain is followed, the cache re-keyed with proofs, Alice found', async () => {
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
    const before = { ...sent };
    const found = await victim.lookupNumber(ALICE);
    assert.equal(found.status, 'on-parley');
    assert.ok(sent.translate > before.translate, 're-keyed through translate (its proof checked)');
    assert.equal(sent.evaluate, before.evaluate, 'not evaluated again');
    // A number never checked is evaluated under the new key, and its proof checks.
    assert.equal((await victim.lookupNumber('+14155550744')).status, 'not-on-parley');
    assert.equal(sent.evaluate, before.evaluate + 1);

    // Going back to the old key (still retained for translations) is refused.
    const oldKey = serverKeys()[rotated.previousKeyId]!;
    const remove = nameKey(rotated.previousKeyId, voprf.publicKey(oldKey));
    try {
      await refusedWithNothingSent(
        () => victim.lookupNumber('+14155550755'),
        'OPRF_KEY_UNENDORSED',
      );
    } finally {
      remove();
    }
    assert.equal((await victim.lookupNumber(ALICE)).status, 'on-parley', 'honest again');
  });
});
