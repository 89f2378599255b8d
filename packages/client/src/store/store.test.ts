import * as assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FileStore } from './file-store.js';
import { type ClientStore, MemoryStore } from './store.js';

const stores: [string, () => ClientStore][] = [
  ['MemoryStore', () => new MemoryStore()],
  ['FileStore', () => new FileStore(mkdtempSync(join(tmpdir(), 'parley-store-')))],
];

for (const [name, make] of stores) {
  describe(name, () => {
    it('keeps JSON values and byte arrays, and returns copies', async () => {
      const store = make();
      const value = {
        keyId: 'k1',
        version: 3,
        data: new Uint8Array([0, 1, 2, 255]),
        list: [1, 'a'],
      };
      await store.set('filter', value);
      value.data[0] = 9;
      const back = await store.get<typeof value>('filter');
      assert.ok(back?.data instanceof Uint8Array);
      assert.deepEqual([...back.data], [0, 1, 2, 255]);
      assert.deepEqual(back.list, [1, 'a']);
      back.list.push(2);
      assert.deepEqual((await store.get<typeof value>('filter'))?.list, [1, 'a']);
    });

    it('deletes a key and its bytes', async () => {
      const store = make();
      await store.set('a', { data: new Uint8Array(10) });
      await store.set('b', 1);
      await store.delete('a');
      assert.equal(await store.get('a'), undefined);
      assert.equal(await store.get('b'), 1);
    });
  });
}

describe('FileStore on disk', () => {
  it('writes one private file per key, bytes raw beside the JSON, and reopens them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-store-'));
    const store = new FileStore(dir);
    await store.set('directoryFilter', { data: new Uint8Array(100_000).fill(7) });
    await store.set('session', { accountId: 'x' });
    assert.deepEqual(readdirSync(dir).sort(), [
      'directoryFilter.0.bin',
      'directoryFilter.json',
      'session.json',
    ]);
    assert.equal(statSync(join(dir, 'directoryFilter.0.bin')).size, 100_000);
    assert.equal(statSync(join(dir, 'session.json')).mode & 0o777, 0o600);
    const reopened = new FileStore(dir);
    const back = await reopened.get<{ data: Uint8Array }>('directoryFilter');
    assert.equal(back?.data.length, 100_000);
    await reopened.delete('directoryFilter');
    assert.deepEqual(readdirSync(dir), ['session.json']);
    await assert.rejects(store.set('../escape', 1), /invalid store key/);
  });
});
