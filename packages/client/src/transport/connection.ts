/**
 * The device's WebSocket: it authenticates with its first frame, reconnects with backoff when the
 * connection drops, and turns `stored`/`error` answers back into the promise of the send they
 * answer. What must survive a drop (unsent messages, unacknowledged deliveries) is the
 * messenger's business: this layer only says when it is connected again.
 */

import {
  CLOSE_CODES,
  isErrorCode,
  ParleyError,
  type ServerFrame,
  ServerFrame as ServerFrameSchema,
} from '@parley/core';
import { Value } from '@sinclair/typebox/value';
import { Emitter } from './emitter.js';

/** The subset of the WebSocket API this SDK uses (browsers' WebSocket and `ws` both fit). */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

export type SocketFactory = (url: string) => SocketLike;

const OPEN = 1;
const {
  authFailed: AUTH_FAILED,
  accountDeleted: ACCOUNT_DELETED,
  deviceRemoved: DEVICE_REMOVED,
} = CLOSE_CODES;

interface ConnectionEvents extends Record<string, unknown> {
  frame: ServerFrame;
  ready: Extract<ServerFrame, { t: 'ready' }>;
  down: { code: number; reason: string };
  fatal: ParleyError;
}

export class Connection extends Emitter<ConnectionEvents> {
  private socket: SocketLike | undefined;
  private ready = false;
  private stopped = false;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly pending = new Map<
    string,
    { resolve: (duplicate: boolean) => void; reject: (error: ParleyError) => void }
  >();

  constructor(
    private readonly url: string,
    private readonly credential: string,
    private readonly factory: SocketFactory,
  ) {
    super();
  }

  get isReady(): boolean {
    return this.ready;
  }

  start(): void {
    this.stopped = false;
    this.open();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.socket?.close(1000, 'client closing');
    this.socket = undefined;
    this.ready = false;
    this.failPending(new ParleyError('CONNECTION_CLOSED'));
  }

  /** Sends a frame now; false when not connected (the caller retries on `ready`). */
  send(frame: Record<string, unknown>): boolean {
    if (!this.ready || this.socket?.readyState !== OPEN) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  /** Sends a message frame and resolves when the server has stored it durably. */
  sendMessage(frame: { t: 'send'; id: string } & Record<string, unknown>): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.pending.get(frame.id)?.reject(new ParleyError('CONNECTION_CLOSED'));
      this.pending.set(frame.id, { resolve, reject });
      if (!this.send(frame)) {
        this.pending.delete(frame.id);
        reject(new ParleyError('CONNECTION_CLOSED'));
      }
    });
  }

  private open(): void {
    const url = new URL('/v1/socket', this.url);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const socket = this.factory(url.toString());
    this.socket = socket;
    socket.onopen = () => socket.send(JSON.stringify({ t: 'auth', credential: this.credential }));
    socket.onmessage = (event) => this.onMessage(event.data);
    socket.onerror = () => {};
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.ready = false;
      this.failPending(new ParleyError('CONNECTION_CLOSED'));
      this.emit('down', { code: event.code, reason: event.reason });
      if (
        event.code === AUTH_FAILED ||
        event.code === ACCOUNT_DELETED ||
        event.code === DEVICE_REMOVED
      ) {
        this.stopped = true;
        this.emit(
          'fatal',
          event.code === ACCOUNT_DELETED
            ? new ParleyError('UNAUTHENTICATED', {
                message: 'This account was deleted; register again to use Parley.',
                details: { reason: 'account-deleted' },
              })
            : event.code === DEVICE_REMOVED
              ? new ParleyError('UNAUTHENTICATED', {
                  message:
                    'This device was signed out (from another device, or its number was registered again as a new identity); link it from a device of your account, or register again.',
                  details: { reason: 'device-removed' },
                })
              : new ParleyError('UNAUTHENTICATED'),
        );
        return;
      }
      if (this.stopped) return;
      const delay = Math.min(5_000, 100 * 2 ** this.attempt++) * (0.5 + Math.random() / 2);
      this.retryTimer = setTimeout(() => this.open(), delay);
    };
  }

  private failPending(error: ParleyError): void {
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
  }

  /** One WebSocket message carries one or more frames, one JSON text per line. */
  private onMessage(data: unknown): void {
    const text = typeof data === 'string' ? data : new TextDecoder().decode(data as Uint8Array);
    for (const line of text.split('\n')) this.onFrame(line);
  }

  private onFrame(line: string): void {
    let frame: unknown;
    try {
      frame = JSON.parse(line);
    } catch {
      return;
    }
    if (!Value.Check(ServerFrameSchema, frame)) return;
    switch (frame.t) {
      case 'ready':
        this.ready = true;
        this.attempt = 0;
        this.emit('ready', frame);
        break;
      case 'stored': {
        const p = this.pending.get(frame.id);
        this.pending.delete(frame.id);
        p?.resolve(frame.duplicate);
        break;
      }
      case 'error': {
        const p = frame.ref === undefined ? undefined : this.pending.get(frame.ref);
        if (p && frame.ref !== undefined) {
          this.pending.delete(frame.ref);
          p.reject(
            new ParleyError(isErrorCode(frame.code) ? frame.code : 'INVALID_RESPONSE', {
              message: frame.message,
              details: frame.details,
              ...(frame.retryAfterMs !== undefined ? { retryAfterMs: frame.retryAfterMs } : {}),
            }),
          );
        }
        break;
      }
    }
    this.emit('frame', frame);
  }
}
