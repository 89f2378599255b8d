/**
 * The systemd unit of docs/deploy/parley.service: `systemd-analyze verify` prints nothing about it
 * (it exits 0 on unknown keys and other mistakes, so its output is what counts), its offline
 * security exposure stays within the published threshold (docs/operations.md), and it keeps the
 * hardening and the state directory the docs promise. Under CI=true a missing systemd-analyze
 * fails the run (.ci/run installs Debian's systemd package).
 */

import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const UNIT = fileURLToPath(new URL('../../../docs/deploy/parley.service', import.meta.url));
const ANALYZE = '/usr/bin/systemd-analyze';
/** The published ceiling: `systemd-analyze security` exposure ×10 (docs/operations.md). */
const THRESHOLD = 15;

const available = existsSync(ANALYZE);
if (!available && process.env.CI === 'true') {
  it('systemd-analyze is available (required under CI)', () => {
    assert.fail(`${ANALYZE} is missing; .ci/run installs it (Debian package systemd)`);
  });
}

/** `systemd-analyze args…` on a copy of `text` named parley.service; its status and output. */
function analyze(args: string[], text = readFileSync(UNIT, 'utf8')) {
  const dir = mkdtempSync(join(tmpdir(), 'parley-unit-'));
  const path = join(dir, 'parley.service');
  writeFileSync(path, text);
  const run = spawnSync(ANALYZE, [...args, path], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', SYSTEMD_COLORS: '0' },
  });
  return { status: run.status, output: `${run.stdout}${run.stderr}`.trim() };
}

describe('the systemd unit', { skip: !available && 'systemd-analyze is not installed' }, () => {
  it('passes `systemd-analyze verify` without a word', () => {
    const { status, output } = analyze(['verify']);
    assert.equal(status, 0, output);
    assert.equal(output, '', 'verify printed warnings');
  });

  it('a misspelt setting makes verify speak (and so fails the check above)', () => {
    const broken = readFileSync(UNIT, 'utf8').replace(
      'ProtectSystem=strict',
      'ProtectSytem=strict',
    );
    const { status, output } = analyze(['verify'], broken);
    assert.equal(status, 0, 'verify exits 0 on an unknown key: only its output tells');
    assert.match(output, /Unknown key 'ProtectSytem'/);
  });

  it(`stays within the published exposure (--threshold=${THRESHOLD})`, () => {
    const { status, output } = analyze(['security', '--offline=true', `--threshold=${THRESHOLD}`]);
    assert.equal(status, 0, output);
    const exposure = Number(
      /Overall exposure level for parley\.service: ([\d.]+)/.exec(output)?.[1],
    );
    assert.ok(exposure <= THRESHOLD / 10, output);
    // A unit without the hardening is refused by the same check.
    const bare = '[Service]\nExecStart=node /opt/parley/packages/cli/dist/bin.js serve\n';
    assert.notEqual(
      analyze(['security', '--offline=true', `--threshold=${THRESHOLD}`], bare).status,
      0,
    );
  });

  it('runs as its own user, read-only but for /var/lib/parley, logging to the journal', () => {
    const settings = readFileSync(UNIT, 'utf8')
      .split('\n')
      .filter((l) => /^\w+=/.test(l));
    for (const line of [
      'DynamicUser=yes',
      'StateDirectory=parley',
      'Environment=PARLEY_DATA_DIR=/var/lib/parley',
      'ProtectSystem=strict',
      'NoNewPrivileges=yes',
      'CapabilityBoundingSet=',
      'StandardOutput=journal',
      'ExecStart=node /opt/parley/packages/cli/dist/bin.js serve',
    ]) {
      assert.ok(settings.includes(line), `${line} in the unit`);
    }
  });
});
