import { describe, expect, it } from 'vitest';
import { Pop3ReplyReader, parsePop3Replies, parseStatusLine } from '../../src/mail/pop3-client-reader.js';

type Out = { ok: boolean; text: string; code?: string; body?: string; continuation?: boolean };

function run(chunks: string[], kinds: boolean[]): Out[] {
  const r = new Pop3ReplyReader();
  for (const k of kinds) r.expect(k);
  const out: Out[] = [];
  for (const c of chunks) {
    for (const rep of r.push(Buffer.from(c, 'latin1'))) {
      const o: Out = { ok: rep.ok, text: rep.text };
      if (rep.code) o.code = rep.code;
      if (rep.body) o.body = rep.body.toString('latin1');
      if (rep.continuation) o.continuation = true;
      out.push(o);
    }
  }
  return out;
}

/** Every way of cutting `s` into two chunks, plus byte-by-byte. */
function splits(s: string): string[][] {
  const out: string[][] = [[s], s.split('')];
  for (let i = 1; i < s.length; i++) out.push([s.slice(0, i), s.slice(i)]);
  return out;
}

describe('POP3 reply reader', () => {
  const cases: Array<[string, string, boolean[], Out[]]> = [
    ['single +OK', '+OK ready\r\n', [false], [{ ok: true, text: 'ready' }]],
    ['bare +OK', '+OK\r\n', [false], [{ ok: true, text: '' }]],
    ['-ERR with text', '-ERR no such message\r\n', [false], [{ ok: false, text: 'no such message' }]],
    ['response code', '-ERR [IN-USE] locked\r\n', [false], [{ ok: false, text: 'locked', code: 'IN-USE' }]],
    [
      'hierarchical code',
      '-ERR [SYS/TEMP] try later\r\n',
      [false],
      [{ ok: false, text: 'try later', code: 'SYS/TEMP' }],
    ],
    ['code is case-insensitive', '-ERR [auth] bad\r\n', [false], [{ ok: false, text: 'bad', code: 'AUTH' }]],
    ['lower-case status', '+ok fine\r\n', [false], [{ ok: true, text: 'fine' }]],
    ['bare LF status line', '+OK lf\n', [false], [{ ok: true, text: 'lf' }]],
    ['SASL continuation', '+ \r\n', [false], [{ ok: true, text: '', continuation: true }]],
    [
      'multi-line body',
      '+OK 2 messages\r\n1 10\r\n2 20\r\n.\r\n',
      [true],
      [{ ok: true, text: '2 messages', body: '1 10\r\n2 20\r\n' }],
    ],
    ['empty multi-line body', '+OK\r\n.\r\n', [true], [{ ok: true, text: '', body: '' }]],
    [
      'dot-unstuffing',
      '+OK\r\n..leading\r\n...two\r\n. space\r\n.\r\n',
      [true],
      [{ ok: true, text: '', body: '.leading\r\n..two\r\n space\r\n' }],
    ],
    [
      'a stuffed lone dot is not the end',
      '+OK\r\n..\r\nmore\r\n.\r\n',
      [true],
      [{ ok: true, text: '', body: '.\r\nmore\r\n' }],
    ],
    [
      'empty lines kept',
      '+OK\r\n\r\n\r\nx\r\n.\r\n',
      [true],
      [{ ok: true, text: '', body: '\r\n\r\nx\r\n' }],
    ],
    [
      '-ERR to a multi-line command has no body',
      '-ERR no\r\n+OK\r\n',
      [true, false],
      [
        { ok: false, text: 'no' },
        { ok: true, text: '' },
      ],
    ],
    [
      'pipelined replies in order',
      '+OK a\r\n+OK\r\nx\r\n.\r\n-ERR c\r\n',
      [false, true, false],
      [
        { ok: true, text: 'a' },
        { ok: true, text: '', body: 'x\r\n' },
        { ok: false, text: 'c' },
      ],
    ],
    [
      '8-bit and NUL bytes pass through',
      '+OK\r\n\xff\x00\x80\r\n.\r\n',
      [true],
      [{ ok: true, text: '', body: '\xff\x00\x80\r\n' }],
    ],
    ['line ends are kept as sent', '+OK\r\na\nb\r\n.\n', [true], [{ ok: true, text: '', body: 'a\nb\r\n' }]],
    [
      'a stuffed line starting with CR',
      '+OK\r\n.\rx\r\n.\r\n',
      [true],
      [{ ok: true, text: '', body: '\rx\r\n' }],
    ],
    ['incomplete reply gives nothing yet', '+OK\r\nhalf', [true], []],
  ];
  for (const [name, input, kinds, expected] of cases) {
    it(name, () => {
      for (const chunks of splits(input))
        expect(run(chunks, kinds), JSON.stringify(chunks)).toEqual(expected);
    });
  }

  const bad: Array<[string, string, boolean[], RegExp]> = [
    ['garbage status line', 'HTTP/1.1 200 OK\r\n', [false], /not a POP3 reply/],
    ['SMTP greeting', '220 mail ready\r\n', [false], /not a POP3 reply/],
    ['+OKAY is not +OK', '+OKAY\r\n', [false], /not a POP3 reply/],
    ['data nobody asked for', '+OK\r\n+OK extra\r\n', [false], /unexpected data/],
  ];
  for (const [name, input, kinds, re] of bad) {
    it(`rejects: ${name}`, () => {
      expect(() => run([input], kinds)).toThrow(re);
      try {
        run([input], kinds);
      } catch (err) {
        expect((err as { code: string }).code).toBe('NETKIT_PROTOCOL');
      }
    });
  }

  it('limits the status line length, whatever the chunking', () => {
    const r = new Pop3ReplyReader({ maxLineLength: 100 });
    r.expect(false);
    expect(() => {
      for (let i = 0; i < 50; i++) r.push(Buffer.alloc(10, 65));
    }).toThrow(/longer than 100/);
  });

  it('limits the body size', () => {
    const r = new Pop3ReplyReader({ maxBodyBytes: 1000 });
    r.expect(true);
    r.push(Buffer.from('+OK\r\n'));
    let err: unknown;
    try {
      for (let i = 0; i < 30; i++) r.push(Buffer.from(`${'y'.repeat(60)}\r\n`));
    } catch (e) {
      err = e;
    }
    expect((err as { code: string }).code).toBe('NETKIT_TOO_LARGE');
  });

  it('one-shot form returns the replies and the rest', () => {
    const { replies, rest } = parsePop3Replies(Buffer.from('+OK one\r\n+OK\r\npart'), [false, true]);
    expect(replies.map((r) => r.text)).toEqual(['one']);
    expect(rest.toString()).toBe('+OK\r\npart');
    const all = parsePop3Replies(Buffer.from('+OK one\r\n'), [false]);
    expect(all.rest.length).toBe(0);
  });

  it('reports a reply in progress', () => {
    const r = new Pop3ReplyReader();
    r.expect(true);
    expect(r.midReply).toBe(false);
    r.push(Buffer.from('+OK\r\nabc'));
    expect(r.midReply).toBe(true);
    expect(r.bodyBytes).toBe(3);
  });

  it('handles a large body in many chunks in linear time', () => {
    const r = new Pop3ReplyReader();
    r.expect(true);
    r.push(Buffer.from('+OK\r\n'));
    const line = Buffer.from(`${'z'.repeat(998)}\r\n`);
    const chunk = Buffer.concat(Array.from({ length: 64 }, () => line));
    const t = Date.now();
    for (let i = 0; i < 300; i++) expect(r.push(chunk)).toEqual([]);
    const [done] = r.push(Buffer.from('.\r\n'));
    expect(done!.body!.length).toBe(300 * chunk.length);
    expect(Date.now() - t).toBeLessThan(3000);
  });

  it('parseStatusLine splits code and text', () => {
    expect(parseStatusLine('-ERR [LOGIN-DELAY] wait')).toEqual({
      ok: false,
      code: 'LOGIN-DELAY',
      text: 'wait',
      line: '-ERR [LOGIN-DELAY] wait',
    });
  });
});

