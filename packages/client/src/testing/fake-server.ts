/**
 * A fake Parley server for the SDK's tests, in process (as centrifuge-js's `fakeServer.ts`): the
 * HTTP endpoints the messenger calls, through the `Fetch` an ApiClient takes, and the device
 * WebSocket, through the `SocketFactory` a Messenger takes. It speaks the real schemas from
 * @parley/core and follows packages/server/src/messaging: per-device queues delivered in order, a
 * window at a time, each entry kept until its device acknowledges its seq (a new connection gets
 * every unacknowledged entry again); one stored copy per (sender device, message id); Commits
 * sequenced per group, the first for an epoch winning and later ones refused with EPOCH_CONFLICT;
 * delivery receipts queued for the sender when a recipient acknowledges; one-time KeyPackages
 * claimed once, the last-resort one kept.
 *
 * What it leaves out: registration and discovery, expiry, rate limits, several nodes, and the
 * presence setting (every account may watch every other).
 *
 * Faults are injected with `refuseSends`, `dropOnSend`, `loseAcks`, `dropSocket`, `redeliver`,
 * `duplicate`, `inject`, `hold`/`release` and `delayMs`; what happened is read from the events
 * (`send`, `stored`, `refused`, `ack`, `commit`, `uploaded`, `ready`) and from `group`, `queue`, `stock`.
 *
 * @example
 * const server = new FakeServer();
 * const alice = server.addDevice();
 * const api = new ApiClient(server.url, new TransparencyLog(store), server.fetch);
 * api.credential = alice.credential;
 * const messenger = new Messenger(store, api, {
 *   serverUrl: server.url, credential: alice.credential, device: alice, socketFactory: server.socketFactory,
 * });
 */

import {
  CLOSE_CODES,
  ClientFrame,
  CommitRequest,
  type DeliverFrame,
  type DeliveryKind,
  type DeviceRef,
  type ErrorCode,
  GroupId,
  type GroupResponse,
  KeyPackageClaimRequest,
  type KeyPackageStock,
  KeyPackageUpload,
  MESSAGING_LIMITS,
  ParleyError,
  type ServerFrame,
  type Static,
  type TSchema,
  toBase64Url,
} from '@parley/core';
import { Value } from '@sinclair/typebox/value';
import type { Fetch } from '../transport/api.js';
import type { SocketFactory } from '../transport/connection.js';
import { Emitter } from '../transport/emitter.js';
import { checkKeyPackage, FakeKeyPackages } from './fake-key-packages.js';
import { FakeSocket } from './fake-socket.js';

export interface FakeDevice extends DeviceRef {
  credential: string;
}

export interface FakeServerEvents extends Record<string, unknown> {
  /** A device's socket authenticated and got `ready`. */
  ready: DeviceRef;
  /** A send frame arrived (before any fault or check). */
  send: { from: DeviceRef; id: string };
  /** A send was stored (or recognised as stored before: `duplicate`). */
  stored: { from: DeviceRef; id: string; groupId: string; duplicate: boolean };
  /** A send was refused with an error frame. */
  refused: { from: DeviceRef; id: string; code: ErrorCode };
  /** An ack frame arrived (before it is applied; `lost` when `loseAcks` threw it away). */
  ack: { from: DeviceRef; seqs: number[]; lost: boolean };
  /** A Commit was accepted, or refused for its epoch. */
  commit: { from: DeviceRef; groupId: string; epoch: number; accepted: boolean };
  /** A device uploaded KeyPackages; `stock` is what it holds now. */
  uploaded: { device: DeviceRef; stock: KeyPackageStock };
}

/** What the next send frames run into (see `refuseSends` and `dropOnSend`). */
type SendFault = { refuse: ErrorCode } | { drop: 'before-store' | 'after-store' };

interface Entry extends Omit<DeliverFrame, 't'> {
  deviceId: string;
}

interface Group {
  epoch: number;
  members: DeviceRef[];
}

interface Device {
  ref: DeviceRef;
  credential: string;
  queue: Entry[];
  link: Link | undefined;
  held: boolean;
  loseAcks: boolean;
}

/** One authenticated (or authenticating) socket, server side. */
interface Link {
  socket: FakeSocket;
  device: Device | undefined;
  lastSent: number;
  inflight: Set<number>;
  watching: Set<string>;
  chain: Promise<void>;
}

