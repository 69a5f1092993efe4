/**
 * The browser tests' pieces: the UI built by Vite, Debian's Chromium driven
 * by playwright-core (never a downloaded browser), and where screenshots go.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { build } from 'vite';
import { REPO_ROOT } from '../platform/temporal-server.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** A folder git ignores, kept by CI as an artifact. */
export const SCREENSHOTS_DIR = process.env.DRYDOCK_SCREENSHOTS_DIR ?? path.join(REPO_ROOT, 'artifacts', 'ui-screenshots');

/** Builds the UI exactly as `npm run build` does, into a folder of its own. */
export async function buildUi(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'drydock-ui-build-'));
  await build({ configFile: path.join(REPO_ROOT, 'ui', 'vite.config.ts'), logLevel: 'warn', build: { outDir: dir, emptyOutDir: true } });
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`the browser tests need Debian's Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  }
  const profile = await mkdtemp(path.join(os.tmpdir(), 'drydock-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
    timeout: 60_000,
  });
  context.setDefaultTimeout(30_000);
  return {
    context,
    async close() {
      await context.close().catch(() => {});
      await rm(profile, { recursive: true, force: true });
    },
  };
}

export async function screenshotsDir(): Promise<string> {
  await mkdir(SCREENSHOTS_DIR, { recursive: true });
  return SCREENSHOTS_DIR;
}

/** Waits until the element's text contains `text`; the error says what it read instead. */
export async function expectText(locator: Locator, text: string, timeout = 30_000) {
  const until = Date.now() + timeout;
  let last = '';
  for (;;) {
    last = await locator.innerText({ timeout: Math.max(1, until - Date.now()) }).catch(() => last);
    if (last.includes(text)) return;
    if (Date.now() > until) throw new Error(`expected ${locator} to contain ${JSON.stringify(text)}; it reads ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Fails when the page scrolls sideways (wider than its viewport). */
export async function expectNoSideScroll(page: Page, what: string) {
  const [scroll, width] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  expect(scroll, `${what} is wider than the phone`).toBeLessThanOrEqual(width);
}
