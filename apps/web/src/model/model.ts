/**
 * The app's state around the SDK: who the people behind account ids are, who is online, the
 * conversations with their unread counts, and whether the connection is up. Screens read it through
 * `useModel()` and re-render when it changes; everything durable lives in the SDK's IndexedDB store.
 */

import {
  type ChatMessage,
  type ClientStore,
  type ConsentGrant,
  type ContactResult,
  type Conversation,
  describeNotice,
  type ParleyClient,
  ParleyError,
  type SecurityWarning,
  securityWarningText,
} from '@parley/client';
import { useSyncExternalStore } from 'react';

export type Reachability = 'on-parley' | 'not-on-parley' | 'unresolved';

export interface Person {
  name: string;
  phoneNumber: string;
  status: Reachability;
  accountId?: string;
  /** 'address-book' entries are erased when consent is withdrawn; typed ones are the user's own. */
  source: 'address-book' | 'typed';
}

/** A short-lived message for the whole app, e.g. "New device linked: Alice's tablet". */
export interface Toast {
  id: number;
  text: string;
}

/** A contact whose safety number changed and the user has not yet accepted or verified it. */
export interface KeyChange {
  accountId: string;
  /** They were verified: nothing is sent to them until the user accepts the new number. */
  blocked: boolean;
}

export interface ConversationView extends Conversation {
  title: string;
  last: ChatMessage | undefined;
  unread: number;
}

const KEYS = { people: 'web-people', seen: 'web-seen', region: 'web-region' };

export class AppModel {
  people: Person[] = [];
  online = new Set<string>();
  connected = false;
  /** The last error the messenger reported that no screen asked for (e.g. a revoked device). */
  problem: string | undefined;
  consent: ConsentGrant | undefined;
  conversations: ConversationView[] = [];
  /** Security warnings by conversation: the sentence to show (details go to the console only). */
  warnings: Record<string, string[]> = {};
  /**
   * Why this device's credential was refused (signed out by another device, or by a new
   * registration of the number), or undefined while it works. The app then offers linking this
   * device or registering again instead of its screens.
   */
  signedOut: string | undefined;
  /** Changed safety numbers not yet accepted, by account id. */
  keyChanges: Record<string, KeyChange> = {};
  toasts: Toast[] = [];
  /** Profile names people shared with this user (inside MLS), by account. */
  profileNames: Record<string, string> = {};
  /** A name for the add-a-contact form to start with ("add to contacts" from a chat). */
  contactToAdd: string | undefined;
  private toastId = 0;
  private seen: Record<string, number> = {};
  private version = 0;
  private readonly listeners = new Set<() => void>();
  private started = false;

  constructor(
    readonly client: ParleyClient,
    readonly store: ClientStore,
  ) {}

  static async regionOf(store: ClientStore): Promise<string | undefined> {
    return store.get<string>(KEYS.region);
  }

  async setRegion(region: string): Promise<void> {
    await this.store.set(KEYS.region, region);
  }

  // --- subscription (useSyncExternalStore) ---

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getVersion = (): number => this.version;

  changed(): void {
    this.version++;
    for (const l of this.listeners) l();
  }

  // --- start-up ---

  async load(): Promise<void> {
    this.people = (await this.store.get<Person[]>(KEYS.people)) ?? [];
    this.seen = (await this.store.get<Record<string, number>>(KEYS.seen)) ?? {};
    this.consent = await this.client.consent.status();
    this.changed();
  }

