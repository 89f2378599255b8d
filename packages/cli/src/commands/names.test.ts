/** `parley listen` names senders by their contact name when discovery found them (issue 17). */

import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ChatMessage, MemoryStore } from '@parley/client';
import { line } from './messaging.js';
import { forgetNames, namer, rememberNames } from './names.js';

const ALICE = 'aliceAccountId12345678';
const STRANGER = 'strangerAccountId12345';

const message = (from: string, text: string): ChatMessage =>
  ({
    id: 'm1',
    conversationId: 'conversation-1',
    from: { accountId: from, deviceId: 'd1' },
    kind: 'text',
    text,
    sentAt: '2026-01-01T00:00:00.000Z',
    status: 'received',
    deliveredTo: [],
    readBy: [],
  }) as unknown as ChatMessage;

describe('sender names in listen', () => {
  it('shows a contact found on Parley by name, anyone else by the short id', async () => {
    const store = new MemoryStore();
    await rememberNames(store, [
      { name: 'Alice Example', phoneNumber: '+14155550131', accountId: ALICE },
      { name: 'Not on Parley', phoneNumber: '+14155550132' },
    ] as never);
    const nameOf = await namer(store);
    assert.equal(line(message(ALICE, 'hi'), false, 'me', nameOf), '[conversa] Alice Example: hi');
    assert.equal(line(message(STRANGER, 'yo'), false, 'me', nameOf), '[conversa] stranger: yo');
  });

  it('forgets the names with the address book (consent withdrawn)', async () => {
    const store = new MemoryStore();
    await rememberNames(store, [{ name: 'Alice Example', accountId: ALICE }]);
    await forgetNames(store);
    assert.equal((await namer(store))(ALICE), 'aliceAcc');
  });
});
