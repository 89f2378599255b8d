#!/usr/bin/env node
/**
 * parley — the server, its admin commands, and a terminal client.
 * Run `parley help` for the commands.
 */

import { ParleyError } from '@parley/core';
import { ConfigError } from '@parley/server';
import { adminCommand } from './commands/admin.js';
import { clientCommand } from './commands/client.js';
import { serveCommand } from './commands/serve.js';
import { UsageError } from './usage.js';

const HELP = `parley — private contact discovery and messaging

Server
  parley serve                         start the server (configured by PARLEY_* variables)
  parley admin rotate-key              rotate the OPRF key of the running server
  parley admin stats                   counts and state of the running server
      --data DIR (default ./data)  --server URL (default http://127.0.0.1:8787)

Client (state in the directory --state DIR, default ~/.parley)
  parley register NUMBER --discoverable yes|no --presence nobody|contacts
                       [--name DEVICE] [--code CODE] [--server URL]
  parley consent show|grant|withdraw
  parley import FILE [--region US]     import a vCard (.vcf) or CSV contacts export
  parley add NAME NUMBER               add one contact by hand
  parley discover [--json] [--lazy]    find which contacts are on Parley
  parley log [--json]                  the transparency log: every upload made
  parley account [--discoverable yes|no] [--presence nobody|contacts]
  parley account delete --yes          delete the account everywhere and erase this device's data
  parley devices [--json]              the account's devices
  parley devices remove ID             sign a device out (this one too: its data is erased)
  parley devices sign-out-others       sign out every device but this one (a lost phone)
  parley export [--out FILE]           everything about you as JSON (no credential, no keys)

Messages (end-to-end encrypted; CONTACT is a phone number or account:ID)
  parley send CONTACT TEXT             send; for someone not on Parley, print an sms: link
  parley send --conversation ID TEXT   send to a conversation or group
  parley group create CONTACT...       start a group
  parley listen [--count N] [--timeout S] [--json]
                                       print messages as they arrive, with membership
                                       notices (not counted by --count) and security
                                       warnings (on stderr)
  parley conversations [--json]        list conversations
`;

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
        error.retryAfterMs !== undefined
          ? ` (retry in ${Math.ceil(error.retryAfterMs / 1000)} s)`
          : '';
      process.stderr.write(`parley: ${error.code}: ${error.message}${retry}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`parley: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    }
  },
);
