import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountStore } from '../../src/core/accounts.js';
import { formatTrace, type TraceEvent } from '../../src/core/trace.js';
import { Maildir } from '../../src/mail/maildir.js';
import { Pop3Client } from '../../src/mail/pop3-client.js';
import { createPop3Server } from '../../src/mail/pop3-server.js';
import {
  createSmtpServer,
  type SmtpMessageEvent,
  type SmtpServerHandle,
  type SmtpServerOptions,
} from '../../src/mail/smtp-server.js';
import { LineClient, tempDir } from '../helpers/net.js';
import { mailboxFiles, SmtpTestClient, sharedCertificate } from './smtp-test-client.js';

const MESSAGE =
  'From: a@example.org\r\nTo: bob@lab.test\r\nSubject: hello\r\n\r\nHello Bob.\r\n.dot line\r\n';

let cert: Awaited<ReturnType<typeof sharedCertificate>>;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  cert = await sharedCertificate();
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await cert.cleanup();
});

async function start(
  opts: SmtpServerOptions = {},
): Promise<{ server: SmtpServerHandle; dir: string; events: SmtpMessageEvent[]; traces: TraceEvent[] }> {
  const { dir, cleanup } = await tempDir('netkit-smtp-');
  const server = await createSmtpServer({
    dataDir: dir,
    port: 0,
    tls: { cert: cert.cert, key: cert.key },
    authFailureDelay: 20,
    ...opts,
  });
  const events: SmtpMessageEvent[] = [];
  const traces: TraceEvent[] = [];
  server.on('message', (ev) => events.push(ev));
  server.on('trace', (ev) => traces.push(ev));
  cleanups.push(async () => {
    await server.close(100);
    await cleanup();
  });
  return { server, dir, events, traces };
}

