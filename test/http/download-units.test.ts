import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { segmentMap } from '../../src/cli/util.js';
import { parseChecksum } from '../../src/http/download/checksum.js';
import {
  decodeControl,
  decodeStreamControl,
  encodeControl,
  encodeStreamControl,
} from '../../src/http/download/control.js';
import {
  chooseFilename,
  decodeExtValue,
  filenameFromUrl,
  parseContentDisposition,
  sanitizeFilename,
} from '../../src/http/download/filename.js';
import {
  finishedSpans,
  mergeSpans,
  missingSpans,
  pickSteal,
  planSegments,
  type Segment,
  type Span,
  splitSegment,
  totalLength,
} from '../../src/http/download/planner.js';
import { ifRangeValidator, retryAfterMs } from '../../src/http/download/probe.js';
import { ioError, PartFile, PositionalSink } from '../../src/http/download/writer.js';
import { tempDir } from '../helpers/net.js';

const MiB = 1024 * 1024;

/** Segments are disjoint, non-empty, and together with `done` cover [0, size) exactly. */
function expectExactCover(size: number, done: Span[], segments: Span[]): void {
  const all = [...done, ...segments].filter((s) => s.end > s.start).sort((a, b) => a.start - b.start);
  let at = 0;
  for (const s of all) {
    expect(s.start).toBe(at);
    at = s.end;
  }
  expect(at).toBe(size);
}

describe('spans', () => {
  it('merges overlapping and adjacent spans, drops empty ones', () => {
    expect(
      mergeSpans([
        { start: 10, end: 20 },
        { start: 0, end: 5 },
        { start: 5, end: 8 },
        { start: 15, end: 30 },
        { start: 40, end: 40 },
      ]),
    ).toEqual([
      { start: 0, end: 8 },
      { start: 10, end: 30 },
    ]);
  });

  const missing: Array<[number, Span[], Span[]]> = [
    [100, [], [{ start: 0, end: 100 }]],
    [100, [{ start: 0, end: 100 }], []],
    [
      100,
      [{ start: 10, end: 20 }],
      [
        { start: 0, end: 10 },
        { start: 20, end: 100 },
      ],
    ],
    [
      100,
      [
        { start: 0, end: 50 },
        { start: 60, end: 200 },
      ],
      [{ start: 50, end: 60 }],
    ],
    [0, [], []],
  ];
  for (const [size, done, want] of missing) {
    it(`missing of ${size} minus ${JSON.stringify(done)}`, () =>
      expect(missingSpans(size, done)).toEqual(want));
  }
});

describe('planSegments', () => {
  const cases: Array<{ name: string; size: number; done: Span[]; n: number; min: number; pieces: number }> = [
    { name: 'even split', size: 200 * MiB, done: [], n: 8, min: MiB, pieces: 8 },
    { name: 'uneven size', size: 10 * MiB + 7, done: [], n: 3, min: MiB, pieces: 3 },
    { name: 'minimum segment limits the split', size: 3 * MiB, done: [], n: 8, min: MiB, pieces: 3 },
    { name: 'smaller than one minimum segment', size: 1000, done: [], n: 4, min: MiB, pieces: 1 },
    { name: 'one connection', size: 50 * MiB, done: [], n: 1, min: MiB, pieces: 1 },
    {
      name: 'resume with holes',
      size: 100 * MiB,
      done: [
        { start: 0, end: 30 * MiB },
        { start: 50 * MiB, end: 60 * MiB },
      ],
      n: 4,
      min: MiB,
      pieces: 4,
    },
    { name: 'tiny file, tiny minimum', size: 10, done: [], n: 4, min: 1, pieces: 4 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const plan = planSegments(missingSpans(c.size, c.done), c.n, c.min);
      expect(plan).toHaveLength(c.pieces);
      expectExactCover(c.size, c.done, plan);
      for (const s of plan) expect(s.end - s.start).toBeGreaterThanOrEqual(Math.min(c.min, c.size));
    });
  }
  it('splits evenly', () => {
    const plan = planSegments([{ start: 0, end: 800 }], 8, 1);
    expect(plan.map((s) => s.end - s.start)).toEqual([100, 100, 100, 100, 100, 100, 100, 100]);
  });
  it('nothing to do → no segments', () => expect(planSegments([], 4, MiB)).toEqual([]));
});

