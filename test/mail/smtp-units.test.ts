import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { addressLiteral, greetingName } from '../../src/mail/address-literal.js';
import { fanOut } from '../../src/mail/fan-out.js';
import { rfc5322Date } from '../../src/mail/rfc5322-date.js';
import {
  checkedMessage,
  LineEndingNormaliser,
  LineEndingScanner,
  normaliseLineEndings,
  readableChunks,
  SmtpReplyError,
} from '../../src/mail/smtp-data.js';
import { deliveryHeaders, receivedHeader, receivedProtocol } from '../../src/mail/smtp-delivery.js';
import {
  authPermitted,
  authzidAccepted,
  isLoopback,
  mailboxForRecipient,
  parametersRefusal,
  utf8Refusal,
} from '../../src/mail/smtp-policy.js';
import { redactSmtpLine, Transcript } from '../../src/mail/smtp-trace.js';

const b = (s: string) => Buffer.from(s, 'latin1');

/** Scan `chunks` (split as given) and return the first violation. */
function scan(chunks: string[]): string | undefined {
  const s = new LineEndingScanner();
  for (const c of chunks) {
    const v = s.push(b(c));
    if (v) return v;
  }
  return s.end();
}

describe('LineEndingScanner', () => {
  const cases: Array<[string, string[], string | undefined]> = [
    ['empty', [''], undefined],
    ['clean CRLF lines', ['a\r\nb\r\n'], undefined],
    ['no line ending at all', ['abc'], undefined],
    ['bare LF', ['a\nb\r\n'], 'bare-lf'],
    ['bare LF first byte', ['\nabc'], 'bare-lf'],
    ['bare CR', ['a\rb\r\n'], 'bare-cr'],
    ['CR CR LF', ['a\r\r\n'], 'bare-cr'],
    ['LF CR', ['a\n\r'], 'bare-lf'],
    ['CRLF split across chunks', ['a\r', '\nb\r\n'], undefined],
    ['CR at chunk end then text', ['a\r', 'b'], 'bare-cr'],
    ['LF at start of next chunk after non-CR', ['a', '\nb'], 'bare-lf'],
    ['trailing CR at end of message', ['a\r\nb\r'], 'bare-cr'],
    ['smuggling <LF>.<LF>', ['x\r\n\n.\nMAIL FROM:<a@b>\r\n'], 'bare-lf'],
    ['smuggling <LF>.<CR><LF>', ['x\n.\r\nMAIL FROM:<a@b>\r\n'], 'bare-lf'],
    ['smuggling <CR>.<CR>', ['x\r.\rMAIL FROM:<a@b>\r\n'], 'bare-cr'],
    ['smuggling <CR><LF>.<CR>', ['x\r\n.\rMAIL FROM:<a@b>\r\n'], 'bare-cr'],
    ['8-bit bytes are fine', ['\xe4\xf6\xfc\xff\r\n'], undefined],
    ['many chunks of CRLF', ['\r', '\n', '\r', '\n'], undefined],
  ];
  it.each(cases)('%s', (_name, chunks, expected) => {
    expect(scan(chunks)).toBe(expected);
  });
});

describe('LineEndingNormaliser', () => {
  const cases: Array<[string, string[], string]> = [
    ['CRLF unchanged', ['a\r\nb\r\n'], 'a\r\nb\r\n'],
    ['bare LF → CRLF', ['a\nb\n'], 'a\r\nb\r\n'],
    ['bare CR → CRLF', ['a\rb\r'], 'a\r\nb\r\n'],
    ['mixed', ['a\r\r\nb\n\rc'], 'a\r\n\r\nb\r\n\r\nc'],
    ['CRLF split across chunks', ['a\r', '\nb'], 'a\r\nb'],
    ['CR at chunk end, text next', ['a\r', 'b'], 'a\r\nb'],
    ['<LF>.<LF> becomes an ordinary dot line', ['x\n.\ny'], 'x\r\n.\r\ny'],
  ];
  it.each(cases)('%s', (_name, chunks, expected) => {
    const n = new LineEndingNormaliser();
    const out = Buffer.concat([...chunks.map((c) => n.push(b(c))), n.end()]);
    expect(out.toString('latin1')).toBe(expected);
  });
  it('returns the same buffer when nothing changes', () => {
    const chunk = b('a\r\nb\r\n');
    expect(new LineEndingNormaliser().push(chunk)).toBe(chunk);
  });
  it('normaliseLineEndings covers a whole buffer', () => {
    expect(normaliseLineEndings(b('a\nb\r')).toString()).toBe('a\r\nb\r\n');
  });
});

