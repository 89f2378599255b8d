/**
 * ParleyClient: the SDK's entry point. It wires the parts — registration, consent, the contacts
 * book, discovery and the transparency log — over one store and one server, and holds no logic of
 * its own beyond that.
 *
 * @example
 * const client = await ParleyClient.open({ serverUrl: 'http://127.0.0.1:8787', store });
 * const { verificationId } = await client.requestCode('+14155550123');
 * await client.register({
 *   verificationId, code: '123456', discoverable: true, presence: 'contacts', deviceName: 'laptop',
 * });
 * await client.consent.grant(client.consent.disclosure());
 * await client.contacts.importFile(vcardText);
 * const report = await client.discover();
 */

import {
  type AccountResponse,
  type AccountUpdateRequest,
  LINK_ENVELOPE_BYTES,
  loadOprf,
  normalizePhoneNumber,
  normalizeProfileName,
  type Oprf,
  ParleyError,
  type PresenceVisibility,
  toBase64Url,
  type VerificationResponse,
} from '@parley/core';
import { ContactsBook } from './contacts/contacts-book.js';
import {
  type DiscoveredNumber,
  DiscoveryEngine,
  type DiscoveryProgress,
  type DiscoveryReport,
} from './discovery/discovery.js';
import {
  approveLink,
  awaitApproval,
  beginLink,
  inspectLink,
  type LinkRequestInfo,
  type PendingLink,
  type ProvisioningPayload,
} from './identity/linking.js';
import { OwnIdentity } from './identity/own-identity.js';
import { type SafetyNumber, SafetyNumbers } from './identity/safety-numbers.js';
import { Messenger } from './messaging/messenger.js';
import { loadMls } from './messaging/mls.js';
import { Consent } from './privacy/consent.js';
import { DATA_EXPORT_FORMAT, type DataExport, exportedMessage } from './privacy/data-export.js';
import { PresenceAllowList } from './privacy/presence-allow-list.js';
import { TransparencyLog, type UploadRecord } from './privacy/transparency-log.js';
import type { ClientStore } from './store/store.js';
import { ApiClient, type Fetch } from './transport/api.js';
import type { SocketFactory } from './transport/connection.js';

export interface Session {
  serverUrl: string;
  accountId: string;
  deviceId: string;
  credential: string;
  discoverable: boolean;
  presence: PresenceVisibility;
}

export interface ClientOptions {
  serverUrl: string;
  store: ClientStore;
  /** Region for numbers written without a country code, e.g. 'US' (ISO 3166-1 alpha-2). */
  defaultRegion?: string;
  fetch?: Fetch;
  /** Opens the device's WebSocket; browsers' own WebSocket by default (Node: '@parley/client/node'). */
  socket?: SocketFactory;
}

export interface ContactResult {
  name: string;
  phoneNumber: string;
  status: DiscoveryReport['numbers'][number]['status'];
  accountId?: string;
  deviceIds?: string[];
}

const SESSION = 'session';
/** Accounts found by a number the user typed in (`lookupNumber`): contacts, not strangers. */
const TYPED_CONTACTS = 'typed-contacts';

const browserSocket: SocketFactory = (url) => {
  const WebSocketImpl = (globalThis as { WebSocket?: new (url: string) => unknown }).WebSocket;
  if (!WebSocketImpl) {
    throw new ParleyError('NETWORK_ERROR', {
      message: 'No WebSocket here; in Node import ParleyClient from @parley/client/node.',
    });
  }
  return new WebSocketImpl(url) as ReturnType<SocketFactory>;
};

export class ParleyClient {
  readonly consent: Consent;
  readonly contacts: ContactsBook;
  readonly transparencyLog: TransparencyLog;
  private readonly api: ApiClient;
  private readonly discovery: DiscoveryEngine;
  /** Who may see this account online: the contacts discovery resolved, the people it talks to. */
  private readonly allowList: PresenceAllowList;
  private oprfPromise: Promise<Oprf> | undefined;
  private messengerInstance: Messenger | undefined;