  /** Connects the messenger once registered; safe to call again. */
  async start(): Promise<void> {
    if (this.started || !this.client.registered) return;
    this.started = true;
    const m = this.client.messenger;
    m.on('connected', () => {
      this.connected = true;
      this.watchPresence();
      this.changed();
    });
    m.on('disconnected', () => {
      this.connected = false;
      this.online.clear();
      this.changed();
    });
    m.on('presence', ({ accountId, online }) => {
      if (online) this.online.add(accountId);
      else this.online.delete(accountId);
      this.changed();
    });
    m.on('error', (error) => {
      if (error.code === 'UNAUTHENTICATED') this.signOut(error.message);
      else this.problem = error.message;
      this.changed();
    });
    m.on('warning', (warning) => this.warned(warning));
    m.on('identity', ({ accountId, blocked }) => {
      this.noteKeyChange([accountId], blocked);
      void this.refreshConversations();
    });
    m.on('device-linked', ({ name }) => this.toast(`New device linked: ${name}`));
    // A message can name a conversation this list has not seen yet: then everything is reread.
    const refreshOne = (msg: ChatMessage) =>
      void this.refreshConversation(msg.conversationId).catch(() => this.refreshConversations());
    m.on('message', refreshOne);
    m.on('status', refreshOne);
    m.on('conversation', () => void this.refreshConversations());
    // Disappeared messages were read (or sent) here: they leave the seen part of the history.
    m.on('expired', ({ conversationId, ids }) => {
      const seen = this.seen[conversationId] ?? 0;
      this.seen = { ...this.seen, [conversationId]: Math.max(0, seen - ids.length) };
      void this.store.set(KEYS.seen, this.seen);
      void this.refreshConversation(conversationId).catch(() => this.refreshConversations());
    });
    m.on('profile', ({ accountId, name }) => {
      this.profileNames = { ...this.profileNames, [accountId]: name };
      void this.refreshConversations();
    });
    this.profileNames = await m.people.names();
    await this.refreshConversations();
    try {
      await m.start();
    } catch (error) {
      // Not connected within its wait: the connection keeps retrying and the banner says offline.
      if (error instanceof ParleyError && error.code === 'NETWORK_ERROR') return;
      if (error instanceof ParleyError && error.code === 'UNAUTHENTICATED') {
        this.signOut(error.message);
        return;
      }
      throw error;
    }
  }

  stop(): void {
    this.client.close();
  }

  private signOut(reason: string): void {
    if (this.signedOut) return;
    this.signedOut = reason;
    this.connected = false;
    this.client.close();
    this.changed();
  }

  /**
   * After this device registered again or was linked anew (from the signed-out screen): forgets
   * what belonged to the refused session and starts the new session's messenger.
   */
  async restart(): Promise<void> {
    this.started = false;
    this.signedOut = undefined;
    this.problem = undefined;
    this.conversations = [];
    this.warnings = {};
    this.keyChanges = {};
    this.profileNames = {};
    this.seen = {};
    await this.store.set(KEYS.seen, this.seen);
    this.changed();
    await this.start();
  }

  // --- notices ---

  toast(text: string): void {
    this.toasts = [...this.toasts, { id: ++this.toastId, text }];
    this.changed();
  }

  dismissToast(id: number): void {
    this.toasts = this.toasts.filter((t) => t.id !== id);
    this.changed();
  }

  // --- safety numbers ---

  /** Records changed safety numbers (an `identity` event, or a send refused for one). */
  noteKeyChange(accountIds: readonly string[], blocked: boolean): void {
    const next = { ...this.keyChanges };
    for (const accountId of accountIds) {
      if (accountId === this.client.account?.accountId) continue;
      next[accountId] = { accountId, blocked: blocked || next[accountId]?.blocked === true };
    }
    this.keyChanges = next;
    this.changed();
  }

  /**
   * Asks the SDK whether these contacts' changed numbers still wait for acceptance (after a
   * reload, say): only accounts already pinned here, so no server lookup is made.
   */
  async checkKeyChanges(accountIds: readonly string[]): Promise<void> {
    for (const accountId of accountIds) {
      if (accountId === this.client.account?.accountId || this.keyChanges[accountId]) continue;
      const pinned = await this.client.messenger.trust.pin(accountId).catch(() => undefined);
      if (!pinned) continue;
      const number = await this.client.safetyNumber(accountId).catch(() => undefined);
      if (number?.blocked) this.noteKeyChange([accountId], true);
    }
  }

  /** The user accepts a contact's new safety number: the banner goes, sending resumes. */
  async acceptKeyChange(accountId: string): Promise<void> {
    await this.client.acceptSafetyNumber(accountId);
    this.clearKeyChange(accountId);
  }

  clearKeyChange(accountId: string): void {
    const { [accountId]: _, ...rest } = this.keyChanges;
    this.keyChanges = rest;
    this.changed();
  }

  private watchPresence(): void {
    if (!this.client.registered) return;
    const ids = this.people.flatMap((p) => (p.accountId ? [p.accountId] : []));
    if (ids.length > 0) this.client.messenger.watchPresence([...new Set(ids)]);
  }

  // --- people ---

