// Section "web": what the web app's first screen costs to load. The initial JavaScript and CSS are
// what index.html loads before anything renders (its script and stylesheets and every chunk they
// import statically), gzip-compressed as the server sends them. The baseline, built in the same
// run with the same Vite, is a bare React page: what any React app pays before its first line.
//
// Usage: node bench/web.mjs (after `npm run build`, which builds apps/web/dist). It is already
// seconds long, so BENCH_SMOKE=1 changes nothing but its notes (lib/smoke.mjs).

import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { emit, formatNumber, progress } from './lib/measure.mjs';
import { SMOKE, smokeNote } from './lib/smoke.mjs';

const root = fileURLToPath(new URL('../', import.meta.url));
const webDist = join(root, 'apps/web/dist');
const GOAL_KB = 200;

const gz = (bytes) => gzipSync(bytes, { level: 9 }).length;
const kb = (bytes) => bytes / 1000;

/** The files index.html loads up front: entry scripts, stylesheets, modulepreloads, static imports. */
function initialFiles(dist) {
  const html = readFileSync(join(dist, 'index.html'), 'utf8');
  const refs = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]);
  const files = new Set();
  const visit = (url) => {
    if (files.has(url)) return;
    files.add(url);
    if (!url.endsWith('.js')) return;
    const code = readFileSync(join(dist, url), 'utf8');
    // Static imports only (`import"./x.js"`, `from"./x.js"`); import() is loaded on first use.
    for (const m of code.matchAll(/(?:^|[;\s}])(?:import|from)\s*["'](\.\/[^"']+\.js)["']/g)) {
      visit(`/assets/${m[1].slice(2)}`);
    }
  };
  refs.forEach(visit);
  return { html, files: [...files] };
}

function measure(dist) {
  const { html, files } = initialFiles(dist);
  let js = 0;
  let css = 0;
  for (const f of files) {
    const size = gz(readFileSync(join(dist, f)));
    if (f.endsWith('.css')) css += size;
    else js += size;
  }
  const all = readdirSync(join(dist, 'assets'))
    .filter((f) => f.endsWith('.js'))
    .map((f) => ({ name: f, size: gz(readFileSync(join(dist, 'assets', f))) }));
  return { html: gz(Buffer.from(html)), js, css, files, all };
}

/** Builds a bare React page with the app's own Vite and React, for the baseline. */
function bareReact() {
  // Inside the repository (ignored by git) so React resolves from its node_modules.
  const dir = join(root, 'test-output', `bench-react-baseline-${process.pid}`);
  mkdirSync(join(dir, 'src'), { recursive: true });
  writeFileSync(
    join(dir, 'index.html'),
    '<!doctype html><html><body><div id="root"></div><script type="module" src="/src/main.jsx"></script></body></html>',
  );
  writeFileSync(
    join(dir, 'src/main.jsx'),
    "import { createRoot } from 'react-dom/client';\ncreateRoot(document.getElementById('root')).render(<p>Hello</p>);\n",
  );
  const vite = join(root, 'node_modules/vite/bin/vite.js');
  const result = spawnSync(process.execPath, [vite, 'build', '--logLevel', 'error', dir], {
    cwd: join(root, 'apps/web'),
    encoding: 'utf8',
    env: { ...process.env, NODE_PATH: join(root, 'node_modules') },
  });
  if (result.status !== 0) throw new Error(`baseline build failed: ${result.stderr}`);
  const measured = measure(join(dir, 'dist'));
  rmSync(dir, { recursive: true, force: true });
  return measured;
}

progress('web: measuring apps/web/dist');
const app = measure(webDist);
const base = bareReact();
const initial = app.html + app.js + app.css;
const baseline = base.html + base.js + base.css;
const lazy = app.all.filter((f) => !app.files.includes(`/assets/${f.name}`));
const lazyTotal = lazy.reduce((n, f) => n + f.size, 0);
const biggestLazy = [...lazy].sort((a, b) => b.size - a.size).slice(0, 3);

emit({
  section: 'web',
  title: 'Web app: what the first screen loads',
  rows: [
    {
      what: 'initial HTML + JavaScript + CSS, gzip (what the first screen needs)',
      value: Number(kb(initial).toFixed(1)),
      unit: `kB (JS ${formatNumber(kb(app.js))} kB, CSS ${formatNumber(kb(app.css))} kB, HTML ${formatNumber(kb(app.html))} kB)`,
      ratio: initial / baseline,
      baseline: `a bare React page: ${formatNumber(kb(baseline))} kB`,
      goal: `≤ ${GOAL_KB} KB`,
      met: kb(initial) <= GOAL_KB,
    },
    {
      what: 'loaded on first use (discovery, MLS), gzip',
      value: Number(kb(lazyTotal).toFixed(1)),
      unit: `kB in ${lazy.length} chunks; largest: ${biggestLazy.map((f) => `${f.name.replace(/-[\w-]{8}\.js$/, '')} ${formatNumber(kb(f.size))} kB`).join(', ')}`,
      ratio: lazyTotal / initial,
      baseline: 'the initial load',
    },
  ],
  notes: [
    `Initial files: ${app.files.map((f) => f.replace('/assets/', '')).join(', ')}; sizes are gzip -9, as \`parley serve\` sends them.`,
    'libsodium (the OPRF) loads when discovery first runs; ts-mls when the messenger first encrypts or decrypts.',
    ...(SMOKE ? [smokeNote('nothing shrunk (the section takes seconds as it is)')] : []),
  ],
});
