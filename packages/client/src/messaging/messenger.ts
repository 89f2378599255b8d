/**
 * The messenger: conversations as MLS groups, sending and receiving through the device's queue,
 * receipts, typing and presence. This file holds the connection and composes the pieces, each in
 * its own module:
 * - `conversations.ts` — the conversations and their histories, in the store;
 * - `key-packages.ts` — the signature key and the stock of KeyPackages on the server;
 * - `group-changes.ts` — Commits (create, add, remove, leave) and epoch-conflict recovery;
 * - `outbox.ts` — sending, with retries under the same message id;
 * - `inbox.ts` — applying delivered entries exactly once, in order, and acknowledging them;
 * - `signals.ts` — typing and read receipts, signed by the sending device;
 * - `notices.ts` — the membership notices in the history, from Commits;
 * - `people.ts` — profile names, message requests and blocks (`messenger.people`);
 * - `warnings.ts` — the security warnings (what the server claimed and MLS did not back);
 * - `lane.ts` — the one-at-a-time order everything that changes MLS state runs in.
 * Presence is a frame each way and lives here.
 *
 * @example
 * const messenger = client.messenger;
 * messenger.on('message', (m) => console.log(m.from.accountId, m.kind, m.text));
 * messenger.on('warning', (w) => console.warn(w.code, w.conversationId));
 * await messenger.start();
 * const chat = await messenger.createConversation([friendAccountId]);
 * await messenger.send(chat.id, 'hello'); // resolves once the server has stored it
 */

import {
  type AccountResponse,
  bytesEqual,
  type DeviceRef,
  DISAPPEARING_MAX_SECONDS,
  fromBase64Url,
  GROUP_NAME_MAX,
  isReaction,
  isTimer,
  loadIdentityCrypto,
  type MessageChangeEnvelope,
  ParleyError,
  type ServerFrame,
  type SettingEnvelope,
  toBase64Url,
} from '@parley/core';
import { OwnIdentity } from '../identity/own-identity.js';
import { Profiles } from '../identity/profiles.js';
import { Trust } from '../identity/trust.js';
import type { ClientStore } from '../store/store.js';
import type { ApiClient } from '../transport/api.js';
import { AttachmentApi } from '../transport/attachment-api.js';
import { Connection, type SocketFactory } from '../transport/connection.js';
import { Emitter } from '../transport/emitter.js';
import { AttachmentTransfer, type Progress, type SendFileOptions } from './attachments.js';
import { Conversations } from './conversations.js';
import { Disappearing, expiryOf } from './disappearing.js';
import { GroupChanges } from './group-changes.js';
import { Inbox, removerOf } from './inbox.js';
import { KeyChecks } from './key-checks.js';
import { KeyPackageStock } from './key-packages.js';
import { deviceLock, Lane } from './lane.js';
import { applyChange, refusal, refused } from './message-changes.js';
import {
  asParleyError,
  type ChatMessage,
  type Conversation,
  type MessengerEventSink,
  type MessengerEvents,
  publicView,
  type Wire,
} from './model.js';
import { noticeMessage, settingNotice, withSetting } from './notices.js';
import { BUSY_RETRY_MS, type ControlEnvelope, Outbox, SERVICE_RETRY_MS } from './outbox.js';
import { People } from './people.js';
import { Signals } from './signals.js';

export type { Progress, SendFileOptions } from './attachments.js';
export { KEY_PACKAGE_TARGET } from './key-packages.js';
export type {
  AttachmentInfo,
  ChatMessage,
  Conversation,
  MembershipChange,
  MembershipNotice,
  MessageKind,
  MessageStatus,
  MessengerEvents,
} from './model.js';
export { describeNotice, timerText } from './notices.js';

/** How long `start()` waits for the first connection before it reports it is still trying. */
const CONNECT_WAIT_MS = 15_000;
/** How long a leave or sign-out waits for its MLS announcement to be stored. */
const ANNOUNCE_WAIT_MS = 15_000;
/** Set once the server holds this device's certificate. */
const CERTIFICATE_UPLOADED = 'device-certificate-uploaded';
/** The account's devices whose certificates this device has checked. */
const KNOWN_DEVICES = 'known-devices';
/** How long an approving device waits for a linked device to publish its keys. */
const LINK_JOIN_WAIT_MS = 120_000;

