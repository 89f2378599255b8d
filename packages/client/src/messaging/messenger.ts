/**
 * The messenger: conversations as MLS groups, sending and receiving through the device's queue,
 * receipts, typing and presence. Its rules for "exactly once, in order":
 * - Everything that changes MLS state (incoming entries, encrypting, committing) runs one at a
 *   time, in the order it arrived.
 * - An incoming entry is acknowledged only after its effect is saved; an entry seen again (the
 *   acknowledgement was lost) is recognised by its message id or epoch and only acknowledged.
 * - An outgoing message is saved to the outbox with its id before the first attempt and resent
 *   with the same id until the server says it is stored; the server keeps one copy per id.
 * - A send or Commit made in an epoch the server has moved past is refused (EPOCH_CONFLICT); the
 *   messenger processes the pending Commit, then encrypts or commits again in the new epoch.
 */

import {
  type ClaimedKeyPackage,
  type DeliverFrame,
  type DeviceRef,
  fromBase64Url,
  MESSAGING_LIMITS,
  ParleyError,
  type ServerFrame,
  toBase64Url,
} from '@parley/core';
import type { ClientState } from 'ts-mls';
import type { ClientStore } from '../store/store.js';
import type { ApiClient } from '../transport/api.js';
import { Connection, type SocketFactory } from '../transport/connection.js';
import { Emitter } from '../transport/emitter.js';
import type { OwnKeyPackage, SignatureKeys } from './mls.js';
import * as mls from './mls.js';

export type MessageStatus = 'sending' | 'stored' | 'delivered' | 'read' | 'failed' | 'received';

export interface ChatMessage {
  id: string;
  conversationId: string;
  from: DeviceRef;
  text: string;
  sentAt: string;
  status: MessageStatus;
  /** Accounts whose device received it (sender side). */
  deliveredTo: string[];
  readBy: string[];
}

export interface Conversation {
  id: string;
  members: DeviceRef[];
  epoch: number;
  createdAt: string;
  /** False once this device was removed from the group. */
  active: boolean;
}

export interface MessengerEvents extends Record<string, unknown> {
  message: ChatMessage;
  status: ChatMessage;
  conversation: Conversation;
  typing: { conversationId: string; from: DeviceRef };
  presence: { accountId: string; online: boolean };
  connected: undefined;
  disconnected: undefined;
  error: ParleyError;
}

interface StoredConversation extends Conversation {
  state: string;
}

interface OutboxEntry {
  id: string;
  conversationId: string;
  epoch: number;
  payload: string;
  /** Kept so the message can be encrypted again after an epoch change. */
  content: string;
}

interface Content {
  v: 1;
  type: 'text';
  text: string;
  sentAt: string;
}

const KEYS = {
  signature: 'mls-signature',
  keyPackages: 'mls-key-packages',
  conversations: 'conversations',
  outbox: 'outbox',
  conversation: (id: string) => `conv-${id}`,
  history: (id: string) => `hist-${id}`,
};

/** How many one-time KeyPackages the SDK keeps on the server. */
export const KEY_PACKAGE_TARGET = 40;
const COMMIT_RETRIES = 5;
/** How long an outbox waits after the server answered SERVICE_UNAVAILABLE. */
const SERVICE_RETRY_MS = 2_000;

const randomId = () => toBase64Url(crypto.getRandomValues(new Uint8Array(16)));

/** Runs tasks one at a time, in order. */
class Lane {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    this.tail = result.catch(() => {});
    return result;
  }
}

export interface MessengerOptions {
  serverUrl: string;
  credential: string;
  device: DeviceRef;
  socketFactory: SocketFactory;
}

export class Messenger extends Emitter<MessengerEvents> {
  private readonly lane = new Lane();
  private connection: Connection | undefined;
  private readonly cache = new Map<string, StoredConversation>();
  private readonly histories = new Map<string, ChatMessage[]>();
  private readonly waiters = new Map<
    string,
    { resolve: (m: ChatMessage) => void; reject: (e: ParleyError) => void }
  >();
  private flushing = false;
  private flushAgain = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private refilling: Promise<void> | undefined;

  constructor(
    private readonly store: ClientStore,
    private readonly api: ApiClient,
    private readonly options: MessengerOptions,
  ) {
    super();
  }

  get device(): DeviceRef {
    return this.options.device;
  }

  get connected(): boolean {
    return this.connection?.isReady ?? false;
  }

  // --- connection ---

