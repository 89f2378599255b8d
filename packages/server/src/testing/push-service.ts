/**
 * A push service for tests (RFC 8030), on a local port: it hands out subscriptions as a browser
 * would have them (a fresh P-256 key pair and auth secret each), and for every push it receives
 * checks the VAPID authorization (vapid-jwt.ts) and decrypts the body (rfc8291-decrypt.ts) —
 * both written apart from the sending library. A push that fails either check is answered 401 /
 * 400 and kept in `rejected`. Tests script answers per subscription (410, 429 with Retry-After,
 * 503) to see what the server does with them; unscripted pushes get 201 Created.
 *
 * Plain HTTP on 127.0.0.1: the server accepts such endpoints only with
 * PARLEY_PUSH_ALLOW_HTTP_LOOPBACK=true. What a push service reached over HTTPS would see is the
 * same request.
 */

import { createECDH, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decryptAes128gcm } from './rfc8291-decrypt.js';
import { verifyVapid } from './vapid-jwt.js';

/** What PushSubscription.toJSON() gives in a browser. */
export interface TestSubscription {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

export interface ReceivedPush {
  /** Which subscription it was for (the last path segment of the endpoint). */
  id: string;
  headers: IncomingMessage['headers'];
  /** The body as it arrived (encrypted). */
  body: Buffer;
  /** The body decrypted with the subscription's keys. */
  plaintext: string;
  /** The k= of the VAPID header: the server's public key. */
  vapidKey: string;
  /** The status it was answered with. */
  status: number;
}

export interface ScriptedAnswer {
  status: number;
  retryAfter?: string;
}

interface Receiver {
  privateKey: Buffer;
  publicKey: Buffer;
  authSecret: Buffer;
  answers: ScriptedAnswer[];
}

export class TestPushService {
  readonly received: ReceivedPush[] = [];
  readonly rejected: Array<{ id: string; reason: string }> = [];
  private readonly receivers = new Map<string, Receiver>();
  private waiters: Array<() => void> = [];
  private constructor(
    private readonly server: Server,
    readonly origin: string,
  ) {}

  static async start(): Promise<TestPushService> {
    let self: TestPushService | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const answer = self!.handle(req, Buffer.concat(chunks));
        const headers: Record<string, string> = {};
        if (answer.retryAfter !== undefined) headers['retry-after'] = answer.retryAfter;
        if (answer.status === 201) headers.location = `${self!.origin}/message/${Date.now()}`;
        res.writeHead(answer.status, headers).end();
        self!.notify();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    self = new TestPushService(server, `http://127.0.0.1:${port}`);
    return self;
  }

  /** A new subscription, as a browser would create it against this service. */
  subscribe(): TestSubscription & { id: string } {
    const ecdh = createECDH('prime256v1');
    const publicKey = ecdh.generateKeys();
    const privateKey = ecdh.getPrivateKey();
    const authSecret = randomBytes(16);
    const id = randomBytes(12).toString('base64url');
    this.receivers.set(id, { privateKey, publicKey, authSecret, answers: [] });
    return {
      id,
      endpoint: `${this.origin}/push/${id}`,
      keys: { p256dh: publicKey.toString('base64url'), auth: authSecret.toString('base64url') },
    };
  }

  /** The next pushes to this subscription are answered so, in order (then 201 again). */
  script(id: string, ...answers: ScriptedAnswer[]): void {
    this.receivers.get(id)!.answers.push(...answers);
  }

  /** Accepted pushes for one subscription. */
  deliveredTo(id: string): ReceivedPush[] {
    return this.received.filter((p) => p.id === id && p.status === 201);
  }

  /** Waits until `predicate` holds over what has arrived (a generous bound, not a timing test). */
  async waitFor(predicate: () => boolean, what: string, ms = 30_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`the push service never saw ${what}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200).unref();
      });
    }
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }

  private handle(req: IncomingMessage, body: Buffer): ScriptedAnswer {
    const match = /^\/push\/([A-Za-z0-9_-]+)$/.exec(req.url ?? '');
    const receiver = match && this.receivers.get(match[1]!);
    if (!match || !receiver || req.method !== 'POST') return { status: 404 };
    const id = match[1]!;
    let vapidKey: string;
    let plaintext: string;
    try {
      vapidKey = verifyVapid(req.headers.authorization, this.origin).publicKey;
    } catch (error) {
      this.rejected.push({ id, reason: (error as Error).message });
      return { status: 401 };
    }
    try {
      // RFC 8030 §5.2 TTL is required; RFC 8291 §4 the content coding.
      if (req.headers.ttl === undefined || !/^\d+$/.test(String(req.headers.ttl))) {
        throw new Error('no TTL header');
      }
      if (req.headers['content-encoding'] !== 'aes128gcm') throw new Error('not aes128gcm');
      plaintext = decryptAes128gcm(body, receiver).toString('utf8');
    } catch (error) {
      this.rejected.push({ id, reason: (error as Error).message });
      return { status: 400 };
    }
    const answer = receiver.answers.shift() ?? { status: 201 };
    this.received.push({
      id,
      headers: req.headers,
      body,
      plaintext,
      vapidKey,
      status: answer.status,
    });
    return answer;
  }
}