async function collect(it: AsyncIterable<Buffer>): Promise<string> {
  const out: Buffer[] = [];
  for await (const c of it) out.push(c);
  return Buffer.concat(out).toString('latin1');
}

function dataStream(chunks: string[]): PassThrough & { sizeExceeded?: boolean } {
  const s = new PassThrough();
  for (const c of chunks) s.write(b(c));
  s.end();
  return s;
}

describe('checkedMessage', () => {
  it('prepends the header and passes clean data through', async () => {
    const out = await collect(
      checkedMessage(b('H: 1\r\n'), dataStream(['Subject: x\r\n', '\r\nbody\r\n']), {
        policy: 'reject',
        maxBytes: 1000,
      }),
    );
    expect(out).toBe('H: 1\r\nSubject: x\r\n\r\nbody\r\n');
  });
  it('rejects a bare LF with 550 5.6.0', async () => {
    const err = await collect(
      checkedMessage(b(''), dataStream(['a\r\n', 'b\nc\r\n']), { policy: 'reject', maxBytes: 1000 }),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SmtpReplyError);
    expect((err as SmtpReplyError).responseCode).toBe(550);
    expect((err as SmtpReplyError).message).toMatch(/^5\.6\.0 .*bare <LF>/);
  });
  it('normalises instead when asked', async () => {
    const out = await collect(
      checkedMessage(b(''), dataStream(['a\n', 'b\r']), { policy: 'normalise', maxBytes: 1000 }),
    );
    expect(out).toBe('a\r\nb\r\n');
  });
  it('refuses more than maxBytes with 552 5.3.4', async () => {
    const err = await collect(
      checkedMessage(b(''), dataStream(['0123456789\r\n', '0123456789\r\n']), {
        policy: 'reject',
        maxBytes: 15,
      }),
    ).catch((e: unknown) => e);
    expect((err as SmtpReplyError).responseCode).toBe(552);
    expect((err as SmtpReplyError).message).toMatch(/^5\.3\.4 /);
  });
  it('gathers header and chunks into batched writes', async () => {
    const sizes: number[] = [];
    const chunks = Array.from({ length: 10 }, () => 'x'.repeat(8) + '\r\n');
    for await (const c of checkedMessage(b('HDR\r\n'), gen(chunks), {
      policy: 'reject',
      maxBytes: 1000,
      batchBytes: 32,
    })) {
      sizes.push(c.length);
    }
    expect(sizes).toEqual([35, 40, 30]);
  });
  it('passes a stream error on (client vanished mid-DATA)', async () => {
    const s = new PassThrough();
    s.write(b('partial'));
    setImmediate(() => s.destroy(new Error('gone')));
    await expect(collect(checkedMessage(b(''), s, { policy: 'reject', maxBytes: 1000 }))).rejects.toThrow(
      'gone',
    );
  });
});

describe('readableChunks', () => {
  it('reads everything in order, pausing the stream while its queue is long', async () => {
    const s = new PassThrough();
    const parts = Array.from({ length: 40 }, (_, i) => Buffer.alloc(8192, i));
    let sawPause = false;
    const written = (async () => {
      for (const p of parts) {
        if (!s.write(p)) await new Promise((r) => s.once('drain', r));
      }
      s.end();
    })();
    const out: Buffer[] = [];
    for await (const c of readableChunks(s)) {
      sawPause ||= s.isPaused();
      out.push(c);
      await new Promise((r) => setImmediate(r)); // a slow consumer
    }
    await written;
    expect(Buffer.concat(out).equals(Buffer.concat(parts))).toBe(true);
    expect(sawPause).toBe(true);
  });
  it('stopping early leaves the stream alive for the caller to drain', async () => {
    const s = new PassThrough();
    s.write(b('a\r\n'));
    s.write(b('b\r\n'));
    for await (const _ of readableChunks(s)) break;
    expect(s.destroyed).toBe(false);
    expect(s.listenerCount('data')).toBe(0);
    s.end(b('c\r\n'));
    s.resume();
    await new Promise((r) => s.once('end', r));
  });
  it('throws when the stream closes before its end (client gone mid-DATA)', async () => {
    const s = new PassThrough();
    s.write(b('partial'));
    setImmediate(() => s.destroy());
    await expect(collect(readableChunks(s))).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
  });
  it('throws at once for a stream destroyed before reading began', async () => {
    const s = new PassThrough();
    s.on('error', () => {}); // smtp-server destroys with an error only when someone listens
    s.destroy(new Error('gone early'));
    await new Promise((r) => s.once('close', r));
    await expect(collect(readableChunks(s))).rejects.toThrow('gone early');
    const t = new PassThrough();
    t.destroy();
    await new Promise((r) => t.once('close', r));
    await expect(collect(readableChunks(t))).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
  });
});