  /** Connects (and keeps reconnecting) the device's WebSocket; resolves once it is ready. */
  async start(): Promise<void> {
    if (this.connection) return;
    const connection = new Connection(
      this.options.serverUrl,
      this.options.credential,
      this.options.socketFactory,
    );
    this.connection = connection;
    connection.on('ready', (frame) => {
      this.emit('connected', undefined);
      if (frame.keyPackages.low || !frame.keyPackages.lastResort) void this.refillQuietly();
      void this.flush();
    });
    connection.on('down', () => this.emit('disconnected', undefined));
    connection.on('fatal', (error) => this.emit('error', error));
    connection.on('frame', (frame) => this.onFrame(frame));
    const ready = connection.next('ready', () => true, 15_000);
    connection.start();
    try {
      await ready;
    } catch (cause) {
      // It keeps trying in the background; the caller learns that it is not connected yet.
      throw new ParleyError('NETWORK_ERROR', {
        cause,
        message: 'The messaging connection did not open within 15 s; it keeps retrying.',
        details: { server: this.options.serverUrl },
      });
    }
  }

  /** Closes the connection; unsent messages stay in the outbox for the next start. */
  stop(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.flushAcks();
    this.connection?.stop();
    this.connection = undefined;
  }

  /**
   * Stops, then erases everything the messenger keeps on this device: the signature key, the
   * KeyPackages' private halves, every conversation's MLS state and history, and the outbox.
   * After this the messenger is unusable (its account was deleted).
   */
  async erase(): Promise<void> {
    this.stop();
    await this.lane.run(async () => {
      const ids = (await this.store.get<string[]>(KEYS.conversations)) ?? [];
      for (const id of new Set([...ids, ...this.cache.keys()])) {
        await this.store.delete(KEYS.conversation(id));
        await this.store.delete(KEYS.history(id));
      }
      for (const key of [KEYS.conversations, KEYS.outbox, KEYS.keyPackages, KEYS.signature]) {
        await this.store.delete(key);
      }
      this.cache.clear();
      this.histories.clear();
      for (const waiter of this.waiters.values()) {
        waiter.reject(new ParleyError('NOT_REGISTERED', { message: 'The account was deleted.' }));
      }
      this.waiters.clear();
    });
  }

  private onFrame(frame: ServerFrame): void {
    switch (frame.t) {
      case 'deliver':
        void this.lane
          .run(() => this.receive(frame))
          .catch((error: unknown) => this.emit('error', asParleyError(error)));
        break;
      case 'signal':
        void this.lane
          .run(() => this.receiveSignal(frame.groupId, frame.from, frame.payload))
          .catch(() => {});
        break;
      case 'presence':
        this.emit('presence', { accountId: frame.accountId, online: frame.online });
        break;
      case 'keypackages':
        if (frame.stock.low) void this.refillQuietly();
        break;
      default:
        break;
    }
  }

  // --- keys ---

  private async signatureKeys(): Promise<SignatureKeys> {
    let keys = await this.store.get<SignatureKeys>(KEYS.signature);
    if (!keys) {
      keys = await mls.newSignatureKeys();
      await this.store.set(KEYS.signature, keys);
    }
    return keys;
  }

  private async ownKeyPackages(): Promise<Record<string, OwnKeyPackage>> {
    return (await this.store.get<Record<string, OwnKeyPackage>>(KEYS.keyPackages)) ?? {};
  }

  private refillQuietly(): Promise<void> {
    this.refilling ??= this.ensureKeyPackages()
      .catch((error: unknown) => this.emit('error', asParleyError(error)))
      .finally(() => {
        this.refilling = undefined;
      });
    return this.refilling;
  }

  /** Tops the server's stock of this device's KeyPackages up to the target. */
  async ensureKeyPackages(): Promise<void> {
    const stock = await this.api.keyPackageStock();
    const missing = Math.max(0, KEY_PACKAGE_TARGET - stock.oneTime);
    if (missing === 0 && stock.lastResort) return;
    const keys = await this.signatureKeys();
    const made: OwnKeyPackage[] = [];
    for (let i = 0; i < missing; i++) {
      made.push(await mls.newKeyPackage(this.device, keys, randomId(), false));
    }
    const lastResort = stock.lastResort
      ? undefined
      : await mls.newKeyPackage(this.device, keys, randomId(), true);
    // The private halves are saved before the public ones leave, so a Welcome can always be read.
    const own = await this.ownKeyPackages();
    for (const kp of [...made, ...(lastResort ? [lastResort] : [])]) own[kp.id] = kp;
    if (lastResort) {
      for (const [id, kp] of Object.entries(own)) {
        if (kp.lastResort && id !== lastResort.id) delete own[id];
      }
    }
    await this.store.set(KEYS.keyPackages, own);
    const per = MESSAGING_LIMITS.keyPackagesPerUpload;
    for (let i = 0; i === 0 || i < made.length; i += per) {
      await this.api.uploadKeyPackages({
        keyPackages: made.slice(i, i + per).map((kp) => ({ id: kp.id, keyPackage: kp.keyPackage })),
        ...(i === 0 && lastResort
          ? { lastResort: { id: lastResort.id, keyPackage: lastResort.keyPackage } }
          : {}),
      });
    }
  }