describe('POP3 reply reader: memory of a body of many short lines', () => {
  it('keeps one buffer per run of lines in a chunk, not one per line, and the body byte-exact', () => {
    const r = new Pop3ReplyReader();
    r.expect(true);
    const lines = Buffer.alloc(1_000_000, 10); // a million empty lines
    const stuffed = Buffer.from('..dot\r\nx\r\n');
    expect(r.push(Buffer.from('+OK\r\n'))).toEqual([]);
    expect(r.push(lines)).toEqual([]);
    expect(r.push(stuffed)).toEqual([]);
    expect(r.push(lines)).toEqual([]);
    const parts = (r as unknown as { bodyParts: Buffer[] }).bodyParts;
    expect(parts.length).toBeLessThanOrEqual(4);
    const [reply] = r.push(Buffer.from('.\r\n'));
    expect(reply!.body!.equals(Buffer.concat([lines, Buffer.from('.dot\r\nx\r\n'), lines]))).toBe(true);
  });
});

describe('POP3 reply reader: streamed bodies', () => {
  /** Push `wire` in the given chunks with the first reply's body going to a sink. */
  function streamed(chunks: Buffer[], kinds: boolean[], maxBodyBytes?: number) {
    const r = new Pop3ReplyReader({ maxBodyBytes });
    const pieces: Buffer[] = [];
    const perPush: number[] = [];
    r.expect(kinds[0]!, (p) => pieces.push(p));
    for (const k of kinds.slice(1)) r.expect(k);
    const replies = [];
    for (const c of chunks) {
      const before = pieces.length;
      const done = r.push(c);
      // every piece of this chunk reached the sink before push() returned
      perPush.push(pieces.length - before);
      replies.push(...done);
    }
    return { replies, body: Buffer.concat(pieces), perPush };
  }

  it('streams the body to the sink, unstuffed, under any chunking; other replies unchanged', () => {
    const wire = '+OK 9 octets\r\n..dot\r\nline\r\n.\r\n+OK next\r\n+OK\r\nkept\r\n.\r\n';
    for (const parts of splits(wire)) {
      const { replies, body } = streamed(
        parts.map((p) => Buffer.from(p, 'latin1')),
        [true, false, true],
      );
      expect(body.toString('latin1')).toBe('.dot\r\nline\r\n');
      expect(replies.map((r) => [r.text, r.body?.toString('latin1')])).toEqual([
        ['9 octets', undefined],
        ['next', undefined],
        ['', 'kept\r\n'],
      ]);
    }
  });

  it('has no size limit (the sink holds the body), about one piece per chunk', () => {
    const line = Buffer.from(`${'y'.repeat(78)}\r\n`);
    const chunk = Buffer.concat(Array.from({ length: 800 }, () => line)); // 64,000 octets, 800 lines
    const chunks = [Buffer.from('+OK\r\n'), ...Array.from({ length: 20 }, () => chunk), Buffer.from('.\r\n')];
    const { replies, body, perPush } = streamed(chunks, [true], 100_000);
    expect(replies).toHaveLength(1);
    expect(body.length).toBe(20 * chunk.length);
    expect(Math.max(...perPush)).toBe(1);
    // the same body kept in memory is over the limit
    const kept = new Pop3ReplyReader({ maxBodyBytes: 100_000 });
    kept.expect(true);
    expect(() => {
      for (const c of chunks) kept.push(c);
    }).toThrow(/larger than 100000 bytes/);
  });

  it('an -ERR reply to a streamed command has no body and sends nothing to the sink', () => {
    const { replies, body } = streamed([Buffer.from('-ERR no such message\r\n+OK\r\n')], [true, false]);
    expect(replies.map((r) => [r.ok, r.text])).toEqual([
      [false, 'no such message'],
      [true, ''],
    ]);
    expect(body.length).toBe(0);
  });
});
