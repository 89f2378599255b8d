/**
 * "Run once, rerun if asked": a task that never runs twice at a time. Asked while it runs, it runs
 * once more when the current run ends, however often it was asked meanwhile. The server's socket
 * pump and the SDK's outbox flush are both this shape.
 */

export class Rerunnable {
  private current: Promise<void> | undefined;
  private asked = false;

  /** @param task one pass; it may read `rerunAsked` to cut a pass short. */
  constructor(private readonly task: () => Promise<void>) {}

  /** True while a pass is under way. */
  get running(): boolean {
    return this.current !== undefined;
  }

  /** True when another pass was asked for during the current one. */
  get rerunAsked(): boolean {
    return this.asked;
  }

  /**
   * Runs the task now, or once more after the pass in progress. The promise settles when a pass
   * that began after this call has ended (it rejects with that pass's error).
   *
   * @example
   * const flush = new Rerunnable(async () => sendEverythingQueued());
   * void flush.run(); void flush.run(); // two asks while running: one more pass, not two
   */
  run(): Promise<void> {
    this.asked = true;
    if (this.current) return this.current;
    const pass = this.drain();
    this.current = pass;
    return pass;
  }

  private async drain(): Promise<void> {
    // Yield once so that `current` is set before any pass can end.
    await undefined;
    try {
      while (this.asked) {
        this.asked = false;
        await this.task();
      }
    } finally {
      this.current = undefined;
    }
  }
}
