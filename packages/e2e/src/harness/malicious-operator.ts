/**
 * Test support: the operator as the adversary. A man-in-the-middle reverse proxy on loopback in
 * front of a real `parley serve`, speaking HTTP and WebSocket, that rewrites what the server sends
 * exactly as a modified server could — and nothing a server could not: it sees what the server
 * sees (credentials, ciphertext, routing metadata), never a device's keys. SDK clients (their
 * `serverUrl`), the CLI (`--server`) and Chromium point at `url` and are attacked unchanged.
 *
 * - `onResponse(method, path, hook)`: rewrites the JSON body of matching HTTP responses.
 * - `onServerFrame(hook)`: rewrites, splits or drops server→client WebSocket frames, per
 *   connection; the connection knows its device from the credential of its `auth` frame.
 * - `inject(deviceId, frames)`: pushes forged frames to a device's sockets.
 * Anything unhooked passes through byte for byte. The server batches frames pushed in one turn
 * into one WebSocket message, one JSON text per line (`realtime/socket.ts`); hooks see one frame
 * at a time and the batch leaves as one message again. A forged `deliver` entry's acknowledgement
 * is kept from the real server, as a modified server would delete its own entry.
 *
 * @example
 * const operator = await MaliciousOperator.start({ PARLEY_LOG_LEVEL: 'warn' });
 * operator.onServerFrame((conn, frame) =>
 *   conn.deviceId === bobDevice && frame.t === 'deliver' ? { ...frame, from: carol } : frame,
 * );
 * const client = await ParleyClient.open({ serverUrl: operator.url, store, socket: nodeSocket });
 */

import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ServerFrame } from '@parley/core';
import WebSocket, { type RawData, WebSocketServer } from 'ws';
import { ServerProcess } from './server-process.js';

/** An HTTP request as the operator saw it, for a response hook to decide on. */
export interface ProxiedRequest {
  method: string;
  /** The path without the query string, e.g. `/v1/keypackages/claim`. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** The request body parsed as JSON (undefined when empty or not JSON). */
  body: unknown;
}

/** Returns the body the client gets instead (return `json` itself to leave it). */
export type ResponseHook = (
  req: ProxiedRequest,
  status: number,
  json: unknown,
) => unknown | Promise<unknown>;

/** The body the client gets instead of the server's, for a request to `path`. */
export type RawResponseHook = (path: string) => Uint8Array | Promise<Uint8Array>;

/** One device socket through the operator. */
export interface OperatorConnection {
  readonly id: number;
  /** From the `auth` frame's credential (`<deviceId>.<secret>`); undefined before it. */
  readonly deviceId: string | undefined;
  /** From the server's `ready` frame; undefined before it. */
  readonly accountId: string | undefined;
  /** Pushes frames to this socket as one WebSocket message, as if the server had sent them. */
  push(frames: object | readonly object[]): void;
}

/**
 * Returns what the client gets instead of `frame`: the frame (changed or not), several frames, or
 * null to drop it. Runs synchronously, so the order of everything else is kept.
 */
export type ServerFrameHook = (
  conn: OperatorConnection,
  frame: ServerFrame,
) => object | readonly object[] | null;

/** Sees each client→server frame; returns null to keep it from the server. */
export type ClientFrameHook = (
  conn: OperatorConnection,
  frame: Record<string, unknown>,
) => object | null;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);
/** Bounds: sockets at once, one WebSocket message, one buffered HTTP body. */
const MAX_CONNECTIONS = 256;
const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
const MAX_BODY_BYTES = 8 * 1024 * 1024;
/** What a WebSocket close may carry (1005, 1006 and 1015 are never sent on the wire). */
const sendableClose = (code: number) =>
  (code >= 1000 && code <= 1014 && ![1004, 1005, 1006].includes(code)) ||
  (code >= 3000 && code <= 4999);

