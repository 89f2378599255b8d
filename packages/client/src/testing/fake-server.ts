/**
 * A fake Parley server for the SDK's tests, in process (as centrifuge-js's `fakeServer.ts`): the
 * HTTP endpoints the messenger calls, through the `Fetch` an ApiClient takes, and the device
 * WebSocket, through the `SocketFactory` a Messenger takes. It speaks the real schemas from
 * @parley/core and follows packages/server/src/messaging: per-device queues delivered in order
 * and kept until acknowledged (fake-queues.ts), Commits sequenced per group epoch
 * (fake-groups.ts), KeyPackages claimed once (fake-key-packages.ts).
 *
 * Left out: registration and discovery, expiry, rate limits, several nodes, and the presence
 * setting (every account may watch every other).
 *
 * Faults: `refuseSends`, `dropOnSend`, `loseAcks`, `dropSocket`, `redeliver`, `duplicate`,
 * `inject`, `hold`/`release` and `delayMs`; and an operator's own hand, `rewrite`, which edits
 * (or withholds) any frame the server writes to a device, as a modified server could. What happened is read from the events (`send`,
 * `stored`, `refused`, `ack`, `commit`, `uploaded`, `ready`) and from `group`, `queue`, `stock`.
 *
 * @example
 * const server = new FakeServer();
 * const alice = server.addDevice();
 * const api = new ApiClient(server.url, new TransparencyLog(store), server.fetch);
 * api.credential = alice.credential;
 * const messenger = new Messenger(store, api, {
 *   serverUrl: server.url, credential: alice.credential, device: alice,
 *   socketFactory: server.socketFactory,
 * });
 */

import {
  CertificateRequest,
  CLOSE_CODES,
  type ClaimedKeyPackage,
  ClientFrame,
  CommitRequest,
  type DeliverFrame,
  type DeviceRef,
  type ErrorCode,
  GroupId,
  type GroupResponse,
  KeyPackageClaimRequest,
  type KeyPackageStock,
  KeyPackageUpload,
  ParleyError,
  type SendFrame,
  type ServerFrame,
  type Static,
  type TSchema,
} from '@parley/core';
import { Value } from '@sinclair/typebox/value';
import type { Fetch } from '../transport/api.js';
import type { SocketFactory } from '../transport/connection.js';
import { Emitter } from '../transport/emitter.js';
import { FakeGroups } from './fake-groups.js';
import { checkKeyPackage, FakeKeyPackages } from './fake-key-packages.js';
import {
  type Device,
  FakeQueues,
  type Link,
  type NewEntry,
  newId,
  toFrame,
} from './fake-queues.js';
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
  /** An ack frame arrived (`lost` when `loseAcks` threw it away). */
  ack: { from: DeviceRef; seqs: number[]; lost: boolean };
  /** A Commit was accepted, or refused for its epoch. */
  commit: { from: DeviceRef; groupId: string; epoch: number; accepted: boolean };
  /** A device uploaded KeyPackages; `stock` is what it holds now. */
  uploaded: { device: DeviceRef; stock: KeyPackageStock };
}

/** What the next send frames run into (see `refuseSends` and `dropOnSend`). */
type SendFault = { refuse: ErrorCode } | { drop: 'before-store' | 'after-store' };

let servers = 0;

export class FakeServer extends Emitter<FakeServerEvents> {
  readonly url: string;
  /** Latency of every message and answer, each way, in milliseconds. */
  delayMs = 0;
  private readonly queues = new FakeQueues();
  private readonly groups = new FakeGroups(this.queues, (from, groupId, body, accepted) =>
    this.emit('commit', { from, groupId, epoch: body.epoch, accepted }),
  );
  private readonly keyPackages = new FakeKeyPackages();
  /** Each device's certificate as it uploaded it (not checked: the SDK checks what it claims). */
  readonly certificates = new Map<string, string>();
  private readonly links = new Set<Link>();
  private readonly sendFaults: SendFault[] = [];
  private rewriter: ((frame: ServerFrame, to: DeviceRef) => ServerFrame | undefined) | undefined;
  private claimRewriter:
    | ((claimed: ClaimedKeyPackage[], by: DeviceRef) => ClaimedKeyPackage[])
    | undefined;

  constructor(url = `http://parley-fake-${++servers}.test`) {
    super();
    this.url = url;
  }

  // --- setup ---