  private constructor(
    private readonly options: ClientOptions,
    private session: Session | undefined,
  ) {
    const { store } = options;
    this.transparencyLog = new TransparencyLog(store);
    this.api = new ApiClient(options.serverUrl, this.transparencyLog, options.fetch);
    this.api.credential = session?.credential;
    this.allowList = new PresenceAllowList(store, this.api);
    this.consent = new Consent(store, options.serverUrl, async () => {
      await this.eraseAddressBookData();
      // The server is told last: if it cannot be reached, withdrawing again retries it.
      await this.allowList.withdrawBook();
    });
    this.contacts = new ContactsBook(store, this.consent, options.defaultRegion);
    // The WASM crypto loads on first use, not at start-up.
    this.discovery = new DiscoveryEngine(store, this.api, this.consent, () => {
      this.oprfPromise ??= loadOprf();
      return this.oprfPromise;
    });
  }

  static async open(options: ClientOptions): Promise<ParleyClient> {
    const session = await options.store.get<Session>(SESSION);
    if (session && session.serverUrl !== options.serverUrl) {
      return new ParleyClient(options, undefined);
    }
    return new ParleyClient(options, session);
  }

  /**
   * Loads the crypto libraries (ts-mls, and libsodium's WebAssembly under the identity keys) now
   * instead of on first use: a service worker woken to process messages does it up front.
   */
  static async loadCrypto(): Promise<void> {
    await loadMls();
  }

  get serverUrl(): string {
    return this.options.serverUrl;
  }

  get registered(): boolean {
    return this.session !== undefined;
  }

  get account(): Session | undefined {
    return this.session;
  }

  /**
   * Sends a verification code by SMS to the user's own number. `region` is the country the person
   * picked beside the number (default: the client's `defaultRegion`): a number without a country
   * code is read there, and refused in its terms ("too short for a phone number in …").
   */
  async requestCode(rawNumber: string, region?: string): Promise<VerificationResponse> {
    const normalized = normalizePhoneNumber(rawNumber, region ?? this.options.defaultRegion);
    if (!normalized.ok) {
      throw new ParleyError('INVALID_PHONE_NUMBER', {
        message: normalized.message,
        details: { reason: normalized.reason },
      });
    }
    return this.api.requestVerification(normalized.e164);
  }

  /**
   * Checks the code without registering yet, so a wrong one is caught where it was typed
   * (VERIFICATION_CODE_INCORRECT with `details.attemptsLeft`; the same attempts as `register`).
   * The verification stays pending: `register` then confirms it with the same code.
   */
  async checkCode(verificationId: string, code: string): Promise<{ expiresAt: string }> {
    const { expiresAt } = await this.api.checkCode(verificationId, code);
    return { expiresAt };
  }

  /**
   * Confirms the code and creates this device's credential. `discoverable` has no default: the
   * user must say whether people who have their number may find them.
   */
  async register(input: {
    verificationId: string;
    code: string;
    discoverable: boolean;
    presence: PresenceVisibility;
    deviceName: string;
    /** The PIN, when the number's account has a registration lock (REGISTRATION_LOCKED). */
    registrationLockPin?: string;
    /**
     * The name people see in conversations with this user (sealed: the server cannot read it).
     * Checked before anything is sent (PROFILE_NAME_INVALID).
     */
    profileName?: string;
  }): Promise<Session & { existingAccount: boolean }> {
    const { profileName, ...request } = input;
    if (profileName !== undefined) normalizeProfileName(profileName);
    // A registration by SMS always starts a new identity: a device joins an existing one only
    // by being linked from a device that holds it (`startLink`).
    const identity = await new OwnIdentity(this.options.store).generate();
    const result = await this.api.register({
      ...request,
      identityKey: toBase64Url(identity.publicKey),
    });
    await this.signIn(
      {
        serverUrl: this.options.serverUrl,
        accountId: result.accountId,
        deviceId: result.deviceId,
        credential: result.credential,
        discoverable: result.discoverable,
        presence: result.presence,
      },
      async (messenger) => messenger.identity.adopt(identity),
    );
    // No conversation yet: nobody to tell.
    if (profileName !== undefined) await this.messenger.people.setName(profileName);
    return { ...this.session!, existingAccount: result.existingAccount };
  }

