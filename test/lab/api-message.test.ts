/**
 * The REST API's view of one message: headers decoded for reading (RFC 2047 encoded words), the
 * raw value beside it; the HTML part opens its links in a new tab.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DashboardHandle, startDashboard } from '../../src/lab/dashboard.js';
import { Maildir } from '../../src/mail/maildir.js';
import { sendMail } from '../../src/mail/send.js';
import { createSmtpServer } from '../../src/mail/smtp-server.js';
import { tempDir } from '../helpers/net.js';
import { testLabContext } from './lab-context.js';

describe('dashboard REST API: one message', () => {
  let cleanup: () => Promise<void>;
  let dash: DashboardHandle;
  let id: string;
  let dir: string;

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
    const mime = [
      'From: =?UTF-8?Q?J=C3=B6rg?= <jorg@example.org>',
      'To: bob@lab',
      'Subject: =?UTF-8?B?w6lsw6hiZQ==?=',
      'Content-Type: text/html; charset=utf-8',
      '',
      '<a href="https://example.org/reset">reset</a>',
      '',
    ].join('\r\n');
    id = await Maildir.open(dir, 'bob').deliver(Buffer.from(mime));
    const ctx = testLabContext(dir);
    dash = await startDashboard(ctx, { port: 0 });
  });
  afterAll(async () => {
    await dash?.close();
    await cleanup();
  });

  it('headers: value decoded, raw as sent', async () => {
    const m = (await (await fetch(`${dash.url}api/v1/messages/bob/${encodeURIComponent(id)}`)).json()) as {
      subject: string;
      headers: Array<{ key: string; value: string; raw: string }>;
    };
    expect(m.subject).toBe('élèbe');
    expect(m.headers.find((h) => h.key === 'Subject')).toEqual({
      key: 'Subject',
      value: 'élèbe',
      raw: '=?UTF-8?B?w6lsw6hiZQ==?=',
    });
    expect(m.headers.find((h) => h.key === 'From')?.value).toBe('Jörg <jorg@example.org>');
  });

  it('an undecodable encoded word is shown as written (as mail show and Python do); attachments as sent', async () => {
    const raw = [
      'From: =?UTF-8?B?S?= <k@example.org>',
      'To: bob@lab',
      'Subject: =?UTF-8?B?S?=',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="b"',
      '',
      '--b',
      'Content-Type: text/plain',
      '',
      'body',
      '--b',
      'Content-Type: text/plain; name="notes.txt"',
      'Content-Disposition: attachment; filename="notes.txt"',
      '',
      'no final newline',
      '--b--',
      '',
    ].join('\r\n');
    const odd = await Maildir.open(dir, 'bob').deliver(Buffer.from(raw));
    const base = `${dash.url}api/v1/messages/bob/${encodeURIComponent(odd)}`;
    const m = (await (await fetch(base)).json()) as {
      subject: string;
      from: { name: string };
      headers: Array<{ key: string; value: string }>;
    };
    expect(m.subject).toBe('S');
    expect(m.from.name).toBe('S');
    expect(m.headers.find((h) => h.key === 'Subject')?.value).toBe('S');
    const listed = (await (await fetch(`${dash.url}api/v1/messages?mailbox=bob`)).json()) as {
      messages: Array<{ id: string; subject: string; from: string }>;
    };
    expect(listed.messages.find((x) => x.id === odd)).toMatchObject({
      subject: 'S',
      from: 'S <k@example.org>',
    });
    const file = await fetch(`${base}/parts/0`);
    expect(await file.text()).toBe('no final newline');
  });

  it('deliveredTo: the envelope recipient of each copy, a Bcc recipient included', async () => {
    const smtp = await createSmtpServer({ dataDir: dir, port: 0 });
    try {
      await sendMail({
        port: smtp.port,
        from: 'alice@example.org',
        to: ['carol@lab'],
        bcc: ['audit@lab'],
        subject: 'with a bcc',
        text: 'hi',
        ignoreTLS: true,
      });
    } finally {
      await smtp.close();
    }
    type Message = { to: Array<{ address: string }>; deliveredTo?: string; headers: Array<{ key: string }> };
    const one = async (mailbox: string): Promise<Message> => {
      const list = (await (await fetch(`${dash.url}api/v1/messages?mailbox=${mailbox}`)).json()) as {
        messages: Array<{ id: string }>;
      };
      expect(list.messages).toHaveLength(1);
      const url = `${dash.url}api/v1/messages/${mailbox}/${encodeURIComponent(list.messages[0]!.id)}`;
      return (await (await fetch(url)).json()) as Message;
    };
    const carol = await one('carol');
    const audit = await one('audit');
    expect(carol.deliveredTo).toBe('carol@lab');
    expect(audit.deliveredTo).toBe('audit@lab');
    // the Bcc header itself never travels: audit's copy says To: carol and nothing about audit
    expect(audit.to.map((a) => a.address)).toEqual(['carol@lab']);
    expect(audit.headers.some((h) => h.key.toLowerCase() === 'bcc')).toBe(false);
    // a message that did not come through smtp serve has none
    const m = (await (
      await fetch(`${dash.url}api/v1/messages/bob/${encodeURIComponent(id)}`)
    ).json()) as Message;
    expect(m.deliveredTo).toBeUndefined();
  });

  it('the HTML part sends its links to a new tab', async () => {
    const html = await (await fetch(`${dash.url}api/v1/messages/bob/${encodeURIComponent(id)}/html`)).text();
    expect(html.startsWith('<base target="_blank">')).toBe(true);
    expect(html).toContain('<a href="https://example.org/reset">reset</a>');
  });

  it('the raw text and the HTML part are not sniffed and send no Referer', async () => {
    const base = `${dash.url}api/v1/messages/bob/${encodeURIComponent(id)}`;
    for (const [part, csp] of [
      ['raw', "default-src 'none'; frame-ancestors 'none'"],
      ['html', /^default-src 'none'; img-src .*; sandbox allow-popups/],
    ] as const) {
      const res = await fetch(`${base}/${part}`);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('content-security-policy')).toMatch(csp);
      await res.arrayBuffer();
    }
  });

  it('lists by arrival, newest first, whatever the Date header says', async () => {
    const md = Maildir.open(dir, 'order');
    await md.deliver(Buffer.from('Date: Tue, 10 Mar 2026 12:00:00 +0000\r\nSubject: first\r\n\r\n1\r\n'));
    await md.deliver(Buffer.from('Date: Mon, 1 Jan 2001 00:00:00 +0000\r\nSubject: second\r\n\r\n2\r\n'));
    const list = (await (await fetch(`${dash.url}api/v1/messages?mailbox=order`)).json()) as {
      messages: Array<{ subject: string; received: number; date: number }>;
    };
    expect(list.messages.map((m) => m.subject)).toEqual(['second', 'first']);
    expect(list.messages[0]!.date).toBe(Date.parse('2001-01-01T00:00:00Z'));
  });

  it('the live stream (/api/v1/events, SSE) announces a new mail with its summary', async () => {
    const ctrl = new AbortController();
    const res = await fetch(`${dash.url}api/v1/events`, { signal: ctrl.signal });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const id = await Maildir.open(dir, 'live').deliver(
      Buffer.from('From: a@x\r\nSubject: live one\r\n\r\nhi\r\n'),
    );
    await fetch(`${dash.url}api/v1/messages?mailbox=live`); // the list refreshes the index
    let event:
      | { type: string; data: { mailbox: string; added: Array<{ id: string; subject: string }> } }
      | undefined;
    while (!event) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      const m = /event: mail\ndata: (.*)\n\n/.exec(text);
      if (m) event = JSON.parse(m[1]!);
    }
    ctrl.abort();
    expect(event?.data.mailbox).toBe('live');
    expect(event?.data.added).toEqual([expect.objectContaining({ id, subject: 'live one', from: 'a@x' })]);
  });
});
