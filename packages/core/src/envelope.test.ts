import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Envelope, encodeEnvelope, parseEnvelope } from './envelope.js';

const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

describe('message envelope', () => {
  it('reads back every type it writes', () => {
    const envelopes: Envelope[] = [
      { v: 1, type: 'text', text: 'hi ✓', sentAt: '2025-01-01T00:00:00.000Z' },
      { v: 1, type: 'leave' },
      { v: 1, type: 'device-removed', deviceIds: ['abc', 'def'] },
      { v: 1, type: 'profile', key: 'A'.repeat(43), version: 3 },
    ];
    for (const envelope of envelopes) {
      assert.deepEqual(parseEnvelope(encodeEnvelope(envelope)), { kind: 'envelope', envelope });
    }
  });

  it('keeps an unknown type or a newer version as unsupported, with its type', () => {
    assert.deepEqual(parseEnvelope(bytes({ v: 1, type: 'reaction', emoji: '👍' })), {
      kind: 'unsupported',
      reason: 'unknown-type',
      type: 'reaction',
      v: 1,
    });
    assert.deepEqual(parseEnvelope(bytes({ v: 2, type: 'text', text: 'from the future' })), {
      kind: 'unsupported',
      reason: 'newer-version',
      type: 'text',
      v: 2,
    });
  });

  it('keeps content that is not an envelope as malformed, never throwing', () => {
    const cases = [
      new Uint8Array([0xff, 0xfe, 0x00]),
      new TextEncoder().encode('not json'),
      bytes(null),
      bytes([1, 2]),
      bytes({ type: 'text', text: 'no version' }),
      bytes({ v: 1, type: 'text' }),
      bytes({ v: 1, type: 'device-removed', deviceIds: [] }),
      bytes({ v: 1, type: 'device-removed', deviceIds: ['a/b'] }),
      bytes({ v: 1, type: 'profile', key: 'short', version: 1 }),
      bytes({ v: 1, type: 'profile', key: 'A'.repeat(43), version: 0 }),
    ];
    for (const input of cases) {
      assert.equal(parseEnvelope(input).kind, 'unsupported');
      assert.equal((parseEnvelope(input) as { reason: string }).reason, 'malformed');
    }
  });

  it('ignores fields it does not know (later versions of a type may add some)', () => {
    assert.deepEqual(parseEnvelope(bytes({ v: 1, type: 'leave', reason: 'bye' })), {
      kind: 'envelope',
      envelope: { v: 1, type: 'leave' },
    });
  });
});