  /** Saves a new session, lets `prepare` set up its keys, and publishes the device's keys. */
  private async signIn(
    session: Session,
    prepare: (messenger: Messenger) => Promise<void>,
  ): Promise<void> {
    // Whatever an earlier session on this store left (a signed-out device registering again).
    await this.options.store.delete(SESSION);
    await new Messenger(this.options.store, this.api, {
      serverUrl: this.options.serverUrl,
      credential: '',
      device: { accountId: session.accountId, deviceId: session.deviceId },
      socketFactory: this.options.socket ?? browserSocket,
    }).erase();
    this.messengerInstance = undefined;
    await this.options.store.set(SESSION, session);
    this.session = session;
    this.api.credential = session.credential;
    await prepare(this.messenger);
    // Others can start a conversation with this device as soon as it exists.
    await this.messenger.ensureKeyPackages();
  }

  // --- linking a device ---

  /**
   * On a new device: asks to be linked to an account. Show `qr` as a QR code and `code` for
   * typing; then `wait()` resolves with the session once a device of the account approved
   * (LINK_EXPIRED when the request ends first, or `signal` aborts).
   *
   * @example
   * const link = await client.startLink({ deviceName: 'laptop' });
   * showQr(link.qr); showText(link.code);
   * const session = await link.wait();
   */
  async startLink(input: {
    deviceName: string;
  }): Promise<
    PendingLink & { wait(options?: { signal?: AbortSignal; pollMs?: number }): Promise<Session> }
  > {
    const { pending, secrets } = await beginLink(this.api, input.deviceName);
    return {
      ...pending,
      wait: async (options = {}) => {
        const approved = await awaitApproval(this.api, pending, secrets, options);
        await this.adoptProvisioning(approved);
        return this.session!;
      },
    };
  }

  private async adoptProvisioning(approved: Awaited<ReturnType<typeof awaitApproval>>) {
    const { payload } = approved;
    const identity = await OwnIdentity.importKeys(payload.identity);
    if (!identity) {
      throw new ParleyError('INVALID_RESPONSE', { details: { reason: 'identity keys' } });
    }
    await this.signIn(
      {
        serverUrl: this.options.serverUrl,
        accountId: approved.accountId,
        deviceId: approved.deviceId,
        credential: approved.credential,
        discoverable: payload.discoverable,
        presence: payload.presence,
      },
      async (messenger) => {
        await messenger.identity.adopt(identity);
        await messenger.trust.replaceAll(payload.pins);
        if (payload.addressBook) {
          await this.consent.grant(
            (payload.addressBook.consent as { disclosure?: never }).disclosure ??
              this.consent.disclosure(),
          );
          await this.contacts.adopt(payload.addressBook.contacts);
        }
      },
    );
  }

  /**
   * On a device of the account: reads the new device's QR text or typed code and returns what
   * asks to be linked (its name and when), to show before the user approves.
   * LINK_CODE_INVALID when the code is unreadable or the server's key does not match it.
   */
  async inspectLink(codeOrQr: string): Promise<LinkRequestInfo> {
    this.requireSession();
    return inspectLink(this.api, codeOrQr);
  }

  /**
   * Approves a link request the user has seen: hands the new device this account's identity
   * key, its settings, the contacts' pinned keys and, with `bringContacts`, the address book
   * (sealed to the new device's key), then adds the new device to every conversation this
   * device is in once it has published its keys. Resolves with the new device's id and how many
   * conversations it joined.
   */
  async approveLink(
    request: LinkRequestInfo,
    options: { bringContacts?: boolean; joinTimeoutMs?: number } = {},
  ): Promise<{ deviceId: string; conversations: number; contactsBrought: number }> {
    const session = this.requireSession();
    const messenger = this.messenger;
    const grant = options.bringContacts ? await this.consent.status() : undefined;
    const payload: ProvisioningPayload = {
      v: 1,
      accountId: session.accountId,
      identity: await messenger.identity.exportKeys(),
      discoverable: session.discoverable,
      presence: session.presence,
      pins: await messenger.trust.all(),
      ...(grant ? { addressBook: { consent: grant, contacts: await this.contacts.list() } } : {}),
    };
    // The relay takes LINK_ENVELOPE_BYTES at most (a sealed box adds 48 bytes): an address book
    // too large for it stays behind, and the caller is told.
    const fits = (p: ProvisioningPayload) =>
      new TextEncoder().encode(JSON.stringify(p)).length + 48 <= LINK_ENVELOPE_BYTES;
    const { addressBook: _, ...withoutBook } = payload;
    const sent: ProvisioningPayload = fits(payload) ? payload : withoutBook;
    const approved = await approveLink(this.api, request, sent);
    const conversations = await messenger.welcomeLinkedDevice(
      approved.deviceId,
      options.joinTimeoutMs,
    );
    return {
      deviceId: approved.deviceId,
      conversations,
      contactsBrought: sent.addressBook?.contacts.length ?? 0,
    };
  }

