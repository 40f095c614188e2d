/**
 * `netkit mail send --raw FILE` / `prepareRawMessage()` / `sendRawMail()`: a prepared RFC 5322 message
 * sent as it is, like `sendmail -t`. Tables for the envelope rules, the normalisation and the
 * refusals; then the CLI against independent servers — aiosmtpd (envelope and the stored bytes),
 * Postfix's smtp-sink without 8BITMIME (an 8-bit body refused before MAIL FROM) — and our own
 * `smtp serve` (the Maildir file read back), from a file and from stdin, and a `--dry-run` output
 * re-sent with `--raw` arriving byte for byte.
 */
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareRawMessage, type RawMessageOptions } from '../../src/mail/raw-message.js';
import { rfc5322Date } from '../../src/mail/rfc5322-date.js';
import { sendRawMail } from '../../src/mail/send-raw.js';
import { netkit, startServe, tempDir } from '../helpers/net.js';
import { startSmtpSink } from '../helpers/smtp-sink.js';
import { type AiosmtpdPeer, startAiosmtpd } from './aiosmtpd-peer.js';

/** Header lines joined with LF (as saved on Unix), and the same with CRLF as it must be sent. */
const lf = (...lines: string[]) => lines.map((l) => `${l}\n`).join('');
const crlf = (...lines: string[]) => lines.map((l) => `${l}\r\n`).join('');
const DATE = 'Date: Tue, 25 Nov 2025 10:00:00 +0000';
const ID = 'Message-ID: <fixed@lab>';
const fixed: RawMessageOptions = { date: new Date('2025-11-25T10:00:00Z'), messageId: 'generated@lab' };

function prepare(raw: string | Buffer, opts: RawMessageOptions = {}) {
  return prepareRawMessage(raw, { ...fixed, ...opts });
}

function failure(fn: () => unknown): { code?: string; message: string } {
  try {
    fn();
  } catch (e) {
    return e as { code?: string; message: string };
  }
  throw new Error('did not throw');
}

describe('prepareRawMessage: the envelope', () => {
  const cases: Array<[string, string, RawMessageOptions, { from: string; to: string[] }]> = [
    [
      'From and To/Cc/Bcc (sendmail -t)',
      lf('From: alice@lab', 'To: bob@lab', 'Cc: carol@lab', 'Bcc: audit@lab', '', 'x'),
      {},
      { from: 'alice@lab', to: ['bob@lab', 'carol@lab', 'audit@lab'] },
    ],
    [
      'display names with commas, comments, several fields',
      lf('From: "Doe, Jane" <jane@lab>', 'To: "Doe, J" <j@x.org>, k@y.org (Kay)', 'To: l@z.org', '', 'x'),
      {},
      { from: 'jane@lab', to: ['j@x.org', 'k@y.org', 'l@z.org'] },
    ],
    [
      'groups: an empty one and one with members',
      lf(
        'From: a@lab',
        'To: undisclosed-recipients:;',
        'Cc: team: b@lab, "C, c" <c@lab>;, d@lab',
        'Bcc: e@lab',
        '',
        'x',
      ),
      {},
      { from: 'a@lab', to: ['b@lab', 'c@lab', 'd@lab', 'e@lab'] },
    ],
    [
      'folded header, names in any case, duplicates once',
      lf('FROM: a@lab', 'to: b@lab,', '\tc@lab', 'CC: b@lab', 'bcc: c@lab', '', 'x'),
      {},
      { from: 'a@lab', to: ['b@lab', 'c@lab'] },
    ],
    [
      'Sender before From',
      lf('From: author@lab, other@lab', 'Sender: secretary@lab', 'To: b@lab', '', 'x'),
      {},
      { from: 'secretary@lab', to: ['b@lab'] },
    ],
    [
      '--from overrides the headers',
      lf('From: a@lab', 'Sender: s@lab', 'To: b@lab', '', 'x'),
      { from: 'Bounces <bounces@lab>' },
      { from: 'bounces@lab', to: ['b@lab'] },
    ],
    [
      '--to/--cc/--bcc: the headers are not read for recipients',
      lf('From: a@lab', 'To: b@lab', 'Bcc: hidden@lab', '', 'x'),
      { to: 'qa@lab', bcc: ['archive@lab'] },
      { from: 'a@lab', to: ['qa@lab', 'archive@lab'] },
    ],
    [
      'a resent message: Resent-To/Cc/Bcc and Resent-From win',
      lf(
        'Resent-From: fwd@lab',
        'Resent-To: new@lab',
        'Resent-Bcc: quiet@lab',
        'From: a@lab',
        'To: old@lab',
        '',
        'x',
      ),
      {},
      { from: 'fwd@lab', to: ['new@lab', 'quiet@lab'] },
    ],
    [
      'an internationalised domain becomes its A-label',
      lf('From: a@bücher.de', 'To: b@bücher.de', '', 'x'),
      {},
      { from: 'a@xn--bcher-kva.de', to: ['b@xn--bcher-kva.de'] },
    ],
  ];
  it.each(cases)('%s', (_name, raw, opts, envelope) => {
    expect(prepare(raw, opts).envelope).toEqual(envelope);
  });
});

