/** Pure parts of the POP3 server: wire encoding, TOP, SASL PLAIN, plaintext policy, commands, lock rules. */
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Maildir } from '../../src/mail/maildir.js';
import { forgetFile, listMaildir, splitMaildirName } from '../../src/mail/maildir-listing.js';
import {
  decodeSaslPlain,
  encodeSaslPlain,
  isLoopback,
  latin1ToUtf8,
  mailboxForLogin,
  plaintextAllowed,
} from '../../src/mail/pop3-auth.js';
import { isStale, LOCK_FILE, lockMailbox, parseLockFile, processAlive } from '../../src/mail/pop3-lock.js';
import { uidFor } from '../../src/mail/pop3-maildrop.js';
import {
  encodeMessage,
  MessageScanner,
  Pop3Encoder,
  scanMessage,
  TERMINATOR,
  TopCutter,
  topOf,
} from '../../src/mail/pop3-message.js';
import { capabilities, parseCommand, parseLineCount, parseNumber } from '../../src/mail/pop3-session.js';
import { tempDir } from '../helpers/net.js';

const b = (s: string) => Buffer.from(s, 'latin1');

/** The canonical form, written independently of the implementation (regexes, whole string). */
function canonical(s: string): string {
  let c = s.replace(/(?<!\r)\n/g, '\r\n');
  if (c.length > 0 && !c.endsWith('\n')) c += c.endsWith('\r') ? '\n' : '\r\n';
  return c;
}

/** What a client gets back: strip the terminator, undo the stuffing. */
function unstuff(wire: string): string {
  expect(wire.endsWith('.\r\n')).toBe(true);
  const body = wire.slice(0, -3);
  return body
    .split('\r\n')
    .map((l) => (l.startsWith('.') ? l.slice(1) : l))
    .join('\r\n');
}

/** Encode in chunks of `size` bytes with the streaming encoder. */
function encodeChunked(s: string, size: number): { wire: string; content: number } {
  const enc = new Pop3Encoder();
  const buf = b(s);
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(enc.push(buf.subarray(i, i + size)));
  out.push(enc.end(), TERMINATOR);
  return { wire: Buffer.concat(out).toString('latin1'), content: enc.contentBytes };
}

const SAMPLES: Array<[string, string]> = [
  ['empty', ''],
  ['one CRLF line', 'Subject: x\r\n'],
  ['headers and body', 'Subject: x\r\n\r\nhello\r\nworld\r\n'],
  ['bare LF everywhere', 'Subject: x\n\nhello\nworld\n'],
  ['no final line end', 'Subject: x\r\n\r\nlast'],
  ['bare LF and no final line end', 'a\nb'],
  ['ends with a bare CR', 'a\r\nb\r'],
  ['leading dot on the first line', '.hidden\r\n'],
  ['a line that is one dot', 'a\r\n.\r\nb\r\n'],
  ['dots after bare LF', 'a\n.\n..\n...x\n'],
  ['CRLF.CRLF inside (smuggling shape)', 'x\r\n.\r\nMAIL FROM:<a@b>\r\n'],
  ['bare CR in the middle', 'a\rb\r\n'],
  ['only line ends', '\r\n\r\n\n\n'],
  ['8-bit bytes', 'Subject: \xe4\xf6\r\n\r\n\xff\xfe.\r\n'],
];

describe('scanMessage / Pop3Encoder / encodeMessage agree on every byte', () => {
  it.each(SAMPLES)('%s', (_name, text) => {
    const scan = scanMessage(b(text));
    const expected = canonical(text);
    expect(scan.size).toBe(expected.length);
    expect(scan.crlf).toBe(expected === text);
    expect(scan.dots).toBe(/(^|\n)\./.test(text));
    // in memory, with and without a status-line prefix
    const wire = encodeMessage(b(text)).toString('latin1');
    expect(unstuff(wire)).toBe(expected);
    expect(encodeMessage(b(text), scan, b('+OK\r\n')).toString('latin1')).toBe(`+OK\r\n${wire}`);
    // streamed, cut at every possible chunk size
    for (let size = 1; size <= Math.max(1, text.length); size++) {
      const chunked = encodeChunked(text, size);
      expect(chunked.wire).toBe(wire);
      expect(chunked.content).toBe(expected.length);
      const scanner = new MessageScanner();
      const buf = b(text);
      for (let i = 0; i < buf.length; i += size) scanner.push(buf.subarray(i, i + size));
      expect(scanner.result()).toEqual(scan);
    }
  });

  it('never lets CRLF.CRLF through before the end', () => {
    for (const [, text] of SAMPLES) {
      const wire = encodeMessage(b(text)).toString('latin1');
      const first = `\r\n${wire}`.indexOf('\r\n.\r\n');
      expect(first).toBe(wire.length - 3);
    }
  });

  it('matches random messages against the reference', () => {
    const alphabet = ['a', '.', '\r', '\n', '\r\n', '\n.', 'x'];
    let seed = 42;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 300; i++) {
      let text = '';
      const len = rnd(40);
      for (let j = 0; j < len; j++) text += alphabet[rnd(alphabet.length)];
      const expected = canonical(text);
      expect(scanMessage(b(text)).size).toBe(expected.length);
      expect(unstuff(encodeChunked(text, 1 + rnd(7)).wire)).toBe(expected);
      expect(unstuff(encodeMessage(b(text)).toString('latin1'))).toBe(expected);
    }
  });
});