  // --- safety numbers and the registration lock ---

  private get safetyNumbers(): SafetyNumbers {
    const session = this.requireSession();
    return new SafetyNumbers(
      session.accountId,
      this.messenger.identity,
      this.messenger.trust,
      this.api,
    );
  }

  /** The safety number shared with a contact (60 digits and a QR payload) and its state. */
  safetyNumber(accountId: string): Promise<SafetyNumber> {
    return this.safetyNumbers.of(accountId);
  }

  /**
   * Marks a contact verified: after the user compared the 60 digits, or with the payload scanned
   * from the contact's screen (SAFETY_NUMBER_CHANGED when it does not match).
   */
  verifySafetyNumber(accountId: string, scanned?: Uint8Array | string): Promise<SafetyNumber> {
    return this.safetyNumbers.verify(accountId, scanned);
  }

  unverifySafetyNumber(accountId: string): Promise<SafetyNumber> {
    return this.safetyNumbers.unverify(accountId);
  }

  /** Accepts a contact's changed safety number without verifying it; sending resumes. */
  acceptSafetyNumber(accountId: string): Promise<SafetyNumber> {
    return this.safetyNumbers.accept(accountId);
  }

  /**
   * Turns the registration lock on: registering this number by SMS code alone is then refused
   * while the account is in use, unless the PIN is given. The server keeps a slow hash of the
   * PIN; the lock stops a SIM swapper, not the operator, who holds that hash (docs/security.md).
   */
  async setRegistrationLock(pin: string): Promise<void> {
    this.requireSession();
    await this.api.setRegistrationLock(pin);
  }

  async clearRegistrationLock(): Promise<void> {
    this.requireSession();
    await this.api.clearRegistrationLock();
  }

  /**
   * The server's VAPID public key (base64url): pass it, decoded, as `applicationServerKey` to
   * `PushManager.subscribe`. Needs no account.
   */
  pushKey(): Promise<string> {
    return this.api.vapidKey();
  }

  /**
   * Stores this device's push subscription (`PushSubscription.toJSON()`), replacing any it had:
   * from now on the server wakes this device through it when a message waits and no socket of
   * the device is open. The push carries no content; the service worker fetches and decrypts.
   *
   * @example
   * const sub = await registration.pushManager.subscribe({ userVisibleOnly: true,
   *   applicationServerKey: fromBase64Url(await client.pushKey()) });
   * await client.enablePush(sub.toJSON());
   */
  async enablePush(subscription: {
    endpoint?: string;
    keys?: Record<string, string>;
  }): Promise<void> {
    this.requireSession();
    const { endpoint, keys } = subscription;
    if (!endpoint || !keys?.p256dh || !keys.auth) throw new ParleyError('PUSH_UNAVAILABLE');
    await this.api.putPushSubscription({
      endpoint,
      keys: { p256dh: keys.p256dh, auth: keys.auth },
    });
  }

  /** Removes this device's push subscription: no more wake-ups. */
  async disablePush(): Promise<void> {
    this.requireSession();
    await this.api.deletePushSubscription();
  }

  /** Conversations, messages, receipts and presence; call `messenger.start()` to connect. */
  get messenger(): Messenger {
    const session = this.requireSession();
    this.messengerInstance ??= new Messenger(this.options.store, this.api, {
      serverUrl: this.options.serverUrl,
      credential: session.credential,
      device: { accountId: session.accountId, deviceId: session.deviceId },
      socketFactory: this.options.socket ?? browserSocket,
      onTalkingTo: (accountIds) => this.allowList.fromConversation(accountIds),
      // A contact: resolved from the address book, typed in, or someone the user talks to.
      isKnown: async (accountId) =>
        ((await this.options.store.get<string[]>(TYPED_CONTACTS)) ?? []).includes(accountId) ||
        (await this.allowList.list()).some((entry) => entry.accountId === accountId),
    });
    return this.messengerInstance;
  }

