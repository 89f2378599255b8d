/**
 * The conversations this device is in and their histories, in the store and cached in memory:
 * each conversation's MLS group state with its public view (members, epoch, active), and the
 * messages shown in it. Every change of a conversation's epoch or membership is announced as a
 * `conversation` event, which is also what `waitForEpoch` listens for.
 */

import { type DeviceRef, ParleyError } from '@parley/core';
import type { ClientState } from 'ts-mls';
import type { ClientStore } from '../store/store.js';
import * as mls from './mls.js';
import {
  type ChatMessage,
  type Conversation,
  type MembershipNotice,
  type MessengerEventSink,
  publicView,
  type StoredConversation,
} from './model.js';
import { membershipNotices, noticeMessage } from './notices.js';

const KEYS = {
  conversations: 'conversations',
  conversation: (id: string) => `conv-${id}`,
  history: (id: string) => `hist-${id}`,
};

/** How long a caller waits for an epoch it was told of to arrive through the queue. */
const EPOCH_WAIT_MS = 20_000;

export class Conversations {
  private readonly cache = new Map<string, StoredConversation>();
  private readonly histories = new Map<string, ChatMessage[]>();

  constructor(
    private readonly store: ClientStore,
    private readonly events: MessengerEventSink,
  ) {}

  async list(): Promise<Conversation[]> {
    const ids = (await this.store.get<string[]>(KEYS.conversations)) ?? [];
    const out: Conversation[] = [];
    for (const id of ids) {
      const c = await this.load(id);
      if (c) out.push(publicView(c));
    }
    return out;
  }

  async get(id: string): Promise<Conversation> {
    return publicView(await this.require(id));
  }

  /** The stored conversation, or CONVERSATION_NOT_FOUND. */
  async require(id: string): Promise<StoredConversation> {
    const c = await this.load(id);
    if (!c) throw new ParleyError('CONVERSATION_NOT_FOUND', { details: { conversationId: id } });
    return c;
  }

  async load(id: string): Promise<StoredConversation | undefined> {
    const cached = this.cache.get(id);
    if (cached) return cached;
    const stored = await this.store.get<StoredConversation>(KEYS.conversation(id));
    if (stored) this.cache.set(id, stored);
    return stored;
  }

  async save(conversation: StoredConversation): Promise<void> {
    const isNew = !(await this.load(conversation.id));
    // The store first: what a failed write did not save must not look saved.
    await this.store.set(KEYS.conversation(conversation.id), conversation);
    this.cache.set(conversation.id, conversation);
    if (isNew) {
      const ids = (await this.store.get<string[]>(KEYS.conversations)) ?? [];
      if (!ids.includes(conversation.id)) {
        await this.store.set(KEYS.conversations, [...ids, conversation.id]);
      }
    }
  }

  /**
   * Saves a new MLS state of the group (joined, committed, or a Commit applied) and says so.
   * With `change`, the members before and after are compared and every difference is added to
   * the history as a notice by `change.by`, the Commit's MLS sender (or `change.notices` are
   * added as they are); the `conversation` event comes after them.
   */
  async adopt(
    id: string,
    state: ClientState,
    change?: { by: DeviceRef; before?: readonly DeviceRef[]; notices?: MembershipNotice[] },
    createdAt = new Date().toISOString(),
  ): Promise<StoredConversation> {
    const previous = await this.load(id);
    const members = mls
      .membersOf(state)
      .map(({ accountId, deviceId }) => ({ accountId, deviceId }));
    // Announced departures stay until the Commit that carries them out.
    const departures = (previous?.departures ?? []).filter((d) =>
      members.some((m) => m.accountId === d || m.deviceId === d),
    );
    const conversation: StoredConversation = {
      id,
      state: await mls.encodeState(state),
      epoch: mls.epochOf(state),
      members,
      createdAt: previous?.createdAt ?? createdAt,
      active: state.groupActiveState.kind === 'active',
      ...(departures.length > 0 ? { departures } : {}),
      ...(previous?.handled ? { handled: previous.handled } : {}),
      // Settings every member shares outlive membership changes.
      ...(previous?.timer ? { timer: previous.timer } : {}),
      ...(previous?.name ? { name: previous.name } : {}),
      ...(previous?.request ? { request: previous.request } : {}),
    };
    await this.save(conversation);
    if (change) {
      const notices =
        change.notices ??
        membershipNotices(
          change.before ?? previous?.members ?? [],
          members,
          change.by,
          previous?.departures,
        );
      for (const notice of notices) await this.notify(id, notice);
    }
    this.events.emit('conversation', publicView(conversation));
    return conversation;
  }

