/**
 * The OPRF key pins (key-pins.ts): the first key on first use, a later key only through the chain
 * of rotation statements each signed by the key before it, from the key pinned last. A new key
 * without a statement, with one signed by another key, with one naming another public key, with a
 * gap in the chain, a statement going back in time, or a return to an older key: refused.
 */

import * as assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
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
import { MemoryStore } from '../store/store.js';
import type { ApiClient } from '../transport/api.js';
import { OprfKeyPins } from './key-pins.js';

let oprf: Oprf;
let voprf: Voprf;
let signer: RotationSigner;
const keys: Record<string, Uint8Array> = {};
const pk = (id: string) => toBase64Url(voprf.publicKey(keys[id]!));

before(async () => {
  oprf = await loadOprf();
  voprf = await loadVoprf(oprf);
  signer = await loadRotationSigner(oprf);
  for (const id of ['k1', 'k2', 'k3', 'evil']) keys[id] = oprf.generateSecretKey();
});

type Rotation = RotationsResponse['rotations'][number];

/** `from` → `to` signed by `signedBy` (default: the old key), at `rotatedAt`. */
function rotation(from: string, to: string, signedBy = from, rotatedAt = 1_000): Rotation {
  const statement = {
    oldKeyId: from,
    oldPublicKey: voprf.publicKey(keys[from]!),
    newKeyId: to,
    newPublicKey: voprf.publicKey(keys[to]!),
    rotatedAt,
  };
  // The signer refuses a secret key that is not the statement's old one: sign a look-alike
  // naming the signer's key, and keep its signature (what a forger can do).
  const signed =
    signedBy === from
      ? signer.sign(keys[from]!, statement)
      : signer.sign(keys[signedBy]!, {
          ...statement,
          oldPublicKey: voprf.publicKey(keys[signedBy]!),
        });
  return {
    oldKeyId: from,
    oldPublicKey: pk(from),
    newKeyId: to,
    newPublicKey: pk(to),
    rotatedAt,
    signature: toBase64Url(signed),
  };
}

/** Pins over a server whose rotation chain is `chain`; `asked` records each `from`. */
function pinsOver(chain: Rotation[], store = new MemoryStore()) {
  const asked: (string | undefined)[] = [];
  const api = {
    async rotations(from?: string) {
      asked.push(from);
      const start = chain.findIndex((r) => r.oldKeyId === from);
      return { rotations: from === undefined ? chain : start < 0 ? [] : chain.slice(start) };
    },
  } as unknown as ApiClient;
  return { pins: new OprfKeyPins(store, api, async () => oprf), store, asked };
}

const unendorsed = (e: unknown) => e instanceof ParleyError && e.code === 'OPRF_KEY_UNENDORSED';
const proofInvalid = (e: unknown) => e instanceof ParleyError && e.code === 'OPRF_PROOF_INVALID';

describe('OprfKeyPins', () => {
  it('pins the first key on first use, without asking for a chain', async () => {
    const { pins, store, asked } = pinsOver([]);
    await pins.accept('k1', pk('k1'));
    assert.equal(toBase64Url((await pins.publicKey('k1'))!), pk('k1'));
    assert.equal(await store.get('oprfKeyHead'), 'k1');
    assert.deepEqual(asked, []);
  });

  it('follows an honest chain of two rotations from the head and pins every key on it', async () => {
    const { pins, store, asked } = pinsOver([
      rotation('k1', 'k2', 'k1', 1_000),
      rotation('k2', 'k3', 'k2', 2_000),
    ]);
    await pins.accept('k1', pk('k1'));
    await pins.accept('k3', pk('k3'));
    assert.deepEqual(asked, ['k1']);
    assert.equal(toBase64Url((await pins.publicKey('k2'))!), pk('k2'));
    assert.equal(toBase64Url((await pins.publicKey('k3'))!), pk('k3'));
    assert.equal(await store.get('oprfKeyHead'), 'k3');
  });

  it('refuses a new key with no statement, or with one the old key did not sign', async () => {
    for (const chain of [[], [rotation('k1', 'k2', 'evil')], [rotation('k1', 'k2', 'k2')]]) {
      const { pins, store } = pinsOver(chain);
      await pins.accept('k1', pk('k1'));
      await assert.rejects(pins.accept('k2', pk('k2')), unendorsed);
      assert.equal(await pins.publicKey('k2'), undefined, 'k2 not pinned');
      assert.equal(await store.get('oprfKeyHead'), 'k1');
    }
  });

  it('refuses a chain that endorses another public key than the directory names', async () => {
    const { pins } = pinsOver([rotation('k1', 'k2')]);
    await pins.accept('k1', pk('k1'));
    // The directory (signed with the directory key) names k2 with the operator's own key.
    await assert.rejects(pins.accept('k2', pk('evil')), unendorsed);
  });

  it('refuses a chain with a gap, or going back in time', async () => {
    const gap = pinsOver([rotation('k2', 'k3')]);
    await gap.pins.accept('k1', pk('k1'));
    await assert.rejects(gap.pins.accept('k3', pk('k3')), unendorsed);
    const back = pinsOver([rotation('k1', 'k2', 'k1', 2_000), rotation('k2', 'k3', 'k2', 1_000)]);
    await back.pins.accept('k1', pk('k1'));
    await assert.rejects(back.pins.accept('k3', pk('k3')), unendorsed);
  });

  it('refuses a return to a key older than the head, and another key for a pinned id', async () => {
    const { pins } = pinsOver([rotation('k1', 'k2')]);
    await pins.accept('k1', pk('k1'));
    await pins.accept('k2', pk('k2'));
    await assert.rejects(pins.accept('k1', pk('k1')), unendorsed);
    await assert.rejects(pins.accept('k2', pk('evil')), proofInvalid);
    await pins.accept('k2', pk('k2'));
  });

  it('a device pinned before heads were kept follows the chain from a key it pinned', async () => {
    const store = new MemoryStore();
    await store.set('oprfKeyPins', { k1: pk('k1') });
    const { pins, asked } = pinsOver(
      [rotation('k1', 'k2'), rotation('k2', 'k3', 'k2', 2_000)],
      store,
    );
    await pins.accept('k3', pk('k3'));
    assert.deepEqual(asked, [undefined]);
    assert.equal(await store.get('oprfKeyHead'), 'k3');
  });
});