export class MaliciousOperator {
  private readonly rawHooks: Array<{
    method: string;
    path: string | RegExp;
    hook: RawResponseHook;
  }> = [];
  private readonly responseHooks: Array<{
    method: string;
    path: string | RegExp;
    hook: ResponseHook;
  }> = [];
  private readonly frameHooks: ServerFrameHook[] = [];
  private readonly clientHooks: ClientFrameHook[] = [];
  private readonly links = new Set<Link>();
  private readonly forged = new Set<number>();
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64 });
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_MESSAGE_BYTES,
    perMessageDeflate: false,
  });
  private nextId = 1;
  private forgedSeq = 2 ** 52;
  private closed = false;
  /** Where it listens: give this to clients as their server URL. */
  url = '';

  private constructor(
    /** The real server behind it. */
    readonly server: ServerProcess,
    private readonly owned: boolean,
    private readonly http: Server,
  ) {}

  /** Starts a `parley serve` (ServerProcess.start with `env`) and the operator in front of it. */
  static async start(env: Record<string, string> = {}): Promise<MaliciousOperator> {
    const server = await ServerProcess.start(env);
    try {
      return await MaliciousOperator.front(server, true);
    } catch (error) {
      await server.stop();
      throw error;
    }
  }

  /** An operator in front of a running server; `close()` stops it only if `owned`. */
  static async front(server: ServerProcess, owned = false): Promise<MaliciousOperator> {
    const target = new URL(server.url);
    if (!LOOPBACK.has(target.hostname)) throw new Error(`not a loopback server: ${server.url}`);
    const http = createServer();
    http.maxConnections = MAX_CONNECTIONS;
    const operator = new MaliciousOperator(server, owned, http);
    http.on('request', (req, res) => void operator.forward(req, res, target));
    http.on('upgrade', (req, socket, head) => operator.upgrade(req, socket, head, target));
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(0, '127.0.0.1', () => resolve());
    });
    operator.url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    return operator;
  }

  // --- hooks ---

  /**
   * Rewrites the JSON bodies of responses to `method` requests whose path is `path` (or matches
   * it). Hooks run in the order added. Returns a function that removes the hook.
   */
  onResponse(method: string, path: string | RegExp, hook: ResponseHook): () => void {
    const entry = { method: method.toUpperCase(), path, hook };
    this.responseHooks.push(entry);
    return () => remove(this.responseHooks, entry);
  }

  /**
   * Answers `method` requests to `path` (or matching it) with bytes of the operator's making, in
   * place of whatever the server answered (a binary snapshot, say). Returns its remover.
   */
  onRawResponse(method: string, path: string | RegExp, hook: RawResponseHook): () => void {
    const entry = { method: method.toUpperCase(), path, hook };
    this.rawHooks.push(entry);
    return () => remove(this.rawHooks, entry);
  }

  /** Rewrites server→client frames; hooks run in the order added. Returns its remover. */
  onServerFrame(hook: ServerFrameHook): () => void {
    this.frameHooks.push(hook);
    return () => remove(this.frameHooks, hook);
  }

  /** Sees (and may withhold) client→server frames. Returns its remover. */
  onClientFrame(hook: ClientFrameHook): () => void {
    this.clientHooks.push(hook);
    return () => remove(this.clientHooks, hook);
  }

  /** Removes every hook (between test cases). */
  reset(): void {
    this.responseHooks.length = 0;
    this.rawHooks.length = 0;
    this.frameHooks.length = 0;
    this.clientHooks.length = 0;
  }

  // --- forging ---

  /** The open, authenticated sockets of a device (or every open one). */
  connections(deviceId?: string): OperatorConnection[] {
    return [...this.links].filter(
      (l) => l.open && (deviceId === undefined || l.deviceId === deviceId),
    );
  }

  /**
   * Pushes forged frames to every open socket of `deviceId`, unhooked, as one WebSocket message;
   * returns how many sockets got them (0: the device is not connected).
   */
  inject(deviceId: string, frames: object | readonly object[]): number {
    const sockets = this.connections(deviceId);
    for (const conn of sockets) conn.push(frames);
    return sockets.length;
  }

  /**
   * A `seq` for a forged `deliver` entry that no real entry has: above every seq the server will
   * hand out in a test (its sequences count from 1), within the protocol's limit.
   */
  forgeSeq(): number {
    return this.forgedSeq++;
  }

  /** Closes every socket (1001, as a server going away), the proxy, and the server if it owns it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.links].map((link) => link.end()));
    this.wss.close();
    await new Promise<void>((resolve) => {
      this.http.close(() => resolve());
      this.http.closeAllConnections();
    });
    this.agent.destroy();
    if (this.owned) await this.server.stop();
  }

  // --- HTTP ---

  private async forward(req: IncomingMessage, res: ServerResponse, target: URL): Promise<void> {
    try {
      const body = await readBody(req);
      const url = new URL(req.url ?? '/', target);
      const hooks = this.responseHooks.filter(
        (h) =>
          h.method === req.method &&
          (typeof h.path === 'string' ? h.path === url.pathname : h.path.test(url.pathname)),
      );
      const upstream = await new Promise<IncomingMessage>((resolve, reject) => {
        const out = httpRequest(
          {
            host: target.hostname,
            port: target.port,
            method: req.method,
            path: req.url,
            headers: req.headers,
            agent: this.agent,
          },
          resolve,
        );
        out.once('error', reject);
        out.end(body);
      });
      const status = upstream.statusCode ?? 502;
      const made = this.rawHooks.find(
        (h) =>
          h.method === req.method &&
          (typeof h.path === 'string' ? h.path === url.pathname : h.path.test(url.pathname)),
      );
      if (made) {
        upstream.resume();
        const bytes = await made.hook(url.pathname);
        res.writeHead(200, {
          'content-type': 'application/octet-stream',
          'content-length': String(bytes.length),
        });
        res.end(Buffer.from(bytes));
        return;
      }
      const json = /\bjson\b/.test(String(upstream.headers['content-type'] ?? ''));
      if (hooks.length === 0 || !json) {
        res.writeHead(status, upstream.statusMessage, upstream.rawHeaders);
        upstream.pipe(res);
        return;
      }
      const raw = await readBody(upstream);
      let value: unknown = parseJson(raw);
      const original = value === undefined ? undefined : JSON.stringify(value);
      if (value !== undefined) {
        const seen: ProxiedRequest = {
          method: req.method ?? 'GET',
          path: url.pathname,
          query: url.searchParams,
          headers: req.headers,
          body: parseJson(body),
        };
        for (const { hook } of hooks) value = await hook(seen, status, value);
      }
      const rewritten = value === undefined ? undefined : JSON.stringify(value);
      if (rewritten === original) {
        res.writeHead(status, upstream.statusMessage, upstream.rawHeaders);
        res.end(raw);
        return;
      }
      const headers: OutgoingHttpHeaders = { ...upstream.headers };
      const bytes = Buffer.from(rewritten ?? '');
      headers['content-length'] = String(bytes.length);
      delete headers['transfer-encoding'];
      res.writeHead(status, headers);
      res.end(bytes);
    } catch (error) {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`operator proxy: ${String(error)}`);
    }
  }

  // --- WebSocket ---

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, target: URL): void {
    if (this.closed || this.links.size >= MAX_CONNECTIONS) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n');
      return;
    }
    const url = new URL(req.url ?? '/', target);
    url.protocol = 'ws:';
    const headers: Record<string, string> = {};
    for (const name of ['origin', 'user-agent']) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    // The server's side first: a refused upgrade reaches the client as the server's answer.
    const upstream = new WebSocket(url, {
      headers,
      maxPayload: MAX_MESSAGE_BYTES,
      perMessageDeflate: false,
    });
    upstream.once('unexpected-response', (_request, response) => {
      socket.end(
        `HTTP/1.1 ${response.statusCode} ${response.statusMessage}\r\nConnection: close\r\n\r\n`,
      );
      response.resume();
    });
    upstream.once('error', () => socket.destroy());
    upstream.once('open', () => {
      if (this.closed) {
        upstream.terminate();
        socket.destroy();
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (client) => {
        const link = new Link(
          this.nextId++,
          client,
          upstream,
          this.frameHooks,
          this.clientHooks,
          this.forged,
        );
        this.links.add(link);
        client.once('close', () => this.links.delete(link));
      });
    });
  }
}

/** One client socket and its socket to the server. */
class Link implements OperatorConnection {
  deviceId: string | undefined;
  accountId: string | undefined;
  /** Seqs of `deliver` entries the server sent on this socket and the client has not acked. */
  private readonly real = new Set<number>();