  /** Remembers departures announced in MLS (account or device ids) until a Commit enacts them. */
  async noteDepartures(id: string, departing: readonly string[]): Promise<StoredConversation> {
    const stored = await this.require(id);
    const departures = [...new Set([...(stored.departures ?? []), ...departing])];
    const next = { ...stored, departures };
    await this.save(next);
    return next;
  }

  /** Adds a notice to the history and shows it. */
  async notify(id: string, notice: MembershipNotice): Promise<void> {
    const message = noticeMessage(id, notice);
    await this.append(id, message);
    this.events.emit('message', message);
  }

  /** Marks the conversation left by this device (its history stays) and says so. */
  async markLeft(stored: StoredConversation): Promise<Conversation> {
    const left = { ...stored, active: false };
    await this.save(left);
    this.events.emit('conversation', publicView(left));
    return publicView(left);
  }

  /** Resolves once this device has processed the group's Commits up to `epoch`. */
  async waitForEpoch(conversationId: string, epoch: number): Promise<void> {
    const current = await this.load(conversationId);
    if (current && current.epoch >= epoch) return;
    try {
      await this.events.next(
        'conversation',
        (c) => c.id === conversationId && c.epoch >= epoch,
        EPOCH_WAIT_MS,
      );
    } catch (cause) {
      throw new ParleyError('CONNECTION_CLOSED', {
        cause,
        message: `The conversation's newer epoch (${epoch}) did not arrive within 20 s; try again when connected.`,
        details: { conversationId, epoch },
      });
    }
  }

  // --- histories ---

  async history(id: string): Promise<ChatMessage[]> {
    return [...(await this.loadHistory(id))];
  }

  /** The message with this id, if the conversation's history holds it. */
  async has(conversationId: string, messageId: string): Promise<boolean> {
    return (await this.loadHistory(conversationId)).some((m) => m.id === messageId);
  }

  async append(conversationId: string, message: ChatMessage): Promise<void> {
    const history = await this.loadHistory(conversationId);
    await this.saveHistory(conversationId, [...history, message]);
  }

  /** Takes messages out of the history (they disappeared); the others keep their order. */
  async removeMessages(conversationId: string, ids: readonly string[]): Promise<void> {
    const gone = new Set(ids);
    const history = await this.loadHistory(conversationId);
    await this.saveHistory(
      conversationId,
      history.filter((m) => !gone.has(m.id)),
    );
  }

  /** Changes several messages with one write; returns the changed ones. */
  async updateMessages(
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

  async updateMessage(
    conversationId: string,
    id: string,
    change: (m: ChatMessage) => void,
  ): Promise<ChatMessage | undefined> {
    return (await this.updateMessages(conversationId, [id], change))[0];
  }

  /**
   * Forgets the cached states and histories, so the next reads come from the store (another tab
   * or the service worker may have advanced them while it held the device's lock).
   */
  forgetCached(): void {
    this.cache.clear();
    this.histories.clear();
  }

  /** Sets or clears the conversation's message-request mark, and says so. */
  async setRequest(id: string, requester: string | undefined): Promise<StoredConversation> {
    const { request: _, ...rest } = await this.require(id);
    const next: StoredConversation = requester ? { ...rest, request: requester } : rest;
    await this.save(next);
    this.events.emit('conversation', publicView(next));
    return next;
  }

  /** Deletes one conversation's state and history (a deleted message request). */
  async forget(id: string): Promise<void> {
    const ids = (await this.store.get<string[]>(KEYS.conversations)) ?? [];
    await this.store.set(
      KEYS.conversations,
      ids.filter((x) => x !== id),
    );
    await this.store.delete(KEYS.conversation(id));
    await this.store.delete(KEYS.history(id));
    this.cache.delete(id);
    this.histories.delete(id);
  }

  /** Deletes every conversation's state and history from the store and the cache. */
  async erase(): Promise<void> {
    const ids = (await this.store.get<string[]>(KEYS.conversations)) ?? [];
    for (const id of new Set([...ids, ...this.cache.keys()])) {
      await this.store.delete(KEYS.conversation(id));
      await this.store.delete(KEYS.history(id));
    }
    await this.store.delete(KEYS.conversations);
    this.cache.clear();
    this.histories.clear();
  }

  private async loadHistory(id: string): Promise<ChatMessage[]> {
    let history = this.histories.get(id);
    if (!history) {
      const stored = (await this.store.get<ChatMessage[]>(KEYS.history(id))) ?? [];
      // Histories saved before message kinds existed hold texts only.
      history = stored.map((m) => (m.kind ? m : { ...m, kind: 'text' as const }));
      this.histories.set(id, history);
    }
    return history;
  }

  private async saveHistory(id: string, history: ChatMessage[]): Promise<void> {
    await this.store.set(KEYS.history(id), history);
    this.histories.set(id, history);
  }
}
