import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeNotice, membershipNotices } from './notices.js';

const d = (accountId: string, deviceId: string) => ({ accountId, deviceId });
const alice = d('A', 'a1');
const alice2 = d('A', 'a2');
const bob = d('B', 'b1');
const carol = d('C', 'c1');

describe('membership notices', () => {
  it('tells accounts added from devices added to accounts already in', () => {
    assert.deepEqual(membershipNotices([alice, bob], [alice, bob, carol, alice2], alice), [
      { change: 'added', by: alice, accounts: ['C'], devices: [carol] },
      { change: 'device-added', by: alice, accounts: ['A'], devices: [alice2] },
    ]);
  });

  it('shows an account that announced its leave as left, any other as removed', () => {
    const before = [alice, alice2, bob, carol];
    assert.deepEqual(membershipNotices(before, [alice, alice2], alice, ['B']), [
      { change: 'left', by: alice, accounts: ['B'], devices: [bob] },
      { change: 'removed', by: alice, accounts: ['C'], devices: [carol] },
    ]);
    assert.deepEqual(membershipNotices(before, [alice, bob, carol], bob), [
      { change: 'device-removed', by: bob, accounts: ['A'], devices: [alice2] },
    ]);
  });

  it('says nothing when the members did not change (a key update)', () => {
    assert.deepEqual(membershipNotices([alice, bob], [bob, alice], alice), []);
  });
});

describe('describeNotice', () => {
  it('says who did what, in names the caller gives', () => {
    const names: Record<string, string> = { A: 'you', B: 'Bob', C: 'someone' };
    const say = (n: Parameters<typeof describeNotice>[0]) => describeNotice(n, (a) => names[a]!);
    assert.equal(
      say({ change: 'added', by: alice, accounts: ['B', 'C'], devices: [] }),
      'You added Bob, someone',
    );
    assert.equal(say({ change: 'left', by: bob, accounts: ['C'], devices: [] }), 'Someone left');
    assert.equal(
      say({ change: 'removed', by: bob, accounts: ['A'], devices: [] }),
      'Bob removed you',
    );
    assert.equal(
      say({ change: 'device-added', by: alice, accounts: ['A'], devices: [alice2] }),
      'You linked a new device',
    );
    assert.equal(
      say({ change: 'device-added', by: bob, accounts: ['A'], devices: [alice2] }),
      'A device of yours was added',
    );
    assert.equal(
      say({ change: 'identity-changed', by: bob, accounts: ['B'], devices: [] }),
      'Bob’s safety number changed',
    );
  });
});
