/**
 * A pool of worker threads (one per core by default) that does every OPRF group operation for the
 * server. Big batches are split across workers so a 1,024-element evaluation uses every core, and
 * the event loop only moves buffers. The workers use the native addon (@parley/oprf-native, system
 * libsodium) when it was built, else libsodium's WASM build; both give identical results.
 */

import { Worker } from 'node:worker_threads';
import { type ErrorCode, ParleyError } from '@parley/core';
import { loadNativeOprf, nativeOprfUnavailableReason } from '@parley/oprf-native';
import { ConfigError } from '../../config/config.js';

/** What PARLEY_OPRF_BACKEND asks for. */
export type OprfBackendSetting = 'auto' | 'native' | 'wasm';
/** What the workers actually use. */
export type OprfBackend = 'native' | 'wasm';

/** Data every worker starts with. */
export interface WorkerInit {
  backend: OprfBackend;
}

/** `auto` takes the native addon when it loads; `native` without it is a configuration error. */
export function resolveOprfBackend(setting: OprfBackendSetting): OprfBackend {
  if (setting === 'wasm') return 'wasm';
  if (loadNativeOprf()) return 'native';
  if (setting === 'auto') return 'wasm';
  throw new ConfigError(
    `PARLEY_OPRF_BACKEND=native, but the native OPRF addon cannot load (${nativeOprfUnavailableReason()}). ` +
      'It is built by `npm ci` when a C compiler and libsodium-dev are installed (then `npm rebuild @parley/oprf-native`); ' +
      'or set PARLEY_OPRF_BACKEND=auto to fall back to WASM.',
  );
}

export type WorkerRequest = { id: number } & (
  | { op: 'keys'; keys: Record<string, Uint8Array> }
  | { op: 'evaluate'; keyId: string; data: Uint8Array; offset: number; prove?: boolean }
  | {
      op: 'translate';
      fromKeyId: string;
      toKeyId: string;
      data: Uint8Array;
      offset: number;
      prove?: boolean;
    }
  /** The batched DLEQ proof from the chunks' partial composites (fromKeyId null: evaluation). */
  | { op: 'prove'; fromKeyId: string | null; toKeyId: string; data: Uint8Array }
  | { op: 'rekey'; fromKeyId: string; toKeyId: string; data: Uint8Array; offset: number }
  | { op: 'hashAndEvaluate'; keyId: string; data: Uint8Array }
);

export type WorkerResponse =
  | { id: number; ok: true; data: Uint8Array }
  | { id: number; ok: false; code: ErrorCode; details: unknown };

type Distributive<T> = T extends unknown ? Omit<T, 'id'> : never;
type Task = Distributive<WorkerRequest>;

interface Slot {
  worker: Worker;
  pending: Map<number, { resolve: (data: Uint8Array) => void; reject: (e: Error) => void }>;
  ready: Promise<void>;
}

const CHUNK_ELEMENTS = 128;
/** Bytes per re-keyed directory entry: element (32), fingerprint (8), token (32). */
export const REKEYED_ENTRY = 72;

export class OprfPool {
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private keys: Record<string, Uint8Array> = {};
  private closed = false;
  /** The library the workers do group operations with; admin stats report it. */
  readonly backend: OprfBackend;
  /** Tasks (chunks) handed to workers and group elements in them, since start; for metrics. */
  readonly stats = { tasks: 0, elements: 0 };

  constructor(size: number, options: { backend?: OprfBackendSetting } = {}) {
    this.backend = resolveOprfBackend(options.backend ?? 'auto');
    for (let i = 0; i < size; i++) this.slots.push(this.spawn());
  }

  private spawn(): Slot {
    const workerData: WorkerInit = { backend: this.backend };
    const worker = new Worker(new URL('./oprf-worker.js', import.meta.url), { workerData });
    const pending: Slot['pending'] = new Map();
    let markReady!: () => void;
    const ready = new Promise<void>((resolve) => {
      markReady = resolve;
    });
    const slot: Slot = { worker, pending, ready };
    worker.on('message', (res: WorkerResponse) => {
      if (res.id === 0) return markReady();
      const waiter = pending.get(res.id);
      if (!waiter) return;
      pending.delete(res.id);
      if (res.ok) waiter.resolve(res.data);
      else waiter.reject(new ParleyError(res.code, { details: res.details }));
    });
    worker.on('error', (error) => this.replace(slot, error));
    worker.on('exit', (code) => {
      if (!this.closed) this.replace(slot, new Error(`OPRF worker exited with code ${code}`));
    });
    if (Object.keys(this.keys).length > 0) {
      void ready.then(() => this.send(slot, { op: 'keys', keys: this.keys }));
    }
    return slot;
  }

  private replace(slot: Slot, error: Error): void {
    const index = this.slots.indexOf(slot);
    if (index === -1) return;
    for (const waiter of slot.pending.values()) waiter.reject(error);
    slot.pending.clear();
    void slot.worker.terminate();
    if (!this.closed) this.slots[index] = this.spawn();
  }

