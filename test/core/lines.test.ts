import { describe, expect, it } from 'vitest';
import { type BareCrHook, LineSplitter } from '../../src/core/lines.js';

function feed(
  max: number,
  chunks: string[],
  bareCR?: BareCrHook,
  maxDiscard?: number,
): Array<string | 'OVERFLOW' | 'RUNAWAY'> {
  const s = new LineSplitter(max, bareCR, maxDiscard);
  const out: Array<string | 'OVERFLOW' | 'RUNAWAY'> = [];
  for (const c of chunks) {
    for (const item of s.push(Buffer.from(c, 'latin1')))
      out.push('line' in item ? item.line.toString('latin1') : 'overflow' in item ? 'OVERFLOW' : 'RUNAWAY');
  }
  return out;
}

describe('LineSplitter', () => {
  const cases: Array<[string, number, string[], Array<string | 'OVERFLOW'>]> = [
    ['CRLF lines', 10, ['a\r\nb\r\n'], ['a', 'b']],
    ['bare LF lines', 10, ['a\nb\n'], ['a', 'b']],
    ['split across chunks', 10, ['ab', 'c\r', '\nd\n'], ['abc', 'd']],
    ['CR alone is not a terminator', 10, ['a\rb\n'], ['a\rb']],
    ['empty lines', 10, ['\r\n\n'], ['', '']],
    ['exactly max', 3, ['abc\r\n'], ['abc']],
    ['one over max', 3, ['abcd\r\n', 'ok\n'], ['OVERFLOW', 'ok']],
    ['overflow without newline discards until LF', 3, ['abcdefgh', 'ijk', 'lm\nok\n'], ['OVERFLOW', 'ok']],
    ['overflow reported once per line', 2, ['xxxxxxxx', 'xxxxxxxx', '\n'], ['OVERFLOW']],
    ['partial line waits', 10, ['abc'], []],
    ['binary bytes pass through', 10, ['\u00ff\u0000\u0001\n'], ['\u00ff\u0000\u0001']],
  ];
  for (const [name, max, chunks, expected] of cases) {
    it(name, () => expect(feed(max, chunks)).toEqual(expected));
  }

  it('reports a runaway line once, when more than maxDiscard bytes of it were thrown away', () => {
    // 3-byte lines, 20 bytes of discarding allowed: 8 + 10 is within, the next 5 pass it
    expect(feed(3, ['xxxxxxxx', 'xxxxxxxxxx', 'xxxxx', 'xxxxx', '\nok\n'], undefined, 20)).toEqual([
      'OVERFLOW',
      'RUNAWAY',
      'ok',
    ]);
    // exactly at the limit is not yet a runaway; a line end starts the count again
    expect(feed(3, ['x'.repeat(20), '\n', 'x'.repeat(20), '\nok\n'], undefined, 20)).toEqual([
      'OVERFLOW',
      'OVERFLOW',
      'ok',
    ]);
    // 0: never
    expect(feed(3, ['x'.repeat(100000), '\n'], undefined, 0)).toEqual(['OVERFLOW']);
    // the default is 1 MiB
    expect(feed(3, ['x'.repeat(1024 * 1024), 'x'])).toEqual(['OVERFLOW', 'RUNAWAY']);
  });

  it('never buffers more than the maximum', () => {
    const s = new LineSplitter(100);
    for (let i = 0; i < 1000; i++) s.push(Buffer.alloc(1000, 120));
    expect(s.buffered).toBeLessThanOrEqual(101);
  });

  it('reset forgets a partial line', () => {
    const s = new LineSplitter(10);
    s.push(Buffer.from('abc'));
    s.reset();
    expect(s.push(Buffer.from('d\n')).map((i) => ('line' in i ? i.line.toString() : 'O'))).toEqual(['d']);
  });
});

describe('LineSplitter with a bareCR hook', () => {
  const abor: BareCrHook = (head) => (head.toString('latin1') === 'ABOR' ? head : undefined);
  const cases: Array<[string, string[], string[]]> = [
    ['a CR that ends what arrived ends the line', ['ABOR\r'], ['ABOR']],
    ['the LF arriving next ends nothing', ['ABOR\r', '\nNOOP\r\n'], ['ABOR', 'NOOP']],
    ['only that one LF is dropped', ['ABOR\r', '\n\n'], ['ABOR', '']],
    ['another byte after the CR starts the next line', ['ABOR\rNOOP\r\n'], ['ABOR', 'NOOP']],
    ['the first byte of the next chunk is kept when it is no LF', ['ABOR\r', 'X\n'], ['ABOR', 'X']],
    ['pieces across chunks', ['AB', 'OR\r'], ['ABOR']],
    ['CRLF is unchanged', ['ABOR\r\nPWD\r\n'], ['ABOR', 'PWD']],
    ['lines the hook rejects wait for their LF', ['NOOP\r'], []],
    ['a CR inside another line stays part of it', ['MKD a\rb\r\n'], ['MKD a\rb']],
  ];
  for (const [name, chunks, expected] of cases) {
    it(name, () => expect(feed(64, chunks, abor)).toEqual(expected));
  }

  it('reset forgets a pending LF drop', () => {
    const s = new LineSplitter(64, abor);
    s.push(Buffer.from('ABOR\r'));
    s.reset();
    expect(s.push(Buffer.from('\n')).map((i) => ('line' in i ? i.line.toString() : 'O'))).toEqual(['']);
  });
});

describe('LineSplitter.takeRest', () => {
  it('hands over the unterminated tail once (a trailing CR dropped), nothing after an overflow', () => {
    const s = new LineSplitter(10);
    expect(s.push(Buffer.from('one\ntw'))).toEqual([{ line: Buffer.from('one') }]);
    s.push(Buffer.from('o\r'));
    expect(s.takeRest()?.toString()).toBe('two');
    expect(s.takeRest()).toBeUndefined();
    s.push(Buffer.from('far too long a line'));
    expect(s.takeRest()).toBeUndefined();
  });
});
