/**
 * The chat and FTP views under a flood of live events, in Chromium: the page redraws once per
 * animation frame for all of them, not once per event, and ends showing the latest state.
 *
 * Redraws are counted with a MutationObserver on the view's list: the browser delivers its
 * records once per task that changed the DOM, so one redraw per WebSocket message (the defect)
 * counts one callback per event, and a redraw per frame counts one per frame.
 */
import { EventEmitter } from 'node:events';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
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
import { type BrowserSession, launchBrowser, screenshotOnFailure } from '../helpers/browser.js';
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

  it(`draws a burst of ${BURST} chat messages in a few frames, ending on the last one`, async () => {
    const { page } = session;
    await page.goto(`${dash.url}#chat`);
    await page.locator('#live.on').waitFor();
    await page.locator('#chat-log li', { hasText: 'before the burst' }).waitFor();
    await page.evaluate(observe('#chat-log'));
    for (let i = 0; i < BURST; i++) {
      const m = { ts: Date.now(), room: 'lobby', nick: 'bob', text: `burst ${i}`, kind: 'say' };
      chat.emit('message', m);
      // another room's traffic is not drawn here
      chat.emit('message', { ...m, room: 'elsewhere', text: `elsewhere ${i}` });
    }
    const last = page.locator('#chat-log li').last();
    await expect.poll(() => last.textContent(), { timeout: 10_000 }).toBe(`<bob>burst ${BURST - 1}`);
    // every message once, in order, after the history; nothing from the other room
    const texts = await page.locator('#chat-log li .text').allTextContents();
    expect(texts).toEqual(['before the burst', ...Array.from({ length: BURST }, (_, i) => `burst ${i}`)]);
    // scrolled to the newest line
    const atBottom = await page.evaluate(() => {
      const log = document.querySelector('#chat-log')!;
      return log.scrollHeight - log.scrollTop - log.clientHeight < 2;
    });
    expect(atBottom).toBe(true);
    const redraws = await page.evaluate(() => (window as unknown as { __mutations: number }).__mutations);
    expect(redraws).toBeGreaterThan(0);
    expect(redraws).toBeLessThan(BURST / 10);
  });

  it(`redraws FTP sessions and reloads the tree a few times for ${BURST} session events`, async () => {
    const { page } = session;
    sessions = [];
    await page.goto(`${dash.url}#ftp`);
    await page.locator('#live.on').waitFor();
    await page.locator('#ftp-tree li[data-name="pub"]').waitFor();
    let treeLoads = 0;
    const count = (req: { url(): string }) => {
      if (req.url().includes('/api/v1/ftp/tree')) treeLoads++;
    };
    page.on('request', count);
    await page.evaluate(observe('#ftp-sessions tbody'));
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
    const row = page.locator('#ftp-sessions tbody tr');
    await expect
      .poll(() => row.last().textContent(), { timeout: 10_000 })
      .toContain(`download big.bin ${((BURST * 1024) / 1024).toFixed(1)} KiB / 500.0 KiB`);
    expect(await row.count()).toBe(1);
    page.off('request', count);
    const redraws = await page.evaluate(() => (window as unknown as { __mutations: number }).__mutations);
    expect(redraws).toBeGreaterThan(0);
    expect(redraws).toBeLessThan(BURST / 10);
    expect(treeLoads).toBeGreaterThan(0);
    expect(treeLoads).toBeLessThan(BURST / 10);
  });
});
