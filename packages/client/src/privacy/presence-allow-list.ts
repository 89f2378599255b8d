/**
 * The presence allow-list as this device keeps it: the accounts it put on the server's list of who
 * may see this account online (presence 'contacts'), each with why — the numbers in the address
 * book that resolved to it, or a conversation this user started or answered. An account goes on
 * when it gains a first reason and comes off when it loses its last: a contact gone from the book
 * (at the next full discovery), the address-book consent withdrawn. Resolving a number grants the
 * other side nothing; only this list does.
 *
 * The server holds the list as account ids (keyed digests it can test); it is not told why.
 */

import { MESSAGING_LIMITS } from '@parley/core';
import type { ClientStore } from '../store/store.js';
import type { ApiClient } from '../transport/api.js';

interface Reasons {
  /** Address-book numbers (E.164) that resolved to the account. */
  book?: string[];
  /** This user started or answered a conversation with it. */
  conversation?: true;
}

type Stored = Record<string, Reasons>;

/** One account on the list, with why (exportData). */
export type PresenceAllowEntry = { accountId: string } & Reasons;

const KEY = 'presenceAllowList';

export class PresenceAllowList {
  /** Changes, one at a time: each reads what the last one kept. */
  private last: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: ClientStore,
    private readonly api: ApiClient,
  ) {}

  /** The accounts on the list, with why. */
  async list(): Promise<PresenceAllowEntry[]> {
    return Object.entries(await this.read()).map(([accountId, r]) => ({ accountId, ...r }));
  }

  /**
   * Records what discovery resolved from the address book. `complete`: `found` is every contact
   * of the book on Parley, so a number missing from it (removed from the book, or its account
   * gone) loses its place; otherwise `found` only adds.
   */
  async fromBook(
    found: ReadonlyArray<{ phoneNumber: string; accountId: string }>,
    complete: boolean,
  ): Promise<void> {
    await this.update((list) => {
      if (complete) for (const reasons of Object.values(list)) delete reasons.book;
      for (const { phoneNumber, accountId } of found) {
        const reasons = list[accountId] ?? {};
        list[accountId] = reasons;
        reasons.book = [...new Set([...(reasons.book ?? []), phoneNumber])];
      }
    });
  }

  /** This user started or answered a conversation with these accounts. */
  async fromConversation(accountIds: readonly string[]): Promise<void> {
    const list = await this.read();
    if (accountIds.every((id) => list[id]?.conversation)) return;
    await this.update((next) => {
      for (const id of accountIds) next[id] = { ...next[id], conversation: true };
    });
  }

  /**
   * The address-book consent was withdrawn: every place the book gave is taken back. Accounts
   * this user talks to stay (a conversation, not the book, put them there).
   */
  async withdrawBook(): Promise<void> {
    await this.update((list) => {
      for (const reasons of Object.values(list)) delete reasons.book;
    });
  }

  /** Forgets the local record only (the account is gone or this device signed out). */
  async forget(): Promise<void> {
    await this.store.delete(KEY);
  }

  private async read(): Promise<Stored> {
    return (await this.store.get<Stored>(KEY)) ?? {};
  }

  private update(edit: (list: Stored) => void): Promise<void> {
    const run = this.last.then(
      () => this.apply(edit),
      () => this.apply(edit),
    );
    this.last = run;
    return run;
  }

  /** Applies `edit` to a copy, tells the server the difference, then keeps the copy. */
  private async apply(edit: (list: Stored) => void): Promise<void> {
    const before = await this.read();
    const after: Stored = structuredClone(before);
    edit(after);
    for (const [id, reasons] of Object.entries(after)) {
      if (!reasons.book?.length && !reasons.conversation) delete after[id];
    }
    const add = Object.keys(after).filter((id) => !(id in before));
    const remove = Object.keys(before).filter((id) => !(id in after));
    const per = MESSAGING_LIMITS.allowListBatch;
    for (let i = 0; i < Math.max(add.length, remove.length); i += per) {
      const change = { add: add.slice(i, i + per), remove: remove.slice(i, i + per) };
      await this.api.changeAllowList(change);
    }
    await this.store.set(KEY, after);
  }
}