describe('prepareRawMessage: the bytes', () => {
  const cases: Array<[string, string | Buffer, string, { added?: string[]; removed?: string[] }?]> = [
    [
      'LF becomes CRLF, Bcc is removed',
      lf('From: a@lab', 'To: b@lab', 'Bcc: secret@lab,', ' more-secret@lab', DATE, ID, '', 'body', '.dot'),
      crlf('From: a@lab', 'To: b@lab', DATE, ID, '', 'body', '.dot'),
      { added: [], removed: ['Bcc'] },
    ],
    [
      'CRLF stays, a missing final line end is added',
      `From: a@lab\r\nTo: b@lab\r\n${DATE}\r\n${ID}\r\n\r\nno newline`,
      crlf('From: a@lab', 'To: b@lab', DATE, ID, '', 'no newline'),
    ],
    [
      'mixed line ends; a bare CR in the body ends a line',
      `From: a@lab\nTo: b@lab\r\n${DATE}\n${ID}\n\none\rtwo\r\r\nthree\n`,
      crlf('From: a@lab', 'To: b@lab', DATE, ID, '', 'one', 'two', '', 'three'),
    ],
    [
      'only the first empty line ends the header section',
      lf('From: a@lab', 'To: b@lab', DATE, ID, '', 'Bcc: not a header', '', 'end'),
      crlf('From: a@lab', 'To: b@lab', DATE, ID, '', 'Bcc: not a header', '', 'end'),
      { added: [], removed: [] },
    ],
    [
      'a header section without a body',
      lf('From: a@lab', 'To: b@lab', DATE, ID),
      crlf('From: a@lab', 'To: b@lab', DATE, ID),
    ],
    [
      'Resent-Bcc, Bcc and Return-Path are removed; Received stays',
      lf(
        'Return-Path: <old@lab>',
        'Received: from x by y; Tue, 25 Nov 2025 09:00:00 +0000',
        'Resent-To: b@lab',
        'Resent-Bcc: q@lab',
        'From: a@lab',
        'BCC: c@lab',
        DATE,
        ID,
        '',
        'x',
      ),
      crlf(
        'Received: from x by y; Tue, 25 Nov 2025 09:00:00 +0000',
        'Resent-To: b@lab',
        'From: a@lab',
        DATE,
        ID,
        '',
        'x',
      ),
      { added: [], removed: ['Return-Path', 'Resent-Bcc', 'BCC'] },
    ],
    [
      'missing Date and Message-ID are added at the end of the header',
      lf('From: a@lab', 'To: b@lab', 'Subject: s', '', 'x'),
      crlf(
        'From: a@lab',
        'To: b@lab',
        'Subject: s',
        'Date: Tue, 25 Nov 2025 10:00:00 +0000',
        'Message-ID: <generated@lab>',
        '',
        'x',
      ),
      { added: ['Date', 'Message-ID'], removed: [] },
    ],
    [
      'a byte order mark is dropped; obsolete white space before the colon is kept',
      `\ufeff${lf('From : a@lab', 'To: b@lab', DATE, ID, '', 'x')}`,
      crlf('From : a@lab', 'To: b@lab', DATE, ID, '', 'x'),
    ],
    [
      'a line of exactly 998 octets passes',
      lf('From: a@lab', 'To: b@lab', DATE, ID, '', 'y'.repeat(998)),
      crlf('From: a@lab', 'To: b@lab', DATE, ID, '', 'y'.repeat(998)),
    ],
  ];
  it.each(cases)('%s', (_name, raw, expected, changes) => {
    const r = prepare(raw);
    expect(r.message.toString('utf8')).toBe(expected);
    if (changes?.added) expect(r.added).toEqual(changes.added);
    if (changes?.removed) expect(r.removed).toEqual(changes.removed);
  });

  it('adds From from --from (or the default sender) to a message without one', () => {
    const r = prepare(lf('Subject: s', '', 'x'), { from: 'Alice <alice@lab>', to: 'b@lab' });
    expect(r.message.toString()).toBe(
      crlf(
        'Subject: s',
        'From: Alice <alice@lab>',
        'Date: Tue, 25 Nov 2025 10:00:00 +0000',
        'Message-ID: <generated@lab>',
        '',
        'x',
      ),
    );
    expect(r.added).toEqual(['From', 'Date', 'Message-ID']);
    const bare = prepare(lf('', 'only a body'), { to: 'b@lab' });
    expect(bare.envelope.from).toMatch(/^[\w.-]+@localhost$/);
    expect(bare.message.toString()).toMatch(
      /^From: [\w.-]+@localhost\r\nDate: .*\r\nMessage-ID: .*\r\n\r\nonly a body\r\n$/,
    );
  });

  it('reports the Message-ID: the message’s own, or a new one at the sender’s domain', () => {
    const own = prepareRawMessage(lf('From: a@lab', 'To: b@lab', 'Message-ID:  <abc.1@lab> (x)', '', 'x'));
    expect(own.messageId).toBe('<abc.1@lab>');
    expect(own.added).toEqual(['Date']);
    const made = prepareRawMessage(lf('From: a@bücher.de', 'To: b@lab', '', 'x'));
    expect(made.messageId).toMatch(/^<[0-9a-f-]{36}@xn--bcher-kva\.de>$/);
    expect(made.message.toString()).toContain(`\r\nMessage-ID: ${made.messageId}\r\n`);
    expect(made.message.toString()).toMatch(/\r\nDate: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000\r\n/);
    expect(rfc5322Date(new Date('2025-01-02T03:04:05Z'))).toBe('Thu, 02 Jan 2025 03:04:05 +0000');
  });

  it('tells which messages need SMTPUTF8 and which have an 8-bit body', () => {
    const utf8Header = prepare(lf('From: a@lab', 'To: b@lab', 'Subject: Grüße', '', 'x'));
    expect(utf8Header.smtpUtf8).toEqual({ field: 'header', address: 'Subject' });
    expect(utf8Header.eightBitBody).toBe(false);
    const utf8Sender = prepare(lf('From: Zoë <zoë@lab>', 'To: b@lab', '', 'x'));
    expect(utf8Sender.smtpUtf8).toEqual({ field: 'from', address: 'zoë@lab' });
    const body = prepare(lf('From: a@lab', 'To: b@lab', '', 'Grüße'));
    expect(body.smtpUtf8).toBeUndefined();
    expect(body.eightBitBody).toBe(true);
    expect(prepare(lf('From: a@lab', 'To: b@lab', '', 'plain')).eightBitBody).toBe(false);
  });
});

