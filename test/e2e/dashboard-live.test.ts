/**
 * The dashboard as a user lives with it, in Chromium: the empty state of a fresh lab, hostile
 * names (subject, sender, attachment, chat nick, FTP file) shown as text and never run, the live
 * stream surviving a restart of the lab, a burst of deliveries, and pagination after deletions.
 */
import { EventEmitter, once } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Route } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AccountStore } from '../../src/core/accounts.js';
import type { ChatMessageView, ChatView, FtpView, LabContext } from '../../src/lab/context.js';
import { type DashboardHandle, startDashboard } from '../../src/lab/dashboard.js';
import { MailIndex } from '../../src/lab/mail-index.js';
import { WireLog } from '../../src/lab/wire.js';
import { Maildir } from '../../src/mail/maildir.js';
import {
  type BrowserSession,
  COUNT_WS_MESSAGES,
  counters,
  launchBrowser,
  screenshotOnFailure,
} from '../helpers/browser.js';
import { tempDir } from '../helpers/net.js';

const XSS = '<img src=x onerror="window.__pwned=1">';

function plain(subject: string, extra: string[] = []): Buffer {
  return Buffer.from(
    [
      'From: Alice <alice@example.org>',
      'To: bob@lab.test',
      `Subject: ${subject}`,
      'Date: Mon, 23 Nov 2026 01:00:00 +0000',
      ...extra,
      '',
      'hello',
      '',
    ].join('\r\n'),
  );
}

function hostileMail(): Buffer {
  const b = 'B-1';
  return Buffer.from(
    [
      `From: "<script>window.__pwned=1</script>" <evil@example.org>`,
      'To: bob@lab.test',
      `Subject: ${XSS}`,
      'MIME-Version: 1.0',
      `Content-Type: multipart/mixed; boundary="${b}"`,
      '',
      `--${b}`,
      'Content-Type: text/plain',
      '',
      '<script>window.__pwned=1</script>',
      `--${b}`,
      'Content-Type: application/octet-stream',
      `Content-Disposition: attachment; filename="x\\"><img src=x onerror=window.__pwned=1>.pdf"`,
      '',
      'bytes',
      `--${b}--`,
      '',
    ].join('\r\n'),
  );
}

