/**
 * Text from the network made safe to show on a terminal, and the one definition of which
 * characters are not: every client and server that prints or relays what a peer sent uses these.
 *
 * Whatever a server or a peer sends is attacker-controlled: an ESC sequence in a header, a file
 * name or an error line can recolour, retitle or clear the terminal; a CR can overwrite what was
 * printed before it; a C1 byte such as U+009B is a one-character CSI on many terminals; and bidi
 * overrides, isolates, zero-width characters and line separators ("Trojan Source") make
 * `evil\u202Egpj.exe` display as `evilexe.jpg`. {@link terminalSafe} shows all of them escaped
 * (`\x1b`, `\u202e`) instead of letting the terminal interpret them, so what a person reads is what
 * was sent. Our own because it is a dozen lines, and every caller must agree on the set.
 */

import { StringDecoder } from 'node:string_decoder';

/**
 * Unicode format characters that change how text displays without showing themselves: bidi
 * overrides and isolates (U+202A–U+202E, U+2066–U+2069) and the implicit marks LRM, RLM and ALM
 * ("Trojan Source"), the line and paragraph separators (U+2028, U+2029: a line break in some
 * clients), and zero-width characters (U+200B–U+200D, U+2060, U+FEFF: look-alike text).
 */
export function isHiddenFormat(code: number): boolean {
  return (
    (code >= 0x200b && code <= 0x200f) || // ZWSP, ZWNJ, ZWJ, LRM, RLM
    code === 0x061c || // ALM
    (code >= 0x2028 && code <= 0x202e) || // LS, PS, LRE, RLE, PDF, LRO, RLO
    (code >= 0x2066 && code <= 0x2069) || // LRI, RLI, FSI, PDI
    code === 0x2060 || // WORD JOINER
    code === 0xfeff // ZERO WIDTH NO-BREAK SPACE (BOM)
  );
}

/** A C0 control (TAB, LF and CR included), DEL, a C1 control, or a hidden format character. */
export function isTerminalUnsafe(code: number): boolean {
  return code < 0x20 || (code >= 0x7f && code <= 0x9f) || isHiddenFormat(code);
}

/** The characters of {@link isTerminalUnsafe} as a pattern (a test checks that the two agree). */
const TERMINAL_UNSAFE =
  /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060\u2066-\u2069\ufeff]/g;

/** `\x1b` for a code up to U+00FF, `\u202e` above. */
export function escapeCodeUnit(code: number): string {
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`;
}

export interface TerminalSafeOptions {
  /** keep LF and TAB, and turn CRLF into LF (message bodies); otherwise the result is one line */
  multiline?: boolean;
  /**
   * put this in place of each unsafe character instead of its escape: for file names, where
   * `\x1b` would be a misleading name ('_' or '' to drop them)
   */
  replaceWith?: string;
}

/**
 * `s` with every {@link isTerminalUnsafe} character escaped by {@link escapeCodeUnit} (or replaced
 * by `replaceWith`).
 */
export function terminalSafe(s: string, opts: TerminalSafeOptions = {}): string {
  const text = opts.multiline ? s.replace(/\r\n/g, '\n') : s;
  return text.replace(TERMINAL_UNSAFE, (c) => {
    if (opts.multiline && (c === '\n' || c === '\t')) return c;
    return opts.replaceWith ?? escapeCodeUnit(c.charCodeAt(0));
  });
}

/**
 * JSON text with every {@link isTerminalUnsafe} character written as a `\uXXXX` escape: the same
 * value for a JSON reader, nothing a terminal acts on for a person. `JSON.stringify` escapes C0
 * controls itself but leaves DEL, C1 controls (U+009B is a CSI) and bidi overrides raw, and a
 * server's file name in `--json` output reaches the terminal as often as a pipe.
 */
export function jsonTerminalSafe(json: string): string {
  return json.replace(TERMINAL_UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * `terminalSafe(text, { multiline: true })` for a message that arrives in pieces: a UTF-8 character
 * or a CRLF split between two pieces is put back together before it is looked at, so the output is
 * the same as for the whole message at once.
 */
export function terminalSafeStream(): { write(piece: Buffer): string; end(): string } {
  const decoder = new StringDecoder('utf8');
  let heldCr = false;
  const safe = (text: string, last: boolean): string => {
    let t = heldCr ? `\r${text}` : text;
    heldCr = !last && t.endsWith('\r'); // its LF may be in the next piece
    if (heldCr) t = t.slice(0, -1);
    return terminalSafe(t, { multiline: true });
  };
  return { write: (piece) => safe(decoder.write(piece), false), end: () => safe(decoder.end(), true) };
}
