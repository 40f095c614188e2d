import { isTerminalUnsafe } from '../core/terminal-safe.js';

/**
 * Showing raw bytes to a person: traces of TCP chunks and UDP datagrams are binary-safe, so they are
 * rendered as an escaped, truncated string (`"hello\r\n" (7 bytes)`) instead of being decoded.
 */

/** Escape bytes for a one-line display: printable ASCII as is, `\r \n \t`, everything else `\xHH`. */
export function escapeBytes(buf: Uint8Array, max = 64): string {
  let out = '';
  const n = Math.min(buf.length, max);
  for (let i = 0; i < n; i++) {
    const b = buf[i]!;
    if (b === 0x5c) out += '\\\\';
    else if (b === 0x22) out += '\\"';
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else if (b === 10) out += '\\n';
    else if (b === 13) out += '\\r';
    else if (b === 9) out += '\\t';
    else out += `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return buf.length > max ? `${out}…` : out;
}

/** `"hello\r\n" (7 bytes)`: the form used in trace events. */
export function describeBytes(buf: Uint8Array, max = 64): string {
  return `"${escapeBytes(buf, max)}" (${buf.length} byte${buf.length === 1 ? '' : 's'})`;
}

/**
 * True when the bytes are valid UTF-8 text without control characters other than tab, CR and LF,
 * and without private-use or unassigned code points: binary that happens to decode, such as the
 * time service's `ee b1 83 73` (U+EC43 and `s`), is not text.
 */
export function isPrintableText(buf: Uint8Array): boolean {
  let s: string;
  try {
    s = new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch {
    return false;
  }
  return !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\p{Co}\p{Cn}]/u.test(s);
}

/**
 * True when the bytes are one line of UTF-8 text that a terminal shows as it is: no control
 * character but TAB (a trailing LF or CRLF is allowed), no C1 control, no hidden format character
 * (bidi overrides, zero-width, line separators). A datagram shown after a `[host:port]` prefix must
 * not be able to start a new, fake prefix line or overwrite or reorder the real one.
 */
export function isSafeLine(buf: Uint8Array): boolean {
  if (!isPrintableText(buf)) return false;
  const text = new TextDecoder('utf-8').decode(buf).replace(/\r?\n$/, '');
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x09 && isTerminalUnsafe(c)) return false;
  }
  return true;
}

/**
 * `65,507`: digits grouped by thousands. Not `toLocaleString`, whose first call initialises ICU
 * (~100 ms of CLI start-up).
 */
export function groupDigits(n: number | bigint): string {
  return n.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}