  // --- conversations ---

  async conversations(): Promise<Conversation[]> {
    const ids = (await this.store.get<string[]>(KEYS.conversations)) ?? [];
    const out: Conversation[] = [];
    for (const id of ids) {
      const c = await this.load(id);
      if (c) out.push(publicView(c));
    }
    return out;
  }

  async conversation(id: string): Promise<Conversation> {
    const c = await this.load(id);
    if (!c) throw new ParleyError('CONVERSATION_NOT_FOUND', { details: { id } });
    return publicView(c);
  }

  async history(conversationId: string): Promise<ChatMessage[]> {
    return [...(await this.loadHistory(conversationId))];
  }

  private async load(id: string): Promise<StoredConversation | undefined> {
    const cached = this.cache.get(id);
    if (cached) return cached;
    const stored = await this.store.get<StoredConversation>(KEYS.conversation(id));
    if (stored) this.cache.set(id, stored);
    return stored;
  }

  private async save(conversation: StoredConversation): Promise<void> {
    const isNew = !(await this.load(conversation.id));
    this.cache.set(conversation.id, conversation);
    await this.store.set(KEYS.conversation(conversation.id), conversation);
    if (isNew) {
      const ids = (await this.store.get<string[]>(KEYS.conversations)) ?? [];
      if (!ids.includes(conversation.id)) {
        await this.store.set(KEYS.conversations, [...ids, conversation.id]);
      }
    }
  }

  private async adopt(
    id: string,
    state: ClientState,
    createdAt = new Date().toISOString(),
  ): Promise<StoredConversation> {
    const previous = await this.load(id);
    const conversation: StoredConversation = {
      id,
      state: await mls.encodeState(state),
      epoch: mls.epochOf(state),
      members: mls.membersOf(state).map(({ accountId, deviceId }) => ({ accountId, deviceId })),
      createdAt: previous?.createdAt ?? createdAt,
      active: state.groupActiveState.kind === 'active',
    };
    await this.save(conversation);
    this.emit('conversation', publicView(conversation));
    return conversation;
  }

  private async loadHistory(id: string): Promise<ChatMessage[]> {
    let history = this.histories.get(id);
    if (!history) {
      history = (await this.store.get<ChatMessage[]>(KEYS.history(id))) ?? [];
      this.histories.set(id, history);
    }
    return history;
  }

  private async saveHistory(id: string, history: ChatMessage[]): Promise<void> {
    this.histories.set(id, history);
    await this.store.set(KEYS.history(id), history);
  }

  private async claim(accountIds: string[]): Promise<ClaimedKeyPackage[]> {
    const { keyPackages } = await this.api.claimKeyPackages(accountIds);
    return keyPackages.filter((k) => k.deviceId !== this.device.deviceId);
  }

  /**
   * Starts a conversation with these accounts: every device of each (and this user's other
   * devices) joins. One account makes a one-to-one chat; several make a group.
   */
  async createConversation(accountIds: string[]): Promise<Conversation> {
    const peers = [...new Set(accountIds)].filter((a) => a !== this.device.accountId);
    if (peers.length === 0) {
      throw new ParleyError('ACCOUNT_NOT_FOUND', { message: 'Name at least one other account.' });
    }
    const claimed = await this.claim([...peers, this.device.accountId]);
    const keyPackages = await Promise.all(claimed.map((c) => mls.peerKeyPackage(c.keyPackage, c)));
    const id = randomId();
    const conversation = await this.lane.run(async () => {
      const keys = await this.signatureKeys();
      const state = await mls.createGroup(id, this.device, keys);
      const committed = await mls.commit(state, { add: keyPackages });
      await this.api.commit(id, {
        epoch: 0,
        commit: committed.commit,
        ...(committed.welcome ? { welcome: committed.welcome } : {}),
        add: claimed.map((c) => ({ deviceId: c.deviceId, keyPackageId: c.keyPackageId })),
        remove: [],
      });
      return this.adopt(id, committed.state);
    });
    return publicView(conversation);
  }

