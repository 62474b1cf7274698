/**
 * Headless Chromium for browser tests, driven by playwright-core against the system's Chromium
 * (Debian `chromium`; nothing is downloaded). A test that needs it skips, with the reason, where no
 * Chromium is installed.
 */
import { accessSync, constants } from 'node:fs';
import type { TestContext } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { skipWhenMissing } from './programs.js';

/** Environment variable naming the Chromium executable to use; when set, the usual places are not searched. */
export const CHROMIUM_PATH_VARIABLE = 'SPINEGRADE_CHROMIUM';

/** Where a system Chromium is looked for, in order, when {@link CHROMIUM_PATH_VARIABLE} is not set. */
export const CHROMIUM_CANDIDATES: readonly string[] = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/lib/chromium/chromium',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
];

/** Command-line switches for a quiet headless Chromium that contacts nothing by itself. */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The path of an installed Chromium, or undefined when there is none. */
export function findChromium(): string | undefined {
  const override = process.env[CHROMIUM_PATH_VARIABLE];
  return (override ? [override] : CHROMIUM_CANDIDATES).find(isExecutable);
}

/**
 * Runs `fn` with a freshly launched headless Chromium and closes it afterwards, even when `fn`
 * throws. Skips the test (`t.skip`, with the reason) and returns undefined when no Chromium is
 * installed; a Chromium that is installed but fails to launch fails the test.
 */
export async function withBrowser<T>(t: TestContext, fn: (browser: Browser) => Promise<T>): Promise<T | undefined> {
  const executablePath = findChromium();
  if (
    !executablePath &&
    skipWhenMissing(
      t,
      process.env[CHROMIUM_PATH_VARIABLE]
        ? `no Chromium at $${CHROMIUM_PATH_VARIABLE} (${process.env[CHROMIUM_PATH_VARIABLE]})`
        : `no Chromium found (looked at ${CHROMIUM_CANDIDATES.join(', ')}); install the Debian package "chromium"`,
    )
  ) {
    return undefined;
  }
  const browser = await chromium.launch({ executablePath, args: [...CHROMIUM_ARGS], timeout: 60_000 });
  try {
    return await fn(browser);
  } finally {
    await browser.close();
  }
}

/**
 * Runs `fn` with a new page of a fresh browser context in {@link withBrowser}'s Chromium; any
 * uncaught page error or console error is collected into `problems` for the test to assert on.
 */
export async function withPage<T>(
  t: TestContext,
  fn: (page: Page, problems: string[]) => Promise<T>,
  viewport: { width: number; height: number } = { width: 1280, height: 900 },
): Promise<T | undefined> {
  return withBrowser(t, async (browser) => {
    const context = await browser.newContext({ viewport });
    try {
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
      });
      return await fn(page, problems);
    } finally {
      await context.close();
    }
  });
}
