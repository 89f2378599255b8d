/**
 * One WebSocket per device. The first frame authenticates (browsers cannot set headers on a
 * WebSocket); then the server pushes the device's queue in order, a window at a time, and each
 * entry stays queued until the device acknowledges its `seq`, so a dropped connection or a crashed
 * server redelivers instead of losing. Frames from the client are handled one after another, so
 * sends are stored in the order they were sent. A bad frame gets a typed error frame and the
 * connection stays open; only a failed authentication closes it.
 */

import {
  CLOSE_CODES,
  ClientFrame,
  type ClientFrame as ClientFrameType,
  type DeliverFrame,
  type DeviceRef,
  MESSAGING_LIMITS,
  ParleyError,
  Rerunnable,
  type ServerFrame,
} from '@parley/core';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { FastifyBaseLogger } from 'fastify';
import type { WebSocket } from 'ws';
import { deviceExists } from '../identity/device-store.js';
import { asParleyError } from '../infra/errors.js';
import type { Services } from '../services.js';
import type { DeviceConnection } from './hub.js';

const checkFrame = TypeCompiler.Compile(ClientFrame);
const FRAME_TYPES = new Set(['auth', 'send', 'ack', 'signal', 'presence']);

/** A batch of outgoing frames is sent at once when it reaches this size. */
const OUTGOING_FLUSH_BYTES = 256 * 1024;

export interface SocketOptions {
  authTimeoutMs: number;
  heartbeatMs: number;
}

export class DeviceSocket implements DeviceConnection {
  private device: DeviceRef | undefined;
  private chain: Promise<void> = Promise.resolve();
  private lastSent = 0;
  private readonly inflight = new Set<number>();
  private readonly unanswered = new Set<Promise<void>>();
  /** Delivery: one read of the queue at a time, and one more if woken meanwhile. */
  private readonly pumper = new Rerunnable(() => this.pumpPass());
  /** Entries may be queued beyond `lastSent`: set by wake(), cleared by a short read. */
  private dirty = true;
  /** `caught-up` was sent (once per connection, when a read first reached the queue's end). */
  private caughtUp = false;
  private alive = true;
  /** Shutting down: frames not yet handled are dropped (unanswered sends are retried later). */
  private closing = false;
  private readonly timers: NodeJS.Timeout[] = [];
  /** The accounts the device last asked to see online (some may not have allowed it yet). */
  private presenceRequest: readonly string[] = [];

  constructor(
    private readonly socket: WebSocket,
    private readonly services: Services,
    private readonly log: FastifyBaseLogger,
    options: SocketOptions,
  ) {
    this.timers.push(
      setTimeout(() => {
        if (!this.device) this.close(CLOSE_CODES.authTimeout, 'authenticate first');
      }, options.authTimeoutMs),
    );
    const heartbeat = setInterval(() => {
      if (!this.alive) return this.socket.terminate();
      this.alive = false;
      this.socket.ping();
    }, options.heartbeatMs);
    this.timers.push(heartbeat);
    socket.on('pong', () => {
      this.alive = true;
    });
    socket.on('message', (data, isBinary) => {
      if (this.closing) return;
      const size = Array.isArray(data)
        ? data.reduce((n, b) => n + b.length, 0)
        : (data as ArrayBuffer | Buffer).byteLength;
      this.chain = this.chain
        .then(() => this.onMessage(data, isBinary, size))
        .catch((error: unknown) => this.log.error({ err: error }, 'socket frame failed'));
    });
    socket.on('close', () => this.closed());
    socket.on('error', (error) => this.log.warn({ err: error }, 'socket error'));
  }

  get accountId(): string {
    return this.device!.accountId;
  }

  get deviceId(): string {
    return this.device!.deviceId;
  }