async function* gen(items: string[], failAt?: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < items.length; i++) {
    if (i === failAt) throw new Error('source failed');
    await new Promise((r) => setImmediate(r));
    yield b(items[i]!);
  }
}

describe('fanOut', () => {
  it('gives every reader every chunk', async () => {
    const items = Array.from({ length: 50 }, (_, i) => `chunk${i};`);
    const readers = fanOut(gen(items), 3, 4);
    const outs = await Promise.all(readers.map(collect));
    for (const o of outs) expect(o).toBe(items.join(''));
  });
  it('is the source itself for one reader', () => {
    const g = gen(['a']);
    expect(fanOut(g, 1)[0]).toBe(g);
  });
  it('a reader that stops early does not block the others', async () => {
    const items = Array.from({ length: 40 }, (_, i) => `${i},`);
    const [a, c] = fanOut(gen(items), 2, 2);
    const early = (async () => {
      for await (const _ of a!) break;
    })();
    const full = collect(c!);
    await early;
    expect(await full).toBe(items.join(''));
  });
  it('a source error reaches every reader', async () => {
    const readers = fanOut(gen(['a', 'b', 'c'], 2), 3);
    const results = await Promise.allSettled(readers.map(collect));
    for (const r of results) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason.message).toBe('source failed');
    }
  });
});

describe('address literals and the EHLO name (RFC 5321 §4.1.3, §4.1.4)', () => {
  it.each([
    ['127.0.0.1', '[127.0.0.1]'],
    ['::ffff:192.0.2.7', '[192.0.2.7]'],
    ['::1', '[IPv6:::1]'],
    ['2001:db8::1', '[IPv6:2001:db8::1]'],
    ['fe80::1%eth0', '[IPv6:fe80::1]'],
  ])('%s is written %s', (ip, literal) => {
    expect(addressLiteral(ip)).toBe(literal);
  });
  it('greets with a fully qualified machine name, else with the literal of our own address', () => {
    expect(greetingName('::1', 'mail.example.org')).toBe('mail.example.org');
    expect(greetingName('::1', 'vm')).toBe('[IPv6:::1]');
    expect(greetingName('192.0.2.7', 'vm')).toBe('[192.0.2.7]');
    expect(greetingName('::1', '192.0.2.9')).toBe('[IPv6:::1]');
    expect(greetingName(undefined, 'vm')).toBe('[127.0.0.1]');
  });
});