describe('TopCutter', () => {
  const msg = 'From: a\r\nSubject: s\r\n\r\nl1\r\nl2\r\nl3\r\n';
  const cases: Array<[string, string, number, string]> = [
    ['headers only (0 lines)', msg, 0, 'From: a\r\nSubject: s\r\n\r\n'],
    ['one body line', msg, 1, 'From: a\r\nSubject: s\r\n\r\nl1\r\n'],
    ['more lines than the body has', msg, 10, msg],
    ['no body at all', 'From: a\r\nSubject: s\r\n', 0, 'From: a\r\nSubject: s\r\n'],
    ['bare LF separator', 'A: 1\n\nb1\nb2\n', 1, 'A: 1\n\nb1\n'],
    ['empty message', '', 3, ''],
    ['body line without line end', 'A: 1\r\n\r\nend', 1, 'A: 1\r\n\r\nend'],
    ['header line that is only CR LF after LF', 'A: 1\n\r\nb1\r\nb2\r\n', 1, 'A: 1\n\r\nb1\r\n'],
  ];
  it.each(cases)('%s', (_name, text, lines, expected) => {
    expect(topOf(b(text), lines).toString('latin1')).toBe(expected);
    // the same cut whatever the chunking
    for (let size = 1; size <= Math.max(1, text.length); size++) {
      const cutter = new TopCutter(lines);
      const kept: Buffer[] = [];
      const buf = b(text);
      for (let i = 0; i < buf.length && !cutter.done; i += size)
        kept.push(cutter.push(buf.subarray(i, i + size)).keep);
      expect(Buffer.concat(kept).toString('latin1')).toBe(expected);
    }
  });
});

describe('SASL PLAIN', () => {
  const cases: Array<[string, string, ReturnType<typeof decodeSaslPlain>]> = [
    [
      'plain',
      encodeSaslPlain('bob', 's3cret'),
      { ok: true, authzid: '', authcid: 'bob', password: 's3cret' },
    ],
    [
      'with authzid',
      encodeSaslPlain('bob', 'pw', 'bob'),
      { ok: true, authzid: 'bob', authcid: 'bob', password: 'pw' },
    ],
    [
      'UTF-8 password',
      encodeSaslPlain('bob', 'pässwörd'),
      { ok: true, authzid: '', authcid: 'bob', password: 'pässwörd' },
    ],
    [
      'password with spaces',
      encodeSaslPlain('bob', 'a b c'),
      { ok: true, authzid: '', authcid: 'bob', password: 'a b c' },
    ],
    ['empty response "="', '=', { ok: false, reason: 'format' }],
    ['not base64', 'bm90!!', { ok: false, reason: 'base64' }],
    ['bad padding', 'AGJvYgBz=', { ok: false, reason: 'base64' }],
    ['one NUL only', Buffer.from('bob\u0000pw').toString('base64'), { ok: false, reason: 'format' }],
    [
      'three NULs',
      Buffer.from('\u0000bob\u0000pw\u0000x').toString('base64'),
      { ok: false, reason: 'format' },
    ],
    ['empty user', Buffer.from('\u0000\u0000pw').toString('base64'), { ok: false, reason: 'format' }],
    ['empty password', Buffer.from('\u0000bob\u0000').toString('base64'), { ok: false, reason: 'format' }],
  ];
  it.each(cases)('%s', (_name, input, expected) => {
    expect(decodeSaslPlain(input)).toEqual(expected);
  });
});

