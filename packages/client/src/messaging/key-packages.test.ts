import * as assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { MESSAGING_LIMITS } from '@parley/core';
import {
  eventually,
  FakeCast,
  type FakeMember,
  startConversation,
} from '../testing/fake-member.js';
import { FakeServer } from '../testing/fake-server.js';
import { KEY_PACKAGE_TARGET } from './key-packages.js';
import type { OwnKeyPackage } from './mls.js';

let cast: FakeCast;
beforeEach(() => {
  cast = new FakeCast(new FakeServer());
});
afterEach(() => cast.stop());

/** A device keeping the SDK's real target of KeyPackages. */
const join = () => cast.member({ keyPackageTarget: KEY_PACKAGE_TARGET });

/** The private halves the device keeps, by KeyPackage id. */
async function privateHalves(member: FakeMember): Promise<Record<string, OwnKeyPackage>> {
  return (await member.store.get<Record<string, OwnKeyPackage>>('mls-key-packages')) ?? {};
}

describe('KeyPackages', () => {
  it('a new device stocks the target of one-time KeyPackages and a last-resort one', async () => {
    const server = cast.server;
    const alice = await join();
    assert.deepEqual(server.stock(alice.device.deviceId), {
      oneTime: KEY_PACKAGE_TARGET,
      lastResort: true,
      low: false,
    });
    const own = Object.values(await privateHalves(alice));
    assert.equal(own.filter((k) => !k.lastResort).length, KEY_PACKAGE_TARGET);
    assert.equal(own.filter((k) => k.lastResort).length, 1);
  });

  it('refills to the target when claims take the stock below the low-water mark', async () => {
    const server = cast.server;
    const alice = await join();
    const bob = await join();
    const refilled = server.next(
      'uploaded',
      (u) => u.device.deviceId === bob.device.deviceId && u.stock.oneTime === KEY_PACKAGE_TARGET,
    );
    const claims = KEY_PACKAGE_TARGET - MESSAGING_LIMITS.keyPackageLowWater + 1;
    for (let i = 0; i < claims; i++) await alice.api.claimKeyPackages([bob.device.accountId]);
    await refilled;
    assert.deepEqual(server.stock(bob.device.deviceId), {
      oneTime: KEY_PACKAGE_TARGET,
      lastResort: true,
      low: false,
    });
  });

  it('a Welcome spends its one-time KeyPackage; the private halves of the others stay', async () => {
    const alice = await join();
    const bob = await join();
    const before = await privateHalves(bob);
    const conversation = await startConversation([alice, bob]);
    await eventually(bob.messenger, async () => (await bob.messenger.conversations()).length > 0);
    const after = await privateHalves(bob);
    const spent = Object.keys(before).filter((id) => !(id in after));
    assert.equal(spent.length, 1);
    assert.equal(before[spent[0]!]!.lastResort, false);
    assert.equal(Object.keys(after).length, KEY_PACKAGE_TARGET);
    assert.equal((await bob.messenger.conversation(conversation.id)).epoch, 1);
  });
});
