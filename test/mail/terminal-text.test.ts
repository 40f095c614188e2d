/**
 * terminalSafe(): what a hostile message or server can put on the terminal is shown escaped —
 * C0/C1 controls, DEL, bidi overrides and isolates, zero-width and line-separator characters —
 * while ordinary non-ASCII text stays readable.
 */
import { describe, expect, it } from 'vitest';
import { terminalSafe } from '../../src/mail/terminal-text.js';

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
    ['a line break on one line', 'a\nb\tc', 'a\\x0ab\\x09c'],
    ['plain UTF-8', 'Grüße 👋 Zoë', 'Grüße 👋 Zoë'],
  ])('%s', (_name, input, expected) => {
    expect(terminalSafe(input)).toBe(expected);
  });

  it('keeps line breaks and tabs of a body, CRLF as LF', () => {
    expect(terminalSafe('a\r\nb\tc\n\u001b[2J', { multiline: true })).toBe('a\nb\tc\n\\x1b[2J');
  });
});
