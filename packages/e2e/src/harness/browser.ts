/**
 * Test support for the web app: Debian's Chromium driven by playwright-core, with the checks every
 * browser test wants — no uncaught error, no CSP violation, axe without serious findings — and
 * screenshots at phone and desktop widths.
 */

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

export const CHROMIUM = process.env.PARLEY_CHROMIUM ?? '/usr/bin/chromium';
export const SCREENSHOT_DIR = join('test-output', 'screenshots');
export const VIEWPORTS = {
  phone: { width: 390, height: 844 },
  desktop: { width: 1280, height: 800 },
} as const;

/** Why the browser tests cannot run here, or undefined when they can. Under CI they must. */
export function browserMissing(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  const reason = `Chromium not found at ${CHROMIUM} (apt-get install chromium, or set PARLEY_CHROMIUM)`;
  if (process.env.CI) throw new Error(`CI requires the browser tests: ${reason}`);
  return reason;
}

// The machine has no outside network: without these Chromium keeps trying to reach Google.
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Launches Chromium; `extraArgs` adds flags (e.g. a fake camera, harness/fake-camera.ts). */
export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: [...ARGS, ...extraArgs] });
}

/**
 * Chromium with a profile directory that outlives its pages, as an installed app has: service
 * workers, their caches and the installability check need one.
 */
export function launchPersistentChromium(
  userDataDir: string,
  extraArgs: string[] = [],
): Promise<BrowserContext> {
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    args: [...ARGS, ...extraArgs],
    viewport: VIEWPORTS.phone,
    locale: 'en-US',
  });
}

/** A page that records uncaught errors, console errors and CSP violations for `problems()`. */
export interface WatchedPage {
  page: Page;
  problems(): string[];
}

export async function openPage(
  context: BrowserContext,
  url: string,
  ignore: RegExp[] = [],
): Promise<WatchedPage> {
  const page = await context.newPage();
  const seen: string[] = [];
  page.on('pageerror', (e) => seen.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') seen.push(`console: ${m.text()}`);
  });
  // Init scripts run through the DevTools protocol, so the page's CSP does not block this one.
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  await page.goto(url);
  return {
    page,
    problems: () => seen.filter((s) => !ignore.some((r) => r.test(s))),
  };
}

const axeSource = readFileSync(
  createRequire(import.meta.url).resolve('axe-core/axe.min.js'),
  'utf8',
);

export interface AxeFinding {
  id: string;
  impact: string;
  help: string;
  targets: string[];
}

/** Runs axe-core (WCAG 2 A/AA rules) on the page; returns the serious and critical findings. */
export async function axeSerious(page: Page): Promise<AxeFinding[]> {
  // evaluate() runs through the DevTools protocol too: no inline script for the CSP to refuse.
  await page.evaluate(axeSource);
  const findings = await page.evaluate(async () => {
    const axe = (
      globalThis as unknown as {
        axe: {
          run: (o: unknown) => Promise<{
            violations: {
              id: string;
              impact: string;
              help: string;
              nodes: { target: string[] }[];
            }[];
          }>;
        };
      }
    ).axe;
    const result = await axe.run({
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa'] },
    });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.map((n) => n.target.join(' ')),
    }));
  });
  return findings.filter((f) => f.impact === 'serious' || f.impact === 'critical');
}

/** Saves the page at phone and desktop widths as `<name>-phone.png` and `<name>-desktop.png`. */
export async function screenshots(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const original = page.viewportSize();
  for (const [width, size] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(size);
    // The viewport as a person sees it: the navigation is fixed, so a full-page shot would cut it in.
    await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}-${width}.png`) });
  }
  if (original) await page.setViewportSize(original);
}