  /**
   * How a person is shown: the address book's name when they are a contact; else the profile
   * name they shared, marked as not a contact; else "Parley user" and the start of their id.
   * Withdrawing consent drops the first, so a chat falls back to the profile name.
   */
  nameOf(accountId: string): string {
    if (accountId === this.client.account?.accountId) return 'You';
    const person = this.people.find((p) => p.accountId === accountId);
    if (person) return person.name;
    const profile = this.profileNames[accountId];
    return profile ? `${profile} (not in contacts)` : `Parley user ${accountId.slice(0, 6)}`;
  }

  isContact(accountId: string): boolean {
    return this.people.some((p) => p.accountId === accountId);
  }

  /** This user's own profile name, as the people they message see it. */
  get profileName(): string | undefined {
    const self = this.client.account?.accountId;
    return self ? this.profileNames[self] : undefined;
  }

  async setProfileName(name: string): Promise<void> {
    await this.client.messenger.people.setName(name);
    const self = this.client.account!.accountId;
    const saved = await this.client.messenger.people.nameOf(self);
    if (saved) this.profileNames = { ...this.profileNames, [self]: saved };
    this.changed();
  }

  /** Opens Contacts with the add-a-contact form filled with this person's profile name. */
  addToContacts(accountId: string): void {
    this.contactToAdd = this.profileNames[accountId] ?? '';
    this.changed();
  }

  // --- message requests ---

  /**
   * Accepts a request. What the user already read here is now said to the sender (it was held
   * back while the conversation was a request); the profile goes out in the background.
   */
  async acceptRequest(conversationId: string): Promise<void> {
    await this.client.messenger.people.accept(conversationId);
    const self = this.client.account!.accountId;
    const seen = this.seen[conversationId] ?? 0;
    const read = (await this.client.messenger.history(conversationId))
      .slice(0, seen)
      .filter((h) => h.from.accountId !== self && h.kind !== 'notice')
      .map((h) => h.id);
    if (read.length > 0) {
      await this.client.messenger.markRead(conversationId, read).catch(() => {});
    }
    await this.refreshConversations();
  }

  async deleteRequest(conversationId: string): Promise<void> {
    await this.client.messenger.people.delete(conversationId);
    await this.refreshConversations();
  }

  async blockRequest(conversationId: string): Promise<void> {
    await this.client.messenger.people.blockRequest(conversationId);
    await this.refreshConversations();
  }

  async reportRequest(conversationId: string, attachMessages: boolean): Promise<void> {
    await this.client.messenger.people.reportSpam(conversationId, attachMessages);
    this.toast(
      attachMessages
        ? 'Reported as spam, with their messages.'
        : 'Reported as spam. Their messages stayed on this device.',
    );
  }

  /** The line a history entry shows: its text, a membership notice, or a placeholder. */
  messageText(m: ChatMessage): string {
    if (m.kind === 'unsupported') return 'A newer kind of message — update Parley to see it';
    if (m.kind === 'attachment') return m.text || `File: ${m.attachment?.name ?? ''}`;
    if (m.kind !== 'notice' || !m.notice) return m.text;
    // Names from the contacts this app knows, else the profile names people shared.
    return describeNotice(m.notice, (accountId) =>
      accountId === this.client.account?.accountId ? 'you' : this.nameOf(accountId),
    );
  }

  private warned(warning: SecurityWarning): void {
    // The details are for whoever reads the console; people get the sentence.
    console.warn('Parley security warning', warning.code, warning.conversationId, warning.detail);
    const text = securityWarningText(warning.code);
    const shown = this.warnings[warning.conversationId] ?? [];
    if (shown.includes(text)) return;
    this.warnings = { ...this.warnings, [warning.conversationId]: [...shown, text] };
    this.changed();
  }

  private async savePeople(people: Person[]): Promise<void> {
    this.people = people.sort((a, b) => a.name.localeCompare(b.name));
    await this.store.set(KEYS.people, this.people);
    this.watchPresence();
    // Conversation titles are the people's names.
    await this.refreshConversations();
    this.changed();
  }

  /** Merges discovery results for address-book contacts. */
  async mergeDiscovered(results: ContactResult[]): Promise<void> {
    const typed = this.people.filter((p) => p.source === 'typed');
    const fromBook: Person[] = results.map((r) => ({
      name: r.name || r.phoneNumber,
      phoneNumber: r.phoneNumber,
      status: r.status,
      ...(r.accountId ? { accountId: r.accountId } : {}),
      source: 'address-book',
    }));
    const typedNumbers = new Set(typed.map((p) => p.phoneNumber));
    await this.savePeople([...typed, ...fromBook.filter((p) => !typedNumbers.has(p.phoneNumber))]);
  }

