/**
 * Worker thread for OPRF group operations. The event loop never does scalar multiplications: a
 * large discovery batch would stall every other client (DESIGN.md). Elements travel packed, 32
 * bytes each, in one transferable buffer.
 */

import { parentPort } from 'node:worker_threads';
import { loadOprf, ParleyError } from '@parley/core';
import type { WorkerRequest, WorkerResponse } from './oprf-pool.js';

const oprf = await loadOprf();
const keys = new Map<string, Uint8Array>();
const port = parentPort!;

function key(id: string): Uint8Array {
  const k = keys.get(id);
  if (!k) throw new Error(`OPRF key ${id} is not loaded in the worker`);
  return k;
}

/** Multiplies every packed element by `scalar`; validation failures name the element's index. */
function multiplyAll(scalar: Uint8Array, packed: Uint8Array, offset: number): Uint8Array {
  const out = new Uint8Array(packed.length);
  for (let i = 0; i * 32 < packed.length; i++) {
    const element = packed.subarray(i * 32, i * 32 + 32);
    try {
      out.set(oprf.scalarMult(scalar, element), i * 32);
    } catch (error) {
      if (error instanceof ParleyError) {
        throw new ParleyError('INVALID_ELEMENT', {
          details: { index: offset + i, ...(error.details as object) },
        });
      }
      throw error;
    }
  }
  return out;
}

function handle(req: WorkerRequest): Uint8Array {
  switch (req.op) {
    case 'keys':
      keys.clear();
      for (const [id, secret] of Object.entries(req.keys)) keys.set(id, secret);
      return new Uint8Array(0);
    case 'evaluate':
      return multiplyAll(key(req.keyId), req.data, req.offset);
    case 'translate': {
      // (k_to · k_from⁻¹)·(r·k_from·P) = r·k_to·P: re-keys a blinded element without learning P.
      const factor = oprf.scalarMul(key(req.toKeyId), oprf.scalarInvert(key(req.fromKeyId)));
      return multiplyAll(factor, req.data, req.offset);
    }
    case 'hashAndEvaluate':
      return oprf.scalarMult(key(req.keyId), oprf.hashToGroup(req.data));
  }
}

port.on('message', (req: WorkerRequest) => {
  let res: WorkerResponse;
  try {
    const data = handle(req);
    res = { id: req.id, ok: true, data };
    port.postMessage(res, [data.buffer as ArrayBuffer]);
    return;
  } catch (error) {
    res =
      error instanceof ParleyError
        ? { id: req.id, ok: false, code: error.code, details: error.details }
        : { id: req.id, ok: false, code: 'INTERNAL', details: { message: String(error) } };
  }
  port.postMessage(res);
});
port.postMessage({ id: 0, ok: true, data: new Uint8Array(0) } satisfies WorkerResponse);