export interface MessengerOptions {
  serverUrl: string;
  credential: string;
  device: DeviceRef;
  socketFactory: SocketFactory;
  /** How long the outbox waits to resend after the server answered SERVICE_UNAVAILABLE. */
  serviceRetryMs?: number;
  /** The outbox's first wait after SERVER_BUSY without a hint from the server (then doubling). */
  busyRetryMs?: number;
  /** One-time KeyPackages kept on the server (KEY_PACKAGE_TARGET; tests may keep fewer). */
  keyPackageTarget?: number;
  /**
   * This user started a conversation with these accounts, or answered one of them alone: they
   * may see it online (the facade puts them on the presence allow-list). A failure is reported
   * as an 'error' event; the conversation or message goes ahead.
   */
  onTalkingTo?: (accountIds: string[]) => Promise<void>;
  /**
   * Whether an account is one of this user's contacts (or someone they talk to): a conversation
   * started by anyone else arrives as a message request. Nobody is, without it.
   */
  isKnown?: (accountId: string) => Promise<boolean>;
}

/** A conversation whose other member blocks this account refuses its Commits: it is skipped. */
function skipBlocked(error: unknown): undefined {
  if (error instanceof ParleyError && error.code === 'BLOCKED') return undefined;
  throw error;
}

export class Messenger extends Emitter<MessengerEvents> {
  private connection: Connection | undefined;
  /** The server said the queue as it stood has all been sent on this connection. */
  private caughtUp: (() => void) | undefined;
  private readonly lane: Lane;
  private readonly conversationStore: Conversations;
  private readonly keys: KeyPackageStock;
  private readonly changes: GroupChanges;
  private readonly outbox: Outbox;
  private readonly inbox: Inbox;
  private readonly signals: Signals;
  private readonly checks: KeyChecks;
  private readonly disappearing: Disappearing;
  private readonly attachments: AttachmentTransfer;
  /** This account's identity key and this device's certificate. */
  readonly identity: OwnIdentity;
  /** The identity keys of the accounts this device has met (trust on first use). */
  readonly trust: Trust;
  /** Profile names, message requests and blocks. */
  readonly people: People;