describe('plaintext login policy (RFC 2595 §2.3)', () => {
  const cases: Array<[string, boolean, boolean, boolean]> = [
    // address, secure, allowPlaintext → allowed
    ['127.0.0.1', false, false, true],
    ['127.8.9.10', false, false, true],
    ['::1', false, false, true],
    ['::ffff:127.0.0.1', false, false, true],
    ['192.0.2.7', false, false, false],
    ['192.0.2.7', true, false, true],
    ['192.0.2.7', false, true, true],
    ['2001:db8::1', false, false, false],
    ['::ffff:192.0.2.7', false, false, false],
    ['1127.0.0.1', false, false, false],
  ];
  it.each(cases)('%s secure=%s allow=%s → %s', (address, secure, allow, expected) => {
    expect(plaintextAllowed({ remoteAddress: address, secure, allowPlaintext: allow })).toBe(expected);
  });
  it('isLoopback', () => {
    expect(isLoopback('127.0.0.1')).toBe(true);
    expect(isLoopback('10.0.0.1')).toBe(false);
  });
});

describe('login names', () => {
  const cases: Array<[string, string | undefined]> = [
    ['bob', 'bob'],
    ['Bob', 'bob'],
    ['bob@lab.example', 'bob'],
    ['a.b+c@x', 'a.b+c'],
    ['../etc', undefined],
    ['', undefined],
    ['@lab', undefined],
    ['bob/x', undefined],
    ['\xe4', undefined],
  ];
  it.each(cases)('%j → %j', (name, mailbox) => {
    expect(mailboxForLogin(name)).toBe(mailbox);
  });
  it('recovers UTF-8 passwords from latin1 lines', () => {
    expect(latin1ToUtf8(Buffer.from('pässword', 'utf8').toString('latin1'))).toBe('pässword');
  });
});

