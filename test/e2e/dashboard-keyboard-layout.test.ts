/**
 * The dashboard for a keyboard user and on a desktop screen, in Chromium: every message, mailbox
 * and folder is reached with Tab and opened with Enter, focus follows into a message and back to its
 * row, survives live redraws; nothing of the list is shown under an open message; a long sender or
 * subject never widens the page; the Status view's commands are readable whole; clearing the search
 * box shows every message again.
 */
import { EventEmitter } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AccountStore } from '../../src/core/accounts.js';
import type { FtpView, LabContext } from '../../src/lab/context.js';
import { type DashboardHandle, startDashboard } from '../../src/lab/dashboard.js';
import { MailIndex } from '../../src/lab/mail-index.js';
import { WireLog } from '../../src/lab/wire.js';
import { Maildir } from '../../src/mail/maildir.js';
import { type BrowserSession, launchBrowser, screenshotOnFailure } from '../helpers/browser.js';
import { tempDir } from '../helpers/net.js';

const LONG = 'x'.repeat(150);
const HINT = `netkit mail send --server 127.0.0.1:42525 --data /tmp/a/very/long/data/directory/${'d'.repeat(60)} --to bob@lab`;

function plain(subject: string, from = 'Alice <alice@example.org>'): Buffer {
  return Buffer.from(
    [`From: ${from}`, 'To: bob@lab.test', `Subject: ${subject}`, '', 'hello', ''].join('\r\n'),
  );
}

function mimeWithAttachment(subject: string, filename: string): Buffer {
  return Buffer.from(
    [
      'From: alice@example.org',
      'To: wide@lab.test',
      `Subject: ${subject}`,
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="B"',
      '',
      '--B',
      'Content-Type: text/plain',
      '',
      'see attached',
      '--B',
      'Content-Type: text/plain',
      `Content-Disposition: attachment; filename="${filename}"`,
      '',
      'attached',
      '--B--',
      '',
    ].join('\r\n'),
  );
}

/** What has the keyboard focus: its tag, id attribute and data-* values (a row's `id` is its data-id). */
const focused = (page: Page) =>
  page.evaluate(() => {
    const a = document.activeElement as HTMLElement;
    return { tag: a.tagName, elementId: a.id, ...a.dataset } as Record<string, string>;
  });

