/**
 * Test support: runs `parley serve` as a real child process on a free loopback port with its own
 * data directory, keeps everything it prints (the console SMS provider prints codes there), and
 * stops it at the end.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { SHARED_SECRET_FILES } from '@parley/server';

/** The `parley` binary as npm links it: the built CLI (`packages/cli/dist/bin.js`). */
export const BIN = cliBin();

function cliBin(): string {
  const manifest = createRequire(import.meta.url).resolve('@parley/cli/package.json');
  const { bin } = JSON.parse(readFileSync(manifest, 'utf8')) as { bin: { parley: string } };
  return join(dirname(manifest), bin.parley);
}

/** What a `parley` run printed and how it ended. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `parley ARGS` with only PATH and `env` in its environment (no server: the admin commands
 * that work on a data directory or database directly).
 */
export function runParley(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => {
      stdout += d;
    });
    child.stderr!.on('data', (d) => {
      stderr += d;
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export class ServerProcess {
  output = '';
  url = '';
  private constructor(
    readonly dataDir: string,
    private readonly child: ChildProcess,
  ) {}

  static async start(
    env: Record<string, string> = {},
    dataDir?: string,
    nodeArgs: string[] = [],
  ): Promise<ServerProcess> {
    const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'parley-test-'));
    const child = spawn(process.execPath, [...nodeArgs, BIN, 'serve'], {
      env: {
        PATH: process.env.PATH ?? '',
        PARLEY_PORT: '0',
        PARLEY_DATA_DIR: dir,
        PARLEY_OPRF_WORKERS: '2',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const server = new ServerProcess(dir, child);
    // With PARLEY_TEST_LOG_DIR (scripts/test.mjs), everything it printed is kept there for the
    // scan at the end of the run.
    const logDir = process.env.PARLEY_TEST_LOG_DIR;
    if (logDir) {
      child.once('exit', () => {
        mkdirSync(logDir, { recursive: true });
        writeFileSync(join(logDir, `server-${process.pid}-${child.pid}.log`), server.output);
      });
    }
    child.stdout!.on('data', (d: Buffer) => {
      server.output += d.toString();
    });
    child.stderr!.on('data', (d: Buffer) => {
      server.output += d.toString();
    });
    server.url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`server did not start:\n${server.output}`)),
        20_000,
      );
      const check = () => {
        const match = /Parley server listening on (https?:\/\/\S+)/.exec(server.output);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      };
      child.stdout!.on('data', check);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`server exited with ${code}:\n${server.output}`));
      });
    });
    return server;
  }

  /**
   * Another node of `first`'s deployment (same database and Redis through `env`): its data
   * directory gets `first`'s OPRF keys, link key and admin token, as docs/operations.md tells
   * operators to copy them.
   */
  static async startPeer(
    first: ServerProcess,
    env: Record<string, string>,
    nodeArgs: string[] = [],
  ): Promise<ServerProcess> {
    const dir = mkdtempSync(join(tmpdir(), 'parley-test-'));
    for (const file of SHARED_SECRET_FILES)
      copyFileSync(join(first.dataDir, file), join(dir, file));
    return ServerProcess.start(env, dir, nodeArgs);
  }

  /** The code the console SMS provider printed for a verification. */
  async codeFor(verificationId: string): Promise<string> {
    // Up to 10 s: a loaded machine can take a while to print it.
    for (let i = 0; i < 500; i++) {
      const match = new RegExp(
        `verification code (\\d+) for verification ${verificationId}\\b`,
      ).exec(this.output);
      if (match) return match[1]!;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no code printed for ${verificationId}`);
  }

  /**
   * Runs the `parley` command against this server; with `answerCode`, types the code the server
   * printed when the command asks for it, as a person would. `--server` goes before a `--` in
   * `args`, after which everything is positional (ids are random base64url and may start with -).
   * With `input`, that is typed at once and stdin then ends (`''`: nothing typed, a closed stdin).
   */
  cli(args: string[], answerCode = false, input?: string): Promise<CliResult> {
    const end = args.includes('--') ? args.indexOf('--') : args.length;
    const argv = [...args.slice(0, end), '--server', this.url, ...args.slice(end)];
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [BIN, ...argv], {
        env: { PATH: process.env.PATH ?? '' },
      });
      if (input !== undefined) child.stdin!.end(input);
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (d) => {
        stdout += d;
      });
      child.stderr!.on('data', async (d) => {
        stderr += d;
        if (answerCode && /Enter the 6-digit code/.test(stderr)) {
          answerCode = false;
          const ids = [...this.output.matchAll(/for verification (\S+)/g)];
          child.stdin!.write(`${await this.codeFor(ids.at(-1)![1]!)}\n`);
        }
      });
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
  }

  adminToken(): string {
    return readFileSync(join(this.dataDir, 'admin-token'), 'utf8').trim();
  }

  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill(signal);
    await exited;
  }

  /** The exit code once it has exited by itself (null while running or if a signal killed it). */
  get exitCode(): number | null {
    return this.child.exitCode;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The port it listens on, to start a successor at the same address. */
  get port(): string {
    return new URL(this.url).port;
  }
}
