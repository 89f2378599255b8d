import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ParleyError } from '@parley/core';
import { blockedSendError } from './messaging.js';
import { identityLine, reportSecurityEvents, warningLine } from './security-events.js';

const ALICE = 'Alice123456789abcdefgh';

describe('security events on stderr', () => {
  it('says whose safety number changed and what to run', () => {
    assert.equal(
      identityLine({ accountId: ALICE, change: 'changed', blocked: false }),
      `parley: Alice123’s safety number changed. Compare it with them: parley safety-number account:${ALICE}`,
    );
    assert.match(
      identityLine({ accountId: ALICE, change: 'changed', blocked: true }),
      /Sending to them is paused until you compare it again \(parley safety-number account:\S+ --verify\) or accept it \(--accept\)\./,
    );
  });

  it('a warning about this account’s devices names no conversation', () => {
    assert.match(
      warningLine({ code: 'KEY_REFUSED', conversationId: '', detail: {} }),
      /^parley: warning KEY_REFUSED: The server offered a key/,
    );
    assert.match(
      warningLine({ code: 'SENDER_MISMATCH', conversationId: 'conv1234xyz', detail: {} }),
      /^parley: warning SENDER_MISMATCH in conv1234: /,
    );
  });

  it('prints each event the messenger emits, device-linked unless told not to', () => {
    const listeners = new Map<string, (value: never) => void>();
    const messenger = {
      on: (event: string, listener: (value: never) => void) => {
        listeners.set(event, listener);
        return () => {};
      },
    };
    const lines: string[] = [];
    reportSecurityEvents(messenger, (l) => lines.push(l));
    (listeners.get('device-linked') as (v: unknown) => void)({
      deviceId: 'dev1',
      name: 'laptop',
      createdAt: 'T',
    });
    (listeners.get('identity') as (v: unknown) => void)({
      accountId: ALICE,
      change: 'changed',
      blocked: false,
    });
    assert.match(
      lines[0]!,
      /^parley: new device linked to your account: "laptop" \(device dev1.*parley devices remove dev1$/,
    );
    assert.match(lines[1]!, /safety number changed/);

    listeners.clear();
    reportSecurityEvents(messenger, () => {}, { deviceLinked: false });
    assert.deepEqual([...listeners.keys()].sort(), ['identity', 'warning']);
  });

  it('a send blocked by a changed safety number names the commands that unblock it', () => {
    const error = blockedSendError(
      new ParleyError('SAFETY_NUMBER_CHANGED', { details: { accountIds: [ALICE] } }),
    ) as ParleyError;
    assert.equal(error.code, 'SAFETY_NUMBER_CHANGED');
    assert.match(
      error.message,
      /^A verified contact’s safety number changed; .* Nothing was sent\./,
    );
    assert.match(error.message, new RegExp(`parley safety-number account:${ALICE} --verify`));
    assert.match(error.message, /--accept; then send again\.$/);
    const other = new ParleyError('NETWORK_ERROR');
    assert.equal(blockedSendError(other), other);
  });
});
