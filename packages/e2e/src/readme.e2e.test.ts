/**
 * The README's terminal walk-through, read from its fenced block (so the test follows the README):
 * its setup lines work in a plain script (a function, not an alias, which scripts do not expand),
 * the state goes outside the clone, and the sample address book it imports ships and imports.
 */

import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The commands of the README's "Try it from a terminal" block, one a line, comments dropped. */
function walkThrough(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Try it from a terminal'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(block, 'the README has the walk-through block');
  return block
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter(Boolean);
}

describe("the README's CLI walk-through", () => {
  const lines = walkThrough();
  const setup = lines.filter((l) => !l.startsWith('parley '));

  it('defines `parley` so that a script can run it, with the state outside the clone', () => {
    const home = mkdtempSync(join(tmpdir(), 'parley-readme-'));
    const script = [...setup, 'parley help | head -1', 'echo "$S"'].join('\n');
    const out = execFileSync('sh', ['-c', script], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: home },
      encoding: 'utf8',
    });
    assert.match(out, /^parley — private contact discovery and messaging\n/);
    assert.equal(out.trim().split('\n').at(-1), join(home, '.local/state/parley'));
  });

  it('imports a sample address book that ships with the repo', () => {
    const imports = lines.filter((l) => l.startsWith('parley import '));
    assert.equal(imports.length, 1);
    const file = imports[0]!.split(/\s+/)[2]!;
    assert.ok(existsSync(join(ROOT, file)), `${file} ships`);
    assert.match(readFileSync(join(ROOT, file), 'utf8'), /^BEGIN:VCARD\r\n/);
  });
});