describe('prepareRawMessage: refusals', () => {
  const cases: Array<[string, string | Buffer, RawMessageOptions, string, RegExp]> = [
    ['an empty message', '', {}, 'NETKIT_INVALID_INPUT', /empty/],
    [
      'a line over 998 octets',
      lf('From: a@lab', 'To: b@lab', '', 'ok', 'x'.repeat(999)),
      {},
      'NETKIT_INVALID_INPUT',
      /^line 5 is 999 octets, over the 998 allowed \(RFC 5322 §2\.1\.1\)/,
    ],
    [
      'an overlong header line',
      lf('From: a@lab', `Subject: ${'s'.repeat(1000)}`, 'To: b@lab'),
      {},
      'NETKIT_INVALID_INPUT',
      /^line 2 is 1009 octets/,
    ],
    ['a NUL byte', lf('From: a@lab', 'To: b@lab', '', 'a\0b'), {}, 'NETKIT_INVALID_INPUT', /line 4 .*NUL/],
    [
      'no recipient in the headers',
      lf('From: a@lab', 'Subject: s', '', 'x'),
      {},
      'NETKIT_USAGE',
      /^no recipients: the message has no To, Cc or Bcc address; give --to, --cc or --bcc$/,
    ],
    [
      'only an empty group',
      lf('From: a@lab', 'To: undisclosed-recipients:;', '', 'x'),
      {},
      'NETKIT_USAGE',
      /^no recipients/,
    ],
    [
      'a bare CR in the header section',
      'From: a@lab\rBcc: x@lab\nTo: b@lab\n\nx\n',
      {},
      'NETKIT_INVALID_INPUT',
      /line 1 has a bare CR .* header section/,
    ],
    [
      'an mbox "From " line',
      lf('From alice@lab Tue Nov 25 10:00:00 2025', 'From: a@lab', 'To: b@lab', '', 'x'),
      {},
      'NETKIT_INVALID_INPUT',
      /^line 1 is not a header field .*mbox/,
    ],
    [
      'a line that is no header field',
      lf('From: a@lab', 'To: b@lab', 'just text', '', 'x'),
      {},
      'NETKIT_INVALID_INPUT',
      /^line 3 is not a header field \("Name: value"\): "just text"$/,
    ],
    [
      'a continuation line first',
      lf(' From: a@lab', 'To: b@lab', '', 'x'),
      {},
      'NETKIT_INVALID_INPUT',
      /starts with white space/,
    ],
    [
      'a recipient that is no address',
      lf('From: a@lab', 'To: bob', '', 'x'),
      {},
      'NETKIT_INVALID_INPUT',
      /^To header: "bob" is not a mail address$/,
    ],
    [
      'a header that is not UTF-8',
      Buffer.concat([
        Buffer.from('From: a@lab\nTo: b@lab\nSubject: Gr'),
        Buffer.from([0xfc]),
        Buffer.from('\n\nx\n'),
      ]),
      {},
      'NETKIT_INVALID_INPUT',
      /^line 3 is not UTF-8/,
    ],
    [
      'a From without a mailbox and no --from',
      lf('From: nobody:;', 'To: b@lab', '', 'x'),
      {},
      'NETKIT_INVALID_INPUT',
      /From header has no address: give the envelope sender with --from/,
    ],
    [
      'an injected --from',
      lf('From: a@lab', 'To: b@lab', '', 'x'),
      { from: 'a@lab\r\nRCPT TO:<x@y>' },
      'NETKIT_INVALID_INPUT',
      /injection/,
    ],
  ];
  it.each(cases)('%s', (_name, raw, opts, code, message) => {
    const err = failure(() => prepareRawMessage(raw, opts));
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
    expect(err.message).not.toContain('\n');
  });
});

