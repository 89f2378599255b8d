/**
 * The lane: everything that changes MLS state (incoming entries, encrypting, committing) runs in
 * it one task at a time, in the order the tasks were queued, so every member applies and produces
 * MLS messages against one state at a time.
 *
 * A task sometimes has to start work that itself queues lane tasks and waits for their effects —
 * an entry that asks this device to commit a removal, say. Awaiting that inside the task would
 * wait for the lane to free itself: a deadlock. The task hands it to `after` instead, and the lane
 * starts it once the task has ended. When the lane has nothing left to do it tells `whenIdle`
 * listeners, which is how the inbox sends the acknowledgements of a burst of entries together.
 *
 * One lane orders the tasks of one SDK instance. Where several instances share a device's store
 * (two tabs, a tab and the service worker), `exclusive` runs each task under a lock they share
 * (`deviceLock`, a Web Lock in browsers), so only one of them advances the device's MLS state at a
 * time; `onAcquire` then drops what the instance cached, since another may have changed it.
 */

/** Runs `work` while holding a lock that every instance sharing this device's store respects. */
export type Exclusive = <T>(work: () => Promise<T>) => Promise<T>;

/**
 * The Web Lock `name` (the store's shared lock), or undefined where there are no Web Locks. The
 * lock is held for one lane task at a time.
 */
export function deviceLock(name: string): Exclusive | undefined {
  const locks = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
  if (!locks) return undefined;
  return (work) => locks.request(name, work);
}

interface LockManagerLike {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

export interface LaneTask {
  /** Starts `work` once this task has ended, outside the lane (it may queue lane tasks). */
  after(work: () => Promise<unknown>): void;
}

export class Lane {
  private tail: Promise<unknown> = Promise.resolve();
  private queued = 0;
  private idle: Array<() => void> = [];

  /**
   * @param onError where the failures of work started with `after` go.
   * @param exclusive the lock each task runs under, when other instances share the store.
   * @param onAcquire called under that lock before each task (to drop cached state).
   */
  constructor(
    private readonly onError: (error: unknown) => void,
    private readonly exclusive?: Exclusive,
    private readonly onAcquire?: () => void,
  ) {}

  /** Queues a task; the promise settles with the task's outcome once it has run. */
  run<T>(task: (self: LaneTask) => Promise<T>): Promise<T> {
    this.queued++;
    const result = this.tail.then(async () => {
      const later: Array<() => Promise<unknown>> = [];
      const self: LaneTask = { after: (work) => later.push(work) };
      try {
        if (!this.exclusive) return await task(self);
        return await this.exclusive(() => {
          this.onAcquire?.();
          return task(self);
        });
      } finally {
        for (const work of later) Promise.resolve().then(work).catch(this.onError);
        if (--this.queued === 0) for (const listener of this.idle.splice(0)) listener();
      }
    });
    this.tail = result.catch(() => {});
    return result;
  }

  /** Calls `listener` once, when no task is queued or running (now, if none is). */
  whenIdle(listener: () => void): void {
    if (this.queued === 0) listener();
    else this.idle.push(listener);
  }
}