describe('smtp server: conversation and delivery', () => {
  let s: Awaited<ReturnType<typeof start>>;
  beforeAll(async () => {
    s = await start();
  });

  it('greets and advertises the ESMTP extensions', async () => {
    const { client, greeting } = await SmtpTestClient.open(s.server.port);
    expect(greeting.code).toBe(220);
    expect(greeting.last).toMatch(/ESMTP netkit$/);
    const ehlo = await client.cmd('EHLO client.test');
    expect(ehlo.code).toBe(250);
    const caps = ehlo.lines.map((l) => l.slice(4));
    for (const cap of [
      'PIPELINING',
      '8BITMIME',
      'SMTPUTF8',
      'ENHANCEDSTATUSCODES',
      'STARTTLS',
      'AUTH PLAIN LOGIN',
    ]) {
      expect(caps).toContain(cap);
    }
    expect(caps).toContain(`SIZE ${25 * 1024 * 1024}`);
    await client.quit();
  });

  it('stores a message durably with Return-Path, Delivered-To and Received, before answering 250', async () => {
    const { client } = await SmtpTestClient.open(s.server.port);
    const r = await client.sendMail('a@example.org', ['bob@lab.test'], MESSAGE);
    // the file is in new/ by the time the 250 arrives
    const files = await mailboxFiles(s.dir, 'bob');
    expect(r.last).toMatch(/^250 2\.6\.0 Ok: stored in mailbox bob as /);
    expect(files).toHaveLength(1);
    expect(r.last).toContain(files[0]!);
    const stored = await readFile(path.join(s.dir, 'mail', 'bob', 'new', files[0]!), 'utf8');
    expect(stored).toMatch(
      /^Return-Path: <a@example\.org>\r\nDelivered-To: bob@lab\.test\r\nReceived: from client\.test \(\[127\.0\.0\.1\]\)\r\n/,
    );
    expect(stored).toContain('with ESMTP id ');
    expect(stored).toContain('\tfor <bob@lab.test>;\r\n');
    expect(stored.endsWith(`${MESSAGE}`)).toBe(true);
    expect(await mailboxFiles(s.dir, 'bob', 'tmp')).toEqual([]);
    await client.quit();
    const ev = s.events.find((e) => e.id === files[0]);
    expect(ev).toMatchObject({ mailbox: 'bob', from: 'a@example.org', to: ['bob@lab.test'], secure: false });
    expect(ev!.size).toBe(Buffer.byteLength(stored));
    expect(ev!.transcript[0]).toMatch(/^S: 220 /);
    expect(ev!.transcript).toContain('C: MAIL FROM:<a@example.org>');
    expect(ev!.transcript.at(-2)).toMatch(/^C: <\d+ bytes of message data>$/);
    expect(ev!.transcript.at(-1)).toBe(`S: ${r.last}`);
  });

  it('delivers one copy per mailbox for several recipients', async () => {
    const { client } = await SmtpTestClient.open(s.server.port);
    const r = await client.sendMail(
      'a@example.org',
      ['carol@x.test', 'CAROL@y.test', 'dave@z.test'],
      MESSAGE,
    );
    expect(r.last).toMatch(/^250 2\.6\.0 Ok: stored in 2 mailboxes/);
    const carol = await mailboxFiles(s.dir, 'carol');
    const dave = await mailboxFiles(s.dir, 'dave');
    expect(carol).toHaveLength(1);
    expect(dave).toHaveLength(1);
    const a = await readFile(path.join(s.dir, 'mail', 'carol', 'new', carol[0]!));
    const b = await readFile(path.join(s.dir, 'mail', 'dave', 'new', dave[0]!));
    // each copy names the envelope address it was delivered for (Bcc recipients included), and
    // only that one; the rest is the same message
    expect(a.toString()).toMatch(
      /^Return-Path: <a@example\.org>\r\nDelivered-To: carol@x\.test\r\nReceived: /,
    );
    expect(b.toString()).toMatch(
      /^Return-Path: <a@example\.org>\r\nDelivered-To: dave@z\.test\r\nReceived: /,
    );
    const rest = (m: Buffer) => m.toString().replace(/^Delivered-To: .*\r\n/m, '');
    expect(rest(a)).toBe(rest(b));
    expect(a.toString()).not.toContain('for <');
    expect(s.events.find((e) => e.mailbox === 'carol')!.to).toEqual(['carol@x.test', 'CAROL@y.test']);
    await client.quit();
  });

  it('answers pipelined commands in order', async () => {
    const { client } = await SmtpTestClient.open(s.server.port);
    await client.cmd('EHLO pipe.test');
    client.send(
      'MAIL FROM:<p@example.org>\r\nRCPT TO:<pipe@lab.test>\r\nRCPT TO:<bad name@lab.test>\r\nRCPT TO:<pipe2@lab.test>\r\nDATA\r\n',
    );
    const codes = [];
    for (let i = 0; i < 5; i++) codes.push((await client.reply()).code);
    expect(codes).toEqual([250, 250, 501, 250, 354]);
    client.send('Subject: p\r\n\r\npipelined\r\n.\r\nNOOP\r\nQUIT\r\n');
    expect((await client.reply()).last).toMatch(/^250 2\.6\.0 Ok: stored in 2 mailboxes/);
    expect((await client.reply()).code).toBe(250);
    expect((await client.reply()).code).toBe(221);
    await client.closed;
  });

  it('removes the leading dot of every line (RFC 5321 §4.5.2), as Postfix does, also from a client that does not stuff', async () => {
    const { client } = await SmtpTestClient.open(s.server.port);
    await client.cmd('EHLO nostuff.test');
    await client.cmd('MAIL FROM:<n@example.org>');
    await client.cmd('RCPT TO:<nostuff@lab.test>');
    expect((await client.cmd('DATA')).code).toBe(354);
    client.send('Subject: dots\r\n\r\n.unstuffed\r\n..stuffed\r\n...\r\n.\r\n');
    expect((await client.reply()).code).toBe(250);
    await client.quit();
    const [file] = await mailboxFiles(s.dir, 'nostuff');
    const stored = await readFile(path.join(s.dir, 'mail', 'nostuff', 'new', file!), 'latin1');
    expect(stored.endsWith('Subject: dots\r\n\r\nunstuffed\r\n.stuffed\r\n..\r\n')).toBe(true);
  });

  it('a whole session in one write (printf … | nc): three messages, NOOP and QUIT all answered', async () => {
    const { client } = await SmtpTestClient.open(s.server.port);
    const tx = (n: number) =>
      `MAIL FROM:<p@example.org>\r\nRCPT TO:<burst@lab.test>\r\nDATA\r\nSubject: ${n}\r\n\r\nbody ${n}\r\n.\r\n`;
    client.send(`EHLO burst.test\r\n${tx(1)}${tx(2)}${tx(3)}NOOP\r\nQUIT\r\n`);
    const replies: string[] = [];
    for (let i = 0; i < 1 + 3 * 4 + 2; i++) replies.push((await client.reply()).last);
    expect(replies.filter((r) => r.startsWith('250 2.6.0 Ok: stored'))).toHaveLength(3);
    expect(replies.slice(-2)).toEqual([expect.stringMatching(/^250 /), expect.stringMatching(/^221 /)]);
    await client.closed;
    const stored = await mailboxFiles(s.dir, 'burst');
    const bodies = await Promise.all(
      stored.map((f) => readFile(path.join(s.dir, 'mail', 'burst', 'new', f), 'utf8')),
    );
    expect(bodies.map((b) => /body (\d)/.exec(b)?.[1]).sort()).toEqual(['1', '2', '3']);
  });

  it('answers a session written before the greeting: 220 first, then every reply in order', async () => {
    // a write on connect reaches the server before its greeting on most runs; ten make it certain
    const clients = await Promise.all(
      Array.from({ length: 10 }, () =>
        SmtpTestClient.talkFirst(
          s.server.port,
          'EHLO early.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<early@lab.test>\r\nDATA\r\nSubject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n',
        ),
      ),
    );
    for (const client of clients) {
      const replies = await client.repliesUntilClosed();
      expect(replies.map((r) => r.slice(0, 3))).toEqual(['220', '250', '250', '250', '354', '250', '221']);
    }
    expect(await mailboxFiles(s.dir, 'early')).toHaveLength(10);
  });

  it('answers two whole messages written before the greeting, and stores both', async () => {
    const tx = (n: number) =>
      `MAIL FROM:<p@example.org>\r\nRCPT TO:<early2@lab.test>\r\nDATA\r\nSubject: ${n}\r\n\r\nbody ${n}\r\n.\r\n`;
    const clients = await Promise.all(
      Array.from({ length: 5 }, () =>
        SmtpTestClient.talkFirst(s.server.port, `EHLO early.test\r\n${tx(1)}${tx(2)}QUIT\r\n`),
      ),
    );
    for (const client of clients) {
      const replies = await client.repliesUntilClosed();
      const oneTx = ['250', '250', '354', '250'];
      expect(replies.map((r) => r.slice(0, 3))).toEqual(['220', '250', ...oneTx, ...oneTx, '221']);
      expect(replies.filter((r) => r.startsWith('250 2.6.0 Ok: stored'))).toHaveLength(2);
    }
    expect(await mailboxFiles(s.dir, 'early2')).toHaveLength(10);
  });

  it("accepts o'brien@ and first=last@ (atext an application sends) into o_brien and first_last", async () => {
    const { client } = await SmtpTestClient.open(s.server.port);
    await client.cmd('EHLO x.test');
    await client.cmd('MAIL FROM:<a@example.org>');
    expect((await client.cmd("RCPT TO:<o'brien@example.com>")).code).toBe(250);
    expect((await client.cmd('RCPT TO:<first=last@x.org>')).code).toBe(250);
    await client.cmd('DATA');
    client.send('Subject: atext\r\n\r\nhi\r\n.\r\n');
    expect((await client.reply()).last).toMatch(/^250 2\.6\.0 Ok: stored in 2 mailboxes/);
    expect(await mailboxFiles(s.dir, 'o_brien')).toHaveLength(1);
    expect(await mailboxFiles(s.dir, 'first_last')).toHaveLength(1);
    await client.quit();
  });

  it('refuses recipients that are not a valid mailbox name with 553 5.1.3, never relays', async () => {
    const { client } = await SmtpTestClient.open(s.server.port);
    await client.cmd('EHLO x.test');
    // SMTPUTF8, so that the non-ASCII name below is judged as a mailbox name (not 553 5.6.7)
    await client.cmd('MAIL FROM:<a@example.org> SMTPUTF8');
    expect((await client.cmd('RCPT TO:<bob%evil.example@lab.test>')).last).toMatch(/^553 5\.1\.3 /);
    expect((await client.cmd('RCPT TO:<"bob%evil.example"@lab.test>')).last).toMatch(/^553 5\.1\.3 /);
    expect((await client.cmd('RCPT TO:<用户@lab.test>')).last).toMatch(/^553 5\.1\.3 /);
    expect((await client.cmd('RCPT TO:<@relay.example:bob@target.example>')).code).toBe(250);
    // a "relay" attempt to a foreign domain is a local delivery into mailbox "victim"
    expect((await client.cmd('RCPT TO:<victim@gmail.com>')).code).toBe(250);
    await client.cmd('DATA');
    client.send('Subject: r\r\n\r\nrelay?\r\n.\r\n');
    expect((await client.reply()).code).toBe(250);
    expect(await mailboxFiles(s.dir, 'victim')).toHaveLength(1);
    await client.quit();
  });

  it('answers commands out of order with 503 and unknown ones with 500', async () => {
    const { client } = await SmtpTestClient.open(s.server.port);
    expect((await client.cmd('MAIL FROM:<a@b.test>')).code).toBe(503);
    await client.cmd('EHLO x.test');
    expect((await client.cmd('RCPT TO:<bob@lab.test>')).last).toMatch(/^503 5\.5\.1 /);
    expect((await client.cmd('DATA')).code).toBe(503);
    expect((await client.cmd('MAIL FROM:<a@b.test>')).code).toBe(250);
    expect((await client.cmd('MAIL FROM:<a@b.test>')).code).toBe(503);
    expect((await client.cmd('DATA')).code).toBe(503);
    expect((await client.cmd('FROB nicate')).last).toMatch(/^500 5\.5\.2 /);
    expect((await client.cmd('RSET')).code).toBe(250);
    expect((await client.cmd('NOOP')).code).toBe(250);
    await client.quit();
  });

  it('survives 8-bit garbage and drops a client after 10 unknown commands', async () => {
    const { client } = await SmtpTestClient.open(s.server.port);
    client.send(Buffer.from([0xff, 0xfe, 0x80, 0x00, 0xc3, 0x28, 0x0d, 0x0a]));
    expect((await client.reply()).code).toBe(500);
    let last = 0;
    for (let i = 0; i < 9 && last !== 421; i++) last = (await client.cmd(`XYZZY${i} \u00e9\u00e8`)).code;
    expect(last).toBe(421);
    await client.closed;
    // the server is still fine
    const again = await SmtpTestClient.open(s.server.port);
    expect(again.greeting.code).toBe(220);
    await again.client.quit();
  });

  it('ends the session on an overlong command line (421)', async () => {
    const { client } = await SmtpTestClient.open(s.server.port);
    client.send(`EHLO ${'x'.repeat(10_000)}\r\n`);
    expect((await client.reply()).last).toMatch(/^421 .*too long/i);
    await client.closed;
  });

  it('stores nothing when the client vanishes mid-DATA', async () => {
    const { client } = await SmtpTestClient.open(s.server.port);
    await client.cmd('EHLO x.test');
    await client.cmd('MAIL FROM:<a@example.org>');
    await client.cmd('RCPT TO:<vanish@lab.test>');
    await client.cmd('RCPT TO:<vanish2@lab.test>');
    await client.cmd('DATA');
    client.send(`Subject: half\r\n\r\n${'x'.repeat(100_000)}\r\n`);
    const gone = s.traces.length;
    client.c.socket.destroy();
    // wait until the server noticed (its disconnect trace), then look at the disk
    await waitFor(() => s.traces.slice(gone).some((t) => t.kind === 'disconnect'));
    await waitFor(async () => (await mailboxFiles(s.dir, 'vanish', 'tmp')).length === 0);
    expect(await mailboxFiles(s.dir, 'vanish')).toEqual([]);
    expect(await mailboxFiles(s.dir, 'vanish2')).toEqual([]);
    expect(await mailboxFiles(s.dir, 'vanish2', 'tmp')).toEqual([]);
  });

  it('a client gone mid-DATA leaves no trace under a connection number that never connected', async () => {
    const { client } = await SmtpTestClient.open(s.server.port);
    await client.cmd('EHLO x.test');
    await client.cmd('MAIL FROM:<a@example.org>');
    await client.cmd('RCPT TO:<phantom@lab.test>');
    await client.cmd('DATA');
    client.send(`Subject: half\r\n\r\n${'x'.repeat(200_000)}\r\n`);
    const from = s.traces.length;
    client.c.socket.destroy();
    // the delivery fails after the disconnect; smtp-server logs the DATA size right after that
    await waitFor(() => s.traces.slice(from).some((t) => /message not stored/.test(t.text)));
    const next = await SmtpTestClient.open(s.server.port);
    await next.client.quit();
    const connected = new Set(s.traces.filter((t) => t.kind === 'connect').map((t) => t.conn));
    const strays = s.traces.filter((t) => t.conn !== 0 && !connected.has(t.conn));
    expect(strays.map((t) => formatTrace(t))).toEqual([]);
  });

  it('gives every message of a session its own Received id', async () => {
    const { client } = await SmtpTestClient.open(s.server.port);
    await client.sendMail('a@example.org', ['ids@lab.test'], 'Subject: 1\r\n\r\none\r\n');
    await client.sendMail('a@example.org', ['ids@lab.test'], 'Subject: 2\r\n\r\ntwo\r\n', false);
    await client.quit();
    const files = await mailboxFiles(s.dir, 'ids');
    const ids = await Promise.all(
      files.map(
        async (f) => / id (\S+)/.exec(await readFile(path.join(s.dir, 'mail', 'ids', 'new', f), 'utf8'))![1],
      ),
    );
    expect(ids).toHaveLength(2);
    expect(new Set(ids).size).toBe(2);
    // RFC 5321 §4.4: ID = CFWS "ID" FWS ( Atom / msg-id ), and an Atom has no dot
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+$/);
  });

  it('refuses arguments to RSET and DATA (501) and answers EXPN with 502', async () => {
    const { client } = await SmtpTestClient.open(s.server.port);
    // RFC 2034 §4: no enhanced status code in replies to HELO/EHLO, including their 501
    expect((await client.cmd('EHLO')).last).toMatch(/^501 Error: syntax/);
    await client.cmd('EHLO x.test');
    expect((await client.cmd('RSET x')).last).toMatch(/^501 5\.5\.4 Syntax: RSET/);
    expect((await client.cmd('EXPN staff')).last).toBe('502 5.5.1 EXPN not implemented');
    await client.cmd('MAIL FROM:<a@example.org>');
    await client.cmd('RCPT TO:<args@lab.test>');
    expect((await client.cmd('DATA x')).last).toMatch(/^501 5\.5\.4 Syntax: DATA/);
    // the transaction survived both: DATA without an argument still works
    expect((await client.cmd('DATA')).code).toBe(354);
    client.send('Subject: args\r\n\r\nok\r\n.\r\n');
    expect((await client.reply()).code).toBe(250);
    expect((await client.cmd('RSET')).code).toBe(250);
    await client.quit();
  });

  it('refuses unknown MAIL/RCPT parameters with 555 5.5.4, and any parameter after HELO with 501', async () => {
    const { client } = await SmtpTestClient.open(s.server.port);
    await client.cmd('EHLO x.test');
    expect((await client.cmd('MAIL FROM:<a@example.org> FOO=bar')).last).toMatch(/^555 5\.5\.4 .*FOO/);
    expect((await client.cmd('MAIL FROM:<a@example.org> SIZE=100 BODY=8BITMIME SMTPUTF8 AUTH=<>')).code).toBe(
      250,
    );
    expect((await client.cmd('RCPT TO:<params@lab.test> NOTIFY=NEVER')).last).toMatch(
      /^555 5\.5\.4 .*NOTIFY/,
    );
    expect((await client.cmd('RCPT TO:<params@lab.test>')).code).toBe(250);
    await client.cmd('RSET');
    await client.cmd('HELO x.test');
    expect((await client.cmd('MAIL FROM:<a@example.org> SIZE=10')).last).toMatch(/^501 5\.5\.4 /);
    expect((await client.cmd('MAIL FROM:<a@example.org>')).code).toBe(250);
    expect((await client.cmd('RCPT TO:<params@lab.test> FOO')).last).toMatch(/^501 5\.5\.4 /);
    await client.quit();
  });

  it('needs SMTPUTF8 for a non-ASCII address (553 5.6.7) and stamps such a message UTF8SMTP', async () => {
    const { client } = await SmtpTestClient.open(s.server.port);
    await client.cmd('EHLO x.test');
    expect((await client.cmd('MAIL FROM:<jürgen@example.org>')).last).toMatch(/^553 5\.6\.7 /);
    // an A-label domain is ASCII: no SMTPUTF8 needed
    expect((await client.cmd('MAIL FROM:<a@xn--bcher-kva.example>')).code).toBe(250);
    expect((await client.cmd('RCPT TO:<utf8@bücher.example>')).last).toMatch(/^553 5\.6\.7 /);
    await client.cmd('RSET');
    expect((await client.cmd('MAIL FROM:<jürgen@example.org> SMTPUTF8')).code).toBe(250);
    expect((await client.cmd('RCPT TO:<utf8@bücher.example>')).code).toBe(250);
    await client.cmd('DATA');
    client.send('Subject: utf8\r\n\r\nGrüße\r\n.\r\n');
    expect((await client.reply()).code).toBe(250);
    // an ordinary ESMTP message next in the same session
    expect(
      (await client.sendMail('a@example.org', ['utf8@lab.test'], 'Subject: ascii\r\n\r\nx', false)).code,
    ).toBe(250);
    await client.quit();
    const stored = await Promise.all(
      (await mailboxFiles(s.dir, 'utf8')).map((f) =>
        readFile(path.join(s.dir, 'mail', 'utf8', 'new', f), 'utf8'),
      ),
    );
    const utf8 = stored.find((m) => m.includes('Subject: utf8'))!;
    expect(utf8).toMatch(/^Return-Path: <jürgen@example\.org>\r\n/);
    expect(utf8).toMatch(/ with UTF8SMTP id /);
    expect(stored.find((m) => m.includes('Subject: ascii'))).toMatch(/ with ESMTP id /);
  });

  it('accepts quoted local parts: "bob" is bob, "a b" goes to mailbox a_b', async () => {
    const { client } = await SmtpTestClient.open(s.server.port);
    await client.cmd('EHLO x.test');
    expect((await client.cmd('MAIL FROM:<"a b"@example.org>')).code).toBe(250);
    expect((await client.cmd('RCPT TO:<"quoted"@lab.test>')).code).toBe(250);
    expect((await client.cmd('RCPT TO:<"Quoted Name"@lab.test>')).code).toBe(250);
    await client.cmd('DATA');
    client.send('Subject: quoted\r\n\r\nq\r\n.\r\n');
    expect((await client.reply()).last).toMatch(/^250 2\.6\.0 Ok: stored in 2 mailboxes/);
    await client.quit();
    const [file] = await mailboxFiles(s.dir, 'quoted_name');
    expect(await mailboxFiles(s.dir, 'quoted')).toHaveLength(1);
    const stored = await readFile(path.join(s.dir, 'mail', 'quoted_name', 'new', file!), 'utf8');
    expect(stored).toMatch(/^Return-Path: <"a b"@example\.org>\r\n/);
    const ev = s.events.find((e) => e.mailbox === 'quoted_name')!;
    expect(ev.from).toBe('"a b"@example.org');
    expect(ev.to).toEqual(['"Quoted Name"@lab.test']);
  });

  it('never puts AUTH secrets into traces or transcripts', async () => {
    const { client } = await SmtpTestClient.open(s.server.port);
    await client.cmd('EHLO x.test');
    const secret = Buffer.from('\0bob\0hunter2').toString('base64');
    expect((await client.cmd(`AUTH PLAIN ${secret}`)).last).toMatch(/^535 5\.7\.8 /);
    expect((await client.cmd('AUTH LOGIN')).code).toBe(334);
    expect((await client.cmd(Buffer.from('bob').toString('base64'))).code).toBe(334);
    expect((await client.cmd(Buffer.from('hunter2').toString('base64'))).code).toBe(535);
    await client.quit();
    const text = s.traces.map((t) => formatTrace(t)).join('\n');
    expect(text).toContain('AUTH PLAIN ****');
    expect(text).not.toContain(secret);
    expect(text).not.toContain(Buffer.from('hunter2').toString('base64'));
    expect(text).not.toContain('hunter2');
  });
});

