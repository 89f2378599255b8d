/**
 * Test support: a `parley` command that keeps running (`parley link` waiting for approval), read
 * while it runs. A test waits for what it prints — never for a time — and can interrupt it as a
 * person would with Ctrl-C.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { BIN, type CliResult } from './server-process.js';

export class CliProcess {
  stdout = '';
  stderr = '';
  /** Resolves with how the command ended. */
  readonly exited: Promise<CliResult>;
  private readonly waiters = new Set<() => void>();
  /** Set once it has exited and everything it printed has been read. */
  private closed = false;

  private constructor(private readonly child: ChildProcess) {
    const changed = () => {
      for (const waiter of this.waiters) waiter();
    };
    child.stdout!.on('data', (d: Buffer) => {
      this.stdout += d.toString();
      changed();
    });
    child.stderr!.on('data', (d: Buffer) => {
      this.stderr += d.toString();
      changed();
    });
    this.exited = new Promise((resolve) => {
      child.once('close', (code) => {
        this.closed = true;
        resolve({ code, stdout: this.stdout, stderr: this.stderr });
        changed();
      });
    });
  }

  /** Runs `parley ARGS --server URL` (stdin open: it is not a terminal, and nothing is typed). */
  static start(serverUrl: string, args: string[]): CliProcess {
    const child = spawn(process.execPath, [BIN, ...args, '--server', serverUrl], {
      env: { PATH: process.env.PATH ?? '' },
    });
    return new CliProcess(child);
  }

  /**
   * The first match of `pattern` in stdout, as soon as it is printed; fails naming `what` if the
   * command exits first, or after `ms` (a safety net, not a timing).
   */
  waitFor(pattern: RegExp, what: string, ms = 30_000): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`timed out waiting for ${what}`)), ms);
      const done = (error?: Error, match?: RegExpExecArray) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (error) reject(error);
        else resolve(match!);
      };
      const check = () => {
        const match = pattern.exec(this.stdout);
        if (match) return done(undefined, match);
        if (this.closed) {
          done(
            new Error(
              `parley exited (${this.child.exitCode ?? this.child.signalCode}) before ${what}:\n${this.stdout}\n${this.stderr}`,
            ),
          );
        }
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Ctrl-C. */
  interrupt(): void {
    this.child.kill('SIGINT');
  }

  /** Ends it whatever its state (cleanup after a failed test). */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}
