import * as assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { eventually, FakeCast, type FakeMember } from '../testing/fake-member.js';
import { FakeServer } from '../testing/fake-server.js';

let cast: FakeCast;
beforeEach(() => {
  cast = new FakeCast(new FakeServer());
});
afterEach(() => cast.stop());

/** Device ids, sorted: how the tests compare memberships. */
const ids = (members: { deviceId: string }[]) => members.map((m) => m.deviceId).sort();

/** Resolves once every member's view of the conversation matches the server's. */
async function agreed(server: FakeServer, members: FakeMember[], id: string) {
  const group = server.group(id)!;
  await Promise.all(
    members.map((m) =>
      eventually(m.messenger, async () => {
        const c = await m.messenger.conversation(id).catch(() => undefined);
        return c?.epoch === server.group(id)?.epoch;
      }),
    ),
  );
  for (const m of members) {
    const c = await m.messenger.conversation(id);
    assert.equal(c.epoch, group.epoch);
    assert.deepEqual(ids(c.members), ids(group.members));
  }
}

describe('group changes', () => {
  it('two members commit in the same epoch: the loser applies the winner and commits again', async () => {
    const { server, alice, bob, conversation } = await cast.chat();
    const carol = await cast.member();
    const dave = await cast.member();
    const commits: Array<{ epoch: number; accepted: boolean }> = [];
    server.on('commit', (c) => commits.push({ epoch: c.epoch, accepted: c.accepted }));
    // Neither sees the other's Commit before committing: both commit in epoch 1.
    server.hold(alice.device.deviceId);
    server.hold(bob.device.deviceId);
    const byAlice = alice.messenger.addMembers(conversation.id, [carol.device.accountId]);
    const byBob = bob.messenger.addMembers(conversation.id, [dave.device.accountId]);
    await server.next('commit', (c) => !c.accepted);
    server.release(alice.device.deviceId);
    server.release(bob.device.deviceId);
    await Promise.all([byAlice, byBob]);
    assert.deepEqual(commits, [
      { epoch: 1, accepted: true },
      { epoch: 1, accepted: false },
      { epoch: 2, accepted: true },
    ]);
    assert.equal(server.group(conversation.id)!.epoch, 3);
    assert.deepEqual(
      ids(server.group(conversation.id)!.members),
      ids([alice.device, bob.device, carol.device, dave.device]),
    );
    await agreed(server, [alice, bob, carol, dave], conversation.id);
  });

  it('an account that leaves is removed in MLS by the remaining device with the lowest id', async () => {
    const server = cast.server;
    const { members, conversation } = await cast.conversation(3);
    const [alice, bob, carol] = members as [FakeMember, FakeMember, FakeMember];
    const committers: string[] = [];
    server.on('commit', (c) => {
      if (c.accepted) committers.push(c.from.deviceId);
    });
    const left = await carol.messenger.leave(conversation.id);
    assert.equal(left.active, false);
    await eventually(alice.messenger, async () => {
      const c = await alice.messenger.conversation(conversation.id);
      return c.epoch === 2;
    });
    assert.deepEqual(committers, [ids([alice.device, bob.device])[0]]);
    assert.deepEqual(ids(server.group(conversation.id)!.members), ids([alice.device, bob.device]));
    await agreed(server, [alice, bob], conversation.id);
    assert.equal((await carol.messenger.conversation(conversation.id)).active, false);
  });

  it("a signed-out device's leaf is removed by the first remaining device", async () => {
    const { server, alice, laptop, bob, conversation } = await cast.chatWithLaptop();
    assert.equal((await bob.messenger.conversation(conversation.id)).members.length, 3);
    const removal = server.next('commit', (c) => c.accepted);
    // The owner says so in MLS first, as ParleyClient.removeDevice does; the server's word alone
    // would change nothing.
    assert.equal(await alice.messenger.announceSignOut([laptop.device.deviceId]), true);
    server.removeDevice(laptop.device.deviceId);
    const commit = await removal;
    assert.equal(commit.from.deviceId, ids([alice.device, bob.device])[0]);
    await agreed(server, [alice, bob], conversation.id);
    const after = await alice.messenger.conversation(conversation.id);
    assert.equal(after.epoch, 2);
    assert.deepEqual(ids(after.members), ids([alice.device, bob.device]));
  });
});
