/**
 * Test support: private Redis and PostgreSQL servers, started and stopped by the test (the shared
 * ones at 127.0.0.1:6379 and :5432 serve every other test and must not be restarted), on free
 * loopback ports, with their data in a temporary directory.
 */

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

async function waitFor(what: string, check: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise((r) => child.once('exit', r));
}

export const redisInstalled = (): boolean => spawnSync('redis-server', ['--version']).status === 0;

/** A redis-server of its own, in memory only; restartable on the same port. */
export class PrivateRedis {
  private child: ChildProcess | undefined;
  private constructor(readonly port: number) {}

  static async start(): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort());
    await redis.start();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    let output = '';
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    this.child = child;
    await waitFor('redis-server to accept connections', () => {
      if (child.exitCode !== null) throw new Error(`redis-server exited:\n${output}`);
      return /Ready to accept connections/.test(output);
    });
  }

  /** Kills it at once (SIGKILL): an outage, not a shutdown. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGKILL');
    await exited(child);
    this.child = undefined;
  }
}

/** The binaries of the newest PostgreSQL installed (Debian's layout), if any. */
function postgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const bin = join(root, v, 'bin');
    if (existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'postgres'))) return bin;
  }
  return undefined;
}

export const postgresInstalled = (): boolean => postgresBin() !== undefined;

/**
 * A PostgreSQL cluster of its own (initdb in a temporary directory, trust auth on loopback),
 * stoppable and restartable on the same port. PostgreSQL refuses to run as root: as root, it runs
 * as the `postgres` user (Debian's package creates it).
 */
export class PrivatePostgres {
  private child: ChildProcess | undefined;
  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly bin: string,
  ) {}

  private static asPostgres(command: string, args: string[]): [string, string[]] {
    return process.getuid?.() === 0
      ? ['runuser', ['-u', 'postgres', '--', command, ...args]]
      : [command, args];
  }

  static async start(): Promise<PrivatePostgres> {
    const bin = postgresBin();
    if (!bin) throw new Error('PostgreSQL is not installed');
    const dir = mkdtempSync(join(tmpdir(), 'parley-pg-'));
    if (process.getuid?.() === 0) {
      const id = spawnSync('id', ['-u', 'postgres']).stdout.toString().trim();
      const gid = spawnSync('id', ['-g', 'postgres']).stdout.toString().trim();
      chownSync(dir, Number(id), Number(gid));
    }
    chmodSync(dir, 0o700);
    const data = join(dir, 'data');
    const [cmd, args] = PrivatePostgres.asPostgres(join(bin, 'initdb'), [
      '-D',
      data,
      '-U',
      'postgres',
      '--auth=trust',
      '--no-sync',
    ]);
    const init = spawnSync(cmd, args, { encoding: 'utf8' });
    if (init.status !== 0) throw new Error(`initdb failed:\n${init.stdout}\n${init.stderr}`);
    const pg = new PrivatePostgres(await freePort(), dir, bin);
    await pg.start();
    return pg;
  }

  /** A URL for database `name` (the cluster has `postgres`). */
  url(name = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${name}`;
  }

  async start(): Promise<void> {
    const [cmd, args] = PrivatePostgres.asPostgres(join(this.bin, 'postgres'), [
      '-D',
      join(this.dir, 'data'),
      '-p',
      String(this.port),
      '-k',
      this.dir,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'fsync=off',
    ]);
    let output = '';
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    this.child = child;
    await waitFor('PostgreSQL to accept connections', () => {
      if (child.exitCode !== null) throw new Error(`postgres exited:\n${output}`);
      return /ready to accept connections/.test(output);
    });
  }

  /** A fast shutdown (open connections are terminated), as a restart begins. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    const [cmd, args] = PrivatePostgres.asPostgres(join(this.bin, 'pg_ctl'), [
      'stop',
      '-D',
      join(this.dir, 'data'),
      '-m',
      'fast',
      '-w',
    ]);
    const stopped = spawnSync(cmd, args, { encoding: 'utf8' });
    if (stopped.status !== 0) throw new Error(`pg_ctl stop failed:\n${stopped.stderr}`);
    await exited(child);
    this.child = undefined;
  }
}
