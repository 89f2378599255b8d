/**
 * The CLI and the server it talks to (issue 17): an unreachable server is named with the address
 * tried and how to point the CLI elsewhere, and a local data directory's admin token is never
 * sent to a server on another machine.
 */

import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BIN, type CliResult } from './harness/server-process.js';

function parley(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the CLI and its server address', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-cli-address-'));

  it('names the address it tried when no server answers, and how to choose another', async () => {
    // Port 9 (discard) on loopback: nothing listens there.
    const result = await parley(
      ['register', '+14155550100', '--discoverable', 'no', '--presence', 'nobody'],
      { PARLEY_CLI_SERVER: 'http://127.0.0.1:9', PARLEY_CLI_STATE: join(dir, 'state') },
    );
    assert.equal(result.code, 1, result.stderr);
    assert.match(
      result.stderr,
      /NETWORK_ERROR: No Parley server answers at http:\/\/127\.0\.0\.1:9/,
    );
    assert.match(result.stderr, /--server URL or PARLEY_CLI_SERVER/);
  });

  it("does not send a local data directory's admin token to a server elsewhere", async () => {
    writeFileSync(join(dir, 'admin-token'), 'local-secret\n', { mode: 0o600 });
    const refused = await parley(['admin', 'stats', '--data', dir], {
      PARLEY_CLI_SERVER: 'http://parley.invalid:8787',
    });
    assert.equal(refused.code, 64, refused.stderr);
    assert.match(refused.stderr, /not on this machine: give its admin token with --token/);
    // With a token given for it, the command goes ahead (and names the address it tried).
    const given = await parley(['admin', 'stats', '--data', dir], {
      PARLEY_CLI_SERVER: 'http://parley.invalid:8787',
      PARLEY_ADMIN_TOKEN: 'its-own-token',
    });
    assert.equal(given.code, 1, given.stderr);
    assert.match(given.stderr, /parley\.invalid:8787/);
  });
});