describe('commands', () => {
  const cases: Array<[string, string, string[], string]> = [
    ['USER bob', 'USER', ['bob'], 'bob'],
    ['user bob', 'USER', ['bob'], 'bob'],
    ['PASS a b  c', 'PASS', ['a', 'b', 'c'], 'a b  c'],
    ['STAT', 'STAT', [], ''],
    ['TOP 1 10', 'TOP', ['1', '10'], '1 10'],
    ['', '', [], ''],
    ['LIST  2', 'LIST', ['2'], ' 2'],
  ];
  it.each(cases)('%j', (line, verb, args, rest) => {
    expect(parseCommand(line)).toEqual({ verb, args, rest });
  });
  it.each([
    ['1', 1],
    ['007', 7],
    ['0', 0],
    ['-1', undefined],
    ['+1', undefined],
    ['1.5', undefined],
    ['', undefined],
    ['1234567890', undefined],
    [undefined, undefined],
  ])('number %j → %j', (arg, n) => {
    expect(parseNumber(arg)).toBe(n);
  });
  it.each([
    ['0', 0],
    ['10', 10],
    ['2147483647', 2147483647],
    ['99999999999999999999', Number.MAX_SAFE_INTEGER],
    ['-1', undefined],
    ['1e3', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('TOP line count %j → %j', (arg, n) => {
    expect(parseLineCount(arg)).toBe(n);
  });
});

describe('CAPA', () => {
  it('before login on plaintext loopback: STLS, USER and SASL', () => {
    expect(
      capabilities({ state: 'AUTHORIZATION', secure: false, tlsAvailable: true, plaintext: true }),
    ).toEqual([
      'TOP',
      'UIDL',
      'RESP-CODES',
      'PIPELINING',
      'AUTH-RESP-CODE',
      'STLS',
      'USER',
      'SASL PLAIN',
      'IMPLEMENTATION netkit',
    ]);
  });
  it('insecure remote link: STLS but no USER or SASL', () => {
    const caps = capabilities({
      state: 'AUTHORIZATION',
      secure: false,
      tlsAvailable: true,
      plaintext: false,
    });
    expect(caps).toContain('STLS');
    expect(caps).not.toContain('USER');
    expect(caps).not.toContain('SASL PLAIN');
  });
  it('on TLS: no STLS', () => {
    const caps = capabilities({ state: 'AUTHORIZATION', secure: true, tlsAvailable: true, plaintext: true });
    expect(caps).not.toContain('STLS');
    expect(caps).toContain('USER');
  });
  it('after login: no login capabilities', () => {
    const caps = capabilities({ state: 'TRANSACTION', secure: false, tlsAvailable: true, plaintext: true });
    expect(caps).toEqual([
      'TOP',
      'UIDL',
      'RESP-CODES',
      'PIPELINING',
      'AUTH-RESP-CODE',
      'IMPLEMENTATION netkit',
    ]);
  });
});

describe('UIDs', () => {
  it('keeps a valid Maildir name', () => {
    expect(uidFor('1700000000.M1P2Q3.host')).toBe('1700000000.M1P2Q3.host');
  });
  it('hashes names that are too long or contain invalid characters', () => {
    for (const id of ['x'.repeat(71), 'has space', 'caf\xe9']) {
      const uid = uidFor(id);
      expect(uid).toMatch(/^[0-9a-f]{40}$/);
      expect(uidFor(id)).toBe(uid);
    }
  });
});

describe('mailbox lock', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
  });
  afterAll(() => cleanup());

  it('parses lock files', () => {
    expect(parseLockFile('123 host abc\n')).toEqual({ pid: 123, host: 'host', token: 'abc' });
    expect(parseLockFile('')).toBeUndefined();
    expect(parseLockFile('garbage')).toBeUndefined();
  });

  it('judges staleness: only a dead process on this host', () => {
    const host = os.hostname();
    expect(isStale({ pid: 42, host, token: 'a' }, 1, () => false)).toBe(true);
    expect(isStale({ pid: 42, host, token: 'a' }, 1, () => true)).toBe(false);
    expect(isStale({ pid: 42, host: 'elsewhere', token: 'a' }, 1, () => false)).toBe(false);
    expect(isStale({ pid: 1, host, token: 'a' }, 1, () => true)).toBe(true);
    expect(isStale(undefined)).toBe(false);
    expect(processAlive(process.pid)).toBe(true);
  });

  it('excludes a second holder until released', async () => {
    const box = path.join(dir, 'one');
    await mkdir(box);
    const first = await lockMailbox(box);
    expect(first).toBeDefined();
    expect(await lockMailbox(box)).toBeUndefined();
    const text = await readFile(path.join(box, LOCK_FILE), 'utf8');
    expect(parseLockFile(text)?.pid).toBe(process.pid);
    await first!.release();
    const again = await lockMailbox(box);
    expect(again).toBeDefined();
    await again!.release();
  });

  it('breaks the lock of a dead process, respects a live or foreign one', async () => {
    const box = path.join(dir, 'two');
    await mkdir(box);
    const dead = spawnSync(process.execPath, [
      '-e',
      'process.stdout.write(String(process.pid))',
    ]).stdout.toString();
    await writeFile(path.join(box, LOCK_FILE), `${dead} ${os.hostname()} abcd\n`);
    const taken = await lockMailbox(box);
    expect(taken).toBeDefined();
    await taken!.release();

    // the parent of this process is alive
    await writeFile(path.join(box, LOCK_FILE), `${process.ppid} ${os.hostname()} abcd\n`);
    expect(await lockMailbox(box)).toBeUndefined();
    await writeFile(path.join(box, LOCK_FILE), `${dead} another-host abcd\n`);
    expect(await lockMailbox(box)).toBeUndefined();
  });
});

describe('cached Maildir listing', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
  });
  afterAll(() => cleanup());

  it('splits Maildir names', () => {
    expect(splitMaildirName('123.M1P2.host:2,FS')).toEqual({ id: '123.M1P2.host', flags: 'FS' });
    expect(splitMaildirName('123.M1P2.host')).toEqual({ id: '123.M1P2.host', flags: '' });
  });

  it('lists exactly what Maildir.list() lists, before and after changes', async () => {
    const md = Maildir.open(dir, 'cache');
    for (let i = 0; i < 5; i++) await md.deliver(Buffer.from(`Subject: ${i}\r\n\r\n${'x'.repeat(i)}\r\n`));
    await writeFile(path.join(md.dir, 'new', '.hidden'), 'not a message');
    await mkdir(path.join(md.dir, 'cur', 'subdir'));
    expect(await listMaildir(md.dir)).toEqual(await md.list());
    // a flag change renames the file; a removal drops it
    const [first, second] = await md.list();
    await md.setFlag(first!.id, 'S');
    await md.remove(second!.id);
    expect(await listMaildir(md.dir)).toEqual(await md.list());
    // a rename we made ourselves: forgetting the old path keeps the cache small
    const [a] = await md.list();
    const moved = path.join(md.dir, 'cur', `${a!.id}:2,FS`);
    await rename(a!.file, moved);
    forgetFile(a!.file);
    expect(await listMaildir(md.dir)).toEqual(await md.list());
  });

  it('copes with a missing Maildir', async () => {
    expect(await listMaildir(path.join(dir, 'nope'))).toEqual([]);
  });
});
