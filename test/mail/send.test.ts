/**
 * sendMail / composeMail without a real peer: MIME structure (checked by parsing the dry-run bytes
 * with postal-mime), Bcc handling, cids, and CR/LF/NUL injection in every header- or command-bound
 * value — refused before any file is read or any connection is made (a listening socket counts
 * connection attempts and must see none).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import PostalMime from 'postal-mime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeMail, parseInlineSpec } from '../../src/mail/compose.js';
import { type SendMailOptions, sendMail } from '../../src/mail/send.js';
import { netkit, run, tempDir } from '../helpers/net.js';

let tmp: { dir: string; cleanup: () => Promise<void> };
let trap: net.Server;
let trapPort: number;
let connections = 0;
const file = (name: string) => path.join(tmp.dir, name);

beforeAll(async () => {
  tmp = await tempDir();
  await writeFile(
    file('report.pdf'),
    Buffer.from([0x25, 0x50, 0x44, 0x46, 0x00, 0xff, 0xfe, 0x0d, 0x0a, 0x2e]),
  );
  await writeFile(file('data.csv'), 'a,b\n1,2\n');
  await writeFile(file('logo.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]));
  await mkdir(file('other'));
  await writeFile(file('other/logo.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 9, 9]));
  await writeFile(file('body.txt'), 'Hello Bob,\n.leading dot line\nBye\n');
  trap = net.createServer((s) => {
    connections++;
    s.destroy();
  });
  await new Promise<void>((r) => trap.listen(0, '127.0.0.1', r));
  trapPort = (trap.address() as net.AddressInfo).port;
});

afterAll(async () => {
  await new Promise((r) => trap.close(r));
  await tmp.cleanup();
});

describe('composeMail', () => {
  it('builds text + HTML alternative, attachments, inline images, UTF-8 subject; Bcc only in the envelope', async () => {
    const m = await composeMail({
      from: 'Alice <alice@lab>',
      to: ['bob@lab', 'Carol Ä <carol@lab>'],
      cc: 'dave@lab',
      bcc: ['hidden@lab'],
      replyTo: 'replies@lab',
      subject: 'Grüße — 你好 👋',
      textFile: file('body.txt'),
      html: '<p>Hi <img src="cid:logo.png"> <img src="cid:brand"></p>',
      attachments: [file('report.pdf'), file('data.csv')],
      inline: [file('logo.png'), `brand=${file('other/logo.png')}`],
      headers: ['X-Lab: yes', 'X-Trace-Id: 42'],
    });
    const raw = m.message.toString('latin1');
    expect(m.envelope).toEqual({ from: 'alice@lab', to: ['bob@lab', 'carol@lab', 'dave@lab', 'hidden@lab'] });
    expect(raw).not.toMatch(/hidden@lab/);
    expect(raw).not.toMatch(/^Bcc:/im);
    expect(raw).toMatch(/^Subject: =\?UTF-8\?/m);
    // every line is CRLF-terminated, and header lines are pure ASCII
    expect(raw.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
    const head = raw.slice(0, raw.indexOf('\r\n\r\n'));
    expect(head).toMatch(/^[\x20-\x7e\r\n\t]*$/);
    expect(head).toMatch(/^X-Lab: yes$/m);
    expect(m.cids).toEqual([
      { cid: 'logo.png', filename: 'logo.png' },
      { cid: 'brand', filename: 'logo.png' },
    ]);

    const email = await PostalMime.parse(m.message);
    expect(email.subject).toBe('Grüße — 你好 👋');
    // postal-mime keeps the delimiter's line break; Python's email package does not (see the round trip)
    expect(email.text?.replace(/\n+$/, '\n')).toBe('Hello Bob,\n.leading dot line\nBye\n');
    expect(email.html).toContain('cid:brand');
    expect(email.to?.map((a) => a.address)).toEqual(['bob@lab', 'carol@lab']);
    expect(email.bcc).toBeUndefined();
    const parts = email.attachments.map((a) => ({
      name: a.filename,
      type: a.mimeType,
      cid: a.contentId,
      bytes: Buffer.from(a.content as ArrayBuffer).toString('hex'),
    }));
    expect(parts).toEqual(
      expect.arrayContaining([
        { name: 'report.pdf', type: 'application/pdf', cid: undefined, bytes: '2550444600fffe0d0a2e' },
        {
          name: 'data.csv',
          type: 'text/csv',
          cid: undefined,
          bytes: Buffer.from('a,b\n1,2\n').toString('hex'),
        },
        { name: 'logo.png', type: 'image/png', cid: '<logo.png>', bytes: '89504e470d0a1a0a010203' },
        { name: 'logo.png', type: 'image/png', cid: '<brand>', bytes: '89504e470909' },
      ]),
    );
    expect(m.message.toString()).toMatch(/multipart\/alternative/);
    expect(m.message.toString()).toMatch(/multipart\/related/);
  });

  it('gives two inline images with the same file name different cids', async () => {
    const m = await composeMail({
      to: 'b@lab',
      html: 'x',
      inline: [file('logo.png'), file('other/logo.png')],
    });
    expect(m.cids.map((c) => c.cid)).toEqual(['logo.png', '2-logo.png']);
  });

  it('refuses an explicit cid used twice', async () => {
    const err = await composeMail({
      to: 'b@lab',
      html: 'x',
      inline: [`a=${file('logo.png')}`, `a=${file('logo.png')}`],
    }).catch((e) => e);
    expect(err.code).toBe('NETKIT_INVALID_INPUT');
  });

  it('parses inline specs', () => {
    expect(parseInlineSpec('logo=img/logo.png')).toEqual({ cid: 'logo', path: 'img/logo.png' });
    expect(parseInlineSpec('img/logo.png')).toEqual({ path: 'img/logo.png' });
    expect(parseInlineSpec('./a=b.png')).toEqual({ path: './a=b.png' });
  });
});

describe('RFC 5322 limits and internationalised addresses', () => {
  const longestLine = (m: Buffer) =>
    Math.max(
      ...m
        .toString('latin1')
        .split('\r\n')
        .map((l) => l.length),
    );

  it('keeps every line within 998 octets: an unbroken long subject goes out as encoded words', async () => {
    const subject = `${'B'.repeat(1200)} tail`;
    const r = await composeMail({ from: 'a@lab', to: 'b@lab', subject, text: 'hi' });
    expect(longestLine(r.message)).toBeLessThanOrEqual(998);
    expect((await PostalMime.parse(r.message)).subject).toBe(subject);
    // a short ASCII subject is left as it was
    const plain = await composeMail({ from: 'a@lab', to: 'b@lab', subject: 'hello there', text: 'hi' });
    expect(plain.message.toString()).toMatch(/^Subject: hello there\r$/m);
  });

  it('refuses a header value that cannot be folded under 998 octets, naming it', async () => {
    for (const extra of [
      { headers: [`X-Long: ${'a'.repeat(1500)}`] },
      { from: `${'N'.repeat(1100)} <a@lab>` },
    ]) {
      const err = await composeMail({ from: 'a@lab', to: 'b@lab', text: 'hi', ...extra }).catch((e) => e);
      expect(err?.code, JSON.stringify(extra).slice(0, 40)).toBe('NETKIT_INVALID_INPUT');
      expect(err.message).toMatch(/over the 998 allowed \(RFC 5322/);
    }
  });

  it('writes internationalised domains into the envelope as A-labels, as in the headers', async () => {
    const r = await composeMail({
      from: 'zoë@bücher.de',
      to: 'x@bücher.de',
      bcc: 'y@mañana.example',
      text: 'hi',
    });
    // a non-ASCII local part needs SMTPUTF8 anyway: its domain stays UTF-8, as in the From header
    expect(r.envelope).toEqual({
      from: 'zoë@bücher.de',
      to: ['x@xn--bcher-kva.de', 'y@xn--maana-pta.example'],
    });
    expect(r.message.toString()).toMatch(/^To: x@xn--bcher-kva\.de\r$/m);
  });
});

describe('input checks happen before any I/O', () => {
  const base: SendMailOptions = { from: 'a@lab', to: ['b@lab'], subject: 's', text: 't' };
  const bad = ['x\r\ny', 'x\ny', 'x\ry', 'x\0y'];
  const fields: Array<[string, (v: string) => Partial<SendMailOptions>]> = [
    ['from', (v) => ({ from: `a${v}@lab` })],
    ['to', (v) => ({ to: [`b@lab${v}`] })],
    ['cc', (v) => ({ cc: [`c@lab${v}`] })],
    ['bcc', (v) => ({ bcc: [`RCPT TO:<x@lab>${v}`] })],
    ['reply-to', (v) => ({ replyTo: `r@lab${v}` })],
    ['subject', (v) => ({ subject: `hi${v}Bcc: victim@x` })],
    ['header value', (v) => ({ headers: [['X-A', `1${v}Bcc: victim@x`]] as Array<[string, string]> })],
    ['header name', (v) => ({ headers: [[`X-A${v}Bcc`, '1']] as Array<[string, string]> })],
    ['header line', (v) => ({ headers: [`X-A: 1${v}Bcc: victim@x`] })],
    ['attachment file name', (v) => ({ attachments: [{ content: 'x', filename: `a${v}.txt` }] })],
    ['attachment path', (v) => ({ attachments: [file(`a${v}.txt`)] })],
    ['inline cid', (v) => ({ html: 'x', inline: [{ cid: `c${v}`, content: 'x', filename: 'a.png' }] })],
    ['EHLO name', (v) => ({ name: `client${v}MAIL FROM:<x@y>` })],
    ['user', (v) => ({ user: `bob${v}`, password: 'p' })],
    ['password', (v) => ({ user: 'bob', password: `p${v}` })],
    ['host', (v) => ({ host: `127.0.0.1${v}` })],
    ['message id', (v) => ({ messageId: `<a@b>${v}X: y` })],
  ];
  for (const [name, make] of fields) {
    it(`refuses CR, LF and NUL in ${name}`, async () => {
      for (const v of bad) {
        const err = await sendMail({ ...base, port: trapPort, ...make(v) }).catch((e) => e);
        expect(err?.code, `${name} ${JSON.stringify(v)}`).toBe('NETKIT_INVALID_INPUT');
      }
      expect(connections).toBe(0);
    });
  }

  it('refuses malformed addresses, reserved headers, missing recipients and files', async () => {
    const cases: Array<[Partial<SendMailOptions>, string]> = [
      [{ to: ['not an address'] }, 'NETKIT_INVALID_INPUT'],
      [{ to: ['a@b@c'] }, 'NETKIT_INVALID_INPUT'],
      [{ from: '<>' }, 'NETKIT_INVALID_INPUT'],
      [{ headers: ['Bcc: x@y'] }, 'NETKIT_INVALID_INPUT'],
      [{ headers: ['Content-Type: text/html'] }, 'NETKIT_INVALID_INPUT'],
      [{ headers: ['X Bad: 1'] }, 'NETKIT_INVALID_INPUT'],
      [{ headers: ['no colon'] }, 'NETKIT_INVALID_INPUT'],
      [{ to: [] }, 'NETKIT_USAGE'],
      [{ text: 'a', textFile: file('body.txt') }, 'NETKIT_USAGE'],
      [{ attachments: [file('missing.pdf')] }, 'NETKIT_NOT_FOUND'],
      [{ password: 'x' }, 'NETKIT_USAGE'],
    ];
    for (const [extra, code] of cases) {
      const err = await sendMail({ ...base, port: trapPort, ...extra }).catch((e) => e);
      expect(err?.code, JSON.stringify(extra)).toBe(code);
    }
    expect(connections).toBe(0);
  });

  it('a dry run opens no connection', async () => {
    const r = await sendMail({ ...base, port: trapPort, dryRun: true });
    expect(r.dryRun).toBe(true);
    expect(r.message.toString()).toMatch(/^From: a@lab\r\n/m);
    expect(connections).toBe(0);
  });

  it('reports a refused connection clearly', async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const err = await sendMail({ ...base, port, timeoutMs: 5000 }).catch((e) => e);
    expect(err.code).toBe('NETKIT_CONNECT_FAILED');
    expect(err.message).toMatch(new RegExp(`127\\.0\\.0\\.1:${port}`));
  });
});

describe('netkit mail send (CLI, no network)', () => {
  it('--dry-run prints the message and the cids', async () => {
    const r = await netkit([
      'mail',
      'send',
      '--from',
      'a@lab',
      '--to',
      'b@lab',
      '--bcc',
      'h@lab',
      '--subject',
      'Grüße',
      '--text',
      'hi',
      '--html',
      '<img src="cid:logo">',
      '--inline',
      `logo=${file('logo.png')}`,
      '--dry-run',
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Subject: =\?UTF-8\?Q\?Gr=C3=BC=C3=9Fe\?=\r$/m);
    expect(r.stdout).not.toContain('h@lab');
    expect(r.stderr).toContain('cid:logo');
  });

  it("--subject '' writes an empty Subject header, as Python's EmailMessage does (nodemailer drops it)", async () => {
    const dry = (...subject: string[]) =>
      netkit(['mail', 'send', '--to', 'b@lab', ...subject, '--text', 'hi', '--dry-run']);
    const subjectOf = async (message: string) =>
      (
        await run(
          '/usr/bin/python3',
          [
            '-c',
            'import email, sys; print(repr(email.message_from_binary_file(sys.stdin.buffer)["Subject"]))',
          ],
          { input: message },
        )
      ).stdout.trim();
    const empty = await dry('--subject', '');
    expect(empty.code).toBe(0);
    expect(empty.stdout).toMatch(/^To: b@lab\r\nSubject:\r\nMessage-ID: /m);
    expect(empty.stdout).not.toContain('netkit-empty');
    expect(await subjectOf(empty.stdout)).toBe("''");
    const blank = await dry('--subject', '   ');
    expect(blank.stdout).toMatch(/^Subject:\r$/m);
    const none = await dry();
    expect(none.stdout).not.toMatch(/^Subject/m);
    expect(await subjectOf(none.stdout)).toBe('None');
    expect((await composeMail({ to: 'b@lab', subject: '', text: 'x' })).message.toString()).toContain(
      '\r\nSubject:\r\n',
    );
  });

  it('--dry-run --json gives the envelope, cids and message', async () => {
    const r = await netkit([
      'mail',
      'send',
      '--to',
      'b@lab',
      '--bcc',
      'h@lab',
      '--text',
      'hi',
      '--inline',
      file('logo.png'),
      '--html',
      'x',
      '--dry-run',
      '--json',
    ]);
    expect(r.code).toBe(0);
    const rec = JSON.parse(r.stdout);
    expect(rec.dryRun).toBe(true);
    expect(rec.envelope.to).toEqual(['b@lab', 'h@lab']);
    expect(rec.cids).toEqual([{ cid: 'logo.png', filename: 'logo.png' }]);
    expect(rec.message).toContain('Content-ID: <logo.png>');
  });

  it('refuses header injection with one line and exit 2, like every usage error', async () => {
    const inj = await netkit([
      'mail',
      'send',
      '--to',
      'b@lab',
      '--subject',
      'x\r\nBcc: v@x',
      '--text',
      'y',
      '--dry-run',
    ]);
    expect(inj.code).toBe(2);
    expect(inj.stderr.trim().split('\n')).toHaveLength(1);
    expect(inj.stderr).toMatch(/subject contains a line break/);
    const hdr = await netkit([
      'mail',
      'send',
      '--to',
      'b@lab',
      '--header',
      'X-A: 1\nBcc: v@x',
      '--text',
      'y',
      '--dry-run',
    ]);
    expect(hdr.code).toBe(2);
    const usage = await netkit(['mail', 'send', '--text', 'y', '--dry-run']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/no recipients/);
    const contradict = await netkit([
      'mail',
      'send',
      '--to',
      'b@lab',
      '--no-tls',
      '--starttls',
      '--text',
      'y',
    ]);
    expect(contradict.code).toBe(2);
  });
});
