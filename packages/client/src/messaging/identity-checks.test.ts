/**
 * The operator hands out keys, in process: the fake server answers KeyPackage claims with
 * KeyPackages of its own making, or presents a new identity for an account, exactly as a
 * modified server could. The SDK must encrypt to no key that does not chain to the identity key
 * it knows, and must show a changed identity before it encrypts to it.
 */

import * as assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ParleyError } from '@parley/core';
import { eventually, FakeCast, type FakeMember } from '../testing/fake-member.js';
import { FakeServer } from '../testing/fake-server.js';
import { forgedKeyPackage } from '../testing/forged-keys.js';
import * as mls from './mls.js';
import type { SecurityWarning } from './warnings.js';

let cast: FakeCast;
beforeEach(() => {
  cast = new FakeCast(new FakeServer());
});
afterEach(() => cast.stop());

function warnings(member: FakeMember): SecurityWarning[] {
  const seen: SecurityWarning[] = [];
  member.messenger.on('warning', (w) => seen.push(w));
  return seen;
}

const commits = (server: FakeServer) => {
  const seen: string[] = [];
  server.on('commit', (c) => seen.push(c.groupId));
  return seen;
};

describe('keys only the account’s identity key vouches for', () => {
  it('refuses an operator-made KeyPackage under a known device’s name, encrypts nothing, warns', async () => {
    const { alice, bob } = await cast.chat();
    const seen = warnings(bob);
    const committed = commits(cast.server);
    const forged = await forgedKeyPackage(alice.device, 'operator-kp-1');
    cast.server.rewriteClaims((claimed) =>
      claimed.map((c) =>
        c.accountId === alice.device.accountId ? { ...c, keyPackage: forged } : c,
      ),
    );
    await assert.rejects(
      bob.messenger.createConversation([alice.device.accountId]),
      (e: unknown) => e instanceof ParleyError && e.code === 'IDENTITY_REFUSED',
    );
    assert.deepEqual(committed, [], 'no Commit, no Welcome: nothing was encrypted to the key');
    assert.equal(seen[0]?.code, 'KEY_REFUSED');
    assert.equal(seen[0]?.detail.claimed?.deviceId, alice.device.deviceId);
  });

  it('refuses a KeyPackage with no certificate (the old "<account>/<device>" credential)', async () => {
    const { alice, bob } = await cast.chat();
    const seen = warnings(bob);
    const legacy = await mls.newKeyPackage(
      new TextEncoder().encode(`${alice.device.accountId}/${alice.device.deviceId}`),
      await mls.newSignatureKeys(),
      'legacy-kp-1',
      false,
    );
    cast.server.rewriteClaims((claimed) =>
      claimed.map((c) =>
        c.accountId === alice.device.accountId ? { ...c, keyPackage: legacy.keyPackage } : c,
      ),
    );
    await assert.rejects(
      bob.messenger.createConversation([alice.device.accountId]),
      (e: unknown) => e instanceof ParleyError && e.code === 'IDENTITY_REFUSED',
    );
    assert.equal(seen[0]?.code, 'KEY_REFUSED');
  });

  it('shows a new identity in every conversation with that account before encrypting to it', async () => {
    const { alice, bob, conversation } = await cast.chat();
    // Alice's number registered again: a new account identity (a new cast member under her id
    // with its own identity key stands for it), her old device signed out.
    const fresh = await cast.member({ accountId: alice.device.accountId, newIdentity: true });
    cast.server.removeDevice(alice.device.deviceId);
    const changes: string[] = [];
    bob.messenger.on('identity', (e) => changes.push(e.accountId));
    const order: string[] = [];
    bob.messenger.on('message', (m) => {
      if (m.kind === 'notice' && m.notice?.change === 'identity-changed') order.push('notice');
    });
    cast.server.on('commit', () => order.push('commit'));
    const second = await bob.messenger.createConversation([alice.device.accountId]);
    assert.deepEqual(changes, [alice.device.accountId]);
    assert.deepEqual(order.slice(0, 2), ['notice', 'commit'], 'the notice comes first');
    const shown = (await bob.messenger.history(conversation.id)).filter(
      (m) => m.notice?.change === 'identity-changed',
    );
    assert.equal(shown.length, 1, 'the old conversation says so too');
    await eventually(fresh.messenger, async () =>
      (await fresh.messenger.conversations()).some((c) => c.id === second.id),
    );
  });

  it('blocks sending to a verified contact whose key changed until the user accepts it', async () => {
    const { alice, bob, conversation } = await cast.chat();
    await bob.messenger.trust.setVerified(alice.device.accountId, true);
    await cast.member({ accountId: alice.device.accountId, newIdentity: true });
    cast.server.removeDevice(alice.device.deviceId);
    const committed = commits(cast.server);
    await assert.rejects(
      bob.messenger.createConversation([alice.device.accountId]),
      (e: unknown) => e instanceof ParleyError && e.code === 'SAFETY_NUMBER_CHANGED',
    );
    assert.deepEqual(committed, [], 'nothing encrypted to the new key');
    await assert.rejects(
      bob.messenger.send(conversation.id, 'to the old conversation'),
      (e: unknown) => e instanceof ParleyError && e.code === 'SAFETY_NUMBER_CHANGED',
    );
    await bob.messenger.trust.accept(alice.device.accountId);
    const sent = await bob.messenger.send(conversation.id, 'accepted');
    assert.equal(sent.text, 'accepted');
    const second = await bob.messenger.createConversation([alice.device.accountId]);
    assert.equal(
      second.members.some((m) => m.accountId === alice.device.accountId),
      true,
    );
  });
});
