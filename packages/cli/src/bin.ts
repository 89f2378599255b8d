#!/usr/bin/env node
/**
 * parley — the server, its admin commands, and a terminal client.
 * Run `parley help` for the commands.
 */

import { formatWait, ParleyError } from '@parley/core';
import { ConfigError } from '@parley/server';
import { adminCommand } from './commands/admin.js';
import { clientCommand } from './commands/client.js';
import { serveCommand } from './commands/serve.js';
import { HELP, UsageError } from './usage.js';

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serveCommand(rest);
    case 'admin':
      return adminCommand(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return 0;
    default:
      return clientCommand(command, rest);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`parley: ${error.message}\nRun 'parley help' for usage.\n`);
      process.exitCode = 64;
    } else if (error instanceof ConfigError) {
      process.stderr.write(`parley: configuration error: ${error.message}\n`);
      process.exitCode = 78;
    } else if (error instanceof ParleyError) {
      const retry =
        error.retryAfterMs !== undefined ? ` (try again in ${formatWait(error.retryAfterMs)})` : '';
      process.stderr.write(`parley: ${error.code}: ${error.message}${retry}\n`);
      if (error.code === 'NETWORK_ERROR') {
        process.stderr.write(
          'parley: start it with `parley serve`, or point the CLI at another with --server URL or PARLEY_CLI_SERVER.\n',
        );
      }
      if (error.code === 'UNAUTHENTICATED') {
        // Signed out (by another device, or by a new registration of the number): never a dead end.
        process.stderr.write(
          'parley: this device is signed out. Link it from a device of your account (parley link here, then parley devices approve CODE there), or register again (parley register NUMBER).\n',
        );
      }
      process.exitCode = 1;
    } else {
      process.stderr.write(`parley: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    }
  },
);