/** Poll a condition on the event loop (for disk state after a disconnect: there is no event for "unlinked"). */
async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('smtp server: limits', () => {
  it('answers a message over SIZE with 552 5.3.4 and the session stays usable', async () => {
    const s = await start({ maxSize: 1000 });
    const { client } = await SmtpTestClient.open(s.server.port);
    await client.cmd('EHLO x.test');
    expect((await client.cmd('MAIL FROM:<a@b.test> SIZE=5000')).last).toMatch(/^552 5\.3\.4 /);
    const big = await client.sendMail(
      'a@b.test',
      ['big@lab.test'],
      `Subject: big\r\n\r\n${'y'.repeat(3000)}`,
      false,
    );
    expect(big.last).toMatch(/^552 5\.3\.4 /);
    expect(await mailboxFiles(s.dir, 'big')).toEqual([]);
    expect(await mailboxFiles(s.dir, 'big', 'tmp')).toEqual([]);
    const small = await client.sendMail('a@b.test', ['big@lab.test'], 'Subject: small\r\n\r\nok', false);
    expect(small.code).toBe(250);
    expect(await mailboxFiles(s.dir, 'big')).toHaveLength(1);
    await client.quit();
  });

  it('limits recipients per message (452 4.5.3)', async () => {
    const s = await start({ maxRecipients: 2 });
    const { client } = await SmtpTestClient.open(s.server.port);
    await client.cmd('EHLO x.test');
    await client.cmd('MAIL FROM:<a@b.test>');
    expect((await client.cmd('RCPT TO:<r1@lab.test>')).code).toBe(250);
    expect((await client.cmd('RCPT TO:<r2@lab.test>')).code).toBe(250);
    expect((await client.cmd('RCPT TO:<r3@lab.test>')).last).toMatch(/^452 4\.5\.3 /);
    await client.quit();
  });

  it('limits simultaneous sessions (421) and frees the slot on disconnect', async () => {
    const s = await start({ maxClients: 2 });
    const a = await SmtpTestClient.open(s.server.port);
    const b = await SmtpTestClient.open(s.server.port);
    const c = await SmtpTestClient.open(s.server.port);
    expect(c.greeting.code).toBe(421);
    await c.client.closed;
    await a.client.quit();
    await waitFor(() => s.server.connections < 2);
    const d = await SmtpTestClient.open(s.server.port);
    expect(d.greeting.last).toMatch(/^220 /);
    await d.client.quit();
    await b.client.quit();
  });

  it('limits simultaneous sessions per client address (421), other addresses unaffected', async () => {
    const s = await start({ maxClientsPerIp: 1 });
    const a = await SmtpTestClient.open(s.server.port);
    const again = await LineClient.connect(s.server.port);
    expect(await again.line()).toMatch(/^421 .*Too many connections from your address/);
    await again.closed;
    // 127.0.0.2 is another client host on loopback
    const other = await LineClient.connect(s.server.port, '127.0.0.1', '127.0.0.2');
    expect(await other.line()).toMatch(/^220 /);
    other.send('QUIT\r\n');
    await other.closed;
    await a.client.quit();
    await waitFor(() => s.server.connections === 0);
    const later = await SmtpTestClient.open(s.server.port);
    expect(later.greeting.code).toBe(220);
    await later.client.quit();
  });

  it('a session refused on connect drops what the client wrote before the greeting: one 421 only', async () => {
    const s = await start({ maxClientsPerIp: 1 });
    const a = await SmtpTestClient.open(s.server.port);
    const early = await SmtpTestClient.talkFirst(s.server.port, 'EHLO early.test\r\nNOOP\r\n');
    const replies = await early.repliesUntilClosed();
    expect(replies).toEqual([expect.stringMatching(/^421 .*Too many connections from your address/)]);
    await a.client.quit();
  });

  it('greetingDelay holds the 220 back and refuses clients that talk too soon', async () => {
    const s = await start({ greetingDelay: 300 });
    const t0 = Date.now();
    const early = await LineClient.connect(s.server.port);
    early.send('EHLO eager.test\r\n');
    expect(await early.line()).toMatch(/^421 .*talk too soon/);
    await early.closed;
    const patient = await SmtpTestClient.open(s.server.port);
    expect(patient.greeting.code).toBe(220);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    await patient.client.quit();
  });

  it('keeps at most maxMessages per mailbox, removing the oldest', async () => {
    const s = await start({ maxMessages: 3 });
    const { client } = await SmtpTestClient.open(s.server.port);
    await client.cmd('EHLO x.test');
    for (let i = 1; i <= 5; i++) {
      expect(
        (await client.sendMail('a@b.test', ['keep@lab.test'], `Subject: n${i}\r\n\r\n${i}`, false)).code,
      ).toBe(250);
    }
    const files = await mailboxFiles(s.dir, 'keep');
    expect(files).toHaveLength(3);
    const subjects = await Promise.all(
      files.map(
        async (f) =>
          /Subject: (n\d)/.exec(await readFile(path.join(s.dir, 'mail', 'keep', 'new', f), 'utf8'))![1],
      ),
    );
    expect(subjects.sort()).toEqual(['n3', 'n4', 'n5']);
    await client.quit();
  });

  it('maxMessages never removes messages under a POP3 session; the next delivery after QUIT applies it', async () => {
    const s = await start({ maxMessages: 2 });
    const pop3 = await createPop3Server({ dataDir: s.dir, port: 0, tls: false, authAcceptAny: true });
    cleanups.push(() => pop3.close(100));
    const { client } = await SmtpTestClient.open(s.server.port);
    await client.cmd('EHLO x.test');
    const send = async (n: number) =>
      (await client.sendMail('a@b.test', ['locked@lab.test'], `Subject: n${n}\r\n\r\n${n}`, false)).code;
    expect([await send(1), await send(2)]).toEqual([250, 250]);
    const pop = await Pop3Client.connect({ port: pop3.port });
    await pop.login('locked', 'any');
    expect((await pop.stat()).count).toBe(2);
    expect([await send(3), await send(4)]).toEqual([250, 250]);
    // the maildrop listed at login is intact (RFC 1939 §8)
    expect((await pop.retr(1)).toString()).toContain('Subject: n1');
    expect((await pop.top(2, 0)).toString()).toContain('Subject: n2');
    await pop.quit();
    expect(await new Maildir(path.join(s.dir, 'mail', 'locked')).list()).toHaveLength(4);
    expect(await send(5)).toBe(250);
    const left = await new Maildir(path.join(s.dir, 'mail', 'locked')).list();
    expect(left).toHaveLength(2);
    await client.quit();
  });

  it('drops idle sessions after socketTimeout (421)', async () => {
    const s = await start({ socketTimeout: 200 });
    const { client } = await SmtpTestClient.open(s.server.port);
    expect((await client.reply(3000)).last).toMatch(/^421 .*[Tt]imeout/);
    await client.closed;
  });

  it('a command trickled in a byte at a time gets the idle 421 too (slowloris): only whole lines count', async () => {
    const s = await start({ socketTimeout: 500 });
    const raw = net.connect(s.server.port, '127.0.0.1');
    raw.on('error', () => {});
    let got = '';
    raw.on('data', (d: Buffer) => {
      got += d.toString('latin1');
    });
    const closed = new Promise((resolve) => raw.once('close', resolve));
    // one byte every 25 ms, never a line end: each byte used to re-arm the library's timer
    const drip = setInterval(() => raw.writable && raw.write('N'), 25);
    await closed;
    clearInterval(drip);
    expect(got).toMatch(/^220 [\s\S]*\r\n421 .*[Tt]imeout/);
  });

  it('after the 421 for an endless line, the server reads at most 64 KiB more before it hangs up', async () => {
    // the library's own discard runs for 5 s whatever arrives
    const s = await start();
    // a client that keeps sending after the server's FIN, as a hostile one does
    const raw = net.connect({ port: s.server.port, host: '127.0.0.1', allowHalfOpen: true });
    raw.on('error', () => {});
    let got = '';
    let afterReply = 0;
    raw.on('data', (d: Buffer) => {
      got += d.toString('latin1');
    });
    const closed = new Promise((resolve) => raw.once('close', resolve));
    const junk = Buffer.alloc(65536, 65);
    const pump = (): void => {
      while (!raw.destroyed && raw.writable) {
        if (got.includes('421')) afterReply += junk.length;
        if (!raw.write(junk)) break;
      }
      if (!raw.destroyed && raw.writable) raw.once('drain', pump);
    };
    // greeted first, then the endless line
    raw.once('data', pump);
    await closed;
    expect(got).toMatch(/^220 [\s\S]*\r\n421 .*too long/i);
    // loopback socket buffers hold a few MiB; the library's discard took gigabytes
    expect(afterReply).toBeLessThan(64 * 1024 * 1024);
  });

  it('close() tells idle sessions 421 and resolves', async () => {
    const s = await start();
    const { client } = await SmtpTestClient.open(s.server.port);
    await client.cmd('EHLO x.test');
    const closing = s.server.close(2000);
    expect((await client.reply()).code).toBe(421);
    await closing;
    await expect(LineClient.connect(s.server.port)).rejects.toThrow();
  });
});