  /** A new device, of a new account unless one is named; its credential authenticates it. */
  addDevice(accountId = newId()): FakeDevice {
    const ref = { accountId, deviceId: newId() };
    const credential = newId(24);
    this.queues.devices.set(ref.deviceId, {
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
    const device = this.queues.device(deviceId);
    this.groups.removeDevice(device.ref);
    this.keyPackages.forget(deviceId);
    this.queues.devices.delete(deviceId);
    device.link?.socket.drop(CLOSE_CODES.deviceRemoved, 'device removed');
  }

  // --- the two doors the SDK comes in by ---

  readonly fetch: Fetch = async (input, init) => {
    await this.pause();
    const url = new URL(input instanceof Request ? input.url : String(input));
    const auth = new Headers(init?.headers).get('authorization');
    try {
      const device = [...this.queues.devices.values()].find(
        (d) => `Bearer ${d.credential}` === auth,
      );
      if (!device) throw new ParleyError('UNAUTHENTICATED');
      const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as unknown) : undefined;
      return json(200, await this.route(device.ref, init?.method ?? 'GET', url.pathname, body));
    } catch (error) {
      const e = error instanceof ParleyError ? error : new ParleyError('INTERNAL');
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
        socket.rewrite = (frame) => {
          const to = link.device?.ref;
          return this.rewriter && to ? this.rewriter(frame as ServerFrame, to) : frame;
        };
        return {
          // Frames from one socket are handled one after another, as the server does.
          message: (text) => {
            link.chain = link.chain.then(() => this.onMessage(link, text));
          },
          closed: () => this.detach(link),
        };
      },
    );
  };

  // --- what a test reads ---

  /** The group as the server knows it (epoch, members), or undefined. */
  group(groupId: string): GroupResponse | undefined {
    return this.groups.get(groupId);
  }

  /** The device's unacknowledged entries, oldest first. */
  queue(deviceId: string): DeliverFrame[] {
    return this.queues.device(deviceId).queue.map(toFrame);
  }

  /** The device's KeyPackage stock, as GET /v1/keys/packages answers it. */
  stock(deviceId: string): KeyPackageStock {
    return this.keyPackages.stock(deviceId);
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
    this.queues.device(deviceId).loseAcks = on;
  }

  /** Closes the device's socket as a network drop would (1006); the SDK reconnects. */
  dropSocket(deviceId: string, code = 1006): void {
    this.queues.device(deviceId).link?.socket.drop(code, 'dropped by the test');
  }

  /** Sends the device's unacknowledged entries again, same seqs (as after a lost ack). */
  redeliver(deviceId: string): void {
    const device = this.queues.device(deviceId);
    const link = device.link;
    if (!link) return;
    for (const entry of device.queue) {
      if (entry.seq <= link.lastSent) link.socket.push(toFrame(entry));
    }
  }

  /** Queues a copy of one of the device's entries under a new seq (same message id). */
  duplicate(deviceId: string, seq: number): number {
    const entry = this.queues.device(deviceId).queue.find((e) => e.seq === seq);
    if (!entry) throw new Error(`FakeServer: no entry ${seq} queued for ${deviceId}`);
    const { seq: _, sentAt: __, ...copy } = entry;
    return this.queues.enqueue([copy])[0]!;
  }

  /** Queues an entry of the test's making (a corrupt payload, say); returns its seq. */
  inject(entry: NewEntry): number {
    return this.queues.enqueue([entry])[0]!;
  }

  /**
   * Every frame the server writes to a device goes through `fn` from now on: what it returns is
   * sent instead (undefined: nothing is sent). `rewrite(undefined)` stops it.
   *
   * @example
   * server.rewrite((f) => (f.t === 'deliver' ? { ...f, from: mallory } : f));
   */
  rewrite(fn: ((frame: ServerFrame, to: DeviceRef) => ServerFrame | undefined) | undefined): void {
    this.rewriter = fn;
  }

  /**
   * Every KeyPackage claim's answer goes through `fn` from now on (an operator handing out
   * KeyPackages of its own making); `rewriteClaims(undefined)` stops it.
   */
  rewriteClaims(
    fn: ((claimed: ClaimedKeyPackage[], by: DeviceRef) => ClaimedKeyPackage[]) | undefined,
  ): void {
    this.claimRewriter = fn;
  }

  /** Holds the device's deliveries (entries queue up) until `release`. */
  hold(deviceId: string): void {
    this.queues.device(deviceId).held = true;
  }

  release(deviceId: string): void {
    const device = this.queues.device(deviceId);
    device.held = false;
    if (device.link) this.queues.pump(device.link);
  }

  // --- HTTP ---

  private async route(
    device: DeviceRef,
    method: string,
    path: string,
    body: unknown,
  ): Promise<unknown> {
    const key = `${method} ${path}`;
    if (key === 'PUT /v1/device/certificate') {
      this.certificates.set(device.deviceId, check(CertificateRequest, body).certificate);
      return { ok: true };
    }
    if (key === 'GET /v1/keys/packages') return this.stock(device.deviceId);
    if (key === 'POST /v1/keys/packages') {
      const upload = check(KeyPackageUpload, body);
      for (const item of upload.keyPackages) await checkKeyPackage(item, device);
      if (upload.lastResort) await checkKeyPackage(upload.lastResort, device);
      const stock = this.keyPackages.upload(device.deviceId, upload);
      this.emit('uploaded', { device, stock });
      return stock;
    }
    if (key === 'POST /v1/keys/claim') {
      const { accountIds } = check(KeyPackageClaimRequest, body);
      const devices = [...this.queues.devices.values()].map((d) => d.ref);
      const claimed = this.keyPackages.claim(device, accountIds, devices);
      for (const deviceId of new Set(claimed.map((c) => c.deviceId))) {
        const stock = this.stock(deviceId);
        if (stock.low) this.queues.device(deviceId).link?.socket.push({ t: 'keypackages', stock });
      }
      return { keyPackages: this.claimRewriter?.(claimed, device) ?? claimed };
    }
    const match = /^\/v1\/groups\/([^/]+)(\/commits|\/leave)?$/.exec(path);
    if (!match) throw new ParleyError('NOT_FOUND');
    const groupId = check(GroupId, match[1]);
    if (method === 'POST' && match[2] === '/commits') {
      return this.groups.commit(device, groupId, check(CommitRequest, body));
    }
    if (method === 'POST' && match[2] === '/leave') {
      this.groups.leave(device, groupId);
      return { groupId, left: true };
    }
    if (method === 'GET' && match[2] === undefined) return this.groups.forMember(device, groupId);
    throw new ParleyError('METHOD_NOT_ALLOWED');
  }