  constructor(
    readonly id: number,
    private readonly client: WebSocket,
    private readonly upstream: WebSocket,
    private readonly frameHooks: readonly ServerFrameHook[],
    private readonly clientHooks: readonly ClientFrameHook[],
    /** Seqs of entries forged on any socket: an ack may come on the next connection. */
    private readonly forged: Set<number>,
  ) {
    upstream.on('message', (data, isBinary) => this.fromServer(data, isBinary));
    client.on('message', (data, isBinary) => this.fromClient(data, isBinary));
    upstream.on('close', (code, reason) => closeLike(client, code, reason));
    client.on('close', (code, reason) => closeLike(upstream, code, reason));
    upstream.on('error', () => client.terminate());
    client.on('error', () => upstream.terminate());
  }

  get open(): boolean {
    return this.client.readyState === WebSocket.OPEN;
  }

  push(frames: object | readonly object[]): void {
    const list = Array.isArray(frames) ? frames : [frames];
    this.noteForged(list);
    if (this.open && list.length > 0)
      this.client.send(list.map((f) => JSON.stringify(f)).join('\n'));
  }

  /** Closes as a server going away (1001); a client that does not answer is cut after 1 s. */
  async end(): Promise<void> {
    if (this.client.readyState === WebSocket.CLOSED) {
      this.upstream.terminate();
      return;
    }
    const closed = new Promise((resolve) => this.client.once('close', resolve));
    // The client first: once it is closing, the server's side going down is not relayed to it.
    this.client.close(1001, 'operator closing');
    this.upstream.terminate();
    const timer = setTimeout(() => this.client.terminate(), 1000);
    await closed;
    clearTimeout(timer);
  }

