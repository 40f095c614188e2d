/**
 * The pure rules behind netkit http's curl flags: -r and -C (range-request.ts), -O
 * (remote-name.ts), --retry (retry-policy.ts) and --limit-rate (rate-limit.ts, on a fake clock).
 */
import { describe, expect, it } from 'vitest';
import { NetkitError } from '../../src/core/errors.js';
import {
  parseContinueAt,
  parseRangeOption,
  resumeRange,
  resumeVerdict,
} from '../../src/http/range-request.js';
import { limitRate, parseRate, type RateClock } from '../../src/http/rate-limit.js';
import { inOutputDir, remoteName, removeDotSegments } from '../../src/http/remote-name.js';
import {
  type AttemptOutcome,
  classifyError,
  decideRetry,
  initialRetryState,
  RETRY_SLEEP_MAX_MS,
  type RetryOptions,
  type RetryState,
} from '../../src/http/retry-policy.js';

describe('parseRangeOption (-r)', () => {
  it.each([
    ['0-499', '0-499'],
    ['500-', '500-'],
    ['-500', '-500'],
    ['0-0,-1', '0-0,-1'],
    ['0-0,10-20,-5', '0-0,10-20,-5'],
    ['7-7', '7-7'],
  ])('%s is sent as bytes=%s', (text, value) => {
    expect(parseRangeOption(text)).toEqual({ value });
  });

  it('a bare number gets its dash, with a warning, as in curl', () => {
    expect(parseRangeOption('500')).toEqual({ value: '500-', warning: expect.stringMatching(/bytes=500-/) });
    expect(parseRangeOption('007').value).toBe('7-');
  });

  it.each([
    '',
    'abc',
    '5-1',
    '1-2-3',
    '0-499,',
    ',0-1',
    ' 0-1',
    '0 - 1',
    '-',
    '--5',
    'bytes=0-1',
    '99999999999999999999-',
  ])('%j is a usage error', (text) => {
    expect(() => parseRangeOption(text)).toThrow(expect.objectContaining({ code: 'NETKIT_USAGE' }));
  });
});

describe('parseContinueAt (-C)', () => {
  it.each([
    ['-', 'end'],
    ['0', 0],
    ['300', 300],
  ] as const)('%s → %j', (text, expected) => {
    expect(parseContinueAt(text)).toBe(expected);
  });
  it.each(['', '-5', 'x', '1.5', '1e3'])('%j is a usage error', (text) => {
    expect(() => parseContinueAt(text)).toThrow(expect.objectContaining({ code: 'NETKIT_USAGE' }));
  });
  it('resumes with an open-ended range', () => {
    expect(resumeRange(300)).toBe('bytes=300-');
  });
});