  private requireSession(): Session {
    if (!this.session) throw new ParleyError('NOT_REGISTERED');
    return this.session;
  }

  async getAccount(): Promise<AccountResponse> {
    this.requireSession();
    return this.api.account();
  }

  /** Changes who can find this account by number and who sees it online. */
  async updateAccount(change: AccountUpdateRequest): Promise<AccountResponse> {
    const session = this.requireSession();
    const account = await this.api.updateAccount(change);
    this.session = { ...session, discoverable: account.discoverable, presence: account.presence };
    await this.options.store.set(SESSION, this.session);
    return account;
  }

  /**
   * The account's devices (this one included), as the server lists them; `verified` when the
   * device's certificate chains to this account's identity key, checked here.
   */
  async devices(): Promise<
    Array<{
      deviceId: string;
      name: string;
      createdAt: string;
      current: boolean;
      verified: boolean;
    }>
  > {
    this.requireSession();
    const account = await this.api.account();
    const checked = await this.messenger.checkDevices(account.devices);
    return checked.map((d) => ({
      deviceId: d.deviceId,
      name: d.name,
      createdAt: d.createdAt,
      current: d.deviceId === this.session!.deviceId,
      verified: d.verified,
    }));
  }

  /**
   * Signs out one of the account's devices: its credential stops working and nothing more is
   * delivered to it. First this device says so in MLS in each conversation the device is in, so
   * the other members remove its leaf (they do not take the server's word for it). Removing this
   * device signs it out here too (its data on this device is erased, as after deleteAccount, but
   * the account stays).
   */
  async removeDevice(deviceId: string): Promise<void> {
    this.requireSession();
    await this.messenger.announceSignOut([deviceId]);
    await this.api.removeDevice(deviceId);
    if (deviceId === this.session!.deviceId) await this.forgetSession();
  }

  /** Signs out every other device of the account (a lost phone); returns how many. */
  async signOutOtherDevices(): Promise<number> {
    this.requireSession();
    await this.messenger.announceSignOut('others');
    return (await this.api.removeOtherDevices()).removed;
  }

  /** Erases what this device holds of the account (after it was deleted or signed out). */
  private async forgetSession(): Promise<void> {
    await this.messenger.erase();
    this.messengerInstance = undefined;
    await this.consent.withdraw(); // also erases the contacts book, discovery cache and filter
    // Only the local record: the list on the server is the account's (gone, or other devices').
    // After the withdrawal, which updates the record.
    await this.allowList.forget();
    await this.options.store.delete(TYPED_CONTACTS);
    // The server's keys as this device pinned them: a new session pins afresh.
    await this.discovery.forgetPins();
    await this.transparencyLog.clear();
    await this.options.store.delete(SESSION);
    this.session = undefined;
    this.api.credential = undefined;
  }

  /**
   * Deletes the account on the server — every device of it, its conversations' memberships, its
   * directory entry — and then erases everything of it on this device: session, consent,
   * contacts, discovery cache and filter, transparency log, MLS keys, conversations, history and
   * outbox. The messenger stops. If another device already deleted the account (the credential
   * is refused), the local erasure still happens.
   *
   * @example
   * await client.deleteAccount();
   * client.registered; // false
   */
  async deleteAccount(): Promise<void> {
    this.requireSession();
    // The other members act on the account's own word that it leaves, not the server's.
    await this.messenger.announceAccountDeletion().catch(() => false);
    try {
      await this.api.deleteAccount();
    } catch (error) {
      if (!(error instanceof ParleyError && error.code === 'UNAUTHENTICATED')) throw error;
    }
    await this.forgetSession();
  }

