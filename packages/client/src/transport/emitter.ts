/** A minimal typed event emitter that runs in browsers and Node alike. */

import { ParleyError } from '@parley/core';

export class Emitter<Events extends Record<string, unknown>> {
  private readonly listeners = new Map<keyof Events, Set<(value: never) => void>>();

  on<K extends keyof Events>(event: K, listener: (value: Events[K]) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener as (value: never) => void);
    return () => set.delete(listener as (value: never) => void);
  }

  /** Resolves with the first event that passes `test`, or rejects after `timeoutMs`. */
  next<K extends keyof Events>(
    event: K,
    test: (value: Events[K]) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<Events[K]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(
          new ParleyError('NETWORK_ERROR', {
            message: `Timed out after ${timeoutMs} ms waiting for ${String(event)}.`,
          }),
        );
      }, timeoutMs);
      const off = this.on(event, (value) => {
        if (!test(value)) return;
        clearTimeout(timer);
        off();
        resolve(value);
      });
    });
  }

  protected emit<K extends keyof Events>(event: K, value: Events[K]): void {
    for (const listener of this.listeners.get(event) ?? []) {
      (listener as (value: Events[K]) => void)(value);
    }
  }
}