  // --- WebSocket ---

  private async onMessage(link: Link, text: string): Promise<void> {
    await this.pause();
    if (!link.socket.isOpen) return;
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      this.error(link, new ParleyError('FRAME_INVALID', { details: { reason: 'not JSON' } }));
      return;
    }
    const ref = (frame as { id?: unknown } | null)?.id;
    const refText = typeof ref === 'string' ? ref : undefined;
    if (!Value.Check(ClientFrame, frame)) {
      this.error(
        link,
        new ParleyError('FRAME_INVALID', { details: { reason: 'schema' } }),
        refText,
      );
      return;
    }
    if (!link.device) {
      this.authenticate(link, frame);
      return;
    }
    const device = link.device;
    try {
      this.handle(link, device, frame);
    } catch (error) {
      if (frame.t === 'send' && error instanceof ParleyError) {
        this.emit('refused', { from: device.ref, id: frame.id, code: error.code });
      }
      this.error(link, error, refText);
    }
  }

  private authenticate(link: Link, frame: ClientFrame): void {
    const device =
      frame.t === 'auth'
        ? [...this.queues.devices.values()].find((d) => d.credential === frame.credential)
        : undefined;
    if (!device) {
      this.error(link, new ParleyError('WEBSOCKET_AUTH_REQUIRED'));
      link.socket.drop(CLOSE_CODES.authFailed, 'invalid credential');
      return;
    }
    // One socket per device here: a second one replaces the first.
    device.link?.socket.drop(1000, 'replaced');
    link.device = device;
    device.link = link;
    // `ready` first: nothing may be delivered before the client knows it is connected.
    link.socket.push({ t: 'ready', ...device.ref, keyPackages: this.stock(device.ref.deviceId) });
    this.emit('ready', device.ref);
    this.presenceChanged(device.ref.accountId);
    this.queues.pump(link);
  }

  private handle(link: Link, device: Device, frame: ClientFrame): void {
    switch (frame.t) {
      case 'auth':
        throw new ParleyError('FRAME_INVALID', { details: { reason: 'already authenticated' } });
      case 'send':
        this.send(link, device, frame);
        return;
      case 'ack':
        this.emit('ack', { from: device.ref, seqs: frame.seqs, lost: device.loseAcks });
        if (!device.loseAcks) this.queues.ack(link, device, frame.seqs);
        return;
      case 'signal': {
        // Relayed to the other members' connected devices, never stored.
        const group = this.groups.forMember(device.ref, frame.groupId);
        for (const m of group.members) {
          if (m.deviceId === device.ref.deviceId) continue;
          this.queues.devices.get(m.deviceId)?.link?.socket.push({
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
  }

  private send(link: Link, device: Device, frame: SendFrame): void {
    const from = device.ref;
    this.emit('send', { from, id: frame.id });
    const fault = this.sendFaults.shift();
    if (fault && 'refuse' in fault) throw new ParleyError(fault.refuse);
    if (fault?.drop === 'before-store') {
      link.socket.drop(1006, 'lost before storing');
      return;
    }
    const { duplicate } = this.queues.store(from, frame, this.groups.get(frame.groupId));
    this.emit('stored', { from, id: frame.id, groupId: frame.groupId, duplicate });
    if (fault?.drop === 'after-store') link.socket.drop(1006, 'lost after storing');
    else link.socket.push({ t: 'stored', id: frame.id, duplicate });
  }

  private detach(link: Link): void {
    this.links.delete(link);
    const device = link.device;
    if (device?.link !== link) return;
    device.link = undefined;
    this.presenceChanged(device.ref.accountId);
  }

  private online(accountId: string): boolean {
    return [...this.queues.devices.values()].some((d) => d.ref.accountId === accountId && d.link);
  }

  private presenceChanged(accountId: string): void {
    const online = this.online(accountId);
    for (const link of this.links) {
      if (link.watching.has(accountId)) link.socket.push({ t: 'presence', accountId, online });
    }
  }

  private error(link: Link, error: unknown, ref?: string): void {
    const e = error instanceof ParleyError ? error : new ParleyError('INTERNAL');
    link.socket.push({
      t: 'error',
      ...(ref !== undefined ? { ref } : {}),
      code: e.code,
      message: e.message,
      ...(e.details !== undefined ? { details: e.details } : {}),
    });
  }

  private pause(): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, this.delayMs));
  }
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