  async addMembers(conversationId: string, accountIds: string[]): Promise<Conversation> {
    const current = await this.conversation(conversationId);
    const fresh = accountIds.filter((a) => !current.members.some((m) => m.accountId === a));
    if (fresh.length === 0) return current;
    const claimed = await this.claim(fresh);
    const keyPackages = await Promise.all(claimed.map((c) => mls.peerKeyPackage(c.keyPackage, c)));
    return this.commitChange(conversationId, async (state) => {
      const committed = await mls.commit(state, { add: keyPackages });
      return {
        committed,
        add: claimed.map((c) => ({ deviceId: c.deviceId, keyPackageId: c.keyPackageId })),
        remove: [],
      };
    });
  }

  async removeMembers(conversationId: string, accountIds: string[]): Promise<Conversation> {
    return this.commitChange(conversationId, async (state) => {
      const leaving = mls
        .membersOf(state)
        .filter((m) => accountIds.includes(m.accountId) && m.deviceId !== this.device.deviceId);
      const committed = await mls.commit(state, { removeLeaves: leaving.map((m) => m.leaf) });
      return { committed, add: [], remove: leaving.map((m) => m.deviceId) };
    });
  }

  /** Removes these devices' leaves (devices signed out by their owners; never this one). */
  private async removeDevices(conversationId: string, deviceIds: string[]): Promise<Conversation> {
    return this.commitChange(conversationId, async (state) => {
      const leaving = mls
        .membersOf(state)
        .filter((m) => deviceIds.includes(m.deviceId) && m.deviceId !== this.device.deviceId);
      const committed = await mls.commit(state, { removeLeaves: leaving.map((m) => m.leaf) });
      return { committed, add: [], remove: leaving.map((m) => m.deviceId) };
    });
  }

  /**
   * Leaves the conversation with all of this account's devices: the server stops delivering at
   * once, and a remaining member removes them in MLS. The history stays on this device.
   */
  async leave(conversationId: string): Promise<Conversation> {
    await this.api.leaveGroup(conversationId);
    return this.lane.run(async () => {
      const stored = await this.load(conversationId);
      if (!stored) throw new ParleyError('CONVERSATION_NOT_FOUND', { details: { conversationId } });
      const left = { ...stored, active: false };
      await this.save(left);
      this.emit('conversation', publicView(left));
      return publicView(left);
    });
  }

  /** Commits a change, and if another member's Commit won the epoch, catches up and retries. */
  private async commitChange(
    conversationId: string,
    make: (state: ClientState) => Promise<{
      committed: mls.Committed;
      add: Array<{ deviceId: string; keyPackageId: string }>;
      remove: string[];
    }>,
  ): Promise<Conversation> {
    for (let attempt = 0; ; attempt++) {
      const outcome = await this.lane.run(async () => {
        const stored = await this.load(conversationId);
        if (!stored)
          throw new ParleyError('CONVERSATION_NOT_FOUND', { details: { conversationId } });
        const state = await mls.decodeState(stored.state);
        const change = await make(state);
        try {
          await this.api.commit(conversationId, {
            epoch: stored.epoch,
            commit: change.committed.commit,
            ...(change.committed.welcome ? { welcome: change.committed.welcome } : {}),
            add: change.add,
            remove: change.remove,
          });
        } catch (error) {
          if (error instanceof ParleyError && error.code === 'EPOCH_CONFLICT') {
            return { conflict: epochIn(error) ?? stored.epoch + 1 };
          }
          throw error;
        }
        return { conversation: await this.adopt(conversationId, change.committed.state) };
      });
      if (outcome.conversation) return publicView(outcome.conversation);
      if (attempt >= COMMIT_RETRIES) {
        throw new ParleyError('EPOCH_CONFLICT', {
          details: { conversationId, attempts: attempt + 1 },
        });
      }
      await this.waitForEpoch(conversationId, outcome.conflict);
    }
  }

  /** Resolves once this device has processed the group's Commits up to `epoch`. */
  private async waitForEpoch(conversationId: string, epoch: number): Promise<void> {
    const current = await this.load(conversationId);
    if (current && current.epoch >= epoch) return;
    try {
      await this.next('conversation', (c) => c.id === conversationId && c.epoch >= epoch, 20_000);
    } catch (cause) {
      throw new ParleyError('CONNECTION_CLOSED', {
        cause,
        message: `The conversation's newer epoch (${epoch}) did not arrive within 20 s; try again when connected.`,
        details: { conversationId, epoch },
      });
    }
  }

