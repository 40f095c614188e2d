import { describe, expect, it } from 'vitest';
import { LineSplitter } from '../../src/core/lines.js';

function feed(max: number, chunks: string[]): Array<string | 'OVERFLOW'> {
  const s = new LineSplitter(max);
  const out: Array<string | 'OVERFLOW'> = [];
  for (const c of chunks) {
    for (const item of s.push(Buffer.from(c, 'latin1')))
      out.push('overflow' in item ? 'OVERFLOW' : item.line.toString('latin1'));
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