  /** Adds one typed-in contact after looking the number up (blinded, budgeted, logged). */
  async addTyped(name: string, rawNumber: string): Promise<Person> {
    const found = await this.client.lookupNumber(rawNumber);
    const person: Person = {
      name: name.trim() || found.phoneNumber,
      phoneNumber: found.phoneNumber,
      status: found.status,
      ...(found.accountId ? { accountId: found.accountId } : {}),
      source: 'typed',
    };
    await this.savePeople([
      ...this.people.filter((p) => p.phoneNumber !== person.phoneNumber),
      person,
    ]);
    return person;
  }

  // --- consent ---

  async grantConsent(contactCount?: number): Promise<void> {
    this.consent = await this.client.consent.grant(this.client.consent.disclosure(contactCount));
    this.changed();
  }

  /** Withdraws consent: the SDK erases the book and discovery cache; we drop what came from it. */
  async withdrawConsent(): Promise<void> {
    await this.client.consent.withdraw();
    this.consent = undefined;
    await this.savePeople(this.people.filter((p) => p.source === 'typed'));
  }

  // --- conversations ---

  /** Rebuilds every conversation's view (start-up, a new conversation, names changed). */
  async refreshConversations(): Promise<void> {
    if (!this.client.registered) return;
    const views: ConversationView[] = [];
    for (const c of await this.client.messenger.conversations()) views.push(await this.view(c));
    this.publish(views);
  }

  /**
   * Rebuilds one conversation's view: a message or a status change touches only its own
   * conversation, so only that history is read again.
   */
  async refreshConversation(conversationId: string): Promise<void> {
    if (!this.client.registered) return;
    const view = await this.view(await this.client.messenger.conversation(conversationId));
    this.publish([...this.conversations.filter((c) => c.id !== conversationId), view]);
  }

  private async view(c: Conversation): Promise<ConversationView> {
    const self = this.client.account!.accountId;
    const history = await this.client.messenger.history(c.id);
    const others = [...new Set(c.members.map((d) => d.accountId))].filter((a) => a !== self);
    const seen = this.seen[c.id] ?? 0;
    return {
      ...c,
      // A name a member gave the group, else the people in it.
      title: c.name || (others.length ? others.map((a) => this.nameOf(a)).join(', ') : 'Only you'),
      last: history.at(-1),
      unread: history.slice(seen).filter((h) => h.from.accountId !== self && h.kind !== 'notice')
        .length,
    };
  }

  private publish(views: ConversationView[]): void {
    views.sort((a, b) =>
      (b.last?.sentAt ?? b.createdAt).localeCompare(a.last?.sentAt ?? a.createdAt),
    );
    this.conversations = views;
    this.changed();
  }

  /** Marks a conversation's history as seen here and tells the senders it was read. */
  async markSeen(conversationId: string, history: ChatMessage[]): Promise<void> {
    const self = this.client.account?.accountId;
    const before = this.seen[conversationId] ?? 0;
    if (before >= history.length) return;
    const unreadIds = history
      .slice(before)
      .filter((h) => h.from.accountId !== self && h.kind !== 'notice')
      .map((h) => h.id);
    this.seen = { ...this.seen, [conversationId]: history.length };
    await this.store.set(KEYS.seen, this.seen);
    if (unreadIds.length > 0) {
      await this.client.messenger.markRead(conversationId, unreadIds).catch(() => {});
    }
    await this.refreshConversation(conversationId);
  }

  /** Finds the one-to-one conversation with an account, or starts one. */
  async conversationWith(accountId: string): Promise<Conversation> {
    const self = this.client.account!.accountId;
    for (const c of await this.client.messenger.conversations()) {
      const others = new Set(c.members.map((d) => d.accountId).filter((a) => a !== self));
      if (c.active && others.size === 1 && others.has(accountId)) return c;
    }
    const created = await this.client.messenger.createConversation([accountId]);
    await this.refreshConversations();
    return created;
  }
}

export function useModel(model: AppModel): AppModel {
  useSyncExternalStore(model.subscribe, model.getVersion);
  return model;
}
