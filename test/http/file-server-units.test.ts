import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../src/core/throttle.js';
import {
  httpDate,
  ifRangeMatches,
  isNotModified,
  makeEtag,
  parseEtagList,
  parseHttpDate,
  preconditionFailed,
} from '../../src/http/conditional.js';
import { escapeHtml, renderListingHtml, renderListingJson, sortEntries } from '../../src/http/listing.js';
import { contentType } from '../../src/http/mime.js';
import { clientErrorStatus } from '../../src/http/parse-error-status.js';
import { coalesce, formatContentRange, parseContentRange, parseRange } from '../../src/http/range.js';

describe('parseRange (RFC 9110 §14.1.2)', () => {
  const size = 1000;
  const cases: Array<[string | undefined, ReturnType<typeof parseRange>]> = [
    [undefined, { type: 'none' }],
    ['bytes=0-99', { type: 'ranges', ranges: [{ start: 0, end: 99 }] }],
    ['BYTES=0-0', { type: 'ranges', ranges: [{ start: 0, end: 0 }] }],
    ['bytes = 5-9', { type: 'ranges', ranges: [{ start: 5, end: 9 }] }],
    ['bytes=900-', { type: 'ranges', ranges: [{ start: 900, end: 999 }] }],
    ['bytes=-100', { type: 'ranges', ranges: [{ start: 900, end: 999 }] }],
    ['bytes=-5000', { type: 'ranges', ranges: [{ start: 0, end: 999 }] }],
    ['bytes=990-5000', { type: 'ranges', ranges: [{ start: 990, end: 999 }] }],
    ['bytes=999-999', { type: 'ranges', ranges: [{ start: 999, end: 999 }] }],
    [
      'bytes=0-1, 10-11',
      {
        type: 'ranges',
        ranges: [
          { start: 0, end: 1 },
          { start: 10, end: 11 },
        ],
      },
    ],
    // order is kept when ranges do not overlap
    [
      'bytes=10-11,0-1',
      {
        type: 'ranges',
        ranges: [
          { start: 10, end: 11 },
          { start: 0, end: 1 },
        ],
      },
    ],
    // empty list elements are allowed
    [
      'bytes=0-1,,5-6,',
      {
        type: 'ranges',
        ranges: [
          { start: 0, end: 1 },
          { start: 5, end: 6 },
        ],
      },
    ],
    // overlapping → coalesced
    ['bytes=0-10,5-20,21-30', { type: 'ranges', ranges: [{ start: 0, end: 30 }] }],
    ['bytes=0-0,0-0,0-0', { type: 'ranges', ranges: [{ start: 0, end: 0 }] }],
    // unsatisfiable parts dropped, the rest kept
    ['bytes=0-1,2000-3000', { type: 'ranges', ranges: [{ start: 0, end: 1 }] }],
    ['bytes=1000-', { type: 'unsatisfiable' }],
    ['bytes=1000-2000', { type: 'unsatisfiable' }],
    ['bytes=-0', { type: 'unsatisfiable' }],
    ['bytes=5000-,-0', { type: 'unsatisfiable' }],
    // invalid → ignored
    ['bytes=5-1', { type: 'none' }],
    ['bytes=abc', { type: 'none' }],
    ['bytes=1-2-3', { type: 'none' }],
    ['bytes=-', { type: 'none' }],
    ['bytes=', { type: 'none' }],
    ['bytes=0-1,x', { type: 'none' }],
    ['bytes=+1-2', { type: 'none' }],
    ['bytes=0x10-20', { type: 'none' }],
    ['items=0-1', { type: 'none' }],
    ['0-1', { type: 'none' }],
    ['', { type: 'none' }],
  ];
  for (const [header, want] of cases) {
    it(`${JSON.stringify(header)}`, () => {
      expect(parseRange(header, size)).toEqual(want);
    });
  }

  it('ignores Range on an empty file', () => {
    expect(parseRange('bytes=0-0', 0)).toEqual({ type: 'none' });
    expect(parseRange('bytes=-5', 0)).toEqual({ type: 'none' });
  });

  it('serves the whole file when there are too many ranges', () => {
    const many = `bytes=${Array.from({ length: 20 }, (_, i) => `${i * 10}-${i * 10 + 1}`).join(',')}`;
    expect(parseRange(many, size)).toEqual({ type: 'none' });
    expect(parseRange(many, size, { maxRanges: 32 }).type).toBe('ranges');
  });

  it('clamps huge numbers instead of overflowing', () => {
    expect(parseRange('bytes=0-99999999999999999999999', size)).toEqual({
      type: 'ranges',
      ranges: [{ start: 0, end: 999 }],
    });
    expect(parseRange('bytes=99999999999999999999999-', size)).toEqual({ type: 'unsatisfiable' });
  });

  it('coalesces adjacent ranges', () => {
    expect(
      coalesce([
        { start: 5, end: 9 },
        { start: 0, end: 4 },
      ]),
    ).toEqual([{ start: 0, end: 9 }]);
  });
});