describe('work stealing', () => {
  const seg = (start: number, end: number, pos: number, id = 1): Segment => ({
    id,
    start,
    end,
    pos,
    conn: id,
  });

  it('picks the largest remainder and cuts it in the middle of what remains', () => {
    const active = [seg(0, 100, 90), seg(100, 200, 120), seg(200, 300, 250)];
    expect(pickSteal(active, 10)).toEqual({ index: 1, at: 120 + 40 });
  });
  it('does not split below twice the minimum segment', () => {
    expect(pickSteal([seg(0, 100, 81)], 10)).toBeUndefined();
    expect(pickSteal([seg(0, 100, 80)], 10)).toEqual({ index: 0, at: 90 });
    expect(pickSteal([], 10)).toBeUndefined();
    expect(pickSteal([seg(0, 100, 100)], 1)).toBeUndefined();
  });
  it('splitSegment shrinks the victim and refuses cuts outside what remains', () => {
    const v = seg(0, 100, 40);
    expect(splitSegment(v, 70)).toEqual({ start: 70, end: 100 });
    expect(v.end).toBe(70);
    expect(() => splitSegment(v, 40)).toThrow(RangeError);
    expect(() => splitSegment(v, 70)).toThrow(RangeError);
  });

  it('a random sequence of receive/steal/complete keeps ranges disjoint and contiguous', () => {
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let round = 0; round < 50; round++) {
      const size = 1000 + rand(100_000);
      const min = 1 + rand(2000);
      const n = 1 + rand(8);
      const live: Segment[] = planSegments([{ start: 0, end: size }], n, min).map((s, i) =>
        seg(s.start, s.end, s.start, i + 1),
      );
      const completed: Span[] = [];
      let id = live.length;
      for (let step = 0; step < 10_000 && live.length > 0; step++) {
        const i = rand(live.length);
        const s = live[i]!;
        s.pos = Math.min(s.end, s.pos + 1 + rand(5000));
        if (s.pos === s.end) {
          completed.push({ start: s.start, end: s.end });
          live.splice(i, 1);
          const pick = pickSteal(live, min);
          if (pick) live.push({ ...seg(0, 0, 0, ++id), ...splitSegment(live[pick.index]!, pick.at), pos: 0 });
          const added = live[live.length - 1];
          if (pick && added) added.pos = added.start;
        }
        // invariant at every step: completed + received prefixes + remainders = [0, size)
        const received = finishedSpans(completed, live);
        const remaining = live.map((l) => ({ start: l.pos, end: l.end }));
        expectExactCover(size, received, remaining);
      }
      expect(totalLength(mergeSpans(completed))).toBe(size);
    }
  });
});

describe('Content-Disposition', () => {
  const cases: Array<[string, string | undefined]> = [
    ['attachment; filename="report.pdf"', 'report.pdf'],
    ['attachment; filename=plain.txt', 'plain.txt'],
    ['inline; filename="a \\"quoted\\" name.txt"', 'a "quoted" name.txt'],
    ["attachment; filename*=UTF-8''%E2%82%AC%20rates.txt", '€ rates.txt'],
    ['attachment; filename="fallback.txt"; filename*=UTF-8\'\'na%C3%AFve.txt', 'naïve.txt'],
    ['attachment; filename*=utf-8\'en\'x%20y.bin; filename="z.bin"', 'x y.bin'],
    ["attachment; filename*=iso-8859-1''caf%E9.txt", 'café.txt'],
    ['attachment; filename*=UTF-8\'\'bad%ZZ; filename="good.txt"', 'good.txt'],
    ['attachment; filename*=KOI8-R\'\'x; filename="good.txt"', 'good.txt'],
    ['attachment; filename="semi;colon.txt"; size=3', 'semi;colon.txt'],
    ['attachment', undefined],
    ['ATTACHMENT; FILENAME="upper.txt"', 'upper.txt'],
    // a parameter without a value is skipped, as curl -OJ does (it swallowed the filename)
    ['attachment; foo; filename=after-bare.txt', 'after-bare.txt'],
    ["attachment; ; foo ;filename*=UTF-8''%C3%BCber.txt", 'über.txt'],
    // raw UTF-8 in a plain filename, as the header reaches us (one character per byte)
    [`attachment; filename="${Buffer.from('naïve €.txt').toString('latin1')}"`, 'naïve €.txt'],
    // bytes that are not UTF-8 stay Latin-1
    [`attachment; filename="${Buffer.from([0x63, 0x61, 0x66, 0xe9]).toString('latin1')}.txt"`, 'café.txt'],
  ];
  for (const [value, want] of cases) {
    it(value, () => expect(parseContentDisposition(value)?.filename).toBe(want));
  }
  it('rejects a header with no type', () => expect(parseContentDisposition('filename="x"')).toBeUndefined());
  it('decodes ext-values', () => {
    expect(decodeExtValue("UTF-8''%C3%A9")).toBe('é');
    expect(decodeExtValue('no quotes')).toBeUndefined();
    expect(decodeExtValue("UTF-8''%C3")).toBeUndefined();
  });
});

