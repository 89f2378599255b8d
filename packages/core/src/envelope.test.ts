import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DISAPPEARING_MAX_SECONDS,
  type Envelope,
  encodeEnvelope,
  isReaction,
  parseEnvelope,
} from './envelope.js';

const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

describe('message envelope', () => {
  it('reads back every type it writes', () => {
    const envelopes: Envelope[] = [
      { v: 1, type: 'text', text: 'hi ✓', sentAt: '2025-01-01T00:00:00.000Z' },
      { v: 1, type: 'leave' },
      { v: 1, type: 'device-removed', deviceIds: ['abc', 'def'] },
      { v: 1, type: 'text', text: 'yes', sentAt: '2025-01-01T00:00:00.000Z', replyTo: 'm-1_A' },
      { v: 1, type: 'reaction', target: 'm1', emoji: '👍🏽' },
      { v: 1, type: 'reaction', target: 'm1', emoji: '' },
      { v: 1, type: 'edit', target: 'm1', text: 'fixed', sentAt: '2025-01-01T00:01:00.000Z' },
      { v: 1, type: 'delete', target: 'm1', sentAt: '2025-01-01T00:02:00.000Z' },
      { v: 1, type: 'timer', seconds: 30, sentAt: '2025-01-01T00:03:00.000Z' },
      { v: 1, type: 'group-name', name: 'Climbing 🧗', sentAt: '2025-01-01T00:03:00.000Z' },
      { v: 1, type: 'group-name', name: '', sentAt: '2025-01-01T00:03:00.000Z' },
      { v: 1, type: 'timer', seconds: 0, sentAt: '2025-01-01T00:03:00.000Z' },
      { v: 1, type: 'text', text: 'soon gone', sentAt: '2025-01-01T00:04:00.000Z', expiresIn: 30 },
      { v: 1, type: 'profile', key: 'A'.repeat(43), version: 3 },
    ];
    for (const envelope of envelopes) {
      assert.deepEqual(parseEnvelope(encodeEnvelope(envelope)), { kind: 'envelope', envelope });
    }
  });

  it('keeps an unknown type or a newer version as unsupported, with its type', () => {
    assert.deepEqual(parseEnvelope(bytes({ v: 1, type: 'sticker', pack: 'cats' })), {
      kind: 'unsupported',
      reason: 'unknown-type',
      type: 'sticker',
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
      bytes({ v: 1, type: 'reaction', target: 'm1' }),
      bytes({ v: 1, type: 'reaction', target: 'm/1', emoji: '👍' }),
      bytes({ v: 1, type: 'reaction', target: 'm1', emoji: 'like' }),
      bytes({ v: 1, type: 'reaction', target: 'm1', emoji: '👍👎' }),
      bytes({ v: 1, type: 'reaction', target: 'm1', emoji: '👍\n' }),
      bytes({ v: 1, type: 'edit', target: 'm1', sentAt: '2025-01-01T00:00:00.000Z' }),
      bytes({ v: 1, type: 'edit', text: 'no target', sentAt: '2025-01-01T00:00:00.000Z' }),
      bytes({ v: 1, type: 'delete', target: 'm1' }),
      bytes({ v: 1, type: 'timer', seconds: -1, sentAt: '' }),
      bytes({ v: 1, type: 'timer', seconds: 1.5, sentAt: '' }),
      bytes({ v: 1, type: 'timer', seconds: DISAPPEARING_MAX_SECONDS + 1, sentAt: '' }),
      bytes({ v: 1, type: 'timer', seconds: 30 }),
      bytes({ v: 1, type: 'group-name', name: 'x'.repeat(101), sentAt: '' }),
      bytes({ v: 1, type: 'group-name', name: 'a\nb', sentAt: '' }),
      bytes({ v: 1, type: 'group-name', sentAt: '' }),
      bytes({ v: 1, type: 'profile', key: 'short', version: 1 }),
      bytes({ v: 1, type: 'profile', key: 'A'.repeat(43), version: 0 }),
    ];
    for (const input of cases) {
      assert.equal(parseEnvelope(input).kind, 'unsupported');
      assert.equal((parseEnvelope(input) as { reason: string }).reason, 'malformed');
    }
  });

  it('takes one emoji as a reaction, flags and keycaps included, and nothing else', () => {
    for (const ok of ['👍', '❤️', '👨‍👩‍👧‍👦', '🇫🇷', '1️⃣', '👍🏿']) assert.ok(isReaction(ok), ok);
    for (const bad of ['', 'a', ':)', '👍 ', '👍👍', '1', '\u0000👍', 'x'.repeat(40)]) {
      assert.ok(!isReaction(bad), JSON.stringify(bad));
    }
  });

  it('keeps a text whose reply reference is not an id, without the reference', () => {
    assert.deepEqual(
      parseEnvelope(bytes({ v: 1, type: 'text', text: 'hi', sentAt: '', replyTo: { x: 1 } })),
      { kind: 'envelope', envelope: { v: 1, type: 'text', text: 'hi', sentAt: '' } },
    );
  });

  it('keeps a text whose timer is out of range, without the timer', () => {
    for (const expiresIn of [-5, 0, 2.5, DISAPPEARING_MAX_SECONDS + 1, '30']) {
      assert.deepEqual(
        parseEnvelope(bytes({ v: 1, type: 'text', text: 'hi', sentAt: '', expiresIn })),
        { kind: 'envelope', envelope: { v: 1, type: 'text', text: 'hi', sentAt: '' } },
      );
    }
  });

  it('ignores fields it does not know (later versions of a type may add some)', () => {
    assert.deepEqual(parseEnvelope(bytes({ v: 1, type: 'leave', reason: 'bye' })), {
      kind: 'envelope',
      envelope: { v: 1, type: 'leave' },
    });
  });
});
