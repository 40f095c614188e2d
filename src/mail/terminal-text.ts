/**
 * Text from a received message or a server reply, made safe to print on a terminal.
 *
 * Everything a mail or a POP3 server sends is attacker-controlled: an ESC sequence in a header name,
 * a Content-Type or an `-ERR` line can recolour, retitle or clear the terminal; a CR can overwrite
 * what was printed before it; a C1 byte such as U+009B is a one-character CSI on many terminals; and
 * bidi overrides, isolates, zero-width characters and line separators ("Trojan Source") make
 * `evil\u202Egpj.exe` display as `evilexe.jpg`. All of them are shown escaped (`\x1b`, `\u202e`)
 * instead of being interpreted, so what a person reads is what the message contains.
 */
import { isHiddenFormat } from '../sockets/invisible.js';

const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060\u2066-\u2069\ufeff]/g;

function escapeChar(c: string): string {
  const code = c.charCodeAt(0);
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * Escape control, C1 and hidden-format characters. With `multiline`, LF and TAB are kept (and CRLF
 * becomes LF), for message bodies; otherwise the result is one line.
 */
export function terminalSafe(s: string, opts: { multiline?: boolean } = {}): string {
  const text = opts.multiline ? s.replace(/\r\n/g, '\n') : s;
  return text.replace(UNSAFE, (c) => {
    if (opts.multiline && (c === '\n' || c === '\t')) return c;
    if (c.charCodeAt(0) < 0xa0 || isHiddenFormat(c.charCodeAt(0))) return escapeChar(c);
    return c;
  });
}