describe('parseContentRange', () => {
  const cases: Array<[string | undefined, ReturnType<typeof parseContentRange>]> = [
    ['bytes 0-99/1000', { start: 0, end: 99, total: 1000 }],
    ['bytes 0-99/*', { start: 0, end: 99 }],
    ['bytes */1000', { total: 1000 }],
    ['Bytes 5-5/6', { start: 5, end: 5, total: 6 }],
    ['bytes 100-99/1000', undefined],
    ['bytes 0-1000/1000', undefined],
    ['bytes 0-99', undefined],
    ['bytes=0-99/1000', undefined],
    ['bytes */*', undefined],
    ['items 0-1/2', undefined],
    ['bytes -1-5/10', undefined],
    ['', undefined],
    [undefined, undefined],
  ];
  for (const [value, want] of cases) {
    it(`${JSON.stringify(value)}`, () => expect(parseContentRange(value)).toEqual(want));
  }
  it('formats', () => expect(formatContentRange({ start: 0, end: 9 }, 10)).toBe('bytes 0-9/10'));
});

describe('validators and conditional requests', () => {
  const mtimeMs = Date.UTC(2024, 0, 2, 3, 4, 5, 678);
  const v = { etag: makeEtag(1234, mtimeMs), mtimeMs };
  const lm = httpDate(mtimeMs);

  it('makes a strong etag that changes with size and mtime', () => {
    expect(v.etag).toMatch(/^"[0-9a-f]+-4d2"$/);
    expect(makeEtag(1235, mtimeMs)).not.toBe(v.etag);
    expect(makeEtag(1234, mtimeMs + 1)).not.toBe(v.etag);
  });

  it('parses the three HTTP-date forms and rejects others', () => {
    const t = Date.UTC(1994, 10, 6, 8, 49, 37);
    expect(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT')).toBe(t);
    expect(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT')).toBe(t);
    expect(parseHttpDate('Sun Nov  6 08:49:37 1994')).toBe(t);
    expect(parseHttpDate('yesterday')).toBeUndefined();
    expect(parseHttpDate('2024-01-02T03:04:05Z')).toBeUndefined();
    expect(parseHttpDate(undefined)).toBeUndefined();
  });

  it('parses entity-tag lists', () => {
    expect(parseEtagList('"a", W/"b" ,"c,d"')).toEqual(['"a"', 'W/"b"', '"c,d"']);
    expect(parseEtagList(' * ')).toEqual(['*']);
    expect(parseEtagList('garbage')).toEqual([]);
  });

  const notModified: Array<[Record<string, string>, boolean]> = [
    [{}, false],
    [{ 'if-none-match': v.etag }, true],
    [{ 'if-none-match': `W/${v.etag}` }, true],
    [{ 'if-none-match': `"x", ${v.etag}` }, true],
    [{ 'if-none-match': '*' }, true],
    [{ 'if-none-match': '"other"' }, false],
    // If-None-Match wins over If-Modified-Since
    [{ 'if-none-match': '"other"', 'if-modified-since': lm }, false],
    [{ 'if-modified-since': lm }, true],
    [{ 'if-modified-since': httpDate(mtimeMs + 60_000) }, true],
    [{ 'if-modified-since': httpDate(mtimeMs - 60_000) }, false],
    [{ 'if-modified-since': 'not a date' }, false],
  ];
  for (const [headers, want] of notModified) {
    it(`304 for ${JSON.stringify(headers)} is ${want}`, () => expect(isNotModified(headers, v)).toBe(want));
  }

  const ifRange: Array<[string | undefined, boolean]> = [
    [undefined, true],
    [v.etag, true],
    [`W/${v.etag}`, false],
    ['"other"', false],
    [lm, true],
    [httpDate(mtimeMs + 1000), false],
    ['garbage', false],
  ];
  for (const [value, want] of ifRange) {
    it(`If-Range ${JSON.stringify(value)} matches: ${want}`, () =>
      expect(ifRangeMatches(value, v)).toBe(want));
  }

  it('If-Range with a date does not match a weak Last-Modified (RFC 9110 §13.1.5)', () => {
    // the response's Date less than a second after the mtime: the file may change again unseen
    expect(ifRangeMatches(lm, v, mtimeMs + 999)).toBe(false);
    expect(ifRangeMatches(lm, v, mtimeMs - 5000)).toBe(false);
    expect(ifRangeMatches(lm, v, mtimeMs + 1000)).toBe(true);
    // an entity tag is strong whatever the time
    expect(ifRangeMatches(v.etag, v, mtimeMs)).toBe(true);
  });

  const failed: Array<[Record<string, string>, boolean]> = [
    [{}, false],
    [{ 'if-match': v.etag }, false],
    [{ 'if-match': `"x", ${v.etag}` }, false],
    [{ 'if-match': '*' }, false],
    [{ 'if-match': '"other"' }, true],
    // strong comparison: a weak tag never matches
    [{ 'if-match': `W/${v.etag}` }, true],
    [{ 'if-match': 'garbage' }, true],
    [{ 'if-unmodified-since': lm }, false],
    [{ 'if-unmodified-since': httpDate(mtimeMs + 60_000) }, false],
    [{ 'if-unmodified-since': httpDate(mtimeMs - 60_000) }, true],
    [{ 'if-unmodified-since': 'not a date' }, false],
    // If-Unmodified-Since is not looked at when If-Match is there
    [{ 'if-match': v.etag, 'if-unmodified-since': httpDate(mtimeMs - 60_000) }, false],
    [{ 'if-match': '"other"', 'if-unmodified-since': lm }, true],
  ];
  for (const [headers, want] of failed) {
    it(`412 for ${JSON.stringify(headers)} is ${want}`, () =>
      expect(preconditionFailed(headers, v)).toBe(want));
  }
});

describe('listings', () => {
  const entries = [
    { name: 'b.txt', type: 'file' as const, size: 2048, mtimeMs: 0 },
    { name: '<script>alert(1)</script>', type: 'file' as const, size: 1, mtimeMs: 0 },
    { name: 'sub dir', type: 'directory' as const, size: 0, mtimeMs: 0 },
    { name: 'a"&\'.txt', type: 'file' as const, size: 1, mtimeMs: 0 },
  ];

  it('escapes names in text and encodes them in links', () => {
    const html = renderListingHtml('/x/<y>/', entries);
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('href="%3Cscript%3Ealert(1)%3C%2Fscript%3E"');
    expect(html).toContain('href="sub%20dir/"');
    expect(html).toContain('a&quot;&amp;&#39;.txt');
    expect(html).toContain('Index of /x/&lt;y&gt;/');
    expect(html).toContain('href="../"');
  });

  it('lists directories first', () => {
    expect(sortEntries(entries).map((e) => e.name)[0]).toBe('sub dir');
    const json = JSON.parse(renderListingJson('/', entries));
    expect(json.path).toBe('/');
    expect(json.entries[0]).toEqual({
      name: 'sub dir',
      type: 'directory',
      size: 0,
      mtime: '1970-01-01T00:00:00.000Z',
    });
    expect(json.entries).toHaveLength(4);
  });

  it('shows unknown size and date as "-" in HTML and leaves them out of JSON', () => {
    const unknown = [{ name: 'link-out', type: 'other' as const }];
    expect(renderListingHtml('/', unknown)).toContain('link-out</a></td><td>-</td><td>-</td>');
    expect(JSON.parse(renderListingJson('/', unknown)).entries).toEqual([
      { name: 'link-out', type: 'other' },
    ]);
  });

  it('says that a listing was cut', () => {
    expect(renderListingHtml('/', entries, 10)).toContain('<p>… 6 more entries not shown</p>');
    expect(renderListingHtml('/', entries, 5)).toContain('<p>… 1 more entry not shown</p>');
    expect(renderListingHtml('/', entries)).not.toContain('not shown');
    const json = JSON.parse(renderListingJson('/', entries, 10));
    expect(json).toMatchObject({ truncated: true, total: 10 });
    expect(json.entries).toHaveLength(4);
    expect(JSON.parse(renderListingJson('/', entries))).not.toHaveProperty('truncated');
  });

  it('escapeHtml', () =>
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;'));
});

describe('mime types', () => {
  const cases: Array<[string, string]> = [
    ['index.html', 'text/html; charset=utf-8'],
    ['A.PNG', 'image/png'],
    ['data.json', 'application/json; charset=utf-8'],
    ['archive.tar.gz', 'application/gzip'],
    ['noext', 'application/octet-stream'],
    ['.bashrc', 'application/octet-stream'],
    ['x.unknownext', 'application/octet-stream'],
    ['logo.svg', 'image/svg+xml; charset=utf-8'],
    // web media a test server is used for (as nginx and Python's mimetypes name them)
    ['subs.en.vtt', 'text/vtt; charset=utf-8'],
    ['stream.m3u8', 'application/vnd.apple.mpegurl'],
    ['stream.mpd', 'application/dash+xml'],
    ['a.aac', 'audio/aac'],
    ['a.opus', 'audio/ogg'],
    ['anim.apng', 'image/apng'],
  ];
  for (const [name, want] of cases) it(name, () => expect(contentType(name)).toBe(want));
});

describe('TokenBucket', () => {
  it('allows the burst, then charges time for the rest', () => {
    const b = new TokenBucket(1000, 100, 0);
    expect(b.reserve(100, 0)).toBe(0);
    expect(b.reserve(100, 0)).toBeCloseTo(100);
    // 200 ms later 200 tokens have come back (capped at the burst): still in debt by 0
    expect(b.reserve(100, 200)).toBeCloseTo(0);
  });
  it('caps the refill at the burst', () => {
    const b = new TokenBucket(1000, 50, 0);
    b.reserve(50, 0);
    expect(b.reserve(50, 10_000)).toBe(0);
    expect(b.reserve(50, 10_000)).toBeCloseTo(50);
  });
  it('rejects a zero rate', () => expect(() => new TokenBucket(0)).toThrow(RangeError));
});

describe('clientErrorStatus: what llhttp could not parse', () => {
  const err = (code: string, raw: string, bytesParsed: number) => ({
    name: 'Error',
    message: code,
    code,
    rawPacket: Buffer.from(raw, 'latin1'),
    bytesParsed,
  });
  const longLine = `GET /${'a'.repeat(20_000)}`;
  const cases: Array<[string, ReturnType<typeof err>, number]> = [
    ['a request line over the limit', err('HPE_HEADER_OVERFLOW', longLine, 16_400), 414],
    [
      'a request line over the limit behind another request',
      err('HPE_HEADER_OVERFLOW', `GET / HTTP/1.1\r\nHost: x\r\n\r\n${longLine}`, 16_500),
      414,
    ],
    [
      'a header over the limit',
      err('HPE_HEADER_OVERFLOW', `GET / HTTP/1.1\r\nX-Big: ${'a'.repeat(20_000)}`, 16_400),
      431,
    ],
    // the line began in an earlier chunk: nothing tells a request line from a header
    ['a chunk in the middle of a line', err('HPE_HEADER_OVERFLOW', 'a'.repeat(20_000), 10_000), 431],
    ['an unknown method', err('HPE_INVALID_METHOD', 'FOO /a HTTP/1.1\r\nHost: x\r\n\r\n', 1), 501],
    ['a lowercase method', err('HPE_INVALID_METHOD', 'get /a HTTP/1.1\r\nHost: x\r\n\r\n', 0), 501],
    [
      'an unknown method behind another request',
      err('HPE_INVALID_METHOD', 'GET / HTTP/1.1\r\nHost: x\r\n\r\nFOO /a HTTP/1.1\r\n\r\n', 28),
      501,
    ],
    ['garbage', err('HPE_INVALID_METHOD', 'HELLO\r\n\r\n', 2), 400],
    ['an unknown method without a version', err('HPE_INVALID_METHOD', 'FOO /a\r\n', 1), 400],
    ['another parse error', err('HPE_INVALID_HEADER_TOKEN', 'GET / HTTP/1.1\r\nA B: c\r\n', 17), 400],
  ];
  for (const [name, e, status] of cases)
    it(`${name} → ${status}`, () => expect(clientErrorStatus(e)).toBe(status));
  it('a request timeout → 408', () =>
    expect(clientErrorStatus({ name: 'Error', message: '', code: 'ERR_HTTP_REQUEST_TIMEOUT' })).toBe(408));
});
