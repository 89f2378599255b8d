/**
 * The Node store: a directory (mode 0700), one JSON file per key, written atomically (mode 0600).
 * Byte arrays inside a value go to side files as raw bytes, so a large membership filter is
 * neither base64-inflated nor rewritten when another key changes. Exported from
 * '@parley/client/node' only (it needs `node:fs`).
 */

import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClientStore } from './store.js';

const KEY = /^[A-Za-z0-9_-]{1,64}$/;

export class FileStore implements ClientStore {
  constructor(private readonly dir: string) {}

  private file(key: string, suffix: string): string {
    if (!KEY.test(key)) throw new Error(`invalid store key '${key}'`);
    return join(this.dir, `${key}${suffix}`);
  }

  async get<T>(key: string): Promise<T | undefined> {
    let raw: string;
    try {
      raw = readFileSync(this.file(key, '.json'), 'utf8');
    } catch {
      return undefined;
    }
    try {
      return JSON.parse(raw, (_k, v: unknown) => {
        const bin = (v as { $bin?: unknown } | null)?.$bin;
        if (typeof bin === 'string' && /^[A-Za-z0-9_.-]+$/.test(bin)) {
          return new Uint8Array(readFileSync(join(this.dir, bin)));
        }
        return v;
      }) as T;
    } catch (cause) {
      throw new Error(
        `The state file ${this.file(key, '.json')} is damaged; move it away to start afresh.`,
        { cause },
      );
    }
  }

  async set<T>(key: string, value: T): Promise<void> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    let n = 0;
    const json = JSON.stringify(value, (_k, v: unknown) => {
      if (v instanceof Uint8Array) {
        const name = `${key}.${n++}.bin`;
        atomicWrite(join(this.dir, name), v);
        return { $bin: name };
      }
      return v;
    });
    atomicWrite(this.file(key, '.json'), json);
  }

  async delete(key: string): Promise<void> {
    rmSync(this.file(key, '.json'), { force: true });
    for (let n = 0; ; n++) {
      const side = this.file(key, `.${n}.bin`);
      try {
        rmSync(side);
      } catch {
        break;
      }
    }
  }
}

function atomicWrite(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, data, { mode: 0o600 });
  renameSync(tmp, path);
}