describe('receivedHeader and deliveryHeaders', () => {
  const date = new Date(Date.UTC(2025, 6, 1, 12, 0, 0));
  it('writes a Received header with for <…> for one recipient', () => {
    const h = receivedHeader({
      from: 'alice@example.org',
      to: ['bob@lab.test'],
      helo: 'client.example',
      remoteAddress: '127.0.0.1',
      serverName: 'mx.lab',
      protocol: 'ESMTPSA',
      tls: { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' },
      id: 'abc123',
      date,
    }).toString();
    expect(h).toBe(
      'Received: from client.example ([127.0.0.1])\r\n' +
        '\tby mx.lab (netkit) with ESMTPSA id abc123 (using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384)\r\n' +
        '\tfor <bob@lab.test>;\r\n' +
        '\tTue, 01 Jul 2025 12:00:00 +0000\r\n',
    );
  });
  it('omits for <…> with several recipients, handles IPv6, neutralises a hostile HELO', () => {
    const h = receivedHeader({
      from: '',
      to: ['a@x', 'b@x'],
      helo: 'evil)\r\nX-Injected: 1',
      remoteAddress: '::1',
      serverName: 'mx',
      protocol: 'SMTP',
      id: 'i',
      date,
    }).toString();
    expect(h).toContain('from evil???X-Injected:?1 ([IPv6:::1])');
    expect(h).not.toContain('for <');
    expect(h.split('\r\n').filter((l) => l && !l.startsWith('\t')).length).toBe(1);
  });
  it('writes Return-Path and Delivered-To for one copy; <> for a bounce; no CR/LF from an address', () => {
    expect(deliveryHeaders('alice@example.org', 'bob@lab.test').toString()).toBe(
      'Return-Path: <alice@example.org>\r\nDelivered-To: bob@lab.test\r\n',
    );
    expect(deliveryHeaders('', 'Bob@Lab').toString()).toBe('Return-Path: <>\r\nDelivered-To: Bob@Lab\r\n');
    expect(deliveryHeaders('a\r\nX: 1@x', 'b\r\nY: 2@y').toString().split('\r\n').length).toBe(3);
  });
  it('formats dates the RFC 5322 way', () => {
    expect(rfc5322Date(date)).toBe('Tue, 01 Jul 2025 12:00:00 +0000');
  });
  it.each([
    [{ ehlo: false, smtpUtf8: false, secure: false, authenticated: false }, 'SMTP'],
    [{ ehlo: true, smtpUtf8: false, secure: false, authenticated: false }, 'ESMTP'],
    [{ ehlo: true, smtpUtf8: false, secure: true, authenticated: true }, 'ESMTPSA'],
    [{ ehlo: true, smtpUtf8: true, secure: false, authenticated: false }, 'UTF8SMTP'],
    [{ ehlo: true, smtpUtf8: true, secure: false, authenticated: true }, 'UTF8SMTPA'],
    [{ ehlo: true, smtpUtf8: true, secure: true, authenticated: false }, 'UTF8SMTPS'],
    [{ ehlo: true, smtpUtf8: true, secure: true, authenticated: true }, 'UTF8SMTPSA'],
  ])('receivedProtocol(%j) = %s (RFC 3848, RFC 6531)', (s, expected) => {
    expect(receivedProtocol(s)).toBe(expected);
  });
});

describe('policy', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.8.9.10', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['10.0.0.1', false],
    ['192.168.1.5', false],
    ['::ffff:10.0.0.1', false],
    ['fe80::1', false],
    ['', false],
  ])('isLoopback(%s) = %s', (addr, expected) => {
    expect(isLoopback(addr)).toBe(expected);
  });

  it.each([
    [{ secure: false, remoteAddress: '127.0.0.1' }, true],
    [{ secure: false, remoteAddress: '203.0.113.9' }, false],
    [{ secure: true, remoteAddress: '203.0.113.9' }, true],
    [{ secure: false, remoteAddress: '203.0.113.9', allowPlaintextAuth: true }, true],
    [{ secure: false, remoteAddress: '::ffff:192.0.2.1' }, false],
  ])('authPermitted(%j) = %s', (session, expected) => {
    expect(authPermitted(session)).toBe(expected);
  });

  it.each([
    ['bob@example.org', 'bob'],
    ['Bob@Example.ORG', 'bob'],
    ['bob.smith+tag@x', 'bob.smith+tag'],
    ['postmaster', 'postmaster'],
    ['PostMaster', 'postmaster'],
    ['Postmaster@lab.test', 'postmaster'],
    ['victim@gmail.com', 'victim'],
    // quoted local parts: unneeded quoting is the same mailbox, others are mapped to a safe name
    ['"bob"@x', 'bob'],
    ['"Bob.Smith"@x', 'bob.smith'],
    ['"a b"@x', 'a_b'],
    ['"John  Smith / Sales"@x', 'john_smith_sales'],
    ['"a\\"b"@x', 'a_b'],
    // atext beyond the mailbox alphabet, as applications send it
    ["o'brien@example.com", 'o_brien'],
    ['first=last@x.org', 'first_last'],
    ['a{b}c@x', 'a_b_c'],
  ])('mailboxForRecipient(%s) → %s', (addr, mailbox) => {
    expect(mailboxForRecipient(addr)).toEqual({ ok: true, mailbox });
  });

  it.each([
    ['" bob"@x'],
    ['"bob%other"@x'],
    ['"a"b"@x'],
    ['"用户"@x'],
    ['bob%other@x'],
    ['bob!other@x'],
    ["'quote@x"],
    ['../etc@x'],
    ['.hidden@x'],
    ['用户@example.com'],
    ['nodomain'],
    [`${'a'.repeat(65)}@x`],
  ])('mailboxForRecipient(%s) is refused with 553 5.1.3', (addr) => {
    const d = mailboxForRecipient(addr);
    expect(d.ok).toBe(false);
    if (!d.ok) {
      expect(d.responseCode).toBe(553);
      expect(d.enhancedCode).toBe('5.1.3');
    }
  });
});

