/**
 * Query strings with CPython 3.11's `urllib.parse` semantics: `parseQsl` (ordered pairs), `parseQs`
 * (name → list of values) and `urlencode` (pairs or a record → `a=1&b=2`, `+` for spaces by default).
 *
 * Python's rules kept here: blank values are dropped unless `keepBlankValues`; a field without `=` is
 * dropped (or kept as blank with `keepBlankValues`, or an error with `strictParsing`); `+` means space
 * in names and values; one separator only (`&` by default, never `;` since 3.10); `maxNumFields`
 * guards against floods; values are percent-decoded with `encoding`/`errors` (utf-8/replace).
 */
import { NetkitError } from '../core/errors.js';
import { type PyValue, pyRepr, pyStr } from './url-codec.js';
import { quote, quotePlus, unquote } from './url-quote.js';

export interface ParseQsOptions {
  /** Keep `a=` and (bare) `a` as blank values instead of dropping them. Default false. */
  keepBlankValues?: boolean;
  /** Throw on a field without `=` (and on empty fields). Default false. */
  strictParsing?: boolean;
  /** Codec for percent-decoded bytes: utf-8 (default), latin-1, ascii. */
  encoding?: string;
  /** strict, replace (default), ignore. */
  errors?: string;
  /** Throw when the query has more fields than this. Default: no limit (Python's default). */
  maxNumFields?: number;
  /** The field separator. Default `&`. */
  separator?: string;
}

function invalid(message: string): NetkitError {
  return new NetkitError('NETKIT_INVALID_INPUT', message);
}

/** `parse_qsl`: the fields of a query string as ordered `[name, value]` pairs. */
export function parseQsl(qs: string, options: ParseQsOptions = {}): Array<[string, string]> {
  const { keepBlankValues = false, strictParsing = false, maxNumFields, separator = '&' } = options;
  const encoding = options.encoding ?? 'utf-8';
  const errors = options.errors ?? 'replace';
  if (!separator || typeof separator !== 'string')
    throw invalid('Separator must be of type string or bytes.');
  if (maxNumFields !== undefined && maxNumFields !== null) {
    const numFields = qs ? qs.split(separator).length : 0;
    if (maxNumFields < numFields) throw invalid('Max number of fields exceeded');
  }
  const result: Array<[string, string]> = [];
  for (const field of qs ? qs.split(separator) : []) {
    if (!field && !strictParsing) continue;
    const eq = field.indexOf('=');
    let name: string;
    let value: string;
    if (eq === -1) {
      if (strictParsing) throw invalid(`bad query field: ${pyRepr(field)}`);
      if (!keepBlankValues) continue;
      name = field;
      value = '';
    } else {
      name = field.slice(0, eq);
      value = field.slice(eq + 1);
    }
    if (value.length || keepBlankValues) {
      result.push([
        unquote(name.replace(/\+/g, ' '), encoding, errors),
        unquote(value.replace(/\+/g, ' '), encoding, errors),
      ]);
    }
  }
  return result;
}

/**
 * `parse_qs`: name → every value in order. The result has no prototype, so any name (even
 * `__proto__`) is an ordinary key. Note: JavaScript lists integer-like keys first when enumerating an
 * object; use {@link parseQsl} when the original order of names matters.
 */
export function parseQs(qs: string, options: ParseQsOptions = {}): Record<string, string[]> {
  const result: Record<string, string[]> = Object.create(null);
  for (const [name, value] of parseQsl(qs, options)) {
    const list = result[name];
    if (list) list.push(value);
    else result[name] = [value];
  }
  return result;
}

/** The quoting function `urlencode` applies to every name and value (Python's `quote_via`). */
export type QuoteVia = (
  text: string | Uint8Array,
  safe: string,
  encoding?: string,
  errors?: string,
) => string;

export interface UrlencodeOptions {
  /** Expand list values into one field per element (`a=1&a=2`). Default false. */
  doseq?: boolean;
  /** Characters left unescaped besides `A-Z a-z 0-9 _ . - ~`. Default ''. */
  safe?: string;
  /** text encoding of names and values (Python's `encoding`; default utf-8) */
  encoding?: string;
  /** what an unencodable character becomes: `strict` (an error), `replace`, `ignore` (Python's `errors`) */
  errors?: string;
  /** `quotePlus` (default, space → `+`), `quote` (space → `%20`), or your own function. */
  quoteVia?: 'quotePlus' | 'quote' | QuoteVia;
}

/** The query a form would send: a record, or `[name, value]` pairs in order. */
export type UrlencodeQuery =
  | Readonly<Record<string, PyValue>>
  | ReadonlyArray<readonly [string | number | Uint8Array, PyValue]>;

/**
 * `urlencode(query, doseq=False, safe='', encoding=None, errors=None, quote_via=quote_plus)`.
 * Values are turned into text like Python's `str()` (lists print as Python lists unless `doseq`).
 */
export function urlencode(query: UrlencodeQuery, options: UrlencodeOptions = {}): string {
  const { doseq = false, safe = '', encoding, errors } = options;
  const via: QuoteVia =
    options.quoteVia === 'quote'
      ? quote
      : typeof options.quoteVia === 'function'
        ? options.quoteVia
        : quotePlus;
  const q = (v: PyValue | number): string =>
    v instanceof Uint8Array ? via(v, safe) : via(pyStr(v as PyValue), safe, encoding, errors);
  const pairs: ReadonlyArray<readonly [string | number | Uint8Array, PyValue]> = Array.isArray(query)
    ? query
    : Object.entries(query as Record<string, PyValue>);
  const out: string[] = [];
  for (const pair of pairs) {
    if (!Array.isArray(pair) || pair.length !== 2)
      throw new NetkitError('NETKIT_INVALID_INPUT', 'not a valid non-string sequence or mapping object');
    const [k, v] = pair;
    const key = q(k);
    if (doseq && Array.isArray(v)) for (const elt of v) out.push(`${key}=${q(elt)}`);
    else out.push(`${key}=${q(v)}`);
  }
  return out.join('&');
}