  /**
   * Frames pushed in one turn of the event loop leave as one WebSocket message, one JSON frame
   * per line (JSON text never contains a raw newline): one write instead of one per frame.
   */
  push(frame: ServerFrame): void {
    if (this.socket.readyState !== this.socket.OPEN) return;
    const text = JSON.stringify(frame);
    this.outgoing.push(text);
    this.outgoingBytes += text.length + 1;
    if (this.outgoingBytes >= OUTGOING_FLUSH_BYTES) this.flushOutgoing();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flushOutgoing());
    }
  }

  private outgoing: string[] = [];
  private outgoingBytes = 0;
  private flushScheduled = false;

  private flushOutgoing(): void {
    this.flushScheduled = false;
    if (this.outgoing.length === 0) return;
    const message = this.outgoing.join('\n');
    this.outgoing = [];
    this.outgoingBytes = 0;
    if (this.socket.readyState === this.socket.OPEN) this.socket.send(message);
  }

  wake(): void {
    this.dirty = true;
    void this.pump();
  }

  offer(frames: DeliverFrame[], after?: number): void {
    if (this.closing) return; // the entries stay queued for the next connection
    const fresh = frames.filter((f) => f.seq > this.lastSent);
    // Only when caught up: nothing older unsent (dirty, or an entry up to `after` not sent), no
    // read in flight, and room for all.
    if (
      !this.device ||
      this.dirty ||
      (after !== undefined && after > this.lastSent) ||
      this.pumper.running ||
      this.inflight.size + fresh.length > MESSAGING_LIMITS.deliveryWindow
    ) {
      this.wake();
      return;
    }
    for (const frame of fresh) {
      this.inflight.add(frame.seq);
      this.lastSent = frame.seq;
      this.push(frame);
    }
    this.services.mailbox.stats.delivered += fresh.length;
  }

  end(code: number, reason: string): void {
    this.close(code, reason);
  }

  recheckPresence(subject: string): void {
    const device = this.device;
    if (!device || this.closing || !this.presenceRequest.includes(subject)) return;
    const asked = this.presenceRequest;
    void this.services.allowList.visibleTo(device.accountId, asked).then(
      (visible) => {
        // A newer request replaced this one meanwhile: it was checked on its own.
        if (this.presenceRequest === asked) this.services.hub.watch(this, visible);
      },
      () => {},
    );
  }

  private close(code: number, reason: string): void {
    this.flushOutgoing();
    this.socket.close(code, reason);
  }

  /**
   * Graceful shutdown. Frames already being handled finish and every send handed to the mailbox
   * is answered; frames not yet handled are dropped, so a send is either stored and answered or
   * not stored at all (the SDK resends it after reconnecting). Then the answers go out and the
   * socket closes with 1001 (going away), which clients take as "reconnect".
   */
  async shutdown(handshakeMs = 2000): Promise<void> {
    this.closing = true;
    await this.chain;
    await Promise.allSettled([...this.unanswered]);
    if (this.socket.readyState === this.socket.CLOSED) return;
    const closed = new Promise<void>((resolve) => this.socket.once('close', () => resolve()));
    this.close(CLOSE_CODES.serverClosing, 'server shutting down');
    // A client that does not answer the close handshake does not hold the shutdown up.
    const timer = setTimeout(() => this.socket.terminate(), handshakeMs);
    await closed;
    clearTimeout(timer);
  }

  private closed(): void {
    for (const t of this.timers) clearTimeout(t);
    if (this.device) this.services.hub.detach(this);
  }

  private error(error: unknown, ref?: string): void {
    const e = asParleyError(error);
    if (e.code === 'INTERNAL') this.log.error({ err: error }, 'socket request failed');
    else if (e.code === 'SERVICE_UNAVAILABLE' && !(error instanceof ParleyError)) {
      this.log.warn({ err: error }, 'storage unavailable');
    }
    this.push({
      t: 'error',
      ...(ref !== undefined ? { ref } : {}),
      code: e.code,
      message: e.message,
      ...(e.retryAfterMs !== undefined ? { retryAfterMs: e.retryAfterMs } : {}),
      ...(e.details !== undefined ? { details: e.details } : {}),
    });
  }

  private async onMessage(
    data: Buffer | ArrayBuffer | Buffer[],
    isBinary: boolean,
    size: number,
  ): Promise<void> {
    if (this.closing) return;
    if (size > MESSAGING_LIMITS.frameBytes) {
      return this.error(
        new ParleyError('FRAME_TOO_LARGE', { details: { max: MESSAGING_LIMITS.frameBytes } }),
      );
    }
    if (isBinary) {
      return this.error(new ParleyError('FRAME_INVALID', { details: { reason: 'binary frame' } }));
    }
    let json: unknown;
    try {
      json = JSON.parse(Buffer.isBuffer(data) ? data.toString('utf8') : String(data));
    } catch {
      return this.error(new ParleyError('FRAME_INVALID', { details: { reason: 'not JSON' } }));
    }
    const ref = (json as { id?: unknown } | null)?.id;
    const refText = typeof ref === 'string' ? ref : undefined;
    if (!checkFrame.Check(json)) {
      const type = (json as { t?: unknown } | null)?.t;
      const first = checkFrame.Errors(json).First();
      return this.error(
        new ParleyError('FRAME_INVALID', {
          details:
            typeof type === 'string' && FRAME_TYPES.has(type)
              ? { type, field: first?.path ?? '', problem: first?.message ?? 'invalid' }
              : { reason: 'unknown frame type', type: typeof type === 'string' ? type : null },
        }),
        refText,
      );
    }
    const frame = json as ClientFrameType;
    if (!this.device) {
      if (frame.t !== 'auth') {
        this.error(new ParleyError('WEBSOCKET_AUTH_REQUIRED'));
        return this.close(CLOSE_CODES.authFailed, 'authenticate first');
      }
      return this.authenticate(frame.credential);
    }
    try {
      await this.handle(frame);
    } catch (error) {
      this.error(error, refText);
    }
  }

  private async authenticate(credential: string): Promise<void> {
    try {
      this.device = await this.services.accounts.authenticate(`Bearer ${credential}`);
    } catch {
      this.error(new ParleyError('WEBSOCKET_AUTH_REQUIRED'));
      return this.close(CLOSE_CODES.authFailed, 'invalid credential');
    }
    if (this.closing || this.socket.readyState !== this.socket.OPEN) return;
    const stock = await this.services.keyPackages.stock(this.device.deviceId);
    if (this.closing || this.socket.readyState !== this.socket.OPEN) return;
    // `ready` first: nothing may be delivered before the client knows it is connected.
    this.push({ t: 'ready', ...this.device, keyPackages: stock });
    this.services.hub.attach(this);
    this.services.push.connected(this.device.deviceId);
    // An account deleted since the credential was checked closed the sockets attached then;
    // this one was not yet, so it looks again now that it is (the deletion commits first).
    if (!(await deviceExists(this.services.db, this.device.deviceId))) {
      return this.close(CLOSE_CODES.accountDeleted, 'account deleted');
    }
    await this.pump();
  }

  private async handle(frame: ClientFrameType): Promise<void> {
    const device = this.device!;
    switch (frame.t) {
      case 'auth':
        throw new ParleyError('FRAME_INVALID', { details: { reason: 'already authenticated' } });
      case 'send': {
        // Not awaited: store() takes its place in the write queue now, so order is kept, and the
        // next frames go on while this batch is written (a window of sends, not one at a time).
        // Past a window of unanswered sends, this connection waits for the oldest: one client
        // cannot queue unbounded work or memory.
        if (this.unanswered.size >= MESSAGING_LIMITS.deliveryWindow) {
          await this.unanswered.values().next().value;
          // Shutdown began while this send waited: leave it unstored and unanswered.
          if (this.closing) return;
        }
        const answered: Promise<void> = this.services.mailbox.store(device, frame).then(
          ({ duplicate }) => this.push({ t: 'stored', id: frame.id, duplicate }),
          (error: unknown) => this.error(error, frame.id),
        );
        this.unanswered.add(answered);
        void answered.finally(() => this.unanswered.delete(answered));
        return;
      }
      case 'ack': {
        // Not awaited either: sends behind an ack need not wait for its transaction.
        this.services.mailbox.ack(device, frame.seqs).then(
          () => {
            for (const seq of frame.seqs) this.inflight.delete(seq);
            return this.pump();
          },
          (error: unknown) => this.error(error),
        );
        return;
      }
      case 'signal': {
        const devices = await this.services.groups.otherMemberDevices(device, frame.groupId);
        this.services.hub.relay(devices, {
          t: 'signal',
          groupId: frame.groupId,
          from: device,
          payload: frame.payload,
        });
        return;
      }
      case 'presence': {
        this.presenceRequest = frame.accountIds;
        const visible = await this.services.allowList.visibleTo(device.accountId, frame.accountIds);
        this.services.hub.watch(this, visible);
        return;
      }
    }
  }

  /** Sends queued entries after the last one sent, keeping at most a window unacknowledged. */
  private pump(): Promise<void> {
    if (!this.device || this.closing) return Promise.resolve();
    return this.pumper.run();
  }

  private async pumpPass(): Promise<void> {
    const deviceId = this.device!.deviceId;
    try {
      do {
        const room = MESSAGING_LIMITS.deliveryWindow - this.inflight.size;
        if (!this.dirty || room <= 0 || this.socket.readyState !== this.socket.OPEN) return;
        this.dirty = false;
        const frames = await this.services.mailbox.pending(deviceId, this.lastSent, room);
        for (const frame of frames) {
          this.inflight.add(frame.seq);
          this.lastSent = frame.seq;
          this.push(frame);
        }
        this.services.mailbox.stats.delivered += frames.length;
        // A full window may have left more behind it.
        if (frames.length === room) this.dirty = true;
        else if (!this.caughtUp) {
          this.caughtUp = true;
          this.push({ t: 'caught-up' });
        }
      } while (this.dirty);
    } catch (error) {
      this.log.error({ err: error }, 'delivery failed');
    }
  }
}