let counter = 0;
const newId = (bytes = 16) => toBase64Url(crypto.getRandomValues(new Uint8Array(bytes)));

export class FakeServer extends Emitter<FakeServerEvents> {
  readonly url: string;
  /** Latency of every message and answer, each way, in milliseconds. */
  delayMs = 0;
  private readonly devices = new Map<string, Device>();
  private readonly groups = new Map<string, Group>();
  /** (sender device, message id) → payload, for idempotent sends. */
  private readonly sent = new Map<string, string>();
  private readonly keyPackages = new FakeKeyPackages();
  private readonly links = new Set<Link>();
  private readonly sendFaults: SendFault[] = [];
  private seq = 0;

  constructor(url = `http://parley-fake-${++counter}.test`) {
    super();
    this.url = url;
  }

  // --- setup ---

  /** A new device, of a new account unless one is named; its credential authenticates it. */
  addDevice(accountId = newId()): FakeDevice {
    const ref = { accountId, deviceId: newId() };
    const credential = newId(24);
    this.devices.set(ref.deviceId, {
      ref,
      credential,
      queue: [],
      link: undefined,
      held: false,
      loseAcks: false,
    });
    return { ...ref, credential };
  }

  /** The owner signs a device out: it leaves its conversations and its socket closes (4411). */
  removeDevice(deviceId: string): void {
    const device = this.mustDevice(deviceId);
    for (const [groupId, group] of this.groups) {
      if (!group.members.some((m) => m.deviceId === deviceId)) continue;
      group.members = group.members.filter((m) => m.deviceId !== deviceId);
      this.enqueue(
        group.members.map((m) => ({
          deviceId: m.deviceId,
          kind: 'removed' as const,
          groupId,
          from: device.ref,
          epoch: group.epoch,
        })),
      );
      if (group.members.length === 0) this.groups.delete(groupId);
    }
    this.keyPackages.forget(deviceId);
    this.devices.delete(deviceId);
    device.link?.socket.drop(CLOSE_CODES.deviceRemoved, 'device removed');
  }

  // --- what a test reads ---