describe('smtp server: strict mode and AUTH', () => {
  let s: Awaited<ReturnType<typeof start>>;
  let accounts: AccountStore;
  const plain = (authzid: string, authcid: string, password: string) =>
    Buffer.from(`${authzid}\0${authcid}\0${password}`).toString('base64');
  beforeAll(async () => {
    const { dir, cleanup } = await tempDir('netkit-smtp-acc-');
    cleanups.push(cleanup);
    accounts = new AccountStore(dir);
    await accounts.add('bob', 'hunter2');
    s = await start({ strict: true, requireAuth: true, accounts });
  });

  it('requires AUTH before MAIL when asked (530 5.7.0)', async () => {
    const { client } = await SmtpTestClient.open(s.server.port);
    await client.cmd('EHLO x.test');
    expect((await client.cmd('MAIL FROM:<a@b.test>')).last).toMatch(/^530 5\.7\.0 /);
    await client.quit();
  });

  it('AUTH PLAIN and LOGIN against the accounts file; strict accepts only accounts', async () => {
    const { client } = await SmtpTestClient.open(s.server.port);
    await client.cmd('EHLO x.test');
    expect((await client.cmd(`AUTH PLAIN ${Buffer.from('\0bob\0wrong').toString('base64')}`)).code).toBe(535);
    const ok = await client.cmd(`AUTH PLAIN ${Buffer.from('\0bob\0hunter2').toString('base64')}`);
    expect(ok.last).toMatch(/^235 2\.7\.0 /);
    expect((await client.cmd('MAIL FROM:<bob@lab.test>')).code).toBe(250);
    expect((await client.cmd('RCPT TO:<nobody@lab.test>')).last).toMatch(/^550 5\.1\.1 /);
    expect((await client.cmd('RCPT TO:<Bob@lab.test>')).code).toBe(250);
    await client.cmd('DATA');
    client.send('Subject: authed\r\n\r\nhi\r\n.\r\n');
    expect((await client.reply()).code).toBe(250);
    await client.quit();
    const ev = s.events.at(-1)!;
    expect(ev.user).toBe('bob');
    const stored = await readFile(path.join(s.dir, 'mail', 'bob', 'new', ev.id), 'utf8');
    expect(stored).toContain('with ESMTPA id ');

    const login = await SmtpTestClient.open(s.server.port);
    await login.client.cmd('EHLO x.test');
    expect((await login.client.cmd('AUTH LOGIN')).last).toBe('334 VXNlcm5hbWU6');
    expect((await login.client.cmd(Buffer.from('bob').toString('base64'))).last).toBe('334 UGFzc3dvcmQ6');
    expect((await login.client.cmd(Buffer.from('hunter2').toString('base64'))).code).toBe(235);
    await login.client.quit();
  });

  it('strict mode accepts postmaster, any case, with or without a domain, into the mailbox postmaster', async () => {
    const { client } = await SmtpTestClient.open(s.server.port);
    await client.cmd('EHLO x.test');
    await client.cmd(`AUTH PLAIN ${plain('', 'bob', 'hunter2')}`);
    await client.cmd('MAIL FROM:<bob@lab.test>');
    expect((await client.cmd('RCPT TO:<postmaster>')).code).toBe(250);
    expect((await client.cmd('RCPT TO:<Postmaster@lab.test>')).code).toBe(250);
    expect((await client.cmd('RCPT TO:<POSTMASTER@elsewhere.example>')).code).toBe(250);
    expect((await client.cmd('RCPT TO:<postmaster2@lab.test>')).last).toMatch(/^550 5\.1\.1 /);
    await client.cmd('DATA');
    client.send('Subject: abuse report\r\n\r\nhi\r\n.\r\n');
    expect((await client.reply()).last).toMatch(/^250 2\.6\.0 Ok: stored in mailbox postmaster /);
    await client.quit();
    expect(await mailboxFiles(s.dir, 'postmaster')).toHaveLength(1);
  });

  it('AUTH PLAIN refuses an authzid other than the user (535 5.7.8), as POP3 does', async () => {
    const { client } = await SmtpTestClient.open(s.server.port);
    await client.cmd('EHLO x.test');
    expect((await client.cmd(`AUTH PLAIN ${plain('alice', 'bob', 'hunter2')}`)).last).toMatch(
      /^535 5\.7\.8 /,
    );
    expect((await client.cmd('MAIL FROM:<a@b.test>')).code).toBe(530);
    expect((await client.cmd(`AUTH PLAIN ${plain('BOB', 'bob', 'hunter2')}`)).code).toBe(235);
    await client.quit();
    // the authzid alone (empty authcid) is how some clients send the user name: still fine
    const other = await SmtpTestClient.open(s.server.port);
    await other.client.cmd('EHLO x.test');
    expect((await other.client.cmd(`AUTH PLAIN ${plain('bob', '', 'hunter2')}`)).code).toBe(235);
    await other.client.quit();
  });

  it('refuses AUTH during a mail transaction with 503 5.5.1, before any SASL exchange', async () => {
    const t = await start({ accounts });
    const { client } = await SmtpTestClient.open(t.server.port);
    await client.cmd('EHLO x.test');
    expect((await client.cmd('MAIL FROM:<a@b.test>')).code).toBe(250);
    expect((await client.cmd(`AUTH PLAIN ${plain('', 'bob', 'hunter2')}`)).last).toMatch(/^503 5\.5\.1 /);
    expect((await client.cmd('AUTH LOGIN')).last).toMatch(/^503 5\.5\.1 /);
    expect((await client.cmd('RCPT TO:<bob@lab.test>')).code).toBe(250);
    await client.cmd('DATA');
    client.send('Subject: unauthenticated\r\n\r\nhi\r\n.\r\n');
    expect((await client.reply()).code).toBe(250);
    // after the transaction AUTH is allowed again
    expect((await client.cmd(`AUTH PLAIN ${plain('', 'bob', 'hunter2')}`)).code).toBe(235);
    await client.quit();
    const ev = t.events.at(-1)!;
    expect(ev.user).toBeUndefined();
    const stored = await readFile(path.join(t.dir, 'mail', 'bob', 'new', ev.id), 'utf8');
    expect(stored).toContain(' with ESMTP id ');
  });

  it('authAcceptAny lets any name and password in', async () => {
    const t = await start({ authAcceptAny: true, requireAuth: true });
    const { client } = await SmtpTestClient.open(t.server.port);
    await client.cmd('EHLO x.test');
    expect(
      (await client.cmd(`AUTH PLAIN ${Buffer.from('\0anyone\0anything').toString('base64')}`)).code,
    ).toBe(235);
    expect((await client.cmd('MAIL FROM:<a@b.test>')).code).toBe(250);
    await client.quit();
  });

  it('implicit TLS listener: encrypted from the first byte, AUTH offered, recorded as ESMTPSA', async () => {
    const t = await start({ tlsPort: 0, authAcceptAny: true });
    expect(t.server.tlsPort).toBeGreaterThan(0);
    const socket = tls.connect({ port: t.server.tlsPort!, host: '127.0.0.1', rejectUnauthorized: false });
    const lines: string[] = [];
    let buf = '';
    const waiters: Array<() => void> = [];
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      buf += d;
      const parts = buf.split('\r\n');
      buf = parts.pop()!;
      lines.push(...parts);
      for (const w of waiters.splice(0)) w();
    });
    const until = async (re: RegExp): Promise<string> => {
      for (;;) {
        const hit = lines.find((l) => re.test(l));
        if (hit) {
          lines.splice(0, lines.indexOf(hit) + 1);
          return hit;
        }
        await new Promise<void>((r) => waiters.push(r));
      }
    };
    await until(/^220 /);
    socket.write('EHLO tls.test\r\n');
    const ehloEnd = await until(/^250 /);
    expect(ehloEnd).toBeDefined();
    socket.write(`AUTH PLAIN ${Buffer.from('\0u\0p').toString('base64')}\r\n`);
    await until(/^235 /);
    socket.write('MAIL FROM:<t@b.test>\r\nRCPT TO:<tls@lab.test>\r\nDATA\r\n');
    await until(/^354 /);
    socket.write('Subject: tls\r\n\r\nsecret\r\n.\r\nQUIT\r\n');
    await until(/^250 2\.6\.0/);
    socket.destroy();
    const ev = t.events.at(-1)!;
    expect(ev.secure).toBe(true);
    const stored = await readFile(path.join(t.dir, 'mail', 'tls', 'new', ev.id), 'utf8');
    expect(stored).toMatch(/with ESMTPSA id \S+ \(using TLSv1\.[23] with cipher /);
  });
});

