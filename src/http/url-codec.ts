/**
 * The small slice of Python's text codecs that `urllib.parse` relies on: encoding a str to bytes and
 * decoding bytes to a str with `utf-8`, `latin-1` or `ascii`, under the `strict`, `replace` and
 * `ignore` error handlers, plus `repr()` for the values Python prints inside error messages and
 * `str()` of the values `urlencode` accepts.
 *
 * Why our own and not TextDecoder/Buffer: TextDecoder strips a leading BOM unless told otherwise and
 * has no `ignore` mode, and Buffer silently turns lone surrogates into U+FFFD where Python's strict
 * encoder raises. The UTF-8 decoder below replaces each maximal invalid subpart with one U+FFFD, which
 * is what both CPython and the WHATWG Encoding standard do.
 */
import { NetkitError } from '../core/errors.js';

export type PyEncoding = 'utf-8' | 'latin-1' | 'ascii';
export type PyErrors = 'strict' | 'replace' | 'ignore';

const ENCODING_ALIASES: Record<string, PyEncoding> = {
  'utf-8': 'utf-8',
  utf8: 'utf-8',
  'utf-8-sig': 'utf-8',
  u8: 'utf-8',
  'latin-1': 'latin-1',
  latin1: 'latin-1',
  latin_1: 'latin-1',
  'iso-8859-1': 'latin-1',
  'iso8859-1': 'latin-1',
  iso_8859_1: 'latin-1',
  l1: 'latin-1',
  ascii: 'ascii',
  'us-ascii': 'ascii',
  us_ascii: 'ascii',
};

/** Canonical codec name for a Python-style encoding name (case-insensitive, `_`/`-` tolerant). */
export function normaliseEncoding(name: string | undefined): PyEncoding {
  if (name === undefined) return 'utf-8';
  const found = ENCODING_ALIASES[name.trim().toLowerCase()];
  if (!found) throw new NetkitError('NETKIT_INVALID_INPUT', `unknown encoding: ${name}`);
  return found;
}

function checkErrors(errors: string | undefined, fallback: PyErrors): PyErrors {
  const e = errors ?? fallback;
  if (e !== 'strict' && e !== 'replace' && e !== 'ignore')
    throw new NetkitError('NETKIT_INVALID_INPUT', `unknown error handler name '${e}'`);
  return e;
}

function codecError(codec: string, op: 'encode' | 'decode', what: string, pos: number, reason: string) {
  return new NetkitError(
    'NETKIT_INVALID_INPUT',
    `'${codec}' codec can't ${op} ${what} in position ${pos}: ${reason}`,
  );
}

/** `str.encode(encoding, errors)`; `replace` writes `?` like Python's encoder does. */
export function encodeText(text: string, encoding?: string, errors?: string): Uint8Array {
  const enc = normaliseEncoding(encoding);
  const err = checkErrors(errors, 'strict');
  const out: number[] = [];
  let pos = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    const limit = enc === 'utf-8' ? 0x10ffff : enc === 'latin-1' ? 0xff : 0x7f;
    const bad = cp > limit || (enc === 'utf-8' && cp >= 0xd800 && cp <= 0xdfff);
    if (bad) {
      if (err === 'strict') {
        const hex = cp <= 0xff ? `\\x${hex2(cp)}` : `\\u${cp.toString(16).padStart(4, '0')}`;
        const reason =
          enc === 'utf-8' ? 'surrogates not allowed' : `ordinal not in range(${enc === 'ascii' ? 128 : 256})`;
        throw codecError(enc, 'encode', `character '${hex}'`, pos, reason);
      }
      if (err === 'replace') out.push(0x3f);
    } else if (enc !== 'utf-8' || cp < 0x80) out.push(cp);
    else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
    else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
    else
      out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
    pos += 1;
  }
  return Uint8Array.from(out);
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** `bytes.decode(encoding, errors)`; `replace` writes U+FFFD per maximal invalid subpart. */
export function decodeBytes(bytes: Uint8Array, encoding?: string, errors?: string): string {
  const enc = normaliseEncoding(encoding);
  const err = checkErrors(errors, 'strict');
  if (enc === 'latin-1') return latin1(bytes);
  const parts: string[] = [];
  const fail = (start: number, end: number, reason: string): void => {
    if (err === 'strict') {
      const what =
        end - start > 1 ? `bytes in position ${start}-${end - 1}` : `byte 0x${hex2(bytes[start]!)}`;
      throw new NetkitError(
        'NETKIT_INVALID_INPUT',
        end - start > 1
          ? `'${enc}' codec can't decode ${what}: ${reason}`
          : `'${enc}' codec can't decode ${what} in position ${start}: ${reason}`,
      );
    }
    if (err === 'replace') parts.push('\ufffd');
  };
  if (enc === 'ascii') {
    let run = 0;
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i]! > 0x7f) {
        parts.push(latin1(bytes.subarray(run, i)));
        fail(i, i + 1, 'ordinal not in range(128)');
        run = i + 1;
      }
    }
    parts.push(latin1(bytes.subarray(run)));
    return parts.join('');
  }
  const cps: number[] = [];
  const flush = (): void => {
    for (let i = 0; i < cps.length; i += 4096) parts.push(String.fromCodePoint(...cps.slice(i, i + 4096)));
    cps.length = 0;
  };
  let needed = 0;
  let seen = 0;
  let cp = 0;
  let lower = 0x80;
  let upper = 0xbf;
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (needed === 0) {
      start = i;
      if (b <= 0x7f) cps.push(b);
      else if (b >= 0xc2 && b <= 0xdf) {
        needed = 1;
        cp = b & 0x1f;
      } else if (b >= 0xe0 && b <= 0xef) {
        if (b === 0xe0) lower = 0xa0;
        if (b === 0xed) upper = 0x9f;
        needed = 2;
        cp = b & 0x0f;
      } else if (b >= 0xf0 && b <= 0xf4) {
        if (b === 0xf0) lower = 0x90;
        if (b === 0xf4) upper = 0x8f;
        needed = 3;
        cp = b & 0x07;
      } else {
        flush();
        fail(i, i + 1, 'invalid start byte');
      }
      continue;
    }
    if (b < lower || b > upper) {
      flush();
      fail(start, i, 'invalid continuation byte');
      needed = seen = cp = 0;
      lower = 0x80;
      upper = 0xbf;
      i -= 1; // reprocess this byte as a start byte
      continue;
    }
    lower = 0x80;
    upper = 0xbf;
    cp = (cp << 6) | (b & 0x3f);
    seen += 1;
    if (seen === needed) {
      cps.push(cp);
      needed = seen = cp = 0;
    }
  }
  flush();
  if (needed !== 0) fail(start, bytes.length, 'unexpected end of data');
  return parts.join('');
}