  readonly fetch: Fetch = async (input, init) => {
    await this.pause();
    const url = new URL(input instanceof Request ? input.url : String(input));
    const method = init?.method ?? 'GET';
    const auth = new Headers(init?.headers).get('authorization');
    try {
      const device = [...this.devices.values()].find((d) => `Bearer ${d.credential}` === auth);
      if (!device) throw new ParleyError('UNAUTHENTICATED');
      const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as unknown) : undefined;
      return json(200, this.route(device.ref, method, url.pathname, body));
    } catch (error) {
      const e =
        error instanceof ParleyError
          ? error
          : new ParleyError('INTERNAL', { details: { what: String(error) } });
      return json(e.status, e.toBody());
    }
  };

  readonly socketFactory: SocketFactory = (url) => {
    if (new URL(url).pathname !== '/v1/socket') throw new Error(`FakeServer: no socket at ${url}`);
    return new FakeSocket(
      url,
      () => this.delayMs,
      (socket) => {
        const link: Link = {
          socket,
          device: undefined,
          lastSent: 0,
          inflight: new Set(),
          watching: new Set(),
          chain: Promise.resolve(),
        };
        this.links.add(link);
        return {
          message: (text) => {
            link.chain = link.chain.then(() => this.onFrame(link, text));
          },
          closed: () => this.detach(link),
        };
      },
    );
  };

  /** The group as the server knows it (epoch, members), or undefined. */
  group(groupId: string): GroupResponse | undefined {
    const group = this.groups.get(groupId);
    return group && { groupId, epoch: group.epoch, members: sorted(group.members) };
  }

  /** The device's unacknowledged entries, oldest first. */
  queue(deviceId: string): DeliverFrame[] {
    return this.mustDevice(deviceId).queue.map(toFrame);
  }

  /** The device's KeyPackage stock, as GET /v1/keys/packages answers it. */
  stock(deviceId: string): KeyPackageStock {
    return this.keyPackages.stock(deviceId);
  }

  /** True while the device has an authenticated socket. */
  isConnected(deviceId: string): boolean {
    return this.devices.get(deviceId)?.link !== undefined;
  }

  // --- faults ---

  /** The next `count` sends (from any device) are refused with `code`, not stored. */
  refuseSends(count: number, code: ErrorCode = 'SERVICE_UNAVAILABLE'): void {
    for (let i = 0; i < count; i++) this.sendFaults.push({ refuse: code });
  }

  /**
   * The next `count` sends drop their socket: before the message is stored (it is lost), or
   * after (it is stored, the answer is lost).
   */
  dropOnSend(count: number, when: 'before-store' | 'after-store'): void {
    for (let i = 0; i < count; i++) this.sendFaults.push({ drop: when });
  }

  /** While on, the device's acks are thrown away (its entries stay queued). */
  loseAcks(deviceId: string, on = true): void {
    this.mustDevice(deviceId).loseAcks = on;
  }

  /** Closes the device's socket as a network drop would (1006); the SDK reconnects. */
  dropSocket(deviceId: string, code = 1006): void {
    this.mustDevice(deviceId).link?.socket.drop(code, 'dropped by the test');
  }

  /** Sends the device's unacknowledged entries again, same seqs (as after a lost ack). */
  redeliver(deviceId: string): void {
    const device = this.mustDevice(deviceId);
    const link = device.link;
    if (!link) return;
    for (const entry of device.queue) {
      if (entry.seq <= link.lastSent) link.socket.push(toFrame(entry));
    }
  }

  /** Queues a copy of one of the device's entries under a new seq (same message id). */
  duplicate(deviceId: string, seq: number): void {
    const entry = this.mustDevice(deviceId).queue.find((e) => e.seq === seq);
    if (!entry) throw new Error(`FakeServer: no entry ${seq} queued for ${deviceId}`);
    const { seq: _, deviceId: __, ...rest } = entry;
    this.enqueue([{ ...rest, deviceId }]);
  }

  /** Queues an entry of the test's making (a corrupt payload, say) for the device. */
  inject(deviceId: string, entry: Omit<Entry, 'seq' | 'deviceId' | 'id' | 'sentAt'>): number {
    return this.enqueue([{ ...entry, deviceId }])[0]!;
  }

  /** Holds the device's deliveries (entries queue up) until `release`. */
  hold(deviceId: string): void {
    this.mustDevice(deviceId).held = true;
  }

  release(deviceId: string): void {
    const device = this.mustDevice(deviceId);
    device.held = false;
    if (device.link) this.pump(device.link);
  }

  // --- HTTP ---

  private route(device: DeviceRef, method: string, path: string, body: unknown): unknown {
    if (path === '/v1/keys/packages' && method === 'GET') return this.stock(device.deviceId);
    if (path === '/v1/keys/packages' && method === 'POST') {
      const upload = check(KeyPackageUpload, body);
      for (const item of [
        ...upload.keyPackages,
        ...(upload.lastResort ? [upload.lastResort] : []),
      ]) {
        checkKeyPackage(item, device);
      }
      const stock = this.keyPackages.upload(device.deviceId, upload);
      this.emit('uploaded', { device, stock });
      return stock;
    }
    if (path === '/v1/keys/claim' && method === 'POST') {
      const { accountIds } = check(KeyPackageClaimRequest, body);
      const devices = [...this.devices.values()].map((d) => d.ref);
      const claimed = this.keyPackages.claim(device, accountIds, devices);
      for (const deviceId of new Set(claimed.map((c) => c.deviceId))) {
        const stock = this.stock(deviceId);
        if (stock.low) this.devices.get(deviceId)?.link?.socket.push({ t: 'keypackages', stock });
      }
      return { keyPackages: claimed };
    }
    const match = /^\/v1\/groups\/([^/]+)(\/commits|\/leave)?$/.exec(path);
    if (!match) throw new ParleyError('NOT_FOUND');
    const groupId = check(GroupId, match[1]);
    if (match[2] === '/commits' && method === 'POST') {
      return this.commit(device, groupId, check(CommitRequest, body));
    }
    if (match[2] === '/leave' && method === 'POST') {
      this.leave(device, groupId);
      return { groupId, left: true };
    }
    if (match[2] === undefined && method === 'GET') {
      const group = this.group(groupId);
      if (!group) throw new ParleyError('GROUP_NOT_FOUND');
      if (!group.members.some((m) => m.deviceId === device.deviceId)) {
        throw new ParleyError('NOT_GROUP_MEMBER');
      }
      return group;
    }
    throw new ParleyError('METHOD_NOT_ALLOWED');
  }

  /** As Groups.commit: the first Commit for the group's epoch wins. */
  private commit(device: DeviceRef, groupId: string, body: CommitRequest): GroupResponse {
    if (body.add.length > 0 && body.welcome === undefined) {
      throw new ParleyError('VALIDATION_FAILED', {
        details: [{ field: 'body/welcome', problem: 'adding devices needs a Welcome' }],
      });
    }
    let group = this.groups.get(groupId);
    if (!group) {
      if (body.epoch !== 0) throw new ParleyError('GROUP_NOT_FOUND');
      group = { epoch: 0, members: [device] };
      this.groups.set(groupId, group);
    }
    if (!group.members.some((m) => m.deviceId === device.deviceId)) {
      throw new ParleyError('NOT_GROUP_MEMBER');
    }
    if (body.epoch !== group.epoch) {
      this.emit('commit', { from: device, groupId, epoch: body.epoch, accepted: false });
      throw new ParleyError('EPOCH_CONFLICT', { details: { epoch: group.epoch } });
    }
    const before = group.members;
    const added = body.add.filter((a) => !before.some((m) => m.deviceId === a.deviceId));
    const missing = added.filter((a) => !this.devices.has(a.deviceId)).map((a) => a.deviceId);
    if (missing.length > 0) {
      throw new ParleyError('ACCOUNT_NOT_FOUND', { details: { deviceIds: missing } });
    }
    this.enqueue([
      ...before
        .filter((m) => m.deviceId !== device.deviceId)
        .map((m) => ({
          deviceId: m.deviceId,
          kind: 'commit' as const,
          groupId,
          from: device,
          epoch: body.epoch,
          payload: body.commit,
        })),
      ...added.map((a) => ({
        deviceId: a.deviceId,
        kind: 'welcome' as const,
        groupId,
        from: device,
        epoch: body.epoch + 1,
        ...(body.welcome !== undefined ? { payload: body.welcome } : {}),
        keyPackageId: a.keyPackageId,
      })),
    ]);
    group.members = [
      ...before.filter((m) => !body.remove.includes(m.deviceId)),
      ...added.map((a) => this.devices.get(a.deviceId)!.ref),
    ];
    group.epoch = body.epoch + 1;
    if (group.members.length === 0) this.groups.delete(groupId);
    this.emit('commit', { from: device, groupId, epoch: body.epoch, accepted: true });
    return { groupId, epoch: group.epoch, members: sorted(group.members) };
  }

  /** As Groups.leave: the account's devices stop receiving; the others are told. */
  private leave(device: DeviceRef, groupId: string): void {
    const group = this.groups.get(groupId);
    if (!group?.members.some((m) => m.deviceId === device.deviceId)) {
      throw new ParleyError('NOT_GROUP_MEMBER');
    }
    const told = group.members.filter((m) => m.deviceId !== device.deviceId);
    group.members = group.members.filter((m) => m.accountId !== device.accountId);
    if (group.members.length === 0) {
      this.groups.delete(groupId);
      return;
    }
    this.enqueue(
      told.map((m) => ({
        deviceId: m.deviceId,
        kind: 'leave' as const,
        groupId,
        from: device,
        epoch: group.epoch,
      })),
    );
  }

  // --- WebSocket ---

  private async onFrame(link: Link, text: string): Promise<void> {
    await this.pause();
    if (!link.socket.isOpen) return;
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      return this.error(
        link,
        new ParleyError('FRAME_INVALID', { details: { reason: 'not JSON' } }),
      );
    }
    const ref = (frame as { id?: unknown } | null)?.id;
    if (!Value.Check(ClientFrame, frame)) {
      const error = new ParleyError('FRAME_INVALID', { details: { reason: 'schema' } });
      return this.error(link, error, typeof ref === 'string' ? ref : undefined);
    }
    if (!link.device) {
      const device =
        frame.t === 'auth'
          ? [...this.devices.values()].find((d) => d.credential === frame.credential)
          : undefined;
      if (!device) {
        this.error(link, new ParleyError('WEBSOCKET_AUTH_REQUIRED'));
        return link.socket.drop(CLOSE_CODES.authFailed, 'invalid credential');
      }
      // A device has one socket: a second one replaces the first.
      device.link?.socket.drop(1000, 'replaced');
      link.device = device;
      device.link = link;
      link.socket.push({ t: 'ready', ...device.ref, keyPackages: this.stock(device.ref.deviceId) });
      this.emit('ready', device.ref);
      this.presenceChanged(device.ref.accountId);
      return this.pump(link);
    }
    const device = link.device;
    try {
      switch (frame.t) {
        case 'auth':
          throw new ParleyError('FRAME_INVALID', { details: { reason: 'already authenticated' } });
        case 'send':
          return this.send(link, device, frame);
        case 'ack':
          return this.ack(link, device, frame.seqs);
        case 'signal': {
          const group = this.groups.get(frame.groupId);
          if (!group?.members.some((m) => m.deviceId === device.ref.deviceId)) {
            throw new ParleyError('NOT_GROUP_MEMBER');
          }
          for (const m of group.members) {
            if (m.deviceId === device.ref.deviceId) continue;
            this.devices.get(m.deviceId)?.link?.socket.push({
              t: 'signal',
              groupId: frame.groupId,
              from: device.ref,
              payload: frame.payload,
            });
          }
          return;
        }
        case 'presence':
          link.watching = new Set(frame.accountIds);
          for (const accountId of link.watching) {
            link.socket.push({ t: 'presence', accountId, online: this.online(accountId) });
          }
          return;
      }
    } catch (error) {
      if (frame.t === 'send' && error instanceof ParleyError) {
        this.emit('refused', { from: device.ref, id: frame.id, code: error.code });
      }
      this.error(link, error, typeof ref === 'string' ? ref : undefined);
    }
  }

  /** As Mailbox.store: one copy per (sender device, id), for every other member device. */
  private send(link: Link, device: Device, frame: Extract<ClientFrame, { t: 'send' }>): void {
    const from = device.ref;
    this.emit('send', { from, id: frame.id });
    const fault = this.sendFaults.shift();
    if (fault && 'refuse' in fault) {
      this.emit('refused', { from, id: frame.id, code: fault.refuse });
      return this.error(link, new ParleyError(fault.refuse), frame.id);
    }
    if (fault?.drop === 'before-store') return link.socket.drop(1006, 'lost before storing');
    const key = `${from.deviceId}/${frame.id}`;
    const earlier = this.sent.get(key);
    let duplicate = false;
    if (earlier !== undefined) {
      if (earlier !== frame.payload) throw new ParleyError('MESSAGE_ID_REUSED');
      duplicate = true;
    } else {
      const group = this.groups.get(frame.groupId);
      if (!group) throw new ParleyError('GROUP_NOT_FOUND');
      if (!group.members.some((m) => m.deviceId === from.deviceId)) {
        throw new ParleyError('NOT_GROUP_MEMBER');
      }
      if (frame.epoch !== group.epoch) {
        throw new ParleyError('EPOCH_CONFLICT', { details: { epoch: group.epoch } });
      }
      this.sent.set(key, frame.payload);
      this.enqueue(
        group.members
          .filter((m) => m.deviceId !== from.deviceId)
          .map((m) => ({
            deviceId: m.deviceId,
            kind: 'application' as const,
            id: frame.id,
            groupId: frame.groupId,
            from,
            epoch: frame.epoch,
            payload: frame.payload,
          })),
      );
    }
    this.emit('stored', { from, id: frame.id, groupId: frame.groupId, duplicate });
    if (fault?.drop === 'after-store') return link.socket.drop(1006, 'lost after storing');
    link.socket.push({ t: 'stored', id: frame.id, duplicate });
  }

  /** As Mailbox.ack: deletes the entries, and queues one receipt per sender and conversation. */
  private ack(link: Link, device: Device, seqs: number[]): void {
    this.emit('ack', { from: device.ref, seqs, lost: device.loseAcks });
    if (device.loseAcks) return;
    const acked = device.queue.filter((e) => seqs.includes(e.seq));
    device.queue = device.queue.filter((e) => !seqs.includes(e.seq));
    for (const seq of seqs) link.inflight.delete(seq);
    const receipts = new Map<string, Entry & { ids: string[] }>();
    for (const e of acked) {
      if (e.kind !== 'application' || !this.devices.has(e.from.deviceId)) continue;
      const key = `${e.from.deviceId}/${e.groupId}`;
      const receipt = receipts.get(key);
      if (receipt) receipt.ids.push(e.id);
      else {
        receipts.set(key, {
          seq: 0,
          deviceId: e.from.deviceId,
          kind: 'receipt',
          id: e.id,
          groupId: e.groupId,
          from: device.ref,
          epoch: e.epoch,
          sentAt: '',
          ids: [e.id],
        });
      }
    }
    this.enqueue(
      [...receipts.values()].map(({ seq: _, sentAt: __, ids, ...r }) => ({
        ...r,
        ...(ids.length > 1 ? { ids } : {}),
      })),
    );
    this.pump(link);
  }

  // --- queues ---

  /** Appends entries to their devices' queues and delivers what can go now; returns the seqs. */
  private enqueue(
    entries: Array<{
      deviceId: string;
      kind: DeliveryKind;
      groupId: string;
      from: DeviceRef;
      epoch: number;
      id?: string;
      payload?: string;
      ids?: string[];
      keyPackageId?: string;
    }>,
  ): number[] {
    const sentAt = new Date().toISOString();
    const seqs: number[] = [];
    const woken = new Set<Device>();
    for (const e of entries) {
      const device = this.devices.get(e.deviceId);
      if (!device) continue;
      const seq = ++this.seq;
      device.queue.push({ ...e, seq, id: e.id ?? newId(), sentAt });
      seqs.push(seq);
      woken.add(device);
    }
    for (const device of woken) if (device.link) this.pump(device.link);
    return seqs;
  }

  /** Sends the entries after the last one sent, keeping at most a window unacknowledged. */
  private pump(link: Link): void {
    const device = link.device;
    if (!device || device.held || !link.socket.isOpen) return;
    for (const entry of device.queue) {
      if (link.inflight.size >= MESSAGING_LIMITS.deliveryWindow) break;
      if (entry.seq <= link.lastSent) continue;
      link.inflight.add(entry.seq);
      link.lastSent = entry.seq;
      link.socket.push(toFrame(entry));
    }
  }

  private detach(link: Link): void {
    this.links.delete(link);
    const device = link.device;
    if (device?.link !== link) return;
    device.link = undefined;
    this.presenceChanged(device.ref.accountId);
  }

  private online(accountId: string): boolean {
    return [...this.devices.values()].some((d) => d.ref.accountId === accountId && d.link);
  }

  private presenceChanged(accountId: string): void {
    const online = this.online(accountId);
    for (const link of this.links) {
      if (link.watching.has(accountId)) link.socket.push({ t: 'presence', accountId, online });
    }
  }

  private error(link: Link, error: unknown, ref?: string): void {
    const e = error instanceof ParleyError ? error : new ParleyError('INTERNAL');
    const frame: ServerFrame = {
      t: 'error',
      ...(ref !== undefined ? { ref } : {}),
      code: e.code,
      message: e.message,
      ...(e.details !== undefined ? { details: e.details } : {}),
    };
    link.socket.push(frame);
  }

  private mustDevice(deviceId: string): Device {
    const device = this.devices.get(deviceId);
    if (!device) throw new Error(`FakeServer: no device ${deviceId}`);
    return device;
  }

  private pause(): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, this.delayMs));
  }
}

function toFrame(e: Entry): DeliverFrame {
  const { deviceId: _, ...rest } = e;
  return { t: 'deliver', ...rest };
}

function sorted(members: DeviceRef[]): DeviceRef[] {
  return [...members]
    .map(({ accountId, deviceId }) => ({ accountId, deviceId }))
    .sort((a, b) =>
      a.accountId === b.accountId
        ? a.deviceId.localeCompare(b.deviceId)
        : a.accountId.localeCompare(b.accountId),
    );
}

function check<T extends TSchema>(schema: T, value: unknown): Static<T> {
  if (!Value.Check(schema, value)) {
    const first = Value.Errors(schema, value).First();
    throw new ParleyError('VALIDATION_FAILED', {
      details: [{ field: first?.path ?? '', problem: first?.message ?? 'invalid' }],
    });
  }
  return value;
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json' },
  });
}
