/**
 * People in conversations: profile names (shared inside MLS, identity/profiles.ts), message
 * requests and blocks.
 *
 * - A conversation started by an account that is not a contact (`isKnown`: in the address book
 *   discovery resolved, or someone this user started or answered a chat with) arrives as a
 *   request. Until the user accepts it (or answers in it) the requester gets no read receipt,
 *   no typing, no presence (never put on the allow-list) and not this user's profile key.
 *   The user may accept, delete (leave it and forget it here), block, or report it as spam —
 *   the server is told the account, and the texts only when the user chooses to attach them.
 * - A block is kept by the server (it refuses the blocked account's one-to-one messages,
 *   conversations and invitations to this user) and here: in groups they share with others,
 *   the inbox hides the blocked member's messages (their Commits still apply).
 *
 * @example
 * for (const r of await messenger.people.requests()) console.log(r.id, r.request);
 * await messenger.people.accept(requestId);
 * await messenger.people.block(accountId);
 */

import { ParleyError, type ProfileEnvelope } from '@parley/core';
import type { Profiles } from '../identity/profiles.js';
import type { ClientStore } from '../store/store.js';
import type { ApiClient } from '../transport/api.js';
import type { Conversations } from './conversations.js';
import type { InboxPeople } from './inbox.js';
import type { Lane } from './lane.js';
import { asParleyError, type Conversation, type MessengerEventSink, publicView } from './model.js';

const BLOCKED = 'blocked-accounts';

/** What this module needs of the messenger (it composes this one). */
export interface PeopleHost {
  /** Queues a control envelope; resolves when the server stored it. */
  sendControl(conversationId: string, envelope: ProfileEnvelope): Promise<void>;
  /** Leaves the conversation with every device of this account. */
  leave(conversationId: string): Promise<unknown>;
  /** The user chose to talk to these accounts (the presence allow-list). */
  talkingTo(accountIds: string[]): Promise<void>;
}

export class People implements InboxPeople {
  constructor(
    private readonly self: string,
    private readonly store: ClientStore,
    private readonly api: ApiClient,
    private readonly lane: Lane,
    private readonly conversations: Conversations,
    private readonly events: MessengerEventSink,
    readonly profiles: Profiles,
    private readonly host: PeopleHost,
    private readonly known: (accountId: string) => Promise<boolean> = async () => false,
  ) {}

  // --- profiles ---

  /**
   * Saves this account's profile name (sealed; the server cannot read it) and gives the new
   * version to every active conversation that is not a request. Resolves once it is saved;
   * `announced` settles when every conversation has been told (failures are 'error' events),
   * which waits for a connection.
   */
  async setName(name: string): Promise<{ announced: Promise<void> }> {
    const envelope = await this.profiles.setName(name);
    const told = (await this.conversations.list())
      .filter((c) => c.active && !c.request)
      .map((c) => this.host.sendControl(c.id, envelope).catch((e: unknown) => this.report(e)));
    return { announced: Promise.all(told).then(() => undefined) };
  }

  /** The profile name an account shared with this user, if any. */
  nameOf(accountId: string): Promise<string | undefined> {
    return this.profiles.nameOf(accountId);
  }

  names(): Promise<Record<string, string>> {
    return this.profiles.names();
  }

  async isKnown(accountId: string): Promise<boolean> {
    return accountId === this.self || (await this.known(accountId));
  }

  learnProfile(from: string, envelope: ProfileEnvelope): Promise<void> {
    return this.profiles.learn(from, envelope);
  }

  /**
   * Sends this account's profile key to a conversation; resolves when the server stored it
   * (which waits for a connection). Never rejects: a failure is an 'error' event.
   */
  async shareProfile(conversationId: string): Promise<void> {
    const envelope = await this.profiles.envelope();
    if (!envelope) return;
    await this.host.sendControl(conversationId, envelope).catch((e: unknown) => this.report(e));
  }

  // --- requests ---

  /** The conversations waiting for this user's answer, oldest first. */
  async requests(): Promise<Conversation[]> {
    return (await this.conversations.list()).filter((c) => c.request && c.active);
  }

  async isRequest(conversationId: string): Promise<boolean> {
    return (await this.conversations.load(conversationId))?.request !== undefined;
  }

  /**
   * Accepts a request: the requester may now see receipts, typing, presence and the profile.
   * `profileShared` settles once this account's profile key is stored for the conversation.
   */
  async accept(
    conversationId: string,
  ): Promise<{ conversation: Conversation; profileShared: Promise<void> }> {
    const requester = await this.requester(conversationId);
    const accepted = await this.lane.run(() =>
      this.conversations.setRequest(conversationId, undefined),
    );
    await this.host.talkingTo([requester]);
    return { conversation: publicView(accepted), profileShared: this.shareProfile(conversationId) };
  }

  /** Deletes a request: leaves the conversation and forgets it on this device. */
  async delete(conversationId: string): Promise<void> {
    await this.requester(conversationId);
    await this.host.leave(conversationId);
    await this.lane.run(() => this.conversations.forget(conversationId));
  }

  /** Blocks the requester, then deletes the request. */
  async blockRequest(conversationId: string): Promise<string> {
    const requester = await this.requester(conversationId);
    await this.block(requester);
    await this.delete(conversationId);
    return requester;
  }

  /**
   * Reports the requester as spam: the server learns their account id and that this user
   * reported it; with `attachMessages`, also the texts they sent here (which then leave
   * end-to-end encryption). The request stays; delete or block it as well if wanted.
   */
  async reportSpam(conversationId: string, attachMessages = false): Promise<string> {
    const requester = await this.requester(conversationId);
    const texts = attachMessages
      ? (await this.conversations.history(conversationId))
          .filter((m) => m.kind === 'text' && m.from.accountId === requester)
          .map((m) => m.text)
          .slice(-50)
      : undefined;
    await this.api.report(requester, texts);
    return requester;
  }

  // --- blocks ---

  /** Blocks an account: the server refuses its messages and invitations to this user. */
  async block(accountId: string): Promise<void> {
    await this.api.block(accountId);
    const list = await this.blocked();
    if (!list.includes(accountId)) await this.store.set(BLOCKED, [...list, accountId]);
  }

  async unblock(accountId: string): Promise<void> {
    await this.api.unblock(accountId);
    await this.store.set(
      BLOCKED,
      (await this.blocked()).filter((a) => a !== accountId),
    );
  }

  async blocked(): Promise<string[]> {
    return (await this.store.get<string[]>(BLOCKED)) ?? [];
  }

  async isBlocked(accountId: string): Promise<boolean> {
    return (await this.blocked()).includes(accountId);
  }

  /** Forgets the blocks and profiles kept here (the account was deleted). */
  async erase(): Promise<void> {
    await this.store.delete(BLOCKED);
    await this.profiles.erase();
  }

  private async requester(conversationId: string): Promise<string> {
    const stored = await this.conversations.require(conversationId);
    if (!stored.request) {
      throw new ParleyError('NOT_A_REQUEST', { details: { conversationId } });
    }
    return stored.request;
  }

  private report(error: unknown): void {
    this.events.emit('error', asParleyError(error));
  }
}
