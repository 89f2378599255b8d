/**
 * An in-memory WebSocket for the fake server. The client's end is a `SocketLike` (what the SDK's
 * Connection takes from its `SocketFactory`); the server's end is a pair of callbacks. Everything
 * crosses on a later turn of the event loop, in order, as over a network: frames the server
 * pushes in one turn leave as one message, one JSON frame per line, as the real server batches
 * them. A drop loses whatever is still in flight. Like a real socket, an open one keeps the
 * process alive.
 */

import type { SocketLike } from '../transport/connection.js';

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 3;

/** The server's end of a socket. */
export interface SocketPeer {
  message(text: string): void;
  closed(code: number, reason: string): void;
}

/** Callbacks run in order, each after `delayMs()`, batched per turn. */
class Pipe {
  private readonly items: Array<() => void> = [];
  private scheduled = false;

  constructor(private readonly delayMs: () => number) {}

  put(item: () => void): void {
    this.items.push(item);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.items.length === 0) return;
    this.scheduled = true;
    setTimeout(() => {
      this.scheduled = false;
      for (const item of this.items.splice(0)) item();
      this.schedule();
    }, this.delayMs());
  }
}

export class FakeSocket implements SocketLike {
  readyState = CONNECTING;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  private readonly up: Pipe;
  private readonly down: Pipe;
  private outgoing: string[] = [];
  /** The handle that keeps the process alive while the socket is open. */
  private alive: ReturnType<typeof setInterval> | undefined;

  /** @param accept called once the socket is open; returns the server's end. */
  constructor(
    readonly url: string,
    delayMs: () => number,
    private readonly accept: (socket: FakeSocket) => SocketPeer,
  ) {
    this.up = new Pipe(delayMs);
    this.down = new Pipe(delayMs);
    this.down.put(() => {
      if (this.readyState !== CONNECTING) return;
      this.readyState = OPEN;
      this.alive = setInterval(() => {}, 60_000);
      this.peer = this.accept(this);
      this.onopen?.({});
    });
  }

  private peer: SocketPeer | undefined;

  get isOpen(): boolean {
    return this.readyState === OPEN;
  }

  // --- the client's end ---

  send(data: string): void {
    if (this.readyState !== OPEN) throw new Error('FakeSocket: send on a socket that is not open');
    const peer = this.peer!;
    this.up.put(() => peer.message(data));
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState === CLOSED) return;
    const peer = this.peer;
    this.readyState = CLOSED;
    clearInterval(this.alive);
    this.up.put(() => peer?.closed(code, reason));
    this.down.put(() => this.onclose?.({ code, reason }));
  }

  // --- the server's end ---

  /** What the server writes passes through here first (a test's operator rewrites it). */
  rewrite: ((frame: unknown) => unknown) | undefined;

  /** Queues a frame; the frames of one turn reach the client as one message. */
  push(frame: unknown): void {
    if (this.readyState !== OPEN) return;
    const sent = this.rewrite ? this.rewrite(frame) : frame;
    if (sent === undefined) return;
    this.outgoing.push(JSON.stringify(sent));
    if (this.outgoing.length > 1) return;
    this.down.put(() => {
      const lines = this.outgoing.splice(0);
      if (this.readyState === OPEN && lines.length > 0)
        this.onmessage?.({ data: lines.join('\n') });
    });
  }

  /** The server closes (or the network drops) the socket: what is in flight is lost. */
  drop(code: number, reason: string): void {
    if (this.readyState === CLOSED) return;
    const peer = this.peer;
    this.readyState = CLOSED;
    clearInterval(this.alive);
    this.outgoing = [];
    peer?.closed(code, reason);
    this.down.put(() => this.onclose?.({ code, reason }));
  }
}
