/**
 * People on the fake server, each a device with its own store and messenger: what a test needs
 * to put several people in a conversation in a few lines. A device uploads its KeyPackages before
 * it connects, as a registered client does. The cast stops every messenger it made, so a test
 * file makes one and calls `stop()` after each test.
 *
 * @example
 * const cast = new FakeCast(new FakeServer());
 * afterEach(() => cast.stop());
 * const { alice, bob, conversation } = await cast.chat();
 * await alice.messenger.send(conversation.id, 'hi');
 * assert.deepEqual(await shownTexts(bob, conversation.id, 1), ['hi']);
 */

import { type IdentityKeyPair, loadIdentityCrypto, MESSAGING_LIMITS } from '@parley/core';
import { type Conversation, Messenger } from '../messaging/messenger.js';
import { TransparencyLog } from '../privacy/transparency-log.js';
import { type ClientStore, MemoryStore } from '../store/store.js';
import { ApiClient } from '../transport/api.js';
import type { FakeDevice, FakeServer } from './fake-server.js';

export interface FakeMember {
  device: FakeDevice;
  store: ClientStore;
  api: ApiClient;
  messenger: Messenger;
}

export interface FakeMemberOptions {
  /** Another device of this account (a new account by default). */
  accountId?: string;
  /** With `accountId`: the account starts a new identity key (its number registered again). */
  newIdentity?: boolean;
  store?: ClientStore;
  /** Connect at once (default true). */
  start?: boolean;
  /** The outbox's wait after SERVICE_UNAVAILABLE (short by default, for tests). */
  serviceRetryMs?: number;
  /**
   * One-time KeyPackages the device keeps: by default just above the server's low-water mark,
   * as making them is most of a member's set-up time.
   */
  keyPackageTarget?: number;
}

export class FakeCast {
  private readonly made: FakeMember[] = [];
  /** Each account's identity key, held by all its devices (as linking hands it over). */
  private readonly identities = new Map<string, IdentityKeyPair>();

  constructor(readonly server: FakeServer) {}

  async member(options: FakeMemberOptions = {}): Promise<FakeMember> {
    const device = this.server.addDevice(options.accountId);
    const store = options.store ?? new MemoryStore();
    const api = new ApiClient(this.server.url, new TransparencyLog(store), this.server.fetch);
    api.credential = device.credential;
    let identity = options.newIdentity ? undefined : this.identities.get(device.accountId);
    if (!identity) {
      identity = (await loadIdentityCrypto()).newIdentityKeys();
      this.identities.set(device.accountId, identity);
    }
    const messenger = new Messenger(store, api, {
      serverUrl: this.server.url,
      credential: device.credential,
      device: { accountId: device.accountId, deviceId: device.deviceId },
      socketFactory: this.server.socketFactory,
      serviceRetryMs: options.serviceRetryMs ?? 10,
      busyRetryMs: 10,
      keyPackageTarget: options.keyPackageTarget ?? MESSAGING_LIMITS.keyPackageLowWater + 5,
      // The cast know each other: no conversation here is a message request.
      isKnown: async () => true,
    });
    await messenger.identity.adopt(identity);
    const member = { device, store, api, messenger };
    this.made.push(member);
    await messenger.ensureKeyPackages();
    if (options.start ?? true) await messenger.start();
    return member;
  }

  /** `count` new people in a conversation the first one started. */
  async conversation(
    count: number,
    options: FakeMemberOptions = {},
  ): Promise<{ members: [FakeMember, FakeMember, ...FakeMember[]]; conversation: Conversation }> {
    const members: FakeMember[] = [];
    for (let i = 0; i < count; i++) members.push(await this.member(options));
    return {
      members: members as [FakeMember, FakeMember, ...FakeMember[]],
      conversation: await startConversation(members),
    };
  }

  /** Alice and Bob (made with `bob`'s options) in a conversation Alice started. */
  async chat(bob: FakeMemberOptions = {}) {
    const alice = await this.member();
    const other = await this.member(bob);
    const conversation = await startConversation([alice, other]);
    return { server: this.server, alice, bob: other, conversation };
  }

  /** Alice with two devices (her first and a laptop) and Bob, in a conversation Bob started. */
  async chatWithLaptop() {
    const alice = await this.member();
    const laptop = await this.member({ accountId: alice.device.accountId });
    const bob = await this.member();
    const conversation = await startConversation([bob, alice]);
    await eventually(laptop.messenger, async () =>
      (await laptop.messenger.conversations()).some((c) => c.id === conversation.id),
    );
    return { server: this.server, alice, laptop, bob, conversation };
  }

  /** Stops every messenger this cast made. */
  stop(): void {
    for (const member of this.made.splice(0)) member.messenger.stop();
  }
}

/** The first member starts a conversation with the others; resolves once all are in it. */
export async function startConversation(members: FakeMember[]): Promise<Conversation> {
  const [first, ...others] = members as [FakeMember, ...FakeMember[]];
  const conversation = await first.messenger.createConversation(
    others.map((o) => o.device.accountId),
  );
  await Promise.all(
    others.map((o) =>
      eventually(o.messenger, async () =>
        (await o.messenger.conversations()).some((c) => c.id === conversation.id),
      ),
    ),
  );
  return conversation;
}

/** The texts of the member's history (notices left out), once it holds at least `count`. */
export async function shownTexts(
  member: FakeMember,
  conversationId: string,
  count: number,
): Promise<string[]> {
  const texts = async () =>
    (await member.messenger.history(conversationId).catch(() => []))
      .filter((m) => m.kind === 'text')
      .map((m) => m.text);
  await eventually(member.messenger, async () => (await texts()).length >= count);
  return texts();
}

/**
 * Resolves once `check` holds, checking now and again after each event the emitter emits of
 * the kinds named (no timers: a test waits on what happens, not on the clock).
 */
export function eventually(
  emitter: { on(event: never, listener: () => void): () => void },
  check: () => boolean | Promise<boolean>,
  events: readonly string[] = ['conversation', 'message', 'status', 'connected', 'expired'],
): Promise<void> {
  return new Promise((resolve, reject) => {
    let done = false;
    const offs: Array<() => void> = [];
    const test = () => {
      if (done) return;
      Promise.resolve(check()).then((ok) => {
        if (!ok || done) return;
        done = true;
        for (const off of offs) off();
        resolve();
      }, reject);
    };
    for (const event of events) offs.push(emitter.on(event as never, test));
    test();
  });
}