describe('AUTH, parameters and SMTPUTF8 policy', () => {
  it.each([
    [undefined, 'bob', true],
    ['', 'bob', true],
    ['bob', 'bob', true],
    ['BOB', 'bob', true],
    ['bob', '', true], // smtp-server took the authzid as the user name
    ['alice', 'bob', false],
  ])('authzidAccepted(%j, %j) = %s', (authzid, authcid, expected) => {
    expect(authzidAccepted(authzid, authcid)).toBe(expected);
  });

  it.each([
    ['MAIL', { SIZE: '10', BODY: '8BITMIME', SMTPUTF8: true, AUTH: '<>' }, 'EHLO'],
    ['MAIL', false, 'HELO'],
    ['RCPT', false, 'EHLO'],
    ['RCPT', {}, 'EHLO'],
  ] as const)('parametersRefusal(%s, %j after %s) accepts', (cmd, args, opening) => {
    expect(parametersRefusal(cmd, args, opening)).toBeUndefined();
  });

  it.each([
    ['MAIL', { FOO: 'bar' }, 'EHLO', 555, /FOO/],
    ['MAIL', { SIZE: '10', RET: 'HDRS' }, 'EHLO', 555, /RET/],
    ['RCPT', { NOTIFY: 'NEVER' }, 'EHLO', 555, /NOTIFY/],
    ['MAIL', { SIZE: '10' }, 'HELO', 501, /only allowed after EHLO/],
    ['RCPT', { ORCPT: 'rfc822;a@b' }, 'HELO', 501, /only allowed after EHLO/],
  ] as const)('parametersRefusal(%s, %j after %s) → %s 5.5.4', (cmd, args, opening, code, text) => {
    const r = parametersRefusal(cmd, args, opening);
    expect(r).toMatchObject({ responseCode: code, enhancedCode: '5.5.4' });
    expect(r!.message).toMatch(text);
  });

  it('utf8Refusal: a non-ASCII path needs SMTPUTF8 (553 5.6.7)', () => {
    expect(utf8Refusal('bob@xn--bcher-kva.example', false)).toBeUndefined();
    expect(utf8Refusal('', false)).toBeUndefined();
    expect(utf8Refusal('jürgen@example.org', true)).toBeUndefined();
    expect(utf8Refusal('jürgen@example.org', false)).toMatchObject({
      responseCode: 553,
      enhancedCode: '5.6.7',
    });
    expect(utf8Refusal('bob@bücher.example', false)?.responseCode).toBe(553);
  });
});

describe('transcript and redaction', () => {
  it.each([
    ['AUTH PLAIN /* secured */', 'AUTH PLAIN ****'],
    ['AUTH PLAIN AGJvYgBzZWNyZXQ=', 'AUTH PLAIN ****'],
    ['/* secured */', '****'],
    ['AUTH LOGIN', 'AUTH LOGIN'],
    ['MAIL FROM:<a@b>', 'MAIL FROM:<a@b>'],
  ])('redactSmtpLine(%s) = %s', (line, expected) => {
    expect(redactSmtpLine(line)).toBe(expected);
  });

  it('keeps the preamble and the current transaction, bounded', () => {
    const t = new Transcript(3, 6);
    t.add('S', '220 hi');
    t.add('C', 'EHLO x');
    t.add('S', '250 ok');
    t.add('C', 'NOOP');
    t.add('S', '250 ok'); // past the preamble cap: dropped
    t.add('C', 'MAIL FROM:<a@b>');
    for (let i = 0; i < 10; i++) t.add('C', `RCPT TO:<r${i}@b>`);
    const lines = t.finish('C: <5 bytes>', 'S: 250 done');
    expect(lines.slice(0, 3)).toEqual(['S: 220 hi', 'C: EHLO x', 'S: 250 ok']);
    expect(lines).toContain('C: MAIL FROM:<a@b>');
    expect(lines).toContain('C: RCPT TO:<r9@b>');
    expect(lines.some((l) => /lines omitted/.test(l))).toBe(true);
    expect(lines.slice(-2)).toEqual(['C: <5 bytes>', 'S: 250 done']);
    // the size line and reply smtp-server logs afterwards are not recorded twice
    t.add('C', '<5 bytes>');
    t.add('S', '250 done');
    t.add('C', 'MAIL FROM:<c@d>');
    const next = t.finish('S: 250 again');
    expect(next).toEqual(['S: 220 hi', 'C: EHLO x', 'S: 250 ok', 'C: MAIL FROM:<c@d>', 'S: 250 again']);
  });
});
