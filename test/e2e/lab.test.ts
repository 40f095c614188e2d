/**
 * The whole lab in a real browser: `netkit lab` started as users start it (all ports 0, a temp data
 * directory), mail sent with `netkit mail send`, chat bridged between the browser and a raw TCP
 * client, an FTP upload by Python's ftplib appearing live.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type BrowserSession, launchBrowser, screenshotOnFailure } from '../helpers/browser.js';
import { LAB_ANY_PORT_FLAGS, LAB_SOCKETS } from '../helpers/lab.js';
import { LineClient, netkit, run, startServe, tempDir } from '../helpers/net.js';

const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);

describe('netkit lab in Chromium', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let lab: Awaited<ReturnType<typeof startServe>>;
  let session: BrowserSession;
  let url: string;
  const port = (service: string, transport = 'tcp') =>
    lab.listening.find((l) => l.service === service && (l.transport ?? 'tcp') === transport)!.port;
  let failed: string[] = [];

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
    lab = await startServe(['lab', '--data', path.join(dir, 'data'), ...LAB_ANY_PORT_FLAGS], LAB_SOCKETS);
    url = `http://127.0.0.1:${port('dashboard')}/`;
    session = await launchBrowser();
  });
  afterEach((t) => {
    if (t.task.result?.state === 'fail') failed.push(t.task.name);
  });
  afterAll(async () => {
    for (const name of failed) await screenshotOnFailure(session?.page, `lab-${name}`, true);
    failed = [];
    await session?.close();
    await lab?.stop();
    await cleanup();
  });

  it('answers the health endpoints', async () => {
    expect((await fetch(`${url}livez`)).status).toBe(200);
    expect(await (await fetch(`${url}readyz`)).json()).toEqual({ ready: true });
  });

  it('shows a mail sent with `netkit mail send` live, renders it, and downloads its attachment', async () => {
    const { page } = session;
    await page.goto(url);
    await page.locator('#page-info').waitFor();
    const attachment = path.join(dir, 'notes.bin');
    const bytes = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7) % 256));
    await writeFile(attachment, bytes);
    const logo = path.join(dir, 'logo.png');
    await writeFile(logo, PNG);
    const sent = await netkit([
      'mail',
      'send',
      '--server',
      `127.0.0.1:${port('smtp')}`,
      '--from',
      'alice@example.org',
      '--to',
      'bob@lab.test',
      '--subject',
      'Lab report ✓',
      '--text',
      'plain version',
      '--html',
      '<h1 id="title">Lab report</h1><img id="logo" src="cid:logo">',
      '--inline',
      `logo=${logo}`,
      '--attach',
      attachment,
      '--no-tls',
    ]);
    expect(sent.stderr).toBe('');
    expect(sent.code).toBe(0);
    const row = page.locator('#messages tbody tr', { hasText: 'Lab report ✓' });
    await row.waitFor();
    await row.click();
    const frame = page.frameLocator('#m-html');
    await expect.poll(() => frame.locator('#title').textContent()).toBe('Lab report');
    expect(await page.locator('#m-html').getAttribute('sandbox')).not.toContain('allow-scripts');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('#m-attachments a', { hasText: 'notes.bin' }).click(),
    ]);
    const { readFile } = await import('node:fs/promises');
    expect(Buffer.compare(await readFile((await download.path())!), bytes)).toBe(0);
    // the SMTP conversation that delivered it
    await page.locator('#m-tabs button[data-part="smtp"]').click();
    await expect.poll(() => page.locator('#m-body pre').textContent()).toContain('MAIL FROM');
  });

  it('bridges chat between the browser and a raw TCP client', async () => {
    const { page } = session;
    const tcp = await LineClient.connect(port('chat'));
    tcp.send('/nick tcpuser\r\n');
    await tcp.until(/tcpuser/);
    await page.goto(`${url}#chat`);
    await page.locator('#rooms li[data-room="lobby"]').waitFor();
    await page.locator('#chat-nick').fill('browser');
    await page.locator('#chat-text').fill('hello from the browser');
    await page.locator('#chat-form button').click();
    expect(await tcp.until(/hello from the browser/)).toContain('browser');
    tcp.send('hello from tcp\r\n');
    await page.locator('#chat-log li', { hasText: 'hello from tcp' }).waitFor();
    tcp.close();
  });

  it('says why the chat refused a line from the browser, and keeps the line to be sent again', async () => {
    const { page } = session;
    await page.goto(`${url}#chat`);
    await page.locator('#rooms li[data-room="lobby"]').waitFor();
    await page.locator('#chat-nick').fill('two words');
    await page.locator('#chat-text').fill('a line worth keeping');
    await page.locator('#chat-form button').click();
    await expect.poll(() => page.locator('#chat-error').textContent()).toContain('nickname');
    expect(await page.locator('#chat-error').isVisible()).toBe(true);
    expect(await page.locator('#chat-text').inputValue()).toBe('a line worth keeping');
    await page.locator('#chat-nick').fill('oneword');
    await page.locator('#chat-form button').click();
    await page.locator('#chat-log li', { hasText: 'a line worth keeping' }).waitFor();
    expect(await page.locator('#chat-error').isVisible()).toBe(false);
    expect(await page.locator('#chat-text').inputValue()).toBe('');
  });

  it('shows an FTP upload by Python ftplib live in the FTP view', async () => {
    const { page } = session;
    await page.goto(`${url}#ftp`);
    await page.locator('#ftp-tree li[data-name="incoming"]').click();
    await page.locator('#ftp-path', { hasText: '/incoming' }).waitFor();
    const creds = (await (await fetch(`${url}api/v1/accounts`)).json()) as Array<{ class: string }>;
    expect(creds.map((a) => a.class)).toEqual(expect.arrayContaining(['real', 'guest', 'anonymous']));
    const script = `
import ftplib, io, sys
ftp = ftplib.FTP()
ftp.connect('127.0.0.1', int(sys.argv[1]))
ftp.login('anonymous', 'tester@example.org')
ftp.cwd('/incoming')
ftp.storbinary('STOR uploaded-by-ftplib.txt', io.BytesIO(b'x' * 5000))
ftp.quit()
`;
    const r = await run('python3', ['-c', script, String(port('ftp'))]);
    expect(r.stderr).toBe('');
    // no click, no reload: the session event refreshes the open directory
    await page.locator('#ftp-tree li[data-name="uploaded-by-ftplib.txt"]').waitFor();
  });

  it('Status totals count what the tests above moved: mail stored, FTP bytes, chat lines', async () => {
    type Row = { name: string; connections?: number; totals?: Record<string, number> };
    const rows = ((await (await fetch(`${url}api/v1/status`)).json()) as { services: Row[] }).services;
    const row = (name: string) => rows.find((r) => r.name === name)!;
    expect(row('smtp').totals).toEqual({ messages: 1, bytes: expect.any(Number) });
    expect(row('smtp').totals!.bytes).toBeGreaterThan(1000);
    // the ftplib upload of 5,000 bytes (listings are not counted)
    expect(row('ftp').totals).toEqual({ transfers: 1, bytes: 5000 });
    expect(row('chat').totals!.messages).toBeGreaterThanOrEqual(2);
    expect(row('http').connections).toEqual(expect.any(Number));
  });

  it('names the implicit-TLS flag when that is the port taken', async () => {
    const taken = lab.listening.find((l) => l.service === 'smtps')!.port;
    const r = await netkit([
      'lab',
      '--data',
      path.join(dir, 'data3'),
      ...LAB_ANY_PORT_FLAGS,
      '--smtp-tls-port',
      String(taken),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(`smtp: port ${taken} on 127\\.0\\.0\\.1 is already in use; move it with --smtp-tls-port`),
    );
  });

  it('refuses to start when a port is taken, naming the service and the flag', async () => {
    const r = await netkit([
      'lab',
      '--data',
      path.join(dir, 'data2'),
      ...LAB_ANY_PORT_FLAGS,
      '--smtp-port',
      String(port('smtp')),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/smtp: port \d+ on 127\.0\.0\.1 is already in use; move it with --smtp-port/);
  });
});