// ---------------------------------------------------------------------------------------------
// against servers

let tmp: { dir: string; cleanup: () => Promise<void> };
let aiosmtpd: AiosmtpdPeer;
const stoppers: Array<() => Promise<void>> = [];
const file = (name: string) => path.join(tmp.dir, name);

beforeAll(async () => {
  tmp = await tempDir('netkit-send-raw-');
  await chmod(tmp.dir, 0o755); // smtp-sink runs as nobody when we are root
  aiosmtpd = await startAiosmtpd(file('aiosmtpd'));
  stoppers.push(() => aiosmtpd.stop());
});

afterAll(async () => {
  for (const stop of stoppers) await stop();
  await tmp?.cleanup();
});

/** `netkit mail send --raw …` to a server, in plaintext, with no lab certificate around. */
const sendRaw = (port: number, raw: string, extra: string[] = [], input?: string | Buffer) =>
  netkit(
    [
      'mail',
      'send',
      '--raw',
      raw,
      '--server',
      `127.0.0.1:${port}`,
      '--no-tls',
      '--data',
      file('none'),
      ...extra,
    ],
    input === undefined ? {} : { input },
  );

const SAVED = lf(
  'From: "Doe, Jane" <jane@lab>',
  'To: "Bob, B" <bob@lab>, undisclosed-recipients:;',
  'Cc: team: carol@lab;',
  'Bcc: secret-audit@lab',
  'Subject: saved message',
  DATE,
  ID,
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: 8bit',
  '',
  'Hallo Bob — Grüße.',
  '.a line that starts with a dot',
  '',
);
const SAVED_SENT = SAVED.replace('Bcc: secret-audit@lab\n', '').replace(/\n/g, '\r\n');

