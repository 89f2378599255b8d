/**
 * Where the SDK keeps its local state: credentials, consent, the imported address book, the
 * discovery cache and the transparency log. One small async key-value interface with a memory
 * implementation here, files in Node (`@parley/client/node`) and IndexedDB in browsers. Values are
 * structured-clonable: JSON-like data and Uint8Array (the membership filter is kept as bytes).
 */

export interface ClientStore {
  get<T>(key: string): Promise<T | undefined>;
  set<T>(key: string, value: T): Promise<void>;
  delete(key: string): Promise<void>;
  /**
   * Set when other SDK instances may use this store at the same time (an IndexedDB database is
   * shared by a browser's tabs and its service worker): the name of the lock they share, under
   * which each applies delivered entries and advances MLS state (messaging/lane.ts).
   */
  readonly sharedLock?: string;
}

export class MemoryStore implements ClientStore {
  private readonly data = new Map<string, unknown>();

  async get<T>(key: string): Promise<T | undefined> {
    const value = this.data.get(key);
    return value === undefined ? undefined : (structuredClone(value) as T);
  }

  async set<T>(key: string, value: T): Promise<void> {
    // Cloned so callers cannot mutate what is stored by holding a reference.
    this.data.set(key, structuredClone(value));
  }

  async delete(key: string): Promise<void> {
    this.data.delete(key);
  }

  /** The keys held, in insertion order: what an erasure left behind, for tests. */
  keys(): string[] {
    return [...this.data.keys()];
  }
}

/** Browser store: one IndexedDB object store of JSON-compatible values. */
export class IndexedDbStore implements ClientStore {
  readonly sharedLock: string;

  private constructor(
    private readonly db: IDBDatabase,
    name: string,
  ) {
    this.sharedLock = `parley-store:${name}`;
  }

  static open(name = 'parley'): Promise<IndexedDbStore> {
    return new Promise((resolve, reject) => {
      const request = indexedDB.open(name, 1);
      request.onupgradeneeded = () => request.result.createObjectStore('state');
      request.onsuccess = () => resolve(new IndexedDbStore(request.result, name));
      request.onerror = () => reject(request.error);
    });
  }

  private run<T>(mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest): Promise<T> {
    return new Promise((resolve, reject) => {
      const tx = this.db.transaction('state', mode);
      const request = fn(tx.objectStore('state'));
      tx.oncomplete = () => resolve(request.result as T);
      tx.onerror = () => reject(tx.error);
    });
  }

  get<T>(key: string): Promise<T | undefined> {
    return this.run<T | undefined>('readonly', (s) => s.get(key));
  }

  async set<T>(key: string, value: T): Promise<void> {
    await this.run('readwrite', (s) => s.put(value, key));
  }

  async delete(key: string): Promise<void> {
    await this.run('readwrite', (s) => s.delete(key));
  }
}
