/**
 * A device of a person on the fake server, with its own store and messenger: what a test needs
 * to put several people in a conversation in a few lines. The device uploads its KeyPackages
 * before it connects, as a registered client does.
 *
 * @example
 * const server = new FakeServer();
 * const [alice, bob] = await Promise.all([fakeMember(server), fakeMember(server)]);
 * const chat = await alice.messenger.createConversation([bob.device.accountId]);
 */

import { MESSAGING_LIMITS } from '@parley/core';
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

export async function fakeMember(
  server: FakeServer,
  options: FakeMemberOptions = {},
): Promise<FakeMember> {
  const device = server.addDevice(options.accountId);
  const store = options.store ?? new MemoryStore();
  const api = new ApiClient(server.url, new TransparencyLog(store), server.fetch);
  api.credential = device.credential;
  const messenger = new Messenger(store, api, {
    serverUrl: server.url,
    credential: device.credential,
    device: { accountId: device.accountId, deviceId: device.deviceId },
    socketFactory: server.socketFactory,
    serviceRetryMs: options.serviceRetryMs ?? 10,
    keyPackageTarget: options.keyPackageTarget ?? MESSAGING_LIMITS.keyPackageLowWater + 5,
  });
  await messenger.ensureKeyPackages();
  if (options.start ?? true) await messenger.start();
  return { device, store, api, messenger };
}

/**
 * `count` people, the first of whom starts a conversation with the others; resolves once every
 * one of them is in it.
 */
export async function fakeConversation(
  server: FakeServer,
  count: number,
  options: FakeMemberOptions = {},
): Promise<{ members: FakeMember[]; conversation: Conversation }> {
  const members: FakeMember[] = [];
  for (let i = 0; i < count; i++) members.push(await fakeMember(server, options));
  return { members, conversation: await startConversation(members) };
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

/**
 * Resolves once `check` holds, checking now and again after each event the messenger emits of
 * the kinds named (no timers: a test waits on what happens, not on the clock).
 */
export function eventually(
  emitter: { on(event: never, listener: () => void): () => void },
  check: () => boolean | Promise<boolean>,
  events: readonly string[] = ['conversation', 'message', 'status', 'connected'],
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
