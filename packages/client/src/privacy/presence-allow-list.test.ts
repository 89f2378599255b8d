/**
 * The presence allow-list as the SDK keeps it: the server is told only differences, an account
 * stays while it has a reason (a book number, a conversation), and withdrawing the address-book
 * consent takes back exactly what the book gave.
 */

import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AllowListChange } from '@parley/core';
import { MemoryStore } from '../store/store.js';
import type { ApiClient } from '../transport/api.js';
import { PresenceAllowList } from './presence-allow-list.js';

function setup() {
  const sent: AllowListChange[] = [];
  const server = new Set<string>();
  const api = {
    changeAllowList: async (change: AllowListChange) => {
      sent.push(change);
      for (const id of change.add ?? []) server.add(id);
      for (const id of change.remove ?? []) server.delete(id);
      return { size: server.size };
    },
  } as unknown as ApiClient;
  return { list: new PresenceAllowList(new MemoryStore(), api), sent, server };
}

describe('PresenceAllowList (SDK)', () => {
  it('adds what discovery resolved, and drops a contact gone from the book at the next full run', async () => {
    const { list, sent, server } = setup();
    await list.fromBook(
      [
        { phoneNumber: '+14155550101', accountId: 'bob' },
        { phoneNumber: '+14155550102', accountId: 'carol' },
      ],
      true,
    );
    assert.deepEqual([...server].sort(), ['bob', 'carol']);
    // The same result again: nothing to tell the server.
    await list.fromBook([{ phoneNumber: '+14155550101', accountId: 'bob' }], false);
    assert.equal(sent.length, 1);
    await list.fromBook([{ phoneNumber: '+14155550101', accountId: 'bob' }], true);
    assert.deepEqual([...server], ['bob']);
    assert.deepEqual(sent.at(-1), { add: [], remove: ['carol'] });
  });

  it('keeps the people this user talks to when the consent is withdrawn', async () => {
    const { list, server } = setup();
    await list.fromBook(
      [
        { phoneNumber: '+14155550101', accountId: 'bob' },
        { phoneNumber: '+14155550102', accountId: 'carol' },
      ],
      true,
    );
    await list.fromConversation(['carol', 'dave']);
    await list.withdrawBook();
    assert.deepEqual([...server].sort(), ['carol', 'dave']);
    assert.deepEqual(
      (await list.list()).map((e) => e.accountId),
      ['carol', 'dave'],
    );
  });

  it('applies overlapping changes one after another', async () => {
    const { list, server } = setup();
    await Promise.all([
      list.fromConversation(['a']),
      list.fromConversation(['b']),
      list.fromBook([{ phoneNumber: '+14155550103', accountId: 'c' }], false),
    ]);
    assert.deepEqual([...server].sort(), ['a', 'b', 'c']);
    assert.equal((await list.list()).length, 3);
  });
});