  constructor(
    private readonly store: ClientStore,
    private readonly api: ApiClient,
    private readonly options: MessengerOptions,
  ) {
    super();
    const report = (error: unknown) => this.emit('error', asParleyError(error));
    const events: MessengerEventSink = {
      emit: (event, value) => this.emit(event, value),
      next: (event, test, timeoutMs) => this.next(event, test, timeoutMs),
    };
    const wire: Wire = {
      isReady: () => this.connection?.isReady ?? false,
      send: (frame) => this.connection?.send(frame) ?? false,
      sendMessage: (frame) =>
        this.connection?.sendMessage(frame) ?? Promise.reject(new ParleyError('CONNECTION_CLOSED')),
    };
    const device = options.device;
    this.identity = new OwnIdentity(store);
    this.attachments = new AttachmentTransfer(new AttachmentApi(api));
    this.trust = new Trust(store, async () => ({
      accountId: device.accountId,
      identityKey: (await this.identity.keys())?.publicKey,
    }));
    this.conversationStore = new Conversations(store, events);
    this.lane = new Lane(report, store.sharedLock ? deviceLock(store.sharedLock) : undefined, () =>
      this.conversationStore.forgetCached(),
    );
    this.checks = new KeyChecks(device, this.trust, this.conversationStore, events);
    const certify = async (signatureKey: Uint8Array) => {
      const certificate = await this.identity.certificate(device, signatureKey);
      if (!(await store.get<boolean>(CERTIFICATE_UPLOADED))) {
        await api.putCertificate(toBase64Url(certificate));
        await store.set(CERTIFICATE_UPLOADED, true);
      }
      return certificate;
    };
    this.keys = new KeyPackageStock(store, api, report, certify, options.keyPackageTarget);
    this.changes = new GroupChanges(
      device,
      api,
      this.lane,
      this.conversationStore,
      this.keys,
      this.checks,
    );
    this.outbox = new Outbox(device, store, api, this.lane, this.conversationStore, wire, events, {
      serviceRetryMs: options.serviceRetryMs ?? SERVICE_RETRY_MS,
      busyRetryMs: options.busyRetryMs ?? BUSY_RETRY_MS,
    });
    const profiles = new Profiles(store, api, device.accountId, report, (accountId, name) =>
      this.emit('profile', { accountId, name }),
    );
    this.people = new People(
      device.accountId,
      store,
      api,
      this.lane,
      this.conversationStore,
      events,
      profiles,
      {
        sendControl: (id, envelope) => this.outbox.sendControl(id, envelope),
        leave: (id) => this.leave(id),
        talkingTo: (ids) => this.talkingTo(ids),
      },
      options.isKnown,
    );
    this.inbox = new Inbox(
      device,
      this.lane,
      this.conversationStore,
      this.keys,
      this.changes,
      wire,
      events,
      this.checks,
      this.people,
    );
    this.signals = new Signals(device, this.lane, this.conversationStore, wire, events, () =>
      this.keys.signatureKeys(),
    );
    this.disappearing = new Disappearing(this.conversationStore, this.lane, events);
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
    await this.ensureIdentity();
    await this.disappearing.start();
    const connection = new Connection(
      this.options.serverUrl,
      this.options.credential,
      this.options.socketFactory,
    );
    this.connection = connection;
    connection.on('ready', (frame) => {
      this.emit('connected', undefined);
      this.syncDevices().catch(() => {});
      if (frame.keyPackages.low || !frame.keyPackages.lastResort) void this.keys.refill();
      this.outbox.flush();
    });
    connection.on('down', () => this.emit('disconnected', undefined));
    connection.on('fatal', (error) => this.emit('error', error));
    connection.on('frame', (frame) => this.onFrame(frame));
    const ready = connection.next('ready', () => true, CONNECT_WAIT_MS);
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

  /**
   * Connects, takes in what the server has queued for this device, and disconnects again: for a
   * service worker woken by a push. Resolves with the messages received once the server has said
   * the queue was sent to its end (`caught-up`) and every entry before that has been processed —
   * or after `maxMs` in all. Runs under the same device lock as a tab's messenger, so the two
   * never apply one entry twice.
   */
  async catchUp(options: { maxMs?: number } = {}): Promise<ChatMessage[]> {
    const received: ChatMessage[] = [];
    const off = this.on('message', (m) => received.push(m));
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const sent = new Promise<void>((resolve) => {
        this.caughtUp = resolve;
        timer = setTimeout(resolve, options.maxMs ?? 20_000);
      });
      await this.start();
      await sent;
      // Every entry before `caught-up` was handed to the lane as it arrived.
      await new Promise<void>((resolve) => this.lane.whenIdle(resolve));
    } finally {
      clearTimeout(timer);
      this.caughtUp = undefined;
      off();
      this.stop();
    }
    return received;
  }

