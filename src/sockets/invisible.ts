/**
 * Unicode format characters that change how text displays without showing themselves: bidi
 * overrides and isolates (U+202A–U+202E, U+2066–U+2069) and the implicit marks LRM, RLM and ALM
 * ("Trojan Source"), the line and paragraph separators (U+2028, U+2029: a line break in some
 * clients), and zero-width characters (U+200B–U+200D, U+2060, U+FEFF: look-alike text). Shared by
 * the chat sanitiser and the UDP text display, so both hide the same things.
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