describe('sanitizeFilename', () => {
  const cases: Array<[string, string | undefined]> = [
    ['report.pdf', 'report.pdf'],
    ['../../x', 'x'],
    ['..\\..\\windows\\x.exe', 'x.exe'],
    ['/etc/passwd', 'passwd'],
    ['..', undefined],
    ['.', undefined],
    ['...', undefined],
    ['', undefined],
    ['.bashrc', 'bashrc'],
    ['..hidden.txt', 'hidden.txt'],
    ['  spaced  ', 'spaced'],
    ['trailing.', 'trailing'],
    ['bell\u0007\u001b[31mred.txt', 'bell[31mred.txt'],
    ['new\nline.txt', 'newline.txt'],
    ['evil\u202egpj.exe', 'evilgpj.exe'],
    ['zero\u200bwidth\ufeff.txt', 'zerowidth.txt'],
    ['a<b>c:d"e|f?g*h.txt', 'a_b_c_d_e_f_g_h.txt'],
    ['CON', '_CON'],
    ['nul.txt', '_nul.txt'],
    ['dir/', undefined],
    ['caf\u0065\u0301.txt', 'café.txt'],
  ];
  for (const [input, want] of cases) {
    it(JSON.stringify(input), () => expect(sanitizeFilename(input)).toBe(want));
  }
  it('cuts long names to 236 bytes (room for .part.netkit and a .N suffix) and keeps the extension', () => {
    const out = sanitizeFilename(`${'é'.repeat(300)}.tar.gz`)!;
    expect(Buffer.byteLength(out)).toBeLessThanOrEqual(236);
    expect(Buffer.byteLength(`${out}.999999.part.netkit`)).toBeLessThanOrEqual(255);
    expect(out.endsWith('.gz')).toBe(true);
  });
});

describe('output names', () => {
  const cases: Array<[string, string | undefined, string]> = [
    ['http://h/files/app-1.2.tar.gz', undefined, 'app-1.2.tar.gz'],
    ['http://h/files/a%20b.txt?x=1#frag', undefined, 'a b.txt'],
    ['http://h/', undefined, 'index.html'],
    ['http://h', undefined, 'index.html'],
    ['http://h/dir/', undefined, 'index.html'],
    ['http://h/%2e%2e', undefined, 'index.html'],
    ['http://h/x%2F..%2Fy', undefined, 'y'],
    ['http://h/download?id=3', 'attachment; filename="../../x"', 'x'],
    ['http://h/download', 'attachment; filename=".."', 'download'],
    ['http://h/a.bin', "attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf", 'résumé.pdf'],
    ['http://h/bad%E0%A4%A', undefined, 'bad%E0%A4%A'],
  ];
  for (const [url, cd, want] of cases) {
    it(`${url} ${cd ?? ''}`, () => expect(chooseFilename(url, cd)).toBe(want));
  }
  it('filenameFromUrl on garbage', () => expect(filenameFromUrl('not a url')).toBeUndefined());
});

