/**
 * The chat and FTP views under a flood of live events, in Chromium: the page draws nothing per
 * event, asks for one animation frame for all of them, and that one frame draws the latest state.
 *
 * Nothing here depends on how fast the machine is. The page's animation frames are held (the
 * test's own requestAnimationFrame queues the callbacks) until every WebSocket message of the
 * burst has been handled, counted by a listener the init script adds to each WebSocket; then the
 * held frame is run by hand. FTP tree requests are held the same way with `page.route`.
 */
import { EventEmitter, once } from 'node:events';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Route } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AccountStore } from '../../src/core/accounts.js';
import type {
  ChatMessageView,
  ChatView,
  FtpSessionView,
  FtpView,
  LabContext,
} from '../../src/lab/context.js';
import { type DashboardHandle, startDashboard } from '../../src/lab/dashboard.js';
import { MailIndex } from '../../src/lab/mail-index.js';
import { WireLog } from '../../src/lab/wire.js';
import {
  type BrowserSession,
  COUNT_WS_MESSAGES,
  counters,
  HOLD_FRAMES,
  launchBrowser,
  RUN_FRAMES,
  screenshotOnFailure,
} from '../helpers/browser.js';
import { tempDir } from '../helpers/net.js';

const BURST = 500;

/** Start counting MutationObserver callbacks on `selector` (childList, subtree). */
function observe(selector: string): string {
  return `(() => {
    window.__mutations = 0;
    new MutationObserver(() => { window.__mutations++; })
      .observe(document.querySelector(${JSON.stringify(selector)}), { childList: true, subtree: true, characterData: true });
  })()`;
}

describe('dashboard live views coalesce bursts of events', () => {
  let cleanup: () => Promise<void>;
  let dash: DashboardHandle;
  let session: BrowserSession;
  let chat: ChatView;
  let ftp: FtpView;
  let sessions: FtpSessionView[] = [];
  const history: ChatMessageView[] = [
    { ts: Date.now(), room: 'lobby', nick: 'alice', text: 'before the burst', kind: 'say' },
  ];
  let failed = false;

  beforeAll(async () => {
    let dir: string;
    ({ dir, cleanup } = await tempDir());
    const ftpRoot = path.join(dir, 'ftp');
    await mkdir(path.join(ftpRoot, 'pub'), { recursive: true });
    chat = Object.assign(new EventEmitter(), {
      rooms: () => [{ name: 'lobby', members: ['alice'] }],
      history: () => history,
      post: () => {},
    });
    ftp = Object.assign(new EventEmitter(), {
      root: ftpRoot,
      sessions: () => sessions,
      permissions: () => ({}),
    });
    const ctx: LabContext = {
      dataDir: dir,
      mail: new MailIndex(dir),
      wire: new WireLog(),
      accounts: new AccountStore(dir),
      chat,
      ftp,
      status: () => [],
    };
    dash = await startDashboard(ctx, { port: 0 });
    session = await launchBrowser();
    await session.page.addInitScript(COUNT_WS_MESSAGES);
  });
  afterEach((t) => {
    if (t.task.result?.state === 'fail') failed = true;
  });
  afterAll(async () => {
    await screenshotOnFailure(session?.page, 'dashboard-coalesce', failed);
    await session?.close();
    await dash?.close();
    await cleanup();
  });

  it(`draws a burst of ${BURST} chat messages in one frame, ending on the last one`, async () => {
    const { page } = session;
    await page.goto(`${dash.url}#chat`);
    await page.locator('#live.on').waitFor();
    await page.locator('#chat-log li', { hasText: 'before the burst' }).waitFor();
    await page.evaluate(observe('#chat-log'));
    await page.evaluate(HOLD_FRAMES);
    const before = (await counters(page)).received.chat ?? 0;
    for (let i = 0; i < BURST; i++) {
      const m = { ts: Date.now(), room: 'lobby', nick: 'bob', text: `burst ${i}`, kind: 'say' };
      chat.emit('message', m);
      // another room's traffic is not drawn here
      chat.emit('message', { ...m, room: 'elsewhere', text: `elsewhere ${i}` });
    }
    await expect.poll(async () => (await counters(page)).received.chat ?? 0).toBe(before + 2 * BURST);
    // every message handled, nothing drawn yet, one frame asked for
    expect(await counters(page)).toMatchObject({ mutations: 0, frames: 1 });
    expect(await page.evaluate(RUN_FRAMES)).toBe(1);
    expect(await counters(page)).toMatchObject({ mutations: 1, frames: 0 });
    // every message once, in order, after the history; nothing from the other room
    const texts = await page.locator('#chat-log li .text').allTextContents();
    expect(texts).toEqual(['before the burst', ...Array.from({ length: BURST }, (_, i) => `burst ${i}`)]);
    // scrolled to the newest line
    const atBottom = await page.evaluate(() => {
      const log = document.querySelector('#chat-log')!;
      return log.scrollHeight - log.scrollTop - log.clientHeight < 2;
    });
    expect(atBottom).toBe(true);
  });

  it(`redraws FTP sessions in one frame and reloads the tree twice for ${BURST} session events`, async () => {
    const { page } = session;
    sessions = [];
    await page.goto(`${dash.url}#ftp`);
    await page.locator('#live.on').waitFor();
    await page.locator('#ftp-tree li[data-name="pub"]').waitFor();
    // tree requests wait here until released
    const held: Route[] = [];
    const arrived = new EventEmitter();
    await page.route('**/api/v1/ftp/tree*', (route) => {
      held.push(route);
      arrived.emit('route');
    });
    await page.evaluate(observe('#ftp-sessions tbody'));
    await page.evaluate(HOLD_FRAMES);
    const before = (await counters(page)).received.ftp ?? 0;
    for (let i = 1; i <= BURST; i++) {
      sessions = [
        {
          id: 7,
          user: 'anonymous',
          class: 'anonymous',
          ip: '127.0.0.1',
          command: 'RETR big.bin',
          transfer: { file: 'big.bin', direction: 'download', bytes: i * 1024, total: BURST * 1024 },
        },
      ];
      ftp.emit('session');
    }
    await expect.poll(async () => (await counters(page)).received.ftp ?? 0).toBe(before + BURST);
    expect(await counters(page)).toMatchObject({ mutations: 0, frames: 1 });
    expect(await page.evaluate(RUN_FRAMES)).toBe(1);
    expect(await counters(page)).toMatchObject({ mutations: 1, frames: 0 });
    const row = page.locator('#ftp-sessions tbody tr');
    expect(await row.count()).toBe(1);
    expect(await row.textContent()).toContain('download big.bin 500.0 KiB / 500.0 KiB');
    // the first event's reload is in flight and the other 499 wait as one: two requests in all
    if (held.length === 0) await once(arrived, 'route');
    expect(held).toHaveLength(1);
    const next = once(arrived, 'route');
    await held[0]!.continue();
    await next;
    expect(held).toHaveLength(2);
    const done = page.waitForResponse('**/api/v1/ftp/tree*');
    await held[1]!.continue();
    await done;
    await page.locator('#ftp-tree li[data-name="pub"]').waitFor();
    await page.unroute('**/api/v1/ftp/tree*');
    expect(held).toHaveLength(2);
  });
});
