/**
 * terminalSafe(): what a hostile message, server or peer can put on the terminal is shown escaped —
 * C0/C1 controls, DEL, bidi overrides and isolates, zero-width and line-separator characters —
 * while ordinary non-ASCII text stays readable; and the pattern it uses agrees with
 * isTerminalUnsafe(), which the byte-level checks use, on every UTF-16 code unit.
 */
import { describe, expect, it, vi } from 'vitest';
import { printJson } from '../../src/cli/util.js';
import {
  escapeCodeUnit,
  isHiddenFormat,
  isTerminalUnsafe,
  terminalSafe,
} from '../../src/core/terminal-safe.js';

describe('terminalSafe', () => {
  it.each([
    ['ANSI colour', '\u001b[31mred', '\\x1b[31mred'],
    ['OSC title with BEL', '\u001b]0;x\u0007', '\\x1b]0;x\\x07'],
    ['C1 CSI', 'a\u009b2Jb', 'a\\x9b2Jb'],
    ['DEL and NUL', 'a\u007f\u0000', 'a\\x7f\\x00'],
    ['CR overwrite', 'fake\rreal', 'fake\\x0dreal'],
    ['bidi override', 'evil\u202egpj.exe', 'evil\\u202egpj.exe'],
    ['isolate and ALM', '\u2067x\u2069\u061c', '\\u2067x\\u2069\\u061c'],
    ['zero width, BOM, line separator', 'a\u200bb\ufeffc\u2028d', 'a\\u200bb\\ufeffc\\u2028d'],
    ['word joiner, LRM, RLM', '\u2060\u200e\u200f', '\\u2060\\u200e\\u200f'],
    ['a line break on one line', 'a\nb\tc', 'a\\x0ab\\x09c'],
    ['CRLF on one line', 'a\r\nb', 'a\\x0d\\x0ab'],
    ['plain UTF-8', 'Grüße 👋 Zoë', 'Grüße 👋 Zoë'],
    ['NBSP and other Latin-1', '\u00a0é\u00ff', '\u00a0é\u00ff'],
    ['empty', '', ''],
  ])('%s', (_name, input, expected) => {
    expect(terminalSafe(input)).toBe(expected);
  });

  it.each([
    ['keeps LF and TAB, CRLF as LF', 'a\r\nb\tc\n\u001b[2J', 'a\nb\tc\n\\x1b[2J'],
    ['a lone CR is still escaped', 'fake\rreal\n', 'fake\\x0dreal\n'],
    ['bidi is escaped in a body too', 'x\u202ey\n', 'x\\u202ey\n'],
  ])('multiline: %s', (_name, input, expected) => {
    expect(terminalSafe(input, { multiline: true })).toBe(expected);
  });

  it.each([
    ['_', 'a\u001bb\u202ec.txt', 'a_b_c.txt'],
    ['', 'a\u001bb\u202ec\u200b.txt', 'abc.txt'],
    ['_', 'clean.txt', 'clean.txt'],
  ])('replaceWith %j', (replaceWith, input, expected) => {
    expect(terminalSafe(input, { replaceWith })).toBe(expected);
  });

  it('escapes exactly the characters isTerminalUnsafe() names, on every code unit', () => {
    const disagree: string[] = [];
    for (let code = 0; code <= 0xffff; code++) {
      const c = String.fromCharCode(code);
      if ((terminalSafe(c) !== c) !== isTerminalUnsafe(code)) disagree.push(code.toString(16));
    }
    expect(disagree).toEqual([]);
  });
});

describe('isTerminalUnsafe / isHiddenFormat', () => {
  it.each([
    [0x00, true, false],
    [0x09, true, false],
    [0x1f, true, false],
    [0x20, false, false],
    [0x7e, false, false],
    [0x7f, true, false],
    [0x80, true, false],
    [0x9f, true, false],
    [0xa0, false, false],
    [0x061c, true, true],
    [0x200a, false, false],
    [0x200b, true, true],
    [0x200f, true, true],
    [0x2010, false, false],
    [0x2027, false, false],
    [0x2028, true, true],
    [0x202e, true, true],
    [0x202f, false, false],
    [0x2060, true, true],
    [0x2065, false, false],
    [0x2066, true, true],
    [0x2069, true, true],
    [0x206a, false, false],
    [0xfeff, true, true],
    [0xfffd, false, false],
  ])('U+%s: unsafe %s, hidden format %s', (code, unsafe, hidden) => {
    expect(isTerminalUnsafe(code)).toBe(unsafe);
    expect(isHiddenFormat(code)).toBe(hidden);
  });
});

describe('escapeCodeUnit', () => {
  it.each([
    [0x00, '\\x00'],
    [0x1b, '\\x1b'],
    [0x9b, '\\x9b'],
    [0xff, '\\xff'],
    [0x061c, '\\u061c'],
    [0x202e, '\\u202e'],
    [0xfeff, '\\ufeff'],
  ])('%i', (code, expected) => {
    expect(escapeCodeUnit(code)).toBe(expected);
  });
});

describe('printJson (every --json output)', () => {
  it('writes C1 controls, DEL and bidi overrides as \\u escapes: the same value, nothing for a terminal', () => {
    // a hostile FTP server's file names, as `netkit ftp ls --json` prints them
    const value = [
      { name: 'c1\u009b31mred' },
      { name: 'evil\u202egpj.exe\u007f' },
      { name: 'esc\u001b[2J \\\u009b' },
    ];
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      out.push(String(chunk));
      return true;
    });
    try {
      printJson(value);
    } finally {
      spy.mockRestore();
    }
    const text = out.join('');
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/);
    expect(text).toContain('c1\\u009b31mred');
    expect(JSON.parse(text)).toEqual(value);
  });
});
