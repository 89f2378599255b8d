/**
 * `parley serve`: starts the server and says where it listens. SIGTERM or SIGINT stops it
 * gracefully (see RunningServer.close) within PARLEY_SHUTDOWN_TIMEOUT_SECONDS; a second signal,
 * or the time running out, stops it at once with exit code 1. Nothing is lost either way: a send
 * is answered `stored` only after its transaction committed.
 */

import { availableParallelism } from 'node:os';
import { loadConfig, startServer } from '@parley/server';
import { parse } from '../usage.js';

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

export async function serveCommand(args: string[]): Promise<number> {
  parse(args, {});
  const config = loadConfig(process.env, availableParallelism());
  const server = await startServer(config);
  process.stdout.write(
    `Parley server listening on ${server.url} (data in ${config.dataDir}, SMS via ${config.sms.provider})\n`,
  );
  const signal = await new Promise<string>((resolve) => {
    for (const name of SIGNALS) process.once(name, () => resolve(name));
  });
  const started = Date.now();
  server.app.log.info({ signal }, 'shutting down');
  const stopNow = (reason: string) => {
    server.app.log.error({ reason }, 'shutdown cut short');
    process.exit(1);
  };
  for (const name of SIGNALS) process.once(name, () => stopNow(`second ${name}`));
  const deadline = setTimeout(
    () => stopNow(`not done after ${config.shutdownTimeoutMs / 1000} s`),
    config.shutdownTimeoutMs,
  );
  deadline.unref();
  await server.close();
  clearTimeout(deadline);
  process.stdout.write(`Parley server stopped (${signal}, ${Date.now() - started} ms)\n`);
  return 0;
}