  // --- sending ---

  /**
   * Encrypts and sends a text; resolves when the server has stored it for every recipient device.
   * While offline it waits in the outbox and goes out on reconnect.
   */
  async send(conversationId: string, text: string): Promise<ChatMessage> {
    const id = randomId();
    const sentAt = new Date().toISOString();
    const content = JSON.stringify({ v: 1, type: 'text', text, sentAt } satisfies Content);
    // Registered before the message can reach the outbox, so no answer can come before it.
    const stored = new Promise<ChatMessage>((resolve, reject) => {
      this.waiters.set(id, { resolve, reject });
    });
    try {
      await this.lane.run(async () => {
        const entry = await this.encryptEntry(conversationId, id, content);
        const message: ChatMessage = {
          id,
          conversationId,
          from: this.device,
          text,
          sentAt,
          status: 'sending',
          deliveredTo: [],
          readBy: [],
        };
        const history = await this.loadHistory(conversationId);
        await this.saveHistory(conversationId, [...history, message]);
        const outbox = (await this.store.get<OutboxEntry[]>(KEYS.outbox)) ?? [];
        await this.store.set(KEYS.outbox, [...outbox, entry]);
        // Shown at once as 'sending', also while offline; 'stored' follows when the server has it.
        this.emit('status', message);
      });
    } catch (error) {
      this.waiters.delete(id);
      throw error;
    }
    void this.flush();
    return stored;
  }

  private async encryptEntry(
    conversationId: string,
    id: string,
    content: string,
  ): Promise<OutboxEntry> {
    const stored = await this.load(conversationId);
    if (!stored) throw new ParleyError('CONVERSATION_NOT_FOUND', { details: { conversationId } });
    if (!stored.active) throw new ParleyError('NOT_GROUP_MEMBER');
    const state = await mls.decodeState(stored.state);
    const encrypted = await mls.encrypt(state, new TextEncoder().encode(content));
    // Saved whatever the server answers: a key used once must never be used again.
    await this.save({ ...stored, state: await mls.encodeState(encrypted.state) });
    return { id, conversationId, epoch: stored.epoch, payload: encrypted.payload, content };
  }

  /** Sends the outbox in order, pipelined; re-encrypts what an epoch change made stale. */
  private async flush(): Promise<void> {
    if (this.flushing) {
      this.flushAgain = true;
      return;
    }
    this.flushing = true;
    try {
      do {
        this.flushAgain = false;
        const connection = this.connection;
        if (!connection?.isReady) return;
        const outbox = (await this.store.get<OutboxEntry[]>(KEYS.outbox)) ?? [];
        if (outbox.length === 0) return;
        const results = await Promise.allSettled(
          outbox.map((e) =>
            connection.sendMessage({
              t: 'send',
              id: e.id,
              groupId: e.conversationId,
              epoch: e.epoch,
              payload: e.payload,
            }),
          ),
        );
        const stale: OutboxEntry[] = [];
        const done = new Map<string, MessageStatus>();
        let offline = false;
        let unavailable = false;
        results.forEach((r, i) => {
          const entry = outbox[i]!;
          if (r.status === 'fulfilled') {
            done.set(entry.id, 'stored');
            return;
          }
          const error = asParleyError(r.reason);
          if (error.code === 'EPOCH_CONFLICT') stale.push(entry);
          else if (error.code === 'CONNECTION_CLOSED') offline = true;
          // The server cannot store right now (its database is restarting, say): the message
          // stays in the outbox and goes again shortly, with the same id.
          else if (error.code === 'SERVICE_UNAVAILABLE') unavailable = true;
          else {
            done.set(entry.id, 'failed');
            this.waiters.get(entry.id)?.reject(error);
            this.waiters.delete(entry.id);
          }
        });
        await this.lane.run(async () => {
          const current = (await this.store.get<OutboxEntry[]>(KEYS.outbox)) ?? [];
          await this.store.set(
            KEYS.outbox,
            current.filter((e) => !done.has(e.id)),
          );
          for (const [id, status] of done) {
            const entry = outbox.find((e) => e.id === id)!;
            const updated = await this.updateMessage(entry.conversationId, id, (m) => {
              if (m.status === 'sending') m.status = status;
            });
            if (updated) {
              this.emit('status', updated);
              if (status === 'stored') this.waiters.get(id)?.resolve(updated);
            }
            this.waiters.delete(id);
          }
        });
        if (unavailable && !offline) {
          this.retryTimer ??= setTimeout(() => {
            this.retryTimer = undefined;
            void this.flush();
          }, SERVICE_RETRY_MS);
          this.retryTimer.unref?.();
        }
        // A reconnect that came while this round ran asked for another round: do it now.
        if (offline) {
          if (this.flushAgain) continue;
          return;
        }
        if (stale.length > 0) {
          for (const entry of stale) {
            const server = await this.api.group(entry.conversationId);
            await this.waitForEpoch(entry.conversationId, server.epoch);
          }
          await this.lane.run(async () => {
            const current = (await this.store.get<OutboxEntry[]>(KEYS.outbox)) ?? [];
            const renewed: OutboxEntry[] = [];
            for (const e of current) {
              renewed.push(
                stale.some((s) => s.id === e.id)
                  ? await this.encryptEntry(e.conversationId, e.id, e.content)
                  : e,
              );
            }
            await this.store.set(KEYS.outbox, renewed);
          });
          this.flushAgain = true;
        }
      } while (this.flushAgain);
    } catch (error) {
      this.emit('error', asParleyError(error));
    } finally {
      this.flushing = false;
    }
  }

