/** `parley serve`: starts the server and says where it listens. */

import { availableParallelism } from 'node:os';
import { loadConfig, startServer } from '@parley/server';
import { parse } from '../usage.js';

export async function serveCommand(args: string[]): Promise<number> {
  parse(args, {});
  const config = loadConfig(process.env, availableParallelism());
  const server = await startServer(config);
  process.stdout.write(
    `Parley server listening on ${server.url} (data in ${config.dataDir}, SMS via ${config.sms.provider})\n`,
  );
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
  return 0;
}
