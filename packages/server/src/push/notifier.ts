/**
 * Wake-ups for devices that have something waiting and no open socket: after the mailbox commits
 * a message (or an invitation) for a device, the node that stored it — and only that node, so an
 * entry is considered once in the whole cluster — asks the realtime layer which of the devices
 * are connected nowhere, claims a wake-up for those with a subscription (one conditional UPDATE,
 * subscriptions.ts: at most one per device per coalescing window across all nodes), and sends it.
 *
 * What is sent is the fixed wake-up of core/push-schemas.ts: the service worker then fetches and
 * decrypts the queue itself. Sending happens off the message path: the writer never waits for a
 * push service, and at most MAX_IN_FLIGHT requests run at once (the rest queue here).
 */

import type { Realtime } from '../realtime/port.js';
import type { PushSender } from './sender.js';
import type { PushSubscriptions, PushTarget } from './subscriptions.js';

/** Push requests open at once, per node. */
const MAX_IN_FLIGHT = 32;

export interface PushLog {
  warn(fields: Record<string, unknown>, message: string): void;
}

/** Counters for /metrics and the benchmark. */
export class PushStats {
  claimed = 0;
  sent = 0;
  gone = 0;
  refused = 0;
  failed = 0;
}

export class PushNotifier {
  readonly stats = new PushStats();
  /** Where failures are reported; the server sets its logger here once it has one. */
  log: PushLog = { warn() {} };
  private inFlight = 0;
  private readonly waiting: PushTarget[] = [];
  private readonly pending = new Set<Promise<unknown>>();
  private idleWaiters: Array<() => void> = [];

  constructor(
    readonly subscriptions: PushSubscriptions,
    private readonly sender: PushSender,
    private readonly realtime: Pick<Realtime, 'unconnected'>,
    private readonly options: { coalesceMs: number; clock?: () => number },
  ) {}

  /** Entries were just committed for these devices: wake those connected nowhere. */
  queued(deviceIds: Iterable<string>): void {
    const devices = [...new Set(deviceIds)];
    if (devices.length === 0) return;
    this.track(
      this.decide(devices).catch((err: unknown) =>
        this.log.warn({ err }, 'push: could not decide which devices to wake'),
      ),
    );
  }

  /** The device opened a socket: it has read its queue, so its next message wakes it at once. */
  connected(deviceId: string): void {
    this.track(
      this.subscriptions
        .rearm(deviceId)
        .catch((err: unknown) => this.log.warn({ err }, 'push: could not re-arm a device')),
    );
  }

  /** Shutdown: pushes in flight are cancelled, waiting ones given up; then idle() resolves. */
  stop(): Promise<void> {
    this.sender.stop();
    this.stats.failed += this.waiting.length;
    this.waiting.length = 0;
    return this.idle();
  }

  /** Resolves when every push asked for so far has been sent or given up. */
  idle(): Promise<void> {
    if (this.pending.size === 0 && this.inFlight === 0 && this.waiting.length === 0) {
      return Promise.resolve();
    }
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async decide(devices: string[]): Promise<void> {
    const offline = await this.realtime.unconnected(devices);
    if (offline.length === 0) return;
    const now = (this.options.clock ?? Date.now)();
    const targets = await this.subscriptions.claim(offline, now, this.options.coalesceMs);
    this.stats.claimed += targets.length;
    this.waiting.push(...targets);
    this.pump();
  }

  private pump(): void {
    while (this.inFlight < MAX_IN_FLIGHT && this.waiting.length > 0) {
      const target = this.waiting.shift()!;
      this.inFlight += 1;
      void this.deliver(target).finally(() => {
        this.inFlight -= 1;
        this.pump();
        this.settle();
      });
    }
  }

  private async deliver(target: PushTarget): Promise<void> {
    const { outcome, status } = await this.sender.send(target);
    this.stats[outcome] += 1;
    if (outcome === 'gone') {
      await this.subscriptions
        .drop(target)
        .catch((err: unknown) => this.log.warn({ err }, 'push: could not drop a subscription'));
    } else if (outcome !== 'sent') {
      // The endpoint is a capability: never logged. The device id says whose it was.
      this.log.warn({ deviceId: target.deviceId, status, outcome }, 'push: wake-up not delivered');
    }
  }

  private track(promise: Promise<unknown>): void {
    this.pending.add(promise);
    void promise.finally(() => {
      this.pending.delete(promise);
      this.settle();
    });
  }

  private settle(): void {
    if (this.pending.size > 0 || this.inFlight > 0 || this.waiting.length > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