  /** Changes several messages with one write; returns the changed ones. */
  private async updateMessages(
    conversationId: string,
    ids: readonly string[],
    change: (m: ChatMessage) => void,
  ): Promise<ChatMessage[]> {
    const wanted = new Set(ids);
    const history = await this.loadHistory(conversationId);
    const changed: ChatMessage[] = [];
    const next = history.map((m) => {
      if (!wanted.has(m.id)) return m;
      const updated = { ...m, deliveredTo: [...m.deliveredTo], readBy: [...m.readBy] };
      change(updated);
      changed.push(updated);
      return updated;
    });
    if (changed.length > 0) await this.saveHistory(conversationId, next);
    return changed;
  }

  private async updateMessage(
    conversationId: string,
    id: string,
    change: (m: ChatMessage) => void,
  ): Promise<ChatMessage | undefined> {
    const history = await this.loadHistory(conversationId);
    const index = history.findIndex((m) => m.id === id);
    if (index < 0) return undefined;
    const updated = {
      ...history[index]!,
      deliveredTo: [...history[index]!.deliveredTo],
      readBy: [...history[index]!.readBy],
    };
    change(updated);
    const next = [...history];
    next[index] = updated;
    await this.saveHistory(conversationId, next);
    return updated;
  }

  // --- receiving ---

  private readonly acks: number[] = [];
  private ackTimer: ReturnType<typeof setTimeout> | undefined;

  /** Acknowledgements go out together, a few milliseconds after the entries were saved. */
  private ack(seq: number): void {
    this.acks.push(seq);
    if (this.acks.length >= MESSAGING_LIMITS.deliveryWindow) this.flushAcks();
    else this.ackTimer ??= setTimeout(() => this.flushAcks(), 5);
  }

  private flushAcks(): void {
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    while (this.acks.length > 0) {
      const seqs = this.acks.splice(0, MESSAGING_LIMITS.deliveryWindow);
      // Unsent acks are harmless: the entries come again and are recognised as seen.
      this.connection?.send({ t: 'ack', seqs });
    }
  }

  private async receive(frame: DeliverFrame): Promise<void> {
    try {
      await this.apply(frame);
    } catch (error) {
      this.emit('error', asParleyError(error));
      // An entry this device can never process (corrupt, or for keys it no longer has) would
      // block the queue forever: it is let go. Anything else (the store failed) stays
      // unacknowledged, so the server delivers it again on the next connection.
      if (!(error instanceof ParleyError)) return;
    }
    this.ack(frame.seq);
  }

  private async apply(frame: DeliverFrame): Promise<void> {
    switch (frame.kind) {
      case 'welcome':
        return this.applyWelcome(frame);
      case 'commit':
        return this.applyCommit(frame);
      case 'application':
        return this.applyMessage(frame);
      case 'receipt':
        return this.applyReceipt(frame);
      case 'leave':
        return this.applyLeave(frame);
      case 'removed':
        return this.applyRemoved(frame);
    }
  }

  private async applyWelcome(frame: DeliverFrame): Promise<void> {
    if (await this.load(frame.groupId)) return;
    const own = await this.ownKeyPackages();
    const kp = frame.keyPackageId ? own[frame.keyPackageId] : undefined;
    if (!kp || !frame.payload) {
      throw new ParleyError('MLS_FAILED', {
        details: { what: 'Welcome for an unknown KeyPackage' },
      });
    }
    const state = await mls.joinByWelcome(frame.payload, kp, await this.signatureKeys());
    await this.adopt(frame.groupId, state, frame.sentAt);
    if (!kp.lastResort) {
      delete own[kp.id];
      await this.store.set(KEYS.keyPackages, own);
    }
  }