function latin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 4096)
    s += String.fromCharCode(...bytes.subarray(i, Math.min(bytes.length, i + 4096)));
  return s;
}

// ---- repr() and str() ----

const NOT_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

/** Python's `repr()` of a str: the quote choice and escapes of `unicode_repr`. */
export function pyRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (ch === quote || ch === '\\') out += `\\${ch}`;
    else if (ch === '\t') out += '\\t';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${hex2(cp)}`;
    else if (cp < 0x7f || ch === ' ') out += ch;
    else if (!NOT_PRINTABLE.test(ch)) out += ch;
    else if (cp <= 0xff) out += `\\x${hex2(cp)}`;
    else if (cp <= 0xffff) out += `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += `\\U${cp.toString(16).padStart(8, '0')}`;
  }
  return out + quote;
}

/** Python's `repr()` of a bytes object: `b'...'`. */
export function pyBytesRepr(bytes: Uint8Array): string {
  let hasSingle = false;
  let hasDouble = false;
  for (const b of bytes) {
    if (b === 0x27) hasSingle = true;
    if (b === 0x22) hasDouble = true;
  }
  const quote = hasSingle && !hasDouble ? '"' : "'";
  let out = `b${quote}`;
  for (const b of bytes) {
    const ch = String.fromCharCode(b);
    if (ch === quote || ch === '\\') out += `\\${ch}`;
    else if (b === 0x09) out += '\\t';
    else if (b === 0x0a) out += '\\n';
    else if (b === 0x0d) out += '\\r';
    else if (b < 0x20 || b >= 0x7f) out += `\\x${hex2(b)}`;
    else out += ch;
  }
  return out + quote;
}

/** A value `urlencode` accepts, and its Python counterpart: str, int/float, bool, None, bytes, list. */
export type PyValue = string | number | bigint | boolean | null | Uint8Array | readonly PyValue[];

/**
 * Python's `str()` of such a value. Numbers use JavaScript's formatting, which agrees with Python's
 * for integers below 1e21 and for ordinary floats; booleans and null print as `True`/`False`/`None`.
 */
export function pyStr(value: PyValue): string {
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return pyBytesRepr(value);
  if (Array.isArray(value)) return `[${value.map(pyReprValue).join(', ')}]`;
  return pyReprValue(value as PyValue);
}

function pyReprValue(value: PyValue): string {
  if (typeof value === 'string') return pyRepr(value);
  if (value === null) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return 'nan';
    if (value === Infinity) return 'inf';
    if (value === -Infinity) return '-inf';
    return String(value);
  }
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return pyBytesRepr(value);
  return `[${(value as readonly PyValue[]).map(pyReprValue).join(', ')}]`;
}
