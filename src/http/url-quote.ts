/**
 * Percent-encoding with CPython 3.11's `urllib.parse` semantics: `quote` (safe `/` by default),
 * `quotePlus` (space → `+`, nothing safe by default), `quoteFromBytes`, `unquote` / `unquotePlus`
 * (invalid escapes kept literally, undecodable bytes → U+FFFD by default) and `unquoteToBytes`.
 *
 * Differences from `encodeURIComponent`, on purpose (Python's rules): the always-safe set is exactly
 * `A-Z a-z 0-9 _ . - ~`; `!'()*` are escaped; only ASCII characters of `safe` count; hex digits are
 * upper case; `unquote` never throws on a malformed escape.
 */
import { decodeBytes, encodeText } from './url-codec.js';

const ALWAYS_SAFE = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~';
const HEX = '0123456789ABCDEF';

/** Percent-encode every byte not in the always-safe set or in (the ASCII part of) `safe`. */
export function quoteFromBytes(bytes: Uint8Array, safe: string | Uint8Array = '/'): string {
  if (bytes.length === 0) return '';
  const table = new Uint8Array(128);
  for (let i = 0; i < ALWAYS_SAFE.length; i++) table[ALWAYS_SAFE.charCodeAt(i)] = 1;
  if (typeof safe === 'string') {
    for (let i = 0; i < safe.length; i++) {
      const c = safe.charCodeAt(i);
      if (c < 128) table[c] = 1;
    }
  } else for (const c of safe) if (c < 128) table[c] = 1;
  let out = '';
  for (const b of bytes) {
    if (b < 128 && table[b]) out += String.fromCharCode(b);
    else out += `%${HEX[b >> 4]}${HEX[b & 15]}`;
  }
  return out;
}

/**
 * `quote(string, safe='/', encoding='utf-8', errors='strict')`: encode the text, then
 * {@link quoteFromBytes}. A byte array is quoted as is (encoding/errors ignored).
 */
export function quote(
  text: string | Uint8Array,
  safe: string = '/',
  encoding?: string,
  errors?: string,
): string {
  if (typeof text !== 'string') return quoteFromBytes(text, safe);
  if (!text) return text;
  return quoteFromBytes(encodeText(text, encoding ?? 'utf-8', errors ?? 'strict'), safe);
}

/** `quote_plus`: like {@link quote} but space becomes `+` (and `+` is escaped); safe defaults to ''. */
export function quotePlus(
  text: string | Uint8Array,
  safe: string = '',
  encoding?: string,
  errors?: string,
): string {
  const hasSpace = typeof text === 'string' ? text.includes(' ') : text.includes(0x20);
  if (!hasSpace) return quote(text, safe, encoding, errors);
  return quote(text, `${safe} `, encoding, errors).replace(/ /g, '+');
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** `unquote_to_bytes`: `%XX` → the byte; anything else (including a bad escape) kept as UTF-8. */
export function unquoteToBytes(text: string | Uint8Array): Uint8Array {
  const bytes = typeof text === 'string' ? encodeText(text, 'utf-8', 'strict') : text;
  if (!bytes.includes(0x25)) return bytes;
  const out = new Uint8Array(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === 0x25 && i + 2 < bytes.length) {
      const hi = hexValue(bytes[i + 1]!);
      const lo = hexValue(bytes[i + 2]!);
      if (hi >= 0 && lo >= 0) {
        out[n++] = hi * 16 + lo;
        i += 2;
        continue;
      }
    }
    out[n++] = b;
  }
  return out.slice(0, n);
}

/**
 * `unquote(string, encoding='utf-8', errors='replace')`: runs of ASCII are percent-decoded and then
 * decoded with `encoding`; non-ASCII characters pass through unchanged.
 */
export function unquote(text: string, encoding?: string, errors?: string): string {
  if (!text.includes('%')) return text;
  const enc = encoding ?? 'utf-8';
  const err = errors ?? 'replace';
  // Runs without '%' decode to themselves under every supported (ASCII-compatible) codec.
  return text.replace(/[\x00-\x7f]+/g, (run) =>
    run.includes('%') ? decodeBytes(unquoteToBytes(run), enc, err) : run,
  );
}

/** `unquote_plus`: `+` → space, then {@link unquote}. */
export function unquotePlus(text: string, encoding?: string, errors?: string): string {
  return unquote(text.replace(/\+/g, ' '), encoding, errors);
}