describe('resumeVerdict (what curl does with the answer to a resumed request)', () => {
  const cases: Array<[string, number, Record<string, string>, string]> = [
    ['206 from the offset: append', 206, { 'content-range': 'bytes 300-999/1000' }, 'append'],
    ['206 from elsewhere: refuse', 206, { 'content-range': 'bytes 0-999/1000' }, 'refuse'],
    ['416: already complete', 416, { 'content-range': 'bytes */1000' }, 'complete'],
    ['200 of the offset length: complete', 200, { 'content-length': '300' }, 'complete'],
    ['200 with everything: refuse', 200, { 'content-length': '1000' }, 'refuse'],
    ['200 chunked: refuse', 200, {}, 'refuse'],
    ['404: refuse (never append an error page)', 404, {}, 'refuse'],
    ['302 not followed: refuse', 302, { location: '/x' }, 'refuse'],
    ['206 with a garbled Content-Range: refuse', 206, { 'content-range': 'bytes 300-200/1000' }, 'refuse'],
  ];
  it.each(cases)('%s', (_name, status, headers, action) => {
    expect(resumeVerdict(300, status, headers).action).toBe(action);
  });
  it('says why it refuses', () => {
    const v = resumeVerdict(300, 200, { 'content-length': '1000' });
    expect(v).toEqual({
      action: 'refuse',
      why: expect.stringMatching(/doesn't seem to support byte ranges/),
    });
  });
});

describe('remoteName (-O): curl 7.88 picks these names', () => {
  it.each([
    ['http://h/a/b%20c.txt', 'b%20c.txt'], // not URL-decoded, as curl's manual says
    ['http://h/x/file.txt?q=1&r=2', 'file.txt'],
    ['http://h/f%2Fg', 'f%2Fg'],
    ['http://h/a/%2e%2e', undefined], // a dot segment: /a/.. is /
    ['http://h/x/.%2e/y', 'y'],
    ['http://h/x/..%2f', '..%2f'],
    ['http://h/p;x=1', 'p;x=1'],
    ['http://h/q/n%C3%BC.bin', 'n%C3%BC.bin'],
    ['http://h/q/nü.txt', 'nü.txt'],
    ['http://h/nofile?x=/y', 'nofile'],
    ['http://h/a.b#frag/x', 'a.b'],
    ['http://h/%0a.txt', '%0a.txt'],
    ['http://h/a\\b', 'b'],
    ['http://h/.hidden', '.hidden'],
    ['http://h/a"b', 'a"b'],
    ['http://user:pw@h:8080/d/f.tar.gz', 'f.tar.gz'],
    ['http://h', undefined],
    ['http://h/', undefined],
    ['http://h/dir/', undefined],
    ['http://h/a/..', undefined],
    ['http://h/a/.', undefined],
    ['http://h/?x=file.txt', undefined],
    ['http://h/a\\..', undefined],
    ['http://h/bad\x01name', undefined], // control characters: refused (curl would create it)
    ['http://h/tab\tname', undefined],
  ])('%s → %s', (url, name) => {
    expect(remoteName(url)).toBe(name);
  });

  it.each([
    ['/a/b/../c', '/a/c'],
    ['/a/./b', '/a/b'],
    ['/..', '/'],
    ['/a/%2E%2E/b', '/b'],
    ['/a/b/.', '/a/b/'],
    ['', ''],
  ])('removeDotSegments(%j) → %j', (path, out) => {
    expect(removeDotSegments(path)).toBe(out);
  });

  it('--output-dir joins as curl does (even an absolute -o path)', () => {
    expect(inOutputDir('a.txt', 'dl')).toBe('dl/a.txt');
    expect(inOutputDir('a.txt', 'dl/')).toBe('dl//a.txt');
    expect(inOutputDir('/tmp/x', 'dl')).toBe('dl//tmp/x');
    expect(inOutputDir('a.txt', undefined)).toBe('a.txt');
  });
});

describe('decideRetry (--retry)', () => {
  const base: RetryOptions = { retries: 3 };
  const response = (status: number, extra: Partial<Extract<AttemptOutcome, { kind: 'response' }>> = {}) =>
    ({ kind: 'response', status, ...extra }) as AttemptOutcome;
  const error = (e: 'timeout' | 'resolve' | 'refused' | 'other') =>
    ({ kind: 'error', error: e }) as AttemptOutcome;

  const table: Array<[string, RetryOptions, AttemptOutcome, boolean]> = [
    ['503', base, response(503), true],
    ['408', base, response(408), true],
    ['429', base, response(429), true],
    ['500', base, response(500), true],
    ['502', base, response(502), true],
    ['504', base, response(504), true],
    ['501 is not transient', base, response(501), false],
    ['404', base, response(404), false],
    ['200', base, response(200), false],
    ['a timeout', base, error('timeout'), true],
    ['an unresolved host', base, error('resolve'), true],
    ['a refused connection', base, error('refused'), false],
    ['a refused connection with --retry-connrefused', { ...base, connRefused: true }, error('refused'), true],
    ['a reset connection', base, error('other'), false],
    ['a reset connection with --retry-all-errors', { ...base, allErrors: true }, error('other'), true],
    [
      'a 404 with --retry-all-errors (no --fail: a success)',
      { ...base, allErrors: true },
      response(404),
      false,
    ],
    [
      'a 404 with --fail and --retry-all-errors',
      { ...base, allErrors: true },
      response(404, { failed: true }),
      true,
    ],
    ['a 404 with --fail only', base, response(404, { failed: true }), false],
    ['a 503 with --fail', base, response(503, { failed: true }), true],
    ['no retries asked for', { retries: 0 }, response(503), false],
  ];
  it.each(table)('%s → retry %s', (_name, options, outcome, retry) => {
    expect(decideRetry(options, initialRetryState(options, 0), outcome, 0).retry).toBe(retry);
  });

  it('backs off from 1 s, doubling up to 10 minutes, and counts down', () => {
    let state: RetryState = initialRetryState({ retries: 20 }, 0);
    const waits: number[] = [];
    for (let i = 0; i < 12; i++) {
      const d = decideRetry({ retries: 20 }, state, response(503), 0);
      if (!d.retry) throw new Error('expected a retry');
      waits.push(d.delayMs);
      state = d.state;
    }
    expect(waits.slice(0, 6)).toEqual([1000, 2000, 4000, 8000, 16000, 32000]);
    expect(waits.at(-1)).toBe(RETRY_SLEEP_MAX_MS);
    expect(state.left).toBe(8);
  });

  it('stops when the retries are used up', () => {
    let state = initialRetryState({ retries: 2 }, 0);
    const decisions: boolean[] = [];
    for (let i = 0; i < 3; i++) {
      const d = decideRetry({ retries: 2 }, state, response(503), 0);
      decisions.push(d.retry);
      if (d.retry) state = d.state;
    }
    expect(decisions).toEqual([true, true, false]);
  });

  it('--retry-delay fixes the wait; Retry-After replaces it for that retry', () => {
    const options = { retries: 5, delayMs: 300 };
    const s = initialRetryState(options, 0);
    const d1 = decideRetry(options, s, response(503), 0);
    expect(d1).toMatchObject({ retry: true, delayMs: 300, state: { sleepMs: 300, left: 4 } });
    const d2 = decideRetry(options, s, response(503, { retryAfterMs: 2000 }), 0);
    expect(d2).toMatchObject({ retry: true, delayMs: 2000 });
    // Retry-After counts only on a retried status, and 0 means none (curl's reading)
    const d3 = decideRetry(options, s, response(503, { retryAfterMs: 0 }), 0);
    expect(d3).toMatchObject({ retry: true, delayMs: 300 });
  });

  it('--retry-max-time: no retry after it, nor one whose Retry-After would pass it', () => {
    const options = { retries: 5, maxTimeMs: 10_000 };
    const s = initialRetryState(options, 1000);
    expect(decideRetry(options, s, response(503), 5000).retry).toBe(true);
    expect(decideRetry(options, s, response(503), 11_000).retry).toBe(false);
    const late = decideRetry(options, s, response(503, { retryAfterMs: 9000 }), 5000);
    expect(late).toEqual({ retry: false, note: expect.stringMatching(/Retry-After.*--retry-max-time/) });
    expect(decideRetry(options, s, response(503, { retryAfterMs: 3000 }), 5000)).toMatchObject({
      retry: true,
      delayMs: 3000,
    });
  });

  it('classifies NetkitErrors by code and cause', () => {
    const withCause = (code: string) =>
      new NetkitError('NETKIT_CONNECT_FAILED', 'x', { cause: Object.assign(new Error('y'), { code }) });
    expect(classifyError(new NetkitError('NETKIT_TIMEOUT', 'x'))).toBe('timeout');
    expect(classifyError(withCause('ENOTFOUND'))).toBe('resolve');
    expect(classifyError(withCause('EAI_AGAIN'))).toBe('resolve');
    expect(classifyError(withCause('ECONNREFUSED'))).toBe('refused');
    expect(classifyError(withCause('ECONNRESET'))).toBe('other');
    expect(classifyError(new Error('plain'))).toBe('other');
  });
});

describe('--limit-rate', () => {
  it.each([
    ['100', 100],
    ['100K', 102_400],
    ['100k', 102_400],
    ['1M', 1_048_576],
    ['1.5m', 1_572_864],
    ['2G', 2 * 1024 ** 3],
    ['0', 0],
  ])('parseRate(%s) = %d', (text, rate) => {
    expect(parseRate(text)).toBe(rate);
  });
  it.each(['', 'fast', '1KB/s', '-1', '1 M x'])('parseRate(%j) is a usage error', (text) => {
    expect(() => parseRate(text)).toThrow(expect.objectContaining({ code: 'NETKIT_USAGE' }));
  });

  /** A clock that only moves when someone sleeps on it. */
  function fakeClock(): RateClock & { t: number; slept: number[] } {
    const clock = {
      t: 0,
      slept: [] as number[],
      now: () => clock.t,
      sleep: async (ms: number) => {
        clock.slept.push(ms);
        clock.t += ms;
      },
    };
    return clock;
  }

  async function drain(source: AsyncIterable<Uint8Array>): Promise<number> {
    let n = 0;
    for await (const c of source) n += c.length;
    return n;
  }

  async function* chunks(n: number, size: number): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < n; i++) yield new Uint8Array(size);
  }

  it('paces a body to the rate: bytes over time is the rate, after one small burst', async () => {
    const clock = fakeClock();
    const rate = 100 * 1024;
    const total = await drain(limitRate(chunks(40, 16 * 1024), rate, clock)); // 640 KiB
    expect(total).toBe(640 * 1024);
    const burst = Math.ceil(rate / 20);
    // the clock moved (total - burst) / rate seconds, to a millisecond
    expect(clock.t).toBeCloseTo(((total - burst) / rate) * 1000, 0);
    // and no piece was larger than the burst
    expect(Math.max(...clock.slept)).toBeLessThanOrEqual((burst / rate) * 1000 + 1e-6);
  });

  it('never waits for a body within the burst', async () => {
    const clock = fakeClock();
    expect(await drain(limitRate(chunks(1, 1000), 1024 * 1024, clock))).toBe(1000);
    expect(clock.slept).toEqual([]);
  });
});