describe('dashboard live behaviour in Chromium', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let dash: DashboardHandle;
  let ctx: LabContext;
  let session: BrowserSession;
  let failed = false;

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
    const ftpRoot = path.join(dir, 'ftp');
    await mkdir(path.join(ftpRoot, 'pub'), { recursive: true });
    await writeFile(path.join(ftpRoot, 'pub', `${XSS}.txt`), 'x');
    const history: ChatMessageView[] = [
      { ts: Date.now(), room: 'lobby', nick: XSS, text: '<script>window.__pwned=1</script>', kind: 'say' },
    ];
    const chat: ChatView = Object.assign(new EventEmitter(), {
      rooms: () => [{ name: 'lobby', members: [XSS] }],
      history: () => history,
      post: () => {},
    });
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
      chat,
      ftp,
      status: () => [
        {
          name: 'smtp',
          host: '127.0.0.1',
          // shown, never listened on: the empty list quotes the SMTP address the status reports
          port: 42525,
          transport: 'tcp',
          tls: false,
          hint: 'netkit mail send --server 127.0.0.1:42525 --to bob@lab',
        },
      ],
    };
    dash = await startDashboard(ctx, { port: 0 });
    session = await launchBrowser();
    await session.page.addInitScript(COUNT_WS_MESSAGES);
  });
  afterEach((t) => {
    if (t.task.result?.state === 'fail') failed = true;
  });
  afterAll(async () => {
    await screenshotOnFailure(session?.page, 'dashboard-live', failed);
    await session?.close();
    await dash?.close();
    await cleanup();
  });

  it('says where to send mail when there is none yet', async () => {
    const { page } = session;
    await page.goto(dash.url);
    const empty = page.locator('#messages tbody tr.empty');
    await empty.waitFor();
    expect(await empty.textContent()).toContain('No mail yet');
    expect(await empty.textContent()).toContain('127.0.0.1:42525');
    await page.locator('#search').fill('subject:nothing-like-this');
    await page.locator('#search-form button[type="submit"]').click();
    await expect.poll(() => empty.textContent()).toContain('No messages match “subject:nothing-like-this”');
  });

  it('shows hostile subjects, senders, attachment names, nicks and file names as text', async () => {
    const { page } = session;
    await Maildir.open(dir, 'bob').deliver(hostileMail());
    await ctx.mail.refresh();
    await page.goto(dash.url);
    const row = page.locator('#messages tbody tr', { hasText: XSS });
    await row.waitFor();
    await row.click();
    await expect.poll(() => page.locator('#m-subject').textContent()).toBe(XSS);
    expect(await page.locator('#m-meta').textContent()).toContain('<script>window.__pwned=1</script>');
    await expect.poll(() => page.locator('#m-attachments a').textContent()).toContain('<img src=x');
    await page.locator('#m-tabs button[data-part="text"]').click();
    await expect.poll(() => page.locator('#m-body pre').textContent()).toContain('<script>');

    await page.goto(`${dash.url}#chat`);
    await expect.poll(() => page.locator('#chat-log .nick').first().textContent()).toBe(`<${XSS}>`);
    expect(await page.locator('#room-members').textContent()).toContain(XSS);

    await page.goto(`${dash.url}#ftp`);
    await page.locator('#ftp-tree li[data-name="pub"]').click();
    await expect.poll(() => page.locator('#ftp-tree a').first().textContent()).toContain(`${XSS}.txt`);

    // nothing became markup, nothing ran
    expect(await page.locator('main img, main script').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    await Maildir.open(dir, 'bob').remove((await ctx.mail.list({ mailbox: 'bob' })).messages[0]!.id);
  });

  it('catches up with mail that arrived while the lab was restarting', async () => {
    const { page } = session;
    await page.goto(dash.url);
    await page.locator('#live.on').waitFor();
    await page.locator('#page-info').waitFor();
    const port = dash.port;
    await dash.close();
    await page.locator('#live:not(.on)').waitFor();
    // delivered while no dashboard ran: its 'mail' event reached no one
    await Maildir.open(dir, 'carol').deliver(plain('Arrived during the restart'));
    await ctx.mail.refresh();
    dash = await startDashboard(ctx, { port });
    await page.locator('#live.on').waitFor();
    await page
      .locator('#messages tbody tr', { hasText: 'Arrived during the restart' })
      .waitFor({ timeout: 5000 });
    await page.locator('#mailboxes li[data-mailbox="carol"]').waitFor();
  });

  it('answers a burst of deliveries with two list queries, not one per message', async () => {
    const { page } = session;
    await page.goto(dash.url);
    await page.locator('#live.on').waitFor();
    await page.locator('#messages tbody tr', { hasText: 'Arrived during the restart' }).waitFor();
    // list queries wait here until released
    const held: Route[] = [];
    const arrived = new EventEmitter();
    await page.route('**/api/v1/messages?*', (route) => {
      held.push(route);
      arrived.emit('route');
    });
    const before = (await counters(page)).received.mail ?? 0;
    const first = once(arrived, 'route');
    await Maildir.open(dir, 'carol').deliver(plain('End of the burst'));
    await ctx.mail.refresh();
    await first;
    for (let i = 0; i < 300; i++) ctx.mail.emit('change', { mailbox: 'carol' });
    await expect
      .poll(async () => (await counters(page)).received.mail ?? 0)
      .toBeGreaterThanOrEqual(before + 301);
    // the delivery's query is in flight and the 300 changes wait behind it as one
    expect(held).toHaveLength(1);
    const second = once(arrived, 'route');
    await held[0]!.continue();
    await second;
    await held[1]!.continue();
    await page.locator('#messages tbody tr', { hasText: 'End of the burst' }).waitFor();
    await page.unroute('**/api/v1/messages?*');
    expect(held).toHaveLength(2);
  });

  it('steps back to the last page when deletions remove the page being shown', async () => {
    const { page } = session;
    const bulk = Maildir.open(dir, 'bulk');
    for (let i = 0; i < 55; i++) await bulk.deliver(plain(`bulk ${i}`));
    await ctx.mail.refresh();
    await page.goto(dash.url);
    await page.locator('#mailboxes li[data-mailbox="bulk"]').click();
    await expect.poll(() => page.locator('#page-info').textContent()).toContain('page 1 of 2');
    await page.locator('#next').click();
    await expect.poll(() => page.locator('#page-info').textContent()).toContain('page 2 of 2');
    const res = await fetch(`${dash.url}api/v1/messages?mailbox=bulk`, { method: 'DELETE' });
    expect(await res.json()).toEqual({ deleted: 55 });
    await expect.poll(() => page.locator('#page-info').textContent()).toBe('0 messages · page 1 of 1');
    expect(await page.locator('#messages tbody tr.empty').textContent()).toContain('No messages in bulk');
    expect(await page.locator('#prev').isDisabled()).toBe(true);
  });
});
