/**
 * The web app's production build, as `npm run build` and `npm start` run it — the app, then the
 * service worker (vite.sw.config.ts) — succeeds and says nothing a person would take for a
 * problem: no Node module "externalized for browser compatibility" (a Node-only import that
 * reached the browser bundle), no other warning line.
 */

import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const WEB = join(ROOT, 'apps/web');

describe('the web app build', () => {
  it('builds the app and its service worker without Node modules in the browser bundle and without warnings', () => {
    const out = mkdtempSync(join(tmpdir(), 'parley-web-build-'));
    try {
      const vite = join(
        dirname(createRequire(join(WEB, 'package.json')).resolve('vite/package.json')),
        'bin/vite.js',
      );
      const build = (args: string[]) => {
        const built = spawnSync(process.execPath, [vite, 'build', ...args], {
          cwd: WEB,
          encoding: 'utf8',
          env: { PATH: process.env.PATH ?? '', NO_COLOR: '1', PARLEY_WEB_OUT: out },
        });
        const printed = `${built.stdout}\n${built.stderr}`;
        assert.equal(built.status, 0, printed);
        assert.doesNotMatch(printed, /externalized for browser compatibility/);
        // Vite's warnings, and Rolldown's, which name their code in capitals: [EMPTY_IMPORT_META].
        assert.doesNotMatch(printed, /\bwarn(ing)?\b|\(!\)|\[[A-Z][A-Z_]+\]/i);
      };
      build(['--outDir', out, '--emptyOutDir']);
      assert.ok(existsSync(join(out, 'index.html')));
      build(['-c', 'vite.sw.config.ts']);
      assert.ok(existsSync(join(out, 'sw.js')));
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