  /** Closes the connection; unsent messages stay in the outbox for the next start. */
  stop(): void {
    this.disappearing.stop();
    this.outbox.stop();
    this.inbox.flushAcks();
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
      await this.conversationStore.erase();
      await this.outbox.erase();
      await this.keys.erase();
      await this.trust.erase();
      await this.people.erase();
      await this.identity.erase();
      await this.store.delete(CERTIFICATE_UPLOADED);
      await this.store.delete(KNOWN_DEVICES);
    });
  }

  private onFrame(frame: ServerFrame): void {
    switch (frame.t) {
      case 'caught-up':
        this.caughtUp?.();
        break;
      case 'deliver':
        this.inbox
          .receive(frame)
          .catch((error: unknown) => this.emit('error', asParleyError(error)));
        break;
      case 'signal':
        this.signals.receive(frame.groupId, frame.from, frame.payload).catch(() => {});
        break;
      case 'presence':
        this.emit('presence', { accountId: frame.accountId, online: frame.online });
        break;
      case 'keypackages':
        if (frame.stock.low) void this.keys.refill();
        break;
      case 'devices-changed':
        this.followDevices().catch((error: unknown) => this.emit('error', asParleyError(error)));
        break;
      default:
        break;
    }
  }

  // --- this account's devices ---

  /**
   * The account's devices whose certificates chain to this account's identity key, read from the
   * server's list (which proves nothing by itself). A device not known before raises
   * `device-linked`; the first call only records. Devices whose certificate does not verify are
   * left out (and a certificate under another identity key raises a KEY_REFUSED warning).
   */
  async syncDevices(): Promise<AccountResponse['devices']> {
    const account = await this.api.account();
    const checked = await this.checkDevices(account.devices);
    for (const d of checked.filter((x) => x.certificate && !x.verified)) {
      this.emit('warning', {
        code: 'KEY_REFUSED',
        conversationId: '',
        detail: { claimed: { accountId: this.device.accountId, deviceId: d.deviceId } },
      });
    }
    const verified = checked.filter((d) => d.verified);
    const known = await this.store.get<string[]>(KNOWN_DEVICES);
    if (known) {
      for (const d of verified) {
        if (known.includes(d.deviceId) || d.deviceId === this.device.deviceId) continue;
        this.emit('device-linked', { deviceId: d.deviceId, name: d.name, createdAt: d.createdAt });
      }
    }
    await this.store.set(
      KNOWN_DEVICES,
      verified.map((d) => d.deviceId),
    );
    return verified;
  }

  /**
   * The account's devices as the server lists them, each marked `verified` when its certificate
   * verifies, names this account and that device, and carries this account's identity key as
   * this device holds it (no identity key here: none is verified). Changes nothing.
   */
  async checkDevices<D extends { deviceId: string; certificate?: string }>(
    devices: readonly D[],
  ): Promise<Array<D & { verified: boolean }>> {
    const own = await this.identity.keys();
    const crypto = await loadIdentityCrypto();
    return devices.map((d) => {
      const bytes = d.certificate ? fromBase64Url(d.certificate) : undefined;
      const cert = bytes && crypto.verifyCertificate(bytes);
      const verified =
        own !== undefined &&
        cert !== undefined &&
        cert.accountId === this.device.accountId &&
        cert.deviceId === d.deviceId &&
        bytesEqual(cert.identityKey, own.publicKey);
      return { ...d, verified };
    });
  }

  /**
   * A device was just approved: it publishes its certificate a moment later, so the list is
   * read again until every device in it is checked (two minutes at most).
   */
  private async followDevices(): Promise<void> {
    const deadline = Date.now() + LINK_JOIN_WAIT_MS;
    for (;;) {
      const verified = await this.syncDevices();
      const listed = (await this.api.account()).devices.length;
      if (verified.length >= listed || Date.now() > deadline || !this.connection) return;
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }

  /**
   * After this device approved a link: waits until the new device has published its certificate
   * (checked against this account's identity key) and its KeyPackages, then adds it to every
   * active conversation. Resolves with how many conversations it joined.
   */
  async welcomeLinkedDevice(deviceId: string, timeoutMs = LINK_JOIN_WAIT_MS): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (!(await this.syncDevices()).some((d) => d.deviceId === deviceId)) {
      if (Date.now() > deadline) {
        throw new ParleyError('CONNECTION_CLOSED', {
          message: 'The new device did not publish its keys in time; it can be added later.',
          details: { deviceId },
        });
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    let joined = 0;
    for (const c of await this.conversationStore.list()) {
      if (!c.active) continue;
      for (;;) {
        const after = await this.changes.addOwnDevices(c.id, [deviceId]).catch(skipBlocked);
        if (!after) break; // a conversation of two whose other member blocks this account
        if (after.members.some((m) => m.deviceId === deviceId)) {
          joined++;
          // The new device learns this account's profile key (and so its name) from it.
          if (!after.request) void this.people.shareProfile(c.id);
          break;
        }
        // Its KeyPackages are not on the server yet.
        if (Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    return joined;
  }

  /**
   * For a device registered before identity keys: makes the account's identity key here and
   * gives the server its public half. NO_IDENTITY when another device of the account made it
   * first (link this device from that one).
   */
  async ensureIdentity(): Promise<void> {
    if (await this.identity.keys()) return;
    const keys = await this.identity.generate();
    try {
      await this.api.putIdentityKey(toBase64Url(keys.publicKey));
    } catch (error) {
      if (error instanceof ParleyError && error.code === 'IDENTITY_EXISTS') {
        throw new ParleyError('NO_IDENTITY', { cause: error });
      }
      throw error;
    }
    await this.identity.adopt(keys);
  }

  // --- keys ---

  /** Tops the server's stock of this device's KeyPackages up to the target. */
  ensureKeyPackages(): Promise<void> {
    return this.keys.ensure();
  }

  // --- conversations ---

  conversations(): Promise<Conversation[]> {
    return this.conversationStore.list();
  }

  conversation(id: string): Promise<Conversation> {
    return this.conversationStore.get(id);
  }

  history(conversationId: string): Promise<ChatMessage[]> {
    return this.conversationStore.history(conversationId);
  }

  /**
   * Starts a conversation with these accounts: every device of each (and this user's other
   * devices) joins. One account makes a one-to-one chat; several make a group.
   */
  async createConversation(accountIds: string[]): Promise<Conversation> {
    const conversation = await this.changes.create(accountIds);
    await this.talkingTo(accountIds);
    void this.people.shareProfile(conversation.id);
    return conversation;
  }

  /**
   * Adds people to the conversation (every device of theirs). The group's name and timer live in
   * earlier messages a newcomer cannot read, so they are sent again; members who have them see
   * no notice.
   */
  async addMembers(conversationId: string, accountIds: string[]): Promise<Conversation> {
    const before = await this.conversationStore.get(conversationId);
    const after = await this.changes.add(conversationId, accountIds);
    if (after.members.length === before.members.length) return after;
    const sentAt = new Date().toISOString();
    const settings: SettingEnvelope[] = [
      ...(after.name ? [{ v: 1, type: 'group-name', name: after.name, sentAt } as const] : []),
      ...(after.timer ? [{ v: 1, type: 'timer', seconds: after.timer, sentAt } as const] : []),
    ];
    for (const envelope of settings) await this.outbox.sendControl(conversationId, envelope);
    void this.people.shareProfile(conversationId);
    return after;
  }

  removeMembers(conversationId: string, accountIds: string[]): Promise<Conversation> {
    return this.changes.remove(conversationId, accountIds);
  }

  /**
   * Leaves the conversation with all of this account's devices. First a `leave` envelope goes to
   * the members in MLS and is stored — the only word of the leave the other members act on (the
   * remaining device with the lowest id commits the removal); then the server is told and stops
   * delivering at once. The history stays on this device.
   */
  async leave(conversationId: string): Promise<Conversation> {
    const current = await this.conversationStore.get(conversationId);
    if (current.active) {
      await this.stored(this.outbox.sendControl(conversationId, { v: 1, type: 'leave' }));
      await this.lane.run(() =>
        this.conversationStore.noteDepartures(conversationId, [this.device.accountId]),
      );
    }
    return this.changes.leave(conversationId);
  }

  /**
   * Before this account is deleted: a `leave` envelope in every active conversation, so the
   * other members remove it (the server's word alone would not make them). Best effort: resolves
   * false when not every one was stored within 15 s (connecting first if need be).
   */
  announceAccountDeletion(): Promise<boolean> {
    return this.announce(() => ({ v: 1, type: 'leave' }));
  }

  /**
   * Before devices of this account are signed out: a `device-removed` envelope naming them in
   * every active conversation they are in (`'others'`: every device of this account but this
   * one), so the other members remove their leaves. Best effort, as `announceAccountDeletion`.
   */
  announceSignOut(deviceIds: string[] | 'others'): Promise<boolean> {
    const self = this.options.device;
    return this.announce((c) => {
      const named = c.members.filter(
        (m) =>
          m.accountId === self.accountId &&
          (deviceIds === 'others' ? m.deviceId !== self.deviceId : deviceIds.includes(m.deviceId)),
      );
      return named.length > 0
        ? { v: 1, type: 'device-removed', deviceIds: named.map((m) => m.deviceId) }
        : undefined;
    });
  }

  private async announce(
    envelopeFor: (c: Conversation) => Exclude<ControlEnvelope, { type: 'profile' }> | undefined,
  ): Promise<boolean> {
    const targets = (await this.conversationStore.list())
      .filter((c) => c.active && c.members.some((m) => m.deviceId !== this.device.deviceId))
      .map((c) => ({ id: c.id, envelope: envelopeFor(c) }))
      .filter((t) => t.envelope !== undefined);
    if (targets.length === 0) return true;
    const started = !this.connection;
    try {
      if (started) await this.start();
      const results = await Promise.allSettled(
        targets.map(async ({ id, envelope }) => {
          await this.stored(this.outbox.sendControl(id, envelope!));
          const departing =
            envelope!.type === 'leave' ? [this.device.accountId] : envelope!.deviceIds;
          const stored = await this.lane.run(() =>
            this.conversationStore.noteDepartures(id, departing),
          );
          // This device does not receive its own envelope: if it is the one to commit the
          // removal, it starts it here.
          if (
            envelope!.type === 'device-removed' &&
            removerOf(stored.members, departing) === this.device.deviceId
          ) {
            this.changes.removeDevices(id, departing).catch((error: unknown) => {
              this.emit('error', asParleyError(error));
            });
          }
        }),
      );
      return results.every((r) => r.status === 'fulfilled');
    } catch {
      return false;
    } finally {
      if (started) this.stop();
    }
  }

  /** Waits for a control envelope to be stored, for ANNOUNCE_WAIT_MS at most. */
  private stored(sent: Promise<void>): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new ParleyError('CONNECTION_CLOSED', {
              message:
                'The announcement to the other members was not stored within 15 s; it is sent on the next connection.',
            }),
          ),
        ANNOUNCE_WAIT_MS,
      );
      sent.then(
        () => {
          clearTimeout(timer);
          resolve();
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  // --- sending ---

  /**
   * Encrypts and sends a text; resolves when the server has stored it for every recipient device.
   * While offline it waits in the outbox and goes out on reconnect.
   */
  async send(
    conversationId: string,
    text: string,
    options: { replyTo?: string } = {},
  ): Promise<ChatMessage> {
    const conversation = await this.conversationStore.get(conversationId);
    // A verified contact's new key waits for the user before anything is encrypted to it.
    await this.checks.requireSendable(conversation.members.map((m) => m.accountId));
    // Answering a message request accepts it.
    if (conversation.request) await this.people.accept(conversationId);
    if (
      options.replyTo !== undefined &&
      !(await this.conversationStore.has(conversationId, options.replyTo))
    ) {
      throw new ParleyError('MESSAGE_NOT_FOUND', {
        details: { conversationId, messageId: options.replyTo },
      });
    }
    const timer = conversation.timer ? { expiresIn: conversation.timer } : {};
    const sent = await this.outbox.send(conversationId, text, { ...options, ...timer });
    this.disappearing.note(sent.expiresAt);
    // Answering one person is accepting them; a group's other members are not chosen by it.
    const others = [
      ...new Set(
        conversation.members
          .map((m) => m.accountId)
          .filter((id) => id !== this.options.device.accountId),
      ),
    ];
    if (others.length === 1) await this.talkingTo(others);
    return sent;
  }

  /**
   * Sets the conversation's disappearing-message timer for every member (0 turns it off): texts
   * sent after it carry it, and each device removes them that long after reading them. Every
   * member sees a notice saying who set it.
   */
  async setTimer(conversationId: string, seconds: number): Promise<ChatMessage> {
    if (!isTimer(seconds)) {
      throw new ParleyError('TIMER_INVALID', {
        details: { seconds, max: DISAPPEARING_MAX_SECONDS },
      });
    }
    const sentAt = new Date().toISOString();
    return this.changeSetting(conversationId, { v: 1, type: 'timer', seconds, sentAt });
  }

  /**
   * Names the conversation for every member ('' clears the name; at most GROUP_NAME_MAX
   * characters, no line breaks); each member sees a notice saying who named it.
   */
  async nameConversation(conversationId: string, name: string): Promise<ChatMessage> {
    const trimmed = name.trim();
    if (trimmed.length > GROUP_NAME_MAX || /\p{Cc}/u.test(trimmed)) {
      throw new ParleyError('GROUP_NAME_INVALID', { details: { max: GROUP_NAME_MAX } });
    }
    const sentAt = new Date().toISOString();
    return this.changeSetting(conversationId, { v: 1, type: 'group-name', name: trimmed, sentAt });
  }

  /** Applies a setting here (with its notice) and sends it to the other members. */
  private async changeSetting(
    conversationId: string,
    envelope: SettingEnvelope,
  ): Promise<ChatMessage> {
    const conversation = await this.conversationStore.get(conversationId);
    await this.checks.requireSendable(conversation.members.map((m) => m.accountId));
    const self = this.options.device;
    return this.outbox.sendChange(conversationId, envelope, async () => {
      const changed = withSetting(await this.conversationStore.require(conversationId), envelope);
      await this.conversationStore.save(changed);
      const shown = noticeMessage(conversationId, settingNotice(self, envelope));
      await this.conversationStore.append(conversationId, shown);
      this.emit('message', shown);
      this.emit('conversation', publicView(changed));
      return shown;
    });
  }

  /** Reacts to a message with one emoji (replacing this account's reaction); '' takes it back. */
  async react(conversationId: string, messageId: string, emoji: string): Promise<ChatMessage> {
    if (emoji !== '' && !isReaction(emoji)) throw refused('not one emoji', messageId);
    return this.changeMessage(conversationId, { v: 1, type: 'reaction', target: messageId, emoji });
  }

  /** Replaces the text of one of this account's messages, within 24 hours of sending it. */
  async edit(conversationId: string, messageId: string, text: string): Promise<ChatMessage> {
    if (!text.trim()) throw refused('empty text (delete the message instead)', messageId);
    const sentAt = new Date().toISOString();
    return this.changeMessage(conversationId, {
      v: 1,
      type: 'edit',
      target: messageId,
      text,
      sentAt,
    });
  }

  /** Takes one of this account's messages back on every device, within 24 hours of sending it. */
  async deleteForEveryone(conversationId: string, messageId: string): Promise<ChatMessage> {
    const sentAt = new Date().toISOString();
    return this.changeMessage(conversationId, { v: 1, type: 'delete', target: messageId, sentAt });
  }

  /** Applies a change here and sends it to the conversation's other devices. */
  private async changeMessage(
    conversationId: string,
    change: MessageChangeEnvelope,
  ): Promise<ChatMessage> {
    const conversation = await this.conversationStore.get(conversationId);
    await this.checks.requireSendable(conversation.members.map((m) => m.accountId));
    const self = this.options.device;
    return this.outbox.sendChange(conversationId, change, async () => {
      const history = await this.conversationStore.history(conversationId);
      const target = history.find((m) => m.id === change.target);
      if (!target) {
        throw new ParleyError('MESSAGE_NOT_FOUND', {
          details: { conversationId, messageId: change.target },
        });
      }
      const why = refusal(target, self, change);
      if (why) throw refused(why, change.target);
      const changed = await this.conversationStore.updateMessage(
        conversationId,
        change.target,
        (m) => applyChange(m, self, change),
      );
      this.emit('status', changed!);
      this.emit('changed', { message: changed!, change, by: self });
      return changed!;
    });
  }

  /**
   * Sends a file, photo or voice note: encrypted on this device under a fresh key, the
   * ciphertext uploaded (chunked, resumed after a cut; `onProgress` counts its bytes), then its
   * key, digest, name, type, caption and thumbnail in an MLS message. Resolves like `send`, when
   * the server has stored the message. The server sees the size and the conversation only.
   *
   * @example
   * await messenger.sendFile(chat.id, bytes, { name: 'beach.jpg', type: 'image/jpeg' });
   */
  async sendFile(
    conversationId: string,
    bytes: Uint8Array,
    options: SendFileOptions,
  ): Promise<ChatMessage> {
    const conversation = await this.conversationStore.get(conversationId);
    await this.checks.requireSendable(conversation.members.map((m) => m.accountId));
    const envelope = await this.attachments.upload(conversationId, bytes, options);
    const timer = conversation.timer ? { expiresIn: conversation.timer } : {};
    const sent = await this.outbox.sendAttachment(conversationId, { ...envelope, ...timer });
    this.disappearing.note(sent.expiresAt);
    return sent;
  }

  /**
   * The bytes of an attachment message (received or sent), checked against the digest its
   * sender named and decrypted; ATTACHMENT_CORRUPT when the server served anything else,
   * ATTACHMENT_NOT_FOUND once it expired or every recipient device fetched it. A recipient's
   * first fetch tells the server this device has it.
   */
  async fetchAttachment(
    message: ChatMessage,
    options: { onProgress?: Progress } = {},
  ): Promise<Uint8Array> {
    if (message.kind !== 'attachment' || !message.attachment) {
      throw new ParleyError('VALIDATION_FAILED', {
        message: 'This message has no attachment.',
        details: [{ field: 'message', problem: 'not an attachment' }],
      });
    }
    const mine = message.from.deviceId === this.options.device.deviceId;
    return this.attachments.download(message.attachment, { ...options, confirm: !mine });
  }

  /** Tells the facade; never throws (a failure is an 'error' event). */
  private async talkingTo(accountIds: string[]): Promise<void> {
    const others = accountIds.filter((id) => id !== this.options.device.accountId);
    if (others.length === 0 || !this.options.onTalkingTo) return;
    await this.options.onTalkingTo(others).catch((error: unknown) => {
      this.emit('error', asParleyError(error));
    });
  }

  /**
   * Adds this account's devices that a conversation lacks (a device just linked) to every active
   * conversation this device is in; resolves with how many conversations were changed. Another
   * device of the account may do the same at once: the epoch conflict is retried, and a device
   * already added is not added twice.
   */
  async addOwnDevices(deviceIds: readonly string[]): Promise<number> {
    let changed = 0;
    for (const c of await this.conversationStore.list()) {
      if (!c.active) continue;
      const before = c.epoch;
      const after = await this.changes.addOwnDevices(c.id, deviceIds).catch(skipBlocked);
      if (after && after.epoch !== before) {
        changed++;
        if (!after.request) void this.people.shareProfile(c.id);
      }
    }
    return changed;
  }

  // --- signals: typing and read receipts, end-to-end encrypted, never stored ---

  /** Tells the other members this user is typing (not in a message request: nothing is sent). */
  async typing(conversationId: string): Promise<void> {
    if (await this.people.isRequest(conversationId)) return;
    return this.signals.typing(conversationId);
  }

  /**
   * Removes the disappearing messages whose time ran out, now (a running messenger does it by
   * itself; a command that only reads the history calls this first).
   */
  expireDue(): Promise<void> {
    return this.disappearing.sweep();
  }

  /**
   * Tells the other members these messages were read. Not in a message request: the requester
   * learns nothing of it before the user accepts (a disappearing message's time on this device
   * starts all the same: the user read it).
   */
  async markRead(conversationId: string, messageIds: string[]): Promise<void> {
    // Read here: a disappearing message's time on this device starts now.
    const now = new Date();
    const started = await this.lane.run(() =>
      this.conversationStore.updateMessages(conversationId, messageIds, (m) => {
        const at = expiryOf(m, now);
        if (at) m.expiresAt = at;
      }),
    );
    for (const m of started) this.disappearing.note(m.expiresAt);
    if (await this.people.isRequest(conversationId)) return;
    return this.signals.markRead(conversationId, messageIds);
  }

  // --- presence ---

  /** Watches these accounts' online status (those whose setting lets this user see it). */
  watchPresence(accountIds: string[]): boolean {
    return this.connection?.send({ t: 'presence', accountIds }) ?? false;
  }
}
