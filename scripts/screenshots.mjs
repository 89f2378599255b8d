// npm run screenshots: runs the browser test, which saves every main screen at phone and desktop
// widths under test-output/screenshots (ignored by git), then copies the few the README shows to
// docs/screenshots/.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const SHOWN = ['consent-phone', 'contacts-phone', 'chat-phone', 'privacy-desktop'];

const run = spawnSync(process.execPath, ['scripts/test.mjs', 'web.e2e'], { stdio: 'inherit' });
if (run.status !== 0) process.exit(run.status ?? 1);
mkdirSync(join('docs', 'screenshots'), { recursive: true });
for (const name of SHOWN) {
  copyFileSync(
    join('test-output', 'screenshots', `${name}.png`),
    join('docs', 'screenshots', `${name}.png`),
  );
  console.log(`docs/screenshots/${name}.png`);
}
