/**
 * Paging a long mail list and reading its dates, in Chromium: the pager sits above the list with
 * First, Prev, Next and Last, disabled at the ends and usable with the keyboard (the focus never
 * falls to the page when its button turns disabled); the date column is whole at 375 px.
 */
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AccountStore } from '../../src/core/accounts.js';
import type { LabContext } from '../../src/lab/context.js';
import { type DashboardHandle, startDashboard } from '../../src/lab/dashboard.js';
import { MailIndex } from '../../src/lab/mail-index.js';
import { WireLog } from '../../src/lab/wire.js';
import { Maildir } from '../../src/mail/maildir.js';
import { type BrowserSession, launchBrowser, screenshotOnFailure } from '../helpers/browser.js';
import { tempDir } from '../helpers/net.js';

/** 50 messages a page: 101 of them make three pages. */
const FILLER = 101;

function plain(subject: string, date?: string): Buffer {
  const head = ['From: alice@example.org', 'To: bob@lab.test', `Subject: ${subject}`];
  if (date) head.push(`Date: ${date}`);
  return Buffer.from([...head, '', 'hello', ''].join('\r\n'));
}

/** Which pager buttons are disabled, and the id of the focused element. */
const pagerState = (page: Page) =>
  page.evaluate(() => ({
    disabled: ['first', 'prev', 'next', 'last'].filter(
      (id) => (document.getElementById(id) as HTMLButtonElement).disabled,
    ),
    focus: document.activeElement?.id,
  }));

describe('dashboard pager and list dates in Chromium', () => {
  let cleanup: () => Promise<void>;
  let dash: DashboardHandle;
  let session: BrowserSession;
  let failed = false;

  beforeAll(async () => {
    const t = await tempDir();
    cleanup = t.cleanup;
    const md = Maildir.open(t.dir, 'bob');
    for (let i = 1; i <= FILLER; i++) await md.deliver(plain(`filler ${i}`));
    await md.deliver(plain('from long ago', 'Wed, 25 Nov 2020 08:44:04 +0000'));
    // no Date header: the list shows when it arrived, today
    await md.deliver(plain('arrived today'));
    const ctx: LabContext = {
      dataDir: t.dir,
      mail: new MailIndex(t.dir),
      wire: new WireLog(),
      accounts: new AccountStore(t.dir),
      status: () => [],
    };
    await ctx.mail.refresh();
    dash = await startDashboard(ctx, { port: 0 });
    session = await launchBrowser();
  });
  afterEach((t) => {
    if (t.task.result?.state === 'fail') failed = true;
  });
  afterAll(async () => {
    await screenshotOnFailure(session?.page, 'dashboard-pager-dates', failed);
    await session?.close();
    await dash?.close();
    await cleanup?.();
  });

  it('pages to the last and the first page with the keyboard, disabling the buttons at the ends', async () => {
    const { page } = session;
    await page.goto(dash.url);
    const info = page.locator('#page-info');
    await expect.poll(() => info.textContent()).toBe('103 messages · page 1 of 3');
    expect((await pagerState(page)).disabled).toEqual(['first', 'prev']);
    // above the list, where it is seen without scrolling past 50 rows
    const pagerY = (await page.locator('.pager').boundingBox())?.y ?? Number.POSITIVE_INFINITY;
    expect(pagerY).toBeLessThan((await page.locator('#messages').boundingBox())?.y ?? 0);

    await page.locator('#last').focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => info.textContent()).toBe('103 messages · page 3 of 3');
    // Last is disabled now: the focus is on the way back, not lost to the page
    expect(await pagerState(page)).toEqual({ disabled: ['next', 'last'], focus: 'prev' });
    await page.keyboard.press('Enter');
    await expect.poll(() => info.textContent()).toBe('103 messages · page 2 of 3');
    expect(await pagerState(page)).toEqual({ disabled: [], focus: 'prev' });

    await page.keyboard.press('Shift+Tab');
    expect((await pagerState(page)).focus).toBe('first');
    await page.keyboard.press(' ');
    await expect.poll(() => info.textContent()).toBe('103 messages · page 1 of 3');
    expect(await pagerState(page)).toEqual({ disabled: ['first', 'prev'], focus: 'next' });
    await page.locator('#messages tbody tr', { hasText: 'arrived today' }).waitFor();
  });

  it('shows every date of the list whole at 375 px, the full date in its tooltip', async () => {
    const { page } = session;
    await page.setViewportSize({ width: 375, height: 800 });
    await page.goto(dash.url);
    await page.locator('#messages tbody tr', { hasText: 'arrived today' }).waitFor();
    const cells = await page.locator('#messages tbody td:nth-child(4)').evaluateAll((tds) =>
      tds.map((td) => ({
        text: td.textContent,
        cut: td.scrollWidth > td.clientWidth,
        title: td.getAttribute('title'),
      })),
    );
    expect(cells).toHaveLength(50);
    // nor does the pager above the list widen the page
    expect(
      await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth),
    ).toBeLessThanOrEqual(0);
    for (const c of cells) expect(c, c.title ?? '').toMatchObject({ cut: false });
    const old = await page
      .locator('#messages tbody tr', { hasText: 'from long ago' })
      .locator('td:nth-child(4)')
      .getAttribute('title');
    expect(old).toBe(await page.evaluate(() => new Date(Date.UTC(2020, 10, 25, 8, 44, 4)).toLocaleString()));
    await page.setViewportSize({ width: 1280, height: 800 });
  });
});