  private async send(slot: Slot, task: Task): Promise<Uint8Array> {
    await slot.ready;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage({ ...task, id });
    });
  }

  /** Tasks sent to a worker and not yet answered. */
  get pendingTasks(): number {
    let n = 0;
    for (const slot of this.slots) n += slot.pending.size;
    return n;
  }

  private leastBusy(): Slot {
    let best = this.slots[0]!;
    for (const slot of this.slots) if (slot.pending.size < best.pending.size) best = slot;
    return best;
  }

  /** Replaces the key set in every worker. */
  async setKeys(keys: Record<string, Uint8Array>): Promise<void> {
    this.keys = keys;
    await Promise.all(this.slots.map((slot) => this.send(slot, { op: 'keys', keys })));
  }

  /** k·E for every packed 32-byte element; rejects with INVALID_ELEMENT naming the index. */
  evaluate(keyId: string, packed: Uint8Array): Promise<Uint8Array> {
    return this.chunked(packed, (data, offset) => ({ op: 'evaluate', keyId, data, offset }));
  }

  /**
   * VOPRF evaluation (RFC 9497 mode 0x01): k·E for every packed element plus one batched DLEQ
   * proof that log_G(pkS) = log_E(k·E) for all of them. Each worker proves nothing itself: it
   * returns its chunk's share of the composite M = Σ d_i·C_i (the d_i use the request-wide index
   * i), and one more task sums the shares and finishes the proof (Z = k·M, nonce, challenge).
   */
  async evaluateWithProof(
    keyId: string,
    packed: Uint8Array,
  ): Promise<{ elements: Uint8Array; proof: Uint8Array }> {
    const parts = await this.chunkedParts(packed, (data, offset) => ({
      op: 'evaluate',
      keyId,
      data,
      offset,
      prove: true,
    }));
    return this.finishProof(parts, null, keyId);
  }

  /**
   * translate() with a proof for the factor: log_pkFrom(pkTo) = log_E(f·E) for all elements, so
   * the factor is k_to/k_from of the two published keys (docs/design.md, "Verifiable evaluation").
   */
  async translateWithProof(
    fromKeyId: string,
    toKeyId: string,
    packed: Uint8Array,
  ): Promise<{ elements: Uint8Array; proof: Uint8Array }> {
    const parts = await this.chunkedParts(packed, (data, offset) => ({
      op: 'translate',
      fromKeyId,
      toKeyId,
      data,
      offset,
      prove: true,
    }));
    return this.finishProof(parts, fromKeyId, toKeyId);
  }

  /** Splits each worker's answer (elements ‖ composite share) and proves over the shares. */
  private async finishProof(
    parts: Uint8Array[],
    fromKeyId: string | null,
    toKeyId: string,
  ): Promise<{ elements: Uint8Array; proof: Uint8Array }> {
    const shares = new Uint8Array(parts.length * 32);
    const elements = new Uint8Array(parts.reduce((n, p) => n + p.length - 32, 0));
    let offset = 0;
    parts.forEach((part, i) => {
      elements.set(part.subarray(0, part.length - 32), offset);
      offset += part.length - 32;
      shares.set(part.subarray(part.length - 32), i * 32);
    });
    this.stats.tasks += 1;
    const proof = await this.send(this.leastBusy(), {
      op: 'prove',
      fromKeyId,
      toKeyId,
      data: shares,
    });
    return { elements, proof };
  }

  /** (k_to/k_from)·E for every packed element. */
  translate(fromKeyId: string, toKeyId: string, packed: Uint8Array): Promise<Uint8Array> {
    return this.chunked(packed, (data, offset) => ({
      op: 'translate',
      fromKeyId,
      toKeyId,
      data,
      offset,
    }));
  }

  /**
   * Key rotation's work for a batch of directory elements: (k_to/k_from)·E and the fingerprint
   * and token under `toKeyId`, REKEYED_ENTRY bytes per element. Larger chunks than a client's
   * batch: a rotation is throughput, not latency.
   */
  rekey(fromKeyId: string, toKeyId: string, packed: Uint8Array): Promise<Uint8Array> {
    return this.chunked(
      packed,
      (data, offset) => ({ op: 'rekey', fromKeyId, toKeyId, data, offset }),
      REKEYED_ENTRY,
      1024,
    );
  }

  /** k·HashToGroup(input): the directory element of a number, computed at verification. */
  hashAndEvaluate(keyId: string, input: Uint8Array): Promise<Uint8Array> {
    this.stats.tasks += 1;
    this.stats.elements += 1;
    return this.send(this.leastBusy(), { op: 'hashAndEvaluate', keyId, data: input.slice() });
  }

  /** The workers' answers for each chunk of `packed`, in order. */
  private chunkedParts(
    packed: Uint8Array,
    task: (data: Uint8Array, offset: number) => Task,
    chunk = CHUNK_ELEMENTS,
  ): Promise<Uint8Array[]> {
    const count = packed.length / 32;
    this.stats.tasks += Math.ceil(count / chunk);
    this.stats.elements += count;
    const parts: Promise<Uint8Array>[] = [];
    for (let start = 0; start < count; start += chunk) {
      const end = Math.min(count, start + chunk);
      // A copy, because the buffer is transferred to the worker.
      const data = packed.slice(start * 32, end * 32);
      parts.push(this.send(this.leastBusy(), task(data, start)));
    }
    return Promise.all(parts);
  }

  private async chunked(
    packed: Uint8Array,
    task: (data: Uint8Array, offset: number) => Task,
    outPerElement = 32,
    chunk = CHUNK_ELEMENTS,
  ): Promise<Uint8Array> {
    const count = packed.length / 32;
    const results = await this.chunkedParts(packed, task, chunk);
    const out = new Uint8Array(count * outPerElement);
    let offset = 0;
    for (const part of results) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((slot) => slot.worker.terminate()));
  }
}