describe('netkit mail send --raw to aiosmtpd', () => {
  it('sends the normalised bytes (Bcc gone) with the header envelope, BODY=8BITMIME for the 8-bit body', async () => {
    await writeFile(file('saved.eml'), SAVED);
    const r = await sendRaw(aiosmtpd.port, file('saved.eml'), ['--json', '--trace']);
    expect(r.code, r.stderr).toBe(0);
    const rec = JSON.parse(r.stdout);
    expect(rec).toMatchObject({
      dryRun: false,
      messageId: '<fixed@lab>',
      envelope: { from: 'jane@lab', to: ['bob@lab', 'carol@lab', 'secret-audit@lab'] },
      accepted: ['bob@lab', 'carol@lab', 'secret-audit@lab'],
      removed: ['Bcc'],
      added: [],
      eightBitBody: true,
    });
    expect(r.stderr).toMatch(/C: MAIL FROM:<jane@lab> BODY=8BITMIME/);
    const env = await aiosmtpd.nextEnvelope();
    expect(env.mail_from).toBe('jane@lab');
    expect(env.rcpt_tos).toEqual(['bob@lab', 'carol@lab', 'secret-audit@lab']);
    const stored = await readFile(env.file);
    expect(stored.toString('utf8')).toBe(SAVED_SENT);
    expect(stored.toString()).not.toContain('secret-audit');
  });

  it('reads the message from stdin with --raw -, and --to replaces the header recipients', async () => {
    const r = await sendRaw(aiosmtpd.port, '-', ['--to', 'qa@lab', '--from', 'bounces@lab'], SAVED);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^sent <fixed@lab> \(.*\) to qa@lab\nheaders: removed Bcc\n/);
    const env = await aiosmtpd.nextEnvelope();
    expect(env).toMatchObject({ mail_from: 'bounces@lab', rcpt_tos: ['qa@lab'] });
    expect((await readFile(env.file)).toString('utf8')).toBe(SAVED_SENT);
  });

  it('a --dry-run output re-sent with --raw arrives byte-identical', async () => {
    const dry = await netkit([
      'mail',
      'send',
      '--from',
      'Alice <alice@lab>',
      '--to',
      'bob@lab',
      '--cc',
      'Carol <carol@lab>',
      '--bcc',
      'hidden@lab',
      '--subject',
      'Grüße aus dem Labor',
      '--text',
      'line one\n.dotted\n',
      '--html',
      '<p>hi</p>',
      '--dry-run',
    ]);
    expect(dry.code, dry.stderr).toBe(0);
    await writeFile(file('dry.eml'), dry.stdoutBuf);
    const again = await sendRaw(aiosmtpd.port, file('dry.eml'), ['--dry-run']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdoutBuf.equals(dry.stdoutBuf)).toBe(true);
    const r = await sendRaw(aiosmtpd.port, file('dry.eml'), ['--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ added: [], removed: [], eightBitBody: false });
    const env = await aiosmtpd.nextEnvelope();
    // the composer never writes Bcc, so a saved message no longer names hidden@lab
    expect(env).toMatchObject({ mail_from: 'alice@lab', rcpt_tos: ['bob@lab', 'carol@lab'] });
    expect((await readFile(env.file)).equals(dry.stdoutBuf)).toBe(true);
  });

  it('sendRawMail adds Date and Message-ID and sends what it reports', async () => {
    const r = await sendRawMail({
      port: aiosmtpd.port,
      raw: lf('From: a@lab', 'To: b@lab', 'Bcc: c@lab', 'Subject: bare', '', 'x'),
    });
    expect(r.added).toEqual(['Date', 'Message-ID']);
    expect(r.accepted).toEqual(['b@lab', 'c@lab']);
    const env = await aiosmtpd.nextEnvelope();
    const stored = await readFile(env.file);
    expect(stored.equals(r.message)).toBe(true);
    expect(stored.toString()).toContain(`\r\nMessage-ID: ${r.messageId}\r\n`);
  });

  it('refuses a UTF-8 header when the server lacks SMTPUTF8, before MAIL FROM', async () => {
    await writeFile(file('utf8.eml'), lf('From: a@lab', 'To: b@lab', 'Subject: Grüße', '', 'x'));
    const r = await sendRaw(aiosmtpd.port, file('utf8.eml'), ['--trace']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^netkit: 553 5\.6\.7 the Subject header contains UTF-8: SMTPUTF8 is required/m);
    expect(r.stderr).not.toMatch(/C: MAIL FROM/);
  });
});

describe('netkit mail send --raw CLI checks', () => {
  it('--raw with a composing option is a one-line usage error (exit 2)', async () => {
    for (const extra of [
      ['--subject', 'x'],
      ['--text', 'y'],
      ['--attach', 'f'],
      ['--reply-to', 'r@lab'],
    ]) {
      const r = await netkit(['mail', 'send', '--raw', 'm.eml', ...extra, '--dry-run']);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/option '--raw <file>' cannot be used with option '--/);
    }
  });

  it('a missing file is one line, exit 1; a message without recipients exit 2', async () => {
    const missing = await netkit(['mail', 'send', '--raw', file('nope.eml'), '--dry-run']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^netkit: .*nope\.eml: no such file or directory\n$/);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    const none = await netkit(['mail', 'send', '--raw', '-', '--dry-run'], {
      input: lf('From: a@lab', 'Subject: s', '', 'x'),
    });
    expect(none.code).toBe(2);
    expect(none.stderr).toBe(
      'netkit: no recipients: the message has no To, Cc or Bcc address; give --to, --cc or --bcc\n',
    );
    const long = await netkit(['mail', 'send', '--raw', '-', '--dry-run'], {
      input: lf('From: a@lab', 'To: b@lab', '', 'x'.repeat(1200)),
    });
    expect(long.code).toBe(2);
    expect(long.stderr).toMatch(/^netkit: line 4 is 1200 octets, over the 998 allowed/);
  });

  it('--raw - with --user needs the password from --password or NETKIT_PASSWORD', async () => {
    const r = await netkit(['mail', 'send', '--raw', '-', '--user', 'bob'], {
      input: SAVED,
      env: { NETKIT_PASSWORD: undefined },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--raw - reads the message from stdin: give the password/);
  });

  it('--dry-run --json shows the envelope and the exact bytes; --help has examples', async () => {
    const r = await netkit(['mail', 'send', '--raw', '-', '--dry-run', '--json'], { input: SAVED });
    expect(r.code, r.stderr).toBe(0);
    const rec = JSON.parse(r.stdout);
    expect(rec).toMatchObject({
      dryRun: true,
      envelope: { from: 'jane@lab', to: ['bob@lab', 'carol@lab', 'secret-audit@lab'] },
      removed: ['Bcc'],
      message: SAVED_SENT,
      size: Buffer.byteLength(SAVED_SENT),
    });
    const help = await netkit(['mail', 'send', '--help']);
    expect(help.stdout).toContain('$ netkit mail send --raw message.eml');
  });
});

describe('an 8-bit body and a server without 8BITMIME (smtp-sink -8)', () => {
  it('is refused after EHLO, before MAIL FROM; a 7-bit one goes through without BODY=', async () => {
    const dump = file('sink');
    await mkdir(dump);
    const sink = await startSmtpSink(dump, ['-8']);
    stoppers.push(sink.stop);
    const port = sink.port;
    await writeFile(file('8bit.eml'), SAVED);
    const r = await sendRaw(port, file('8bit.eml'), ['--trace']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^netkit: 554 5\.6\.3 the message body contains 8-bit data: 8BITMIME is required, but was not offered by host 127\.0\.0\.1:\d+; nothing was sent/m,
    );
    expect(r.stderr).not.toMatch(/C: MAIL FROM/);
    expect(r.stderr).toMatch(/C: QUIT/);
    const seven = await sendRaw(port, '-', ['--trace'], lf('From: a@lab', 'To: b@lab', '', 'plain'));
    expect(seven.code, seven.stderr).toBe(0);
    expect(seven.stderr).toMatch(/C: MAIL FROM:<a@lab>\s*$/m);
    expect(await readdir(dump)).toHaveLength(1);
  });
});

describe('netkit mail send --raw to our own smtp serve', () => {
  it('stores the normalised message in the Maildir (after Return-Path, Delivered-To and Received)', async () => {
    const data = file('lab');
    const srv = await startServe(['smtp', 'serve', '--port', '0', '--data', data]);
    stoppers.push(srv.stop);
    await writeFile(file('lab.eml'), SAVED);
    // --data: the server's own development certificate is trusted, so STARTTLS is used
    const r = await netkit([
      'mail',
      'send',
      '--raw',
      file('lab.eml'),
      '--server',
      `127.0.0.1:${srv.listening[0]!.port}`,
      '--data',
      data,
      '--trace',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/C: STARTTLS/);
    for (const box of ['bob', 'carol', 'secret-audit']) {
      const dir = path.join(data, 'mail', box, 'new');
      const files = await readdir(dir);
      expect(files).toHaveLength(1);
      const stored = (await readFile(path.join(dir, files[0]!))).toString('utf8');
      expect(stored.startsWith(`Return-Path: <jane@lab>\r\nDelivered-To: ${box}@lab\r\nReceived: `)).toBe(
        true,
      );
      expect(stored.endsWith(SAVED_SENT)).toBe(true);
      expect(stored).not.toContain('Bcc');
    }
    // a UTF-8 header (RFC 6532): our server offers SMTPUTF8, so MAIL FROM carries the parameter
    const utf8 = lf('From: Zoë <zoe@lab>', 'To: dave@lab', 'Subject: Grüße', DATE, ID, '', 'hej');
    const u = await netkit(
      [
        'mail',
        'send',
        '--raw',
        '-',
        '--server',
        `127.0.0.1:${srv.listening[0]!.port}`,
        '--data',
        data,
        '--trace',
      ],
      { input: utf8 },
    );
    expect(u.code, u.stderr).toBe(0);
    expect(u.stderr).toMatch(/C: MAIL FROM:<zoe@lab> SMTPUTF8/);
    const dir = path.join(data, 'mail', 'dave', 'new');
    const [name] = await readdir(dir);
    expect(
      (await readFile(path.join(dir, name!))).toString('utf8').endsWith(utf8.replace(/\n/g, '\r\n')),
    ).toBe(true);
  });
});