  private async applyCommit(frame: DeliverFrame): Promise<void> {
    const stored = await this.load(frame.groupId);
    if (!stored || frame.epoch < stored.epoch || !frame.payload) return; // seen before
    const state = await mls.processHandshake(await mls.decodeState(stored.state), frame.payload);
    await this.adopt(frame.groupId, state);
  }

  private async applyMessage(frame: DeliverFrame): Promise<void> {
    const history = await this.loadHistory(frame.groupId);
    if (history.some((m) => m.id === frame.id)) return; // delivered before; the ack was lost
    const stored = await this.load(frame.groupId);
    if (!stored || !frame.payload) return;
    const { state, plaintext } = await mls.decrypt(
      await mls.decodeState(stored.state),
      frame.payload,
    );
    const content = parseContent(plaintext);
    const message: ChatMessage = {
      id: frame.id,
      conversationId: frame.groupId,
      from: frame.from,
      text: content.text,
      sentAt: content.sentAt,
      status: 'received',
      deliveredTo: [],
      readBy: [],
    };
    // History first: if the process dies between the two writes, the id is known and the
    // redelivered copy is dropped instead of failing to decrypt with a spent key.
    await this.saveHistory(frame.groupId, [...history, message]);
    await this.save({ ...stored, state: await mls.encodeState(state) });
    this.emit('message', message);
  }

  /**
   * Another account left: the remaining device with the lowest id commits their removal (one
   * device, to avoid a burst of competing Commits; a conflict would be retried anyway).
   */
  private async applyLeave(frame: DeliverFrame): Promise<void> {
    const stored = await this.load(frame.groupId);
    if (!stored?.active) return;
    const leaver = frame.from.accountId;
    if (leaver === this.device.accountId) {
      // Another device of this account left: so did this one.
      const left = { ...stored, active: false };
      await this.save(left);
      this.emit('conversation', publicView(left));
      return;
    }
    const remaining = stored.members.filter((m) => m.accountId !== leaver).map((m) => m.deviceId);
    if (!stored.members.some((m) => m.accountId === leaver)) return; // already removed
    if (remaining.sort()[0] !== this.device.deviceId) return;
    // Outside the lane: this entry is being processed inside it.
    setTimeout(() => {
      this.removeMembers(frame.groupId, [leaver]).catch((error: unknown) =>
        this.emit('error', asParleyError(error)),
      );
    }, 0);
  }

  /**
   * A device of a member (this account's, or another's) was signed out: the server no longer
   * delivers to it, and the first remaining device (by id) removes its leaf in MLS, so it cannot
   * read later epochs.
   */
  private async applyRemoved(frame: DeliverFrame): Promise<void> {
    const stored = await this.load(frame.groupId);
    if (!stored?.active) return;
    const removed = frame.from.deviceId;
    if (!stored.members.some((m) => m.deviceId === removed)) return; // already removed
    const remaining = stored.members.filter((m) => m.deviceId !== removed).map((m) => m.deviceId);
    if (remaining.sort()[0] !== this.device.deviceId) return;
    // Outside the lane: this entry is being processed inside it.
    setTimeout(() => {
      this.removeDevices(frame.groupId, [removed]).catch((error: unknown) =>
        this.emit('error', asParleyError(error)),
      );
    }, 0);
  }

  private async applyReceipt(frame: DeliverFrame): Promise<void> {
    const conversation = await this.load(frame.groupId);
    const others = otherAccounts(conversation, this.device.accountId);
    const changed = await this.updateMessages(frame.groupId, frame.ids ?? [frame.id], (m) => {
      if (!m.deliveredTo.includes(frame.from.accountId)) m.deliveredTo.push(frame.from.accountId);
      if (m.status !== 'read' && others.every((a) => m.deliveredTo.includes(a))) {
        m.status = 'delivered';
      }
    });
    for (const m of changed) this.emit('status', m);
  }

  // --- signals: typing and read receipts, end-to-end encrypted, never stored ---

  async typing(conversationId: string): Promise<void> {
    await this.sendSignal(conversationId, { type: 'typing' });
  }

  /** Tells the other members these messages were read (and marks them so locally). */
  async markRead(conversationId: string, messageIds: string[]): Promise<void> {
    await this.sendSignal(conversationId, { type: 'read', ids: messageIds.slice(0, 100) });
  }