describe('checksum option', () => {
  it('parses algorithms', () => {
    expect(parseChecksum(`sha256=${'A'.repeat(64)}`)).toEqual({ algorithm: 'sha256', hex: 'a'.repeat(64) });
    expect(parseChecksum(`SHA-1=${'0'.repeat(40)}`)).toEqual({ algorithm: 'sha1', hex: '0'.repeat(40) });
    expect(parseChecksum(`md5:${'f'.repeat(32)}`)).toEqual({ algorithm: 'md5', hex: 'f'.repeat(32) });
  });
  const bad = ['sha256=abc', 'crc32=12345678', 'sha256', `sha256=${'g'.repeat(64)}`, ''];
  for (const b of bad) {
    it(`rejects ${JSON.stringify(b)}`, () => expect(() => parseChecksum(b)).toThrow(/checksum|hex digits/));
  }
});

describe('control file', () => {
  it('round-trips and merges spans', () => {
    const text = encodeControl({
      url: 'http://h/f',
      size: 100,
      etag: '"e"',
      done: [
        { start: 50, end: 60 },
        { start: 0, end: 10 },
        { start: 10, end: 20 },
      ],
    });
    const c = decodeControl(text)!;
    expect(c.done).toEqual([
      [0, 20],
      [50, 60],
    ]);
    expect(c.spans).toEqual([
      { start: 0, end: 20 },
      { start: 50, end: 60 },
    ]);
    expect(c.etag).toBe('"e"');
    expect(c.lastModified).toBeUndefined();
  });
  const bad = [
    'not json',
    'null',
    '{"version":2,"url":"u","size":1,"done":[]}',
    '{"version":1,"url":"u","size":-1,"done":[]}',
    '{"version":1,"url":"u","size":10,"done":[[0,11]]}',
    '{"version":1,"url":"u","size":10,"done":[[5,4]]}',
    '{"version":1,"url":"u","size":10,"done":[[0]]}',
    '{"version":1,"url":"u","size":10,"done":"x"}',
    '{"version":1,"url":"u","size":10,"etag":5,"done":[]}',
  ];
  for (const b of bad) it(`rejects ${b}`, () => expect(decodeControl(b)).toBeUndefined());

  it("one stream's sidecar: no spans, the size only when known; neither kind is read as the other", () => {
    const stream = encodeStreamControl({
      url: 'ftp://h/f',
      size: undefined,
      lastModified: 'Tue, 01 Jul 2025',
    });
    expect(decodeStreamControl(stream)).toMatchObject({ version: 1, stream: true, url: 'ftp://h/f' });
    expect(decodeStreamControl(stream)).not.toHaveProperty('size');
    expect(decodeStreamControl(encodeStreamControl({ url: 'u', size: 7, etag: '"e"' }))).toMatchObject({
      size: 7,
      etag: '"e"',
    });
    expect(decodeControl(stream)).toBeUndefined();
    expect(decodeStreamControl(encodeControl({ url: 'u', size: 1, done: [] }))).toBeUndefined();
    expect(decodeStreamControl('{"version":1,"stream":true,"url":"u","size":-1}')).toBeUndefined();
  });
});

describe('Retry-After (RFC 9110 §10.2.3)', () => {
  const now = Date.parse('Sun, 06 Nov 1994 08:49:37 GMT');
  it('delay-seconds', () => {
    expect(retryAfterMs({ 'retry-after': '120' }, now)).toBe(120_000);
    expect(retryAfterMs({ 'retry-after': ' 0 ' }, now)).toBe(0);
  });
  it('an HTTP-date, against the response Date when there is one (a skewed local clock does not matter)', () => {
    const h = { 'retry-after': 'Fri, 31 Dec 1999 23:59:59 GMT', date: 'Fri, 31 Dec 1999 23:58:59 GMT' };
    expect(retryAfterMs(h, now)).toBe(60_000);
    expect(retryAfterMs({ 'retry-after': 'Sun, 06 Nov 1994 08:50:07 GMT' }, now)).toBe(30_000);
    expect(retryAfterMs({ 'retry-after': 'Sunday, 06-Nov-94 08:50:37 GMT' }, now)).toBe(60_000);
    expect(retryAfterMs({ 'retry-after': 'Sun, 06 Nov 1994 08:00:00 GMT' }, now)).toBe(0); // past
  });
  it('absent or not a delay: undefined', () => {
    for (const v of [undefined, '', '1.5', '-3', 'soon', '2025-01-01'])
      expect(retryAfterMs(v === undefined ? {} : { 'retry-after': v }, now), String(v)).toBeUndefined();
  });
});

