/**
 * The in-process bus's token buckets on disk, so a single node's rate limits survive a restart
 * (as they do in Redis). One JSON file beside the data, readable by the operator only, replaced
 * atomically (written beside it, then renamed). Keys are HMACs under the limiter key (see
 * in-process.ts), so the file names no address and no number.
 */

import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

/** Bucket name → the entries of `TokenBuckets.entries()`. */
export type BucketState = Map<string, Array<[string, number, number]>>;

interface StateFile {
  v: 1;
  buckets: Record<string, Array<[string, number, number]>>;
}

/** What `saveBucketState` wrote at `path`; empty when there is none or it cannot be read. */
export function loadBucketState(path: string): BucketState {
  if (!existsSync(path)) return new Map();
  try {
    const file = JSON.parse(readFileSync(path, 'utf8')) as StateFile;
    if (file.v !== 1 || typeof file.buckets !== 'object') return new Map();
    const state: BucketState = new Map();
    for (const [name, entries] of Object.entries(file.buckets)) {
      if (!Array.isArray(entries)) continue;
      state.set(
        name,
        entries.filter(
          (e) =>
            Array.isArray(e) &&
            typeof e[0] === 'string' &&
            Number.isFinite(e[1]) &&
            Number.isFinite(e[2]),
        ),
      );
    }
    return state;
  } catch {
    // A torn or foreign file: the limits start afresh rather than the server not starting.
    return new Map();
  }
}

export function saveBucketState(path: string, state: BucketState): void {
  const file: StateFile = { v: 1, buckets: Object.fromEntries(state) };
  const temporary = `${path}.tmp`;
  writeFileSync(temporary, JSON.stringify(file), { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, path);
}
