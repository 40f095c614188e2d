/**
 * How the chat reads a line's bytes. The room is UTF-8: that is what it sends, what its history
 * keeps and what the dashboard shows. A line that is not valid UTF-8 comes from a terminal in a
 * legacy 8-bit charset (a Latin-1 `nc`, PuTTY or a Windows telnet), and read as UTF-8 it would reach
 * everyone as `caf�`; it is read as Windows-1252 instead (Latin-1 with the printable characters
 * Windows puts at 0x80–0x9F), so `café` from that terminal is `café` for everyone — the fallback
 * IRC clients make (irssi's `recode_fallback`, WeeChat's charset plugin). Decoding per line, as
 * they do: a valid UTF-8 line is never touched.
 *
 * Not relayed as bytes: `ncat --chat` writes every byte outside printable ASCII as an octal escape
 * (`caf\351`, `\303\251` for a UTF-8 é), and raw bytes would carry 0x9B, the 8-bit CSI of a Latin-1
 * terminal, past the control stripping (chat-sanitize.ts) and invalid UTF-8 into the history.
 */
import { isAscii, isUtf8 } from 'node:buffer';

/**
 * Windows-1252 at 0x80–0x9F (the WHATWG Encoding Standard's table); the five bytes it leaves
 * undefined stay C1 controls, which the control stripping removes. A table of our own: Node from
 * 20.18.3 decodes `windows-1252` as Latin-1 (nodejs/node#60888), `€` as U+0080.
 */
const WINDOWS_1252_HIGH = '€\u0081‚ƒ„…†‡ˆ‰Š‹Œ\u008dŽ\u008f\u0090‘’“”•–—˜™š›œ\u009džŸ';

/** A chat line's text: UTF-8 when the bytes are valid UTF-8, else Windows-1252. */
export function decodeChatLine(line: Buffer): string {
  if (isAscii(line)) return line.toString('latin1');
  if (isUtf8(line)) return line.toString('utf8');
  return line
    .toString('latin1')
    .replace(/[\u0080-\u009f]/g, (c) => WINDOWS_1252_HIGH[c.charCodeAt(0) - 0x80]!);
}