describe('misc', () => {
  it('If-Range prefers a strong ETag, else Last-Modified', () => {
    expect(ifRangeValidator({ etag: '"a"', lastModified: 'd' })).toBe('"a"');
    expect(ifRangeValidator({ etag: 'W/"a"', lastModified: 'd' })).toBe('d');
    expect(ifRangeValidator({})).toBeUndefined();
  });
  it('maps file-system errors to one clear line', () => {
    const e = (code: string) => Object.assign(new Error(`${code}: raw`), { code });
    expect(ioError(e('ENOSPC'), '/d/f.part').message).toBe('cannot write /d/f.part: no space left on device');
    expect(ioError(e('EACCES'), '/d').message).toBe('cannot write /d: permission denied');
    expect(ioError(e('EROFS'), '/d').code).toBe('NETKIT_IO');
    expect(ioError(e('EWEIRD'), '/d').message).toBe('cannot write /d: EWEIRD: raw');
  });
  it('draws a segment map', () => {
    const total = 400;
    expect(segmentMap(total, [], 4)).toBe('####');
    expect(
      segmentMap(
        total,
        [
          { start: 0, end: 200, done: 150, conn: 1 },
          { start: 200, end: 300, done: 0, conn: 0 },
          { start: 300, end: 400, done: 50, conn: 12 },
        ],
        4,
      ),
    ).toBe('#1.c');
  });
});

describe('PartFile and PositionalSink', () => {
  it('writes inline, falls back to background writes when the disk is slow, and back again', async () => {
    const { dir, cleanup } = await tempDir('netkit-sink-');
    try {
      const data = randomBytes(300 * 1024);
      const part = await PartFile.open(path.join(dir, 'f.part'), { fresh: true, size: 400 * 1024 });
      // every inline write counts as "slow": the first one switches the sink to the background
      const sink = new PositionalSink(part, 100 * 1024, { slowWriteMs: -1, highWaterMark: 64 * 1024 });
      let drains = 0;
      sink.onDrain = () => drains++;
      const results: boolean[] = [];
      for (let off = 0; off < data.length; off += 16 * 1024)
        results.push(sink.push(data.subarray(off, off + 16 * 1024)));
      expect(sink.background).toBe(true);
      expect(results.includes(false)).toBe(true); // past the high-water mark: "pause"
      await sink.flush();
      expect(drains).toBeGreaterThan(0);
      expect(sink.written).toBe(100 * 1024 + data.length);
      expect(sink.background).toBe(false); // the backlog drained
      await part.close();
      const file = await readFile(path.join(dir, 'f.part'));
      expect(file.length).toBe(400 * 1024);
      expect(file.subarray(100 * 1024, 100 * 1024 + data.length).equals(data)).toBe(true);
      expect(file.subarray(0, 100 * 1024).every((b) => b === 0)).toBe(true);
    } finally {
      await cleanup();
    }
  });

  it('reports a failed write once, as NETKIT_IO, and refuses more data', async () => {
    const { dir, cleanup } = await tempDir('netkit-sink-');
    try {
      const part = await PartFile.open(path.join(dir, 'g.part'), { fresh: true });
      await part.close(); // every write now fails with EBADF
      const sink = new PositionalSink(part, 0);
      const errors: Error[] = [];
      sink.onError = (e) => errors.push(e);
      expect(sink.push(Buffer.from('abc'))).toBe(false);
      expect(sink.push(Buffer.from('def'))).toBe(false);
      expect(errors).toHaveLength(1);
      await expect(sink.flush()).rejects.toMatchObject({ code: 'NETKIT_IO', message: /g\.part/ });
    } finally {
      await cleanup();
    }
  });
});