  private fromServer(data: RawData, isBinary: boolean): void {
    if (!this.open) return;
    const raw = toBuffer(data);
    if (isBinary || this.frameHooks.length === 0) {
      this.notice(raw, isBinary);
      this.client.send(raw, { binary: isBinary });
      return;
    }
    const out: string[] = [];
    let changed = false;
    for (const line of raw.toString('utf8').split('\n')) {
      const frame = this.noticeFrame(line);
      if (!frame) {
        out.push(line);
        continue;
      }
      const before = JSON.stringify(frame);
      let result: readonly object[] = [frame];
      for (const hook of this.frameHooks) {
        result = result.flatMap((f) => {
          const next = hook(this, f as ServerFrame);
          return next === null ? [] : Array.isArray(next) ? next : [next];
        });
      }
      const texts = result.map((f) => JSON.stringify(f));
      if (texts.length === 1 && texts[0] === before) {
        out.push(line);
        continue;
      }
      changed = true;
      this.noteForged(result);
      out.push(...texts);
    }
    if (!changed) this.client.send(raw, { binary: false });
    else if (out.length > 0) this.client.send(out.join('\n'));
  }

  /** Learns from what the server sends: the account (`ready`) and the seqs it queued. */
  private notice(raw: Buffer, isBinary: boolean): void {
    if (!isBinary) for (const line of raw.toString('utf8').split('\n')) this.noticeFrame(line);
  }

  private noticeFrame(line: string): ServerFrame | undefined {
    const frame = parseJson(line);
    if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) return undefined;
    const f = frame as ServerFrame;
    if (f.t === 'ready') this.accountId = f.accountId;
    if (f.t === 'deliver') this.real.add(f.seq);
    return f;
  }

  private fromClient(data: RawData, isBinary: boolean): void {
    if (this.upstream.readyState !== WebSocket.OPEN) return;
    const raw = toBuffer(data);
    const frame = isBinary ? undefined : parseJson(raw.toString('utf8'));
    if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) {
      this.upstream.send(raw, { binary: isBinary });
      return;
    }
    let value = frame as Record<string, unknown>;
    if (value.t === 'auth' && typeof value.credential === 'string' && !this.deviceId) {
      this.deviceId = value.credential.split('.')[0];
    }
    if (value.t === 'ack' && Array.isArray(value.seqs)) {
      // The server never hears of an entry it did not queue.
      const seqs = value.seqs.filter((s) => !this.forged.has(s) || this.real.has(s));
      for (const s of value.seqs) this.real.delete(s);
      if (seqs.length === 0) return;
      if (seqs.length !== value.seqs.length) value = { ...value, seqs };
    }
    for (const hook of this.clientHooks) {
      const next = hook(this, value);
      if (next === null) return;
      value = next as Record<string, unknown>;
    }
    if (value === frame) this.upstream.send(raw, { binary: false });
    else this.upstream.send(JSON.stringify(value));
  }

  private noteForged(frames: readonly object[]): void {
    for (const f of frames) {
      const { t, seq } = f as { t?: unknown; seq?: unknown };
      if (t === 'deliver' && typeof seq === 'number' && !this.real.has(seq)) this.forged.add(seq);
    }
  }
}

function closeLike(socket: WebSocket, code: number, reason: Buffer): void {
  if (socket.readyState === WebSocket.CLOSED || socket.readyState === WebSocket.CLOSING) return;
  if (code === 1006) socket.terminate();
  else if (sendableClose(code)) socket.close(code, reason);
  else socket.close();
}

function readBody(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        stream.destroy();
        reject(new Error(`body over ${MAX_BODY_BYTES} bytes`));
      } else chunks.push(chunk);
    });
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}

function parseJson(text: string | Buffer): unknown {
  if (text.length === 0) return undefined;
  try {
    return JSON.parse(text.toString());
  } catch {
    return undefined;
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function remove<T>(list: T[], item: T): void {
  const i = list.indexOf(item);
  if (i >= 0) list.splice(i, 1);
}