  private async sendSignal(conversationId: string, body: Record<string, unknown>): Promise<void> {
    const stored = await this.load(conversationId);
    if (!stored) throw new ParleyError('CONVERSATION_NOT_FOUND', { details: { conversationId } });
    const key = await this.signalKeyFor(stored);
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const header = new Uint8Array(8);
    new DataView(header.buffer).setBigUint64(0, BigInt(stored.epoch));
    const sealed = new Uint8Array(
      await crypto.subtle.encrypt(
        { name: 'AES-GCM', iv, additionalData: header },
        key,
        new TextEncoder().encode(JSON.stringify(body)),
      ),
    );
    const payload = new Uint8Array(8 + 12 + sealed.length);
    payload.set(header, 0);
    payload.set(iv, 8);
    payload.set(sealed, 20);
    this.connection?.send({ t: 'signal', groupId: conversationId, payload: toBase64Url(payload) });
  }

  private readonly signalKeys = new Map<string, { epoch: number; key: CryptoKey }>();

  private async signalKeyFor(stored: StoredConversation): Promise<CryptoKey> {
    const cached = this.signalKeys.get(stored.id);
    if (cached?.epoch === stored.epoch) return cached.key;
    const raw = await mls.signalKey(await mls.decodeState(stored.state));
    const key = await crypto.subtle.importKey('raw', new Uint8Array(raw), 'AES-GCM', false, [
      'encrypt',
      'decrypt',
    ]);
    this.signalKeys.set(stored.id, { epoch: stored.epoch, key });
    return key;
  }

  private async receiveSignal(groupId: string, from: DeviceRef, b64: string): Promise<void> {
    const stored = await this.load(groupId);
    const decoded = fromBase64Url(b64);
    if (!stored || !decoded || decoded.length < 20) return;
    const bytes = new Uint8Array(decoded);
    const header = bytes.slice(0, 8);
    // A signal from another epoch is simply dropped: it is ephemeral by design.
    if (new DataView(header.buffer, header.byteOffset).getBigUint64(0) !== BigInt(stored.epoch)) {
      return;
    }
    const key = await this.signalKeyFor(stored);
    const plain = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: bytes.slice(8, 20), additionalData: header },
      key,
      bytes.slice(20),
    );
    const body = JSON.parse(new TextDecoder().decode(plain)) as { type?: unknown; ids?: unknown };
    if (body.type === 'typing') this.emit('typing', { conversationId: groupId, from });
    if (body.type === 'read' && Array.isArray(body.ids)) {
      for (const id of body.ids) {
        if (typeof id !== 'string') continue;
        const updated = await this.updateMessage(groupId, id, (m) => {
          if (m.from.deviceId !== this.device.deviceId) return;
          if (!m.readBy.includes(from.accountId)) m.readBy.push(from.accountId);
          if (otherAccounts(stored, this.device.accountId).every((a) => m.readBy.includes(a))) {
            m.status = 'read';
          }
        });
        if (updated) this.emit('status', updated);
      }
    }
  }

  // --- presence ---

  /** Watches these accounts' online status (those whose setting lets this user see it). */
  watchPresence(accountIds: string[]): boolean {
    return this.connection?.send({ t: 'presence', accountIds }) ?? false;
  }
}

function publicView(c: StoredConversation): Conversation {
  return {
    id: c.id,
    members: c.members,
    epoch: c.epoch,
    createdAt: c.createdAt,
    active: c.active,
  };
}

function otherAccounts(c: StoredConversation | undefined, self: string): string[] {
  return [...new Set((c?.members ?? []).map((m) => m.accountId))].filter((a) => a !== self);
}

function epochIn(error: ParleyError): number | undefined {
  const epoch = (error.details as { epoch?: unknown } | undefined)?.epoch;
  return typeof epoch === 'number' ? epoch : undefined;
}

function parseContent(bytes: Uint8Array): Content {
  const value = JSON.parse(new TextDecoder().decode(bytes)) as Partial<Content>;
  if (value.v !== 1 || value.type !== 'text' || typeof value.text !== 'string') {
    throw new ParleyError('MLS_FAILED', { details: { what: 'unknown message content' } });
  }
  return { v: 1, type: 'text', text: value.text, sentAt: String(value.sentAt ?? '') };
}

function asParleyError(error: unknown): ParleyError {
  return error instanceof ParleyError
    ? error
    : new ParleyError('MLS_FAILED', { cause: error, details: { what: String(error) } });
}
