/** `parley admin …`: operator commands against the running server, with the admin token. */

import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ParleyError, type RotateKeyResponse, type StatsResponse } from '@parley/core';
import { parse, UsageError } from '../usage.js';

export async function adminCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    data: { type: 'string' },
    server: { type: 'string' },
    json: { type: 'boolean' },
  });
  const dataDir = resolve(values.data ?? process.env.PARLEY_DATA_DIR ?? './data');
  const server = values.server ?? process.env.PARLEY_CLI_SERVER ?? 'http://127.0.0.1:8787';
  let token: string;
  try {
    token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
  } catch {
    throw new UsageError(
      `cannot read ${join(dataDir, 'admin-token')}; pass --data with the server's data directory`,
    );
  }
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
          : `Rotated OPRF key ${result.previousKeyId} → ${result.keyId}: ${result.accountsRekeyed} accounts re-keyed in ${result.durationMs} ms; nobody needs to verify again.\n`,
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
    default:
      throw new UsageError(`unknown admin command '${positionals[0] ?? ''}' (rotate-key, stats)`);
  }
}