describe('smtp server: SMTP smuggling (SEC Consult 2023 payloads)', () => {
  // each payload tries to end DATA early with a non-standard end-of-data sequence and smuggle a
  // second transaction; only <CR><LF>.<CR><LF> may end a message
  const smuggled =
    'MAIL FROM:<admin@bank.example>\r\nRCPT TO:<smuggle@lab.test>\r\nDATA\r\nSubject: SMUGGLED\r\n\r\nevil';
  const payloads: Array<[string, string]> = [
    ['<LF>.<LF>', `Subject: one\r\n\r\nhello\n.\n${smuggled}\r\n.\r\n`],
    ['<LF>.<CR><LF>', `Subject: one\r\n\r\nhello\n.\r\n${smuggled}\r\n.\r\n`],
    ['<CR><LF>.<CR>', `Subject: one\r\n\r\nhello\r\n.\r${smuggled}\r\n.\r\n`],
    ['<CR>.<CR><LF>', `Subject: one\r\n\r\nhello\r.\r\n${smuggled}\r\n.\r\n`],
    ['<CR>.<CR>', `Subject: one\r\n\r\nhello\r.\r${smuggled}\r\n.\r\n`],
  ];

  it.each(payloads)(
    'reject policy: %s refuses the message (550 5.6.0), nothing is stored',
    async (_n, payload) => {
      const s = await start({ tls: false });
      const { client } = await SmtpTestClient.open(s.server.port);
      await client.cmd('EHLO x.test');
      await client.cmd('MAIL FROM:<a@b.test>');
      await client.cmd('RCPT TO:<smuggle@lab.test>');
      expect((await client.cmd('DATA')).code).toBe(354);
      client.send(payload);
      expect((await client.reply()).last).toMatch(/^550 5\.6\.0 .*bare <(LF|CR)>/);
      // no reply for any smuggled command: the next reply is the one to QUIT
      expect((await client.cmd('QUIT')).code).toBe(221);
      expect(await mailboxFiles(s.dir, 'smuggle')).toEqual([]);
      expect(s.events).toHaveLength(0);
    },
  );

  it.each(payloads)(
    'normalise policy: %s stores exactly one message, the smuggled part as its text',
    async (_n, payload) => {
      const s = await start({ tls: false, bareLineEndings: 'normalise' });
      const { client } = await SmtpTestClient.open(s.server.port);
      await client.cmd('EHLO x.test');
      await client.cmd('MAIL FROM:<a@b.test>');
      await client.cmd('RCPT TO:<smuggle@lab.test>');
      await client.cmd('DATA');
      client.send(payload);
      expect((await client.reply()).code).toBe(250);
      expect((await client.cmd('QUIT')).code).toBe(221);
      const files = await mailboxFiles(s.dir, 'smuggle');
      expect(files).toHaveLength(1);
      const stored = await readFile(path.join(s.dir, 'mail', 'smuggle', 'new', files[0]!), 'latin1');
      expect(stored).toContain('Subject: one');
      expect(stored).toContain('MAIL FROM:<admin@bank.example>');
      // only CRLF line endings on disk
      expect(/\r(?!\n)|(?<!\r)\n/.test(stored)).toBe(false);
    },
  );
});