describe('dashboard keyboard access and layout in Chromium', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let dash: DashboardHandle;
  let ctx: LabContext;
  let session: BrowserSession;
  let failed = false;
  const deliver = async (mailbox: string, raw: Buffer) => {
    await Maildir.open(dir, mailbox).deliver(raw);
    await ctx.mail.refresh();
  };

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
    const ftpRoot = path.join(dir, 'ftp');
    await mkdir(path.join(ftpRoot, 'pub', 'inner'), { recursive: true });
    const ftp: FtpView = Object.assign(new EventEmitter(), {
      root: ftpRoot,
      sessions: () => [],
      permissions: () => ({}),
    });
    ctx = {
      dataDir: dir,
      mail: new MailIndex(dir),
      wire: new WireLog(),
      accounts: new AccountStore(dir),
      ftp,
      status: () => [
        { name: 'smtp', host: '127.0.0.1', port: 42525, transport: 'tcp', tls: false, hint: HINT },
      ],
    };
    for (const s of ['first', 'second', 'third']) await deliver('bob', plain(s));
    await deliver('carol', plain('for carol'));
    dash = await startDashboard(ctx, { port: 0 });
    session = await launchBrowser();
  });
  afterEach((t) => {
    if (t.task.result?.state === 'fail') failed = true;
  });
  afterAll(async () => {
    await screenshotOnFailure(session?.page, 'dashboard-keyboard-layout', failed);
    await session?.close();
    await dash?.close();
    await cleanup();
  });

  it('hides the pager while a message is open', async () => {
    const { page } = session;
    await page.goto(dash.url);
    await page.locator('#messages tbody tr', { hasText: 'first' }).click();
    await page.locator('#m-subject', { hasText: 'first' }).waitFor();
    expect(await page.locator('.pager').isVisible()).toBe(false);
    await page.locator('#back').click();
    expect(await page.locator('.pager').isVisible()).toBe(true);
  });

  it('opens a message with the keyboard, and Back returns the focus to its row', async () => {
    const { page } = session;
    await page.goto(dash.url);
    await page.locator('#messages tbody tr[data-id]').first().waitFor();
    await page.locator('#delete-all').focus();
    await page.keyboard.press('Tab');
    const row = await focused(page);
    expect(row.tag).toBe('TR');
    await page.keyboard.press('Enter');
    await page.locator('#message:not([hidden])').waitFor();
    expect((await focused(page)).elementId).toBe('m-subject');
    await page.keyboard.press('Escape');
    await page.locator('#messages:not([hidden])').waitFor();
    expect(await focused(page)).toEqual(row);
    // the next row, opened with Space this time
    await page.keyboard.press('Tab');
    const next = await focused(page);
    expect(next.tag).toBe('TR');
    expect(next.id).not.toBe(row.id);
    await page.keyboard.press(' ');
    await page.locator('#message:not([hidden])').waitFor();
    await page.locator('#back').click();
    expect(await focused(page)).toEqual(next);
  });

  it('selects a mailbox and walks into an FTP folder with the keyboard', async () => {
    const { page } = session;
    await page.goto(dash.url);
    await page.locator('#mailboxes li[data-mailbox="carol"]').focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('#page-info').textContent()).toContain('1 message ·');
    expect(await page.locator('#messages tbody').textContent()).toContain('for carol');

    await page.goto(`${dash.url}#ftp`);
    await page.locator('#ftp-tree li[data-name="pub"]').focus();
    await page.keyboard.press('Enter');
    await page.locator('#ftp-tree li[data-name="inner"]').waitFor();
    // the folder's first entry ("..") has the focus, not the page
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('..');
  });

  it('keeps the focus on its row when new mail redraws the list', async () => {
    const { page } = session;
    await page.goto(dash.url);
    const second = page.locator('#messages tbody tr', { hasText: 'second' });
    await second.focus();
    const before = await focused(page);
    expect(before.tag).toBe('TR');
    await deliver('bob', plain('arrives while focused'));
    await page.locator('#messages tbody tr', { hasText: 'arrives while focused' }).waitFor();
    expect(await focused(page)).toEqual(before);
  });

  it('after deleting a message, focuses the row now in its place', async () => {
    const { page } = session;
    await page.goto(dash.url);
    const rows = page.locator('#messages tbody tr[data-id]');
    await rows.first().waitFor();
    const thirdId = await rows.nth(2).getAttribute('data-id');
    await rows.nth(1).focus();
    await page.keyboard.press('Enter');
    await page.locator('#message:not([hidden])').waitFor();
    await page.locator('#delete-one').click();
    await page.locator('#messages:not([hidden])').waitFor();
    await expect.poll(async () => (await focused(page)).id).toBe(thirdId);
  });

  it('cuts a long sender or subject with an ellipsis instead of widening the page', async () => {
    const { page } = session;
    await deliver('bob', plain(`Subject ${LONG}`, `"Sender ${LONG}" <s@example.org>`));
    for (const width of [1280, 1024, 800]) {
      await page.setViewportSize({ width, height: 800 });
      await page.goto(dash.url);
      await page.locator('#messages tbody tr', { hasText: LONG }).waitFor();
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow, `${width} px`).toBeLessThanOrEqual(0);
    }
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('wraps a name without spaces in the message view and the FTP tree, at 1280 and 375 px', async () => {
    const { page } = session;
    const name = `${'n'.repeat(200)}.txt`;
    await deliver('wide', mimeWithAttachment(`Wide${'w'.repeat(200)}`, name));
    await writeFile(path.join(dir, 'ftp', 'pub', name), 'x');
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    for (const width of [1280, 375]) {
      await page.setViewportSize({ width, height: 800 });
      await page.goto(dash.url);
      await page.locator('#messages tbody tr', { hasText: 'Wideww' }).click();
      await page.locator('#m-attachments a', { hasText: name }).waitFor();
      expect(await overflow(), `message at ${width} px`).toBeLessThanOrEqual(0);
      await page.goto(`${dash.url}#ftp`);
      await page.locator('#ftp-tree li[data-name="pub"]').click();
      await page.locator('#ftp-tree a', { hasText: name }).waitFor();
      expect(await overflow(), `FTP tree at ${width} px`).toBeLessThanOrEqual(0);
    }
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('shows the commands of the Status view whole', async () => {
    const { page } = session;
    await page.goto(`${dash.url}#status`);
    const hint = page.locator('#status tbody td:nth-child(5)').first();
    await expect.poll(() => hint.textContent()).toBe(HINT);
    const cut = await hint.evaluate((td) => td.scrollWidth - td.clientWidth);
    expect(cut).toBeLessThanOrEqual(0);
  });

  it('shows every message again when the search box is cleared', async () => {
    const { page } = session;
    await page.goto(dash.url);
    await page.locator('#search').fill('subject:nothing-like-this');
    await page.locator('#search').press('Enter');
    await page.locator('#messages tbody tr.empty').waitFor();
    // what the clear button (×) of a search box does: empty it, with an input event, no submit
    await page.locator('#search').fill('');
    await page.locator('#messages tbody tr', { hasText: 'first' }).waitFor();
  });
});
