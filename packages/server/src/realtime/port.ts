/**
 * What domain code may ask of the realtime layer, and all it may know of it: wake a device's
 * delivery, hand it entries just stored, relay an unstored frame, close a device's sockets with a
 * protocol close code, stop presence watchers (all of an account's, or some accounts'). The hub (hub.ts) implements it; domain modules
 * import this type only, never the hub or the socket, so they can be tested without either.
 */

import type { CloseCode, DeliverFrame, ServerFrame } from '@parley/core';

/** A queue entry as it will be delivered, and the device it is for. */
export interface Addressed {
  deviceId: string;
  frame: DeliverFrame;
  /** With other nodes: the device queue's largest seq before this entry's batch (Realtime.offer). */
  after?: number;
}

export interface Realtime {
  /** Other nodes write the same queues (the mailbox then notes what each queue held before). */
  readonly sharedQueues: boolean;
  /** These devices' queues have new entries: their sockets, on any node, read them. */
  wake(deviceIds: Iterable<string>): void;
  /** Entries just committed, handed to the sockets of the devices they are for. */
  offer(entries: Addressed[]): void;
  /** Sends an unstored frame to whichever of these devices are connected now, on any node. */
  relay(deviceIds: Iterable<string>, frame: ServerFrame): void;
  /** Closes every socket of these devices, on any node, with this close code. */
  disconnect(deviceIds: Iterable<string>, code: CloseCode, reason: string): void;
  /** Stops everyone watching this account's presence, telling them it is not shown online. */
  unwatchAccount(accountId: string): void;
  /** Stops these accounts' devices watching this account, telling them it is not shown online. */
  unwatchBy(accountId: string, watchers: readonly string[]): void;
  /** These accounts were allowed to see this account online: their waiting requests are checked. */
  rewatchBy(accountId: string, watchers: readonly string[]): void;
  /**
   * Those of these devices with no open socket on any node (a node that cannot ask the others
   * counts them as unconnected: a wake-up too many is harmless, one too few is a missed message).
   */
  unconnected(deviceIds: readonly string[]): Promise<string[]>;
}