  /**
   * Everything about the user, as a JSON-serialisable object (`JSON.stringify` it to save):
   * the account as the server returns it, the consent grant, the contacts book, discovery results,
   * the transparency log, and every conversation with its history. No credential, no keys.
   *
   * @example
   * const data = await client.exportData();
   * download(new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' }));
   */
  async exportData(): Promise<DataExport> {
    this.requireSession();
    const account = await this.api.account();
    const consent = (await this.consent.status()) ?? null;
    const conversations: DataExport['conversations'] = [];
    for (const c of await this.messenger.conversations()) {
      const messages = await this.messenger.history(c.id);
      conversations.push({ ...c, messages: messages.map(exportedMessage) });
    }
    return {
      format: DATA_EXPORT_FORMAT,
      version: 1,
      exportedAt: new Date().toISOString(),
      server: this.options.serverUrl,
      account,
      consent,
      // Without consent there is no book: withdrawing erased it.
      contacts: consent ? await this.contacts.list() : [],
      discovery: await this.discovery.exportResults(),
      transparencyLog: await this.transparencyLog.list(),
      presenceAllowList: await this.allowList.list(),
      profileName: (await this.messenger.people.nameOf(account.accountId)) ?? null,
      blocked: await this.messenger.people.blocked(),
      conversations,
    };
  }

  /**
   * Finds which contacts are on Parley. Needs the consent grant; sends only numbers not checked
   * before, blinded. With `resolve: 'lazy'` matches stay unresolved until `resolveContact`.
   */
  async discover(
    options: { resolve?: 'eager' | 'lazy'; onProgress?: (p: DiscoveryProgress) => void } = {},
  ): Promise<{ contacts: ContactResult[]; report: DiscoveryReport }> {
    await this.consent.require();
    this.requireSession();
    const book = await this.contacts.list();
    const report = await this.discovery.run(
      book.flatMap((c) => c.phoneNumbers),
      options,
    );
    // The contacts found may see this account online; eager discovery found all of them.
    await this.allowList.fromBook(onParley(report.numbers), options.resolve !== 'lazy');
    const byNumber = new Map(report.numbers.map((n) => [n.phoneNumber, n]));
    const contacts = book.flatMap((c) =>
      c.phoneNumbers.map((phoneNumber: string) => ({
        name: c.name,
        ...byNumber.get(phoneNumber)!,
      })),
    );
    return { contacts, report };
  }

  async resolveContact(phoneNumber: string) {
    await this.consent.require();
    this.requireSession();
    const found = await this.discovery.resolveOne(phoneNumber);
    await this.allowList.fromBook(onParley([found]), false);
    return found;
  }

  /**
   * Looks up one number the user typed in (not from the address book, so no address-book consent
   * is needed): blinded like any other, counted against the budget, and in the transparency log.
   */
  async lookupNumber(rawNumber: string): Promise<DiscoveredNumber> {
    this.requireSession();
    const normalized = normalizePhoneNumber(rawNumber, this.options.defaultRegion);
    if (!normalized.ok) {
      throw new ParleyError('INVALID_PHONE_NUMBER', {
        message: normalized.message,
        details: { reason: normalized.reason },
      });
    }
    const report = await this.discovery.run([normalized.e164], {
      resolve: 'eager',
      typedByUser: true,
    });
    const found = report.numbers[0]!;
    // Typed in by the user: a contact, whose conversations are not message requests.
    if (found.accountId) {
      const typed = (await this.options.store.get<string[]>(TYPED_CONTACTS)) ?? [];
      if (!typed.includes(found.accountId)) {
        await this.options.store.set(TYPED_CONTACTS, [...typed, found.accountId]);
      }
    }
    return found;
  }

  async uploads(): Promise<UploadRecord[]> {
    return this.transparencyLog.list();
  }

  /** Closes the messaging connection, if open. */
  close(): void {
    this.messengerInstance?.stop();
  }

  private async eraseAddressBookData(): Promise<void> {
    await this.contacts.clear();
    await this.discovery.clear();
  }
}

/** The numbers that resolved to an account. */
function onParley(
  numbers: readonly DiscoveredNumber[],
): Array<{ phoneNumber: string; accountId: string }> {
  return numbers.flatMap((n) =>
    n.status === 'on-parley' && n.accountId
      ? [{ phoneNumber: n.phoneNumber, accountId: n.accountId }]
      : [],
  );
}
