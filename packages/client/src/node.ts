/**
 * Node-only parts of the SDK: a file-backed store (one JSON file, written atomically, mode 0600).
 * Import from '@parley/client/node'.
 */

import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ClientStore } from './store.js';

export class FileStore implements ClientStore {
  private data: Record<string, unknown>;

  constructor(private readonly path: string) {
    let raw: string | undefined;
    try {
      raw = readFileSync(path, 'utf8');
    } catch {
      raw = undefined;
    }
    try {
      this.data = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    } catch (cause) {
      throw new Error(`The state file ${path} is not valid JSON; move it away to start afresh.`, {
        cause,
      });
    }
  }

  async get<T>(key: string): Promise<T | undefined> {
    const value = this.data[key];
    return value === undefined ? undefined : (structuredClone(value) as T);
  }

  async set<T>(key: string, value: T): Promise<void> {
    this.data[key] = structuredClone(value);
    this.flush();
  }

  async delete(key: string): Promise<void> {
    delete this.data[key];
    this.flush();
  }

  private flush(): void {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.data), { mode: 0o600 });
    renameSync(tmp, this.path);
  }
}

export * from './index.js';
