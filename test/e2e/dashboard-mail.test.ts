/**
 * The dashboard's mail view in a real browser (Debian Chromium via playwright-core), over a lab
 * context built from a temporary Maildir: list, open, sandboxed HTML with inline image, attachment
 * download, hostile mail that must not run script or reach the API, and live arrival.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AccountStore } from '../../src/core/accounts.js';
import type { LabContext } from '../../src/lab/context.js';
import { type DashboardHandle, startDashboard } from '../../src/lab/dashboard.js';
import { MailIndex } from '../../src/lab/mail-index.js';
import { WireLog } from '../../src/lab/wire.js';
import { Maildir } from '../../src/mail/maildir.js';
import { type BrowserSession, launchBrowser, screenshotOnFailure } from '../helpers/browser.js';
import { tempDir } from '../helpers/net.js';

const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);
const ATTACHMENT = Buffer.from('%PDF-1.4 fake pdf bytes \u0000\u0001\u0002 end');

function mime(opts: { subject: string; html: string; withParts?: boolean }): Buffer {
  const b = 'BOUNDARY-1';
  const r = 'BOUNDARY-REL';
  const lines = [
    'From: Alice <alice@example.org>',
    'To: bob@lab.test',
    `Subject: ${opts.subject}`,
    'Date: Mon, 23 Nov 2026 01:00:00 +0000',
    'MIME-Version: 1.0',
    `Content-Type: multipart/mixed; boundary="${b}"`,
    '',
    `--${b}`,
    `Content-Type: multipart/related; boundary="${r}"`,
    '',
    `--${r}`,
    'Content-Type: text/html; charset=utf-8',
    '',
    opts.html,
    `--${r}`,
    'Content-Type: image/png',
    'Content-Transfer-Encoding: base64',
    'Content-ID: <logo@lab>',
    'Content-Disposition: inline; filename="logo.png"',
    '',
    PNG.toString('base64'),
    `--${r}--`,
  ];
  if (opts.withParts) {
    lines.push(
      `--${b}`,
      'Content-Type: application/pdf',
      'Content-Transfer-Encoding: base64',
      'Content-Disposition: attachment; filename="report.pdf"',
      '',
      ATTACHMENT.toString('base64'),
    );
  }
  lines.push(`--${b}--`, '');
  return Buffer.from(lines.join('\r\n'));
}

describe('dashboard mail view in Chromium', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let dash: DashboardHandle;
  let ctx: LabContext;
  let session: BrowserSession;
  const apiWrites: string[] = [];
  let failed = false;

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
    const mail = new MailIndex(dir);
    ctx = {
      dataDir: dir,
      mail,
      wire: new WireLog(),
      accounts: new AccountStore(dir),
      status: () => [],
    };
    const md = Maildir.open(dir, 'bob');
    await md.deliver(
      mime({
        subject: 'Welcome aboard',
        html: '<h1 id="hello">Hello Bob</h1><img id="logo" src="cid:logo@lab">',
        withParts: true,
      }),
    );
    dash = await startDashboard(ctx, { port: 0 });
    session = await launchBrowser();
    session.page.on('request', (req) => {
      if (req.url().includes('/api/v1/') && req.method() !== 'GET')
        apiWrites.push(`${req.method()} ${req.url()}`);
    });
  });
  afterEach((t) => {
    if (t.task.result?.state === 'fail') failed = true;
  });
  afterAll(async () => {
    await screenshotOnFailure(session?.page, 'dashboard-mail', failed);
    await session?.close();
    await dash?.close();
    await cleanup();
  });

  it('lists, opens and renders a message in a sandboxed frame with its inline image', async () => {
    const { page } = session;
    await page.goto(dash.url);
    const row = page.locator('#messages tbody tr', { hasText: 'Welcome aboard' });
    await row.waitFor();
    const image = page.waitForResponse((r) => r.url().includes('/cid/logo%40lab'));
    await row.click();
    await expect.poll(() => page.locator('#m-subject').textContent()).toBe('Welcome aboard');
    const frameEl = page.locator('#m-html');
    expect(await frameEl.getAttribute('sandbox')).not.toContain('allow-same-origin');
    expect(await frameEl.getAttribute('sandbox')).not.toContain('allow-scripts');
    const frame = page.frameLocator('#m-html');
    await expect.poll(() => frame.locator('#hello').textContent()).toBe('Hello Bob');
    // the inline image was resolved through the API (cid: → /cid/…) and served as a PNG
    const res = await image;
    expect(res.status()).toBe(200);
    expect(Buffer.compare(await res.body(), PNG)).toBe(0);
  });

  it('downloads an attachment with the original bytes', async () => {
    const { page } = session;
    await page.goto(dash.url);
    await page.locator('#messages tbody tr', { hasText: 'Welcome aboard' }).click();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('#m-attachments a', { hasText: 'report.pdf' }).click(),
    ]);
    const file = await download.path();
    expect(Buffer.compare(await readFile(file), ATTACHMENT)).toBe(0);
  });

  it('shows a hostile mail without running its script or reaching the API', async () => {
    const { page } = session;
    const hostile = [
      '<h1 id="bait">Totally normal mail</h1>',
      '<script>fetch("/api/v1/messages",{method:"DELETE"});document.title="pwned"</script>',
      '<img src="x" onerror="fetch(\'/api/v1/messages\',{method:\'DELETE\'})">',
      '<form id="f" method="post" action="/api/v1/chat/rooms/lobby/messages"><input name="text" value="x"><button id="go">go</button></form>',
      "<iframe src=\"javascript:parent.fetch('/api/v1/messages',{method:'DELETE'})\"></iframe>",
    ].join('\n');
    await Maildir.open(dir, 'bob').deliver(mime({ subject: 'Hostile', html: hostile }));
    await ctx.mail.refresh();
    await page.goto(dash.url);
    const row = page.locator('#messages tbody tr', { hasText: 'Hostile' });
    await row.waitFor();
    await row.click();
    const frame = page.frameLocator('#m-html');
    await expect.poll(() => frame.locator('#bait').textContent()).toBe('Totally normal mail');
    // try to submit the form: the sandbox has no allow-forms, so nothing is sent
    await frame
      .locator('#go')
      .click({ timeout: 2000 })
      .catch(() => {});
    const list = (await (await fetch(`${dash.url}api/v1/messages`)).json()) as { total: number };
    expect(list.total).toBe(2);
    expect(apiWrites.filter((w) => w.startsWith('DELETE') || w.includes('/chat/'))).toEqual([]);
  });

  it('rejects cross-origin writes to the API', async () => {
    const res = await fetch(`${dash.url}api/v1/messages`, { method: 'DELETE', headers: { origin: 'null' } });
    expect(res.status).toBe(403);
    const res2 = await fetch(`${dash.url}api/v1/messages`, {
      method: 'DELETE',
      headers: { origin: 'http://evil.example' },
    });
    expect(res2.status).toBe(403);
  });

  it('is readable on a phone width (no horizontal scrolling)', async () => {
    const { page } = session;
    await page.setViewportSize({ width: 375, height: 800 });
    await page.goto(dash.url);
    await page.locator('#messages tbody tr').first().waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('shows new mail without a reload', async () => {
    const { page } = session;
    await page.goto(dash.url);
    await page.locator('#messages tbody tr').first().waitFor();
    await Maildir.open(dir, 'carol').deliver(mime({ subject: 'Fresh arrival', html: '<p>new</p>' }));
    await ctx.mail.refresh();
    await page.locator('#messages tbody tr', { hasText: 'Fresh arrival' }).waitFor({ timeout: 5000 });
    await page.locator('#mailboxes li[data-mailbox="carol"]').waitFor();
  });

  it('shows a Bcc recipient (delivered for an address the headers do not name), and only then', async () => {
    const { page } = session;
    const copy = (to: string, subject: string) =>
      Buffer.concat([
        Buffer.from(`Return-Path: <alice@example.org>\r\nDelivered-To: ${to}\r\n`),
        mime({ subject, html: '<p>x</p>' }),
      ]);
    await Maildir.open(dir, 'erin').deliver(copy('erin@lab.test', 'Blind copy'));
    await Maildir.open(dir, 'bob').deliver(copy('BOB@lab.test', 'Plain copy'));
    await ctx.mail.refresh();
    const meta = async (subject: string) => {
      await page.goto(dash.url);
      await page.locator('#messages tbody tr', { hasText: subject }).click();
      await expect.poll(() => page.locator('#m-subject').textContent()).toBe(subject);
      return page.locator('#m-meta').innerText();
    };
    expect(await meta('Blind copy')).toMatch(/Bcc\s+erin@lab\.test/);
    const plain = await meta('Plain copy');
    expect(plain).toContain('bob@lab.test');
    expect(plain).not.toContain('Bcc');
  });

  it('opens a link in the mail in a new tab (a reset link), not blocked inside the frame', async () => {
    const { page } = session;
    const target = `${dash.url}livez`;
    await Maildir.open(dir, 'dave').deliver(
      mime({ subject: 'Reset your password', html: `<p><a id="reset" href="${target}">Reset it</a></p>` }),
    );
    await ctx.mail.refresh();
    await page.goto(dash.url);
    await page.locator('#messages tbody tr', { hasText: 'Reset your password' }).click();
    const frame = page.frameLocator('#m-html');
    await frame.locator('#reset').waitFor();
    const [tab] = await Promise.all([page.context().waitForEvent('page'), frame.locator('#reset').click()]);
    await tab.waitForLoadState();
    expect(tab.url()).toBe(target);
    expect(await tab.locator('body').textContent()).toContain('ok');
    await tab.close();
  });
});
