/**
 * Headless Chromium for dashboard tests: Debian's /usr/bin/chromium driven by playwright-core,
 * with the flags this sandbox needs (no background networking: the network is closed); playwright
 * gives every launch a fresh temporary profile. On a failed test, `screenshotOnFailure` saves a PNG next to the test output.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { ROOT } from './net.js';

export const CHROMIUM = process.env.NETKIT_CHROMIUM ?? '/usr/bin/chromium';

export interface BrowserSession {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<BrowserSession> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  return {
    browser,
    context,
    page,
    async close() {
      await browser.close().catch(() => {});
    },
  };
}

/** Save a screenshot of the page under test-results/ when the current test failed. */
export async function screenshotOnFailure(
  page: Page | undefined,
  name: string,
  failed: boolean,
): Promise<void> {
  if (!page || !failed) return;
  const dir = path.join(ROOT, 'test-results');
  await mkdir(dir, { recursive: true });
  await page
    .screenshot({ path: path.join(dir, `${name.replace(/[^a-z0-9]+/gi, '-')}.png`), fullPage: true })
    .catch(() => {});
}

/**
 * An init script (`page.addInitScript`) that counts each WebSocket message the page handles, by
 * the `type` of its JSON: a test waits for the count instead of for time to pass.
 */
export const COUNT_WS_MESSAGES = `(() => {
  window.__received = {};
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (e) => {
        const { type } = JSON.parse(e.data);
        window.__received[type] = (window.__received[type] ?? 0) + 1;
      });
    }
  };
})()`;

/** Hold the page's animation frames: callbacks wait in window.__frames until `RUN_FRAMES`. */
export const HOLD_FRAMES = `(() => {
  window.__frames = [];
  window.requestAnimationFrame = (cb) => window.__frames.push(cb);
})()`;
export const RUN_FRAMES = `(() => {
  const frames = window.__frames.splice(0);
  for (const cb of frames) cb(performance.now());
  return frames.length;
})()`;

export interface Counters {
  mutations: number;
  received: Record<string, number>;
  frames: number;
}
/** What the page has done so far: DOM change callbacks, messages handled, frames waiting. */
export const counters = (page: Page): Promise<Counters> =>
  page.evaluate(() => {
    const w = window as unknown as {
      __mutations: number;
      __received: Record<string, number>;
      __frames?: unknown[];
    };
    return { mutations: w.__mutations, received: { ...w.__received }, frames: w.__frames?.length ?? 0 };
  });
