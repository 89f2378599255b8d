/** `parley admin …`: operator commands against the running server, with the admin token. */

import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ParleyError, type RotateKeyResponse, type StatsResponse } from '@parley/core';
import { parse, UsageError } from '../usage.js';
import { maintenanceCommand } from './maintenance.js';
import { counted } from './output.js';

export async function adminCommand(args: string[]): Promise<number> {
  // On the data directory or database itself, not through a server.
  if (args[0] === 'backup' || args[0] === 'restore' || args[0] === 'migrate') {
    return maintenanceCommand(args[0], args.slice(1));
  }
  const { values, positionals } = parse(args, {
    data: { type: 'string' },
    server: { type: 'string' },
    token: { type: 'string' },
    json: { type: 'boolean' },
  });
  const server = values.server ?? process.env.PARLEY_CLI_SERVER ?? 'http://127.0.0.1:8787';
  const token = adminToken(server, values.token ?? process.env.PARLEY_ADMIN_TOKEN, values.data);
  const call = async <T>(method: string, path: string): Promise<T> => {
    let response: Response;
    try {
      response = await fetch(new URL(path, server), {
        method,
        headers: { authorization: `Bearer ${token}` },
      });
    } catch (cause) {
      throw new ParleyError('NETWORK_ERROR', { cause, message: `No server answers at ${server}.` });
    }
    const body = (await response.json()) as T & { code?: string; message?: string };
    if (!response.ok) {
      throw new Error(`${body.code ?? response.status}: ${body.message ?? 'request failed'}`);
    }
    return body;
  };
  switch (positionals[0]) {
    case 'rotate-key': {
      const result = await call<RotateKeyResponse>('POST', '/v1/admin/rotate-key');
      process.stdout.write(
        values.json
          ? `${JSON.stringify(result)}\n`
          : `Rotated OPRF key ${result.previousKeyId} → ${result.keyId}: ${counted(result.accountsRekeyed, 'account')} re-keyed in ${result.durationMs} ms; nobody needs to verify again.\n`,
      );
      return 0;
    }
    case 'stats': {
      const stats = await call<StatsResponse>('GET', '/v1/admin/stats');
      if (values.json) process.stdout.write(`${JSON.stringify(stats)}\n`);
      else {
        for (const [k, v] of Object.entries(stats)) process.stdout.write(`${k.padEnd(22)} ${v}\n`);
      }
      return 0;
    }
    case 'reports': {
      const { reports } = await call<{
        reports: Array<{ accountId: string; reportedAt: string; messages?: string[] }>;
      }>('GET', '/v1/admin/reports');
      if (values.json) process.stdout.write(`${JSON.stringify(reports)}\n`);
      else if (reports.length === 0) process.stdout.write('No spam reports.\n');
      else {
        for (const r of reports) {
          const attached = r.messages ? `, ${counted(r.messages.length, 'message')} attached` : '';
          process.stdout.write(`${r.reportedAt}  ${r.accountId}${attached}\n`);
          for (const m of r.messages ?? []) process.stdout.write(`    ${JSON.stringify(m)}\n`);
        }
      }
      return 0;
    }
    default:
      throw new UsageError(
        `unknown admin command '${positionals[0] ?? ''}' (rotate-key, stats, backup, restore, migrate, reports)`,
      );
  }
}

/**
 * The token to send: the one given, else the one in the data directory, but only to a server on
 * this machine. A data directory is one server's; sending its token to another address would hand
 * that server (or whoever answers there) this one's admin rights.
 */
function adminToken(server: string, given: string | undefined, data: string | undefined): string {
  if (given) return given.trim();
  if (!isLocal(server)) {
    throw new UsageError(
      `${server} is not on this machine: give its admin token with --token or PARLEY_ADMIN_TOKEN (the token of a local data directory is sent only to a local server)`,
    );
  }
  const dataDir = resolve(data ?? process.env.PARLEY_DATA_DIR ?? './data');
  try {
    return readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
  } catch {
    throw new UsageError(
      `cannot read ${join(dataDir, 'admin-token')}; pass --data with the server's data directory, or --token`,
    );
  }
}

function isLocal(server: string): boolean {
  let host: string;
  try {
    host = new URL(server).hostname;
  } catch {
    throw new UsageError(`--server must be a URL such as http://127.0.0.1:8787 (got ${server})`);
  }
  return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
