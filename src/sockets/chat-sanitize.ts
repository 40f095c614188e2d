/**
 * Terminal-safe text for the chat server (and anything else that relays one user's bytes onto
 * another user's terminal). A chat line is shown raw by `nc`/`telnet`, so an escape sequence in it
 * would be executed by the reader's terminal: clear the screen, move the cursor, retitle the window
 * (OSC), or on some terminals answer back into the input. We therefore remove, as a pure function:
 *
 * - ECMA-48 sequences introduced by ESC: CSI (`ESC [ … final`), OSC (`ESC ] … BEL|ST`), DCS / SOS /
 *   PM / APC strings (`ESC P|X|^|_ … ST`), and the two- or three-byte ESC sequences (`ESC c`,
 *   `ESC ( B`, …);
 * - the same families written with 8-bit C1 introducers (U+009B CSI, U+009D OSC, U+0090 DCS, …);
 * - every remaining C0 control (U+0000–U+001F), DEL (U+007F) and C1 control (U+0080–U+009F); a TAB
 *   becomes a space;
 * - Unicode bidirectional overrides, isolates and marks (U+202A–U+202E, U+2066–U+2069, LRM, RLM,
 *   ALM), which can make a line display in a different order than it was written ("Trojan
 *   Source"), the line and paragraph separators U+2028/U+2029 and zero-width characters
 *   (U+200B–U+200D, U+2060, U+FEFF): the characters of `isTerminalUnsafe` in core/terminal-safe.ts.
 *
 * Written here rather than taken from a library (strip-ansi and friends) because it must also handle
 * the C1 forms and unterminated strings, and because it is small enough to test exhaustively.
 */

import { isTerminalUnsafe as isStripped } from '../core/terminal-safe.js';

const ESC = 0x1b;
const BEL = 0x07;

/** C1 introducers that start a string terminated by ST (ESC \ or U+009C) or, for OSC, BEL. */
const STRING_INTRODUCERS_7BIT = new Set(['P', 'X', ']', '^', '_']);
const STRING_INTRODUCERS_8BIT = new Set([0x90, 0x98, 0x9d, 0x9e, 0x9f]);

function isCsiFinal(code: number): boolean {
  return code >= 0x40 && code <= 0x7e;
}

/** Index just past a CSI body starting at `i` (parameters, intermediates, final byte). */
function skipCsi(text: string, i: number): number {
  while (i < text.length) {
    const c = text.charCodeAt(i);
    i++;
    if (isCsiFinal(c)) return i;
    // anything outside the parameter/intermediate ranges ends a malformed sequence: stop there
    if (c < 0x20 || c > 0x3f) return i;
  }
  return i;
}

/** Index just past a control string starting at `i` (ends with BEL, ESC \ or U+009C, or at end). */
function skipString(text: string, i: number): number {
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === BEL || c === 0x9c) return i + 1;
    if (c === ESC) return text[i + 1] === '\\' ? i + 2 : i + 1;
    i++;
  }
  return i;
}

/** Index just past an escape sequence whose ESC is at `i`. */
function skipEscape(text: string, i: number): number {
  const next = text[i + 1];
  if (next === undefined) return i + 1;
  if (next === '[') return skipCsi(text, i + 2);
  if (STRING_INTRODUCERS_7BIT.has(next)) return skipString(text, i + 2);
  // nF sequences: ESC, intermediates 0x20–0x2F, then one final byte (e.g. ESC ( B)
  let j = i + 1;
  while (j < text.length) {
    const c = text.charCodeAt(j);
    if (c >= 0x20 && c <= 0x2f) {
      j++;
      continue;
    }
    // a control character cannot be a final byte: leave it to the control-stripping pass
    return c >= 0x30 && c <= 0x7e ? j + 1 : j;
  }
  return j;
}

/** Remove escape sequences and control characters; TAB becomes a space. */
export function stripControls(text: string): string {
  // fast path: nothing to do for ordinary text
  let clean = true;
  for (let i = 0; i < text.length; i++) {
    if (isStripped(text.charCodeAt(i))) {
      clean = false;
      break;
    }
  }
  if (clean) return text;
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === ESC) {
      i = skipEscape(text, i);
      continue;
    }
    if (c === 0x9b) {
      i = skipCsi(text, i + 1);
      continue;
    }
    if (STRING_INTRODUCERS_8BIT.has(c)) {
      i = skipString(text, i + 1);
      continue;
    }
    if (c === 0x09) out += ' ';
    else if (!isStripped(c)) out += text[i];
    i++;
  }
  return out;
}

/** Chat text as relayed: controls stripped, surrounding whitespace trimmed. */
export function sanitizeChatText(text: string): string {
  return stripControls(text).trim();
}
