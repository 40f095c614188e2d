/**
 * URL functions with CPython 3.11's `urllib.parse` semantics — the library behind `netkit url`.
 * Split by job: parsing/joining (url-parse.ts), percent-encoding (url-quote.ts), query strings
 * (url-query.ts); codecs and Python's host grammar live in url-codec.ts and url-host.ts.
 * Where Python and the WHATWG URL standard disagree, these functions follow Python.
 */
export type { PyEncoding, PyErrors, PyValue } from './url-codec.js';
export {
  type DefragResult,
  ParseResult,
  SplitResult,
  urldefrag,
  urljoin,
  urlparse,
  urlsplit,
  urlunparse,
  urlunsplit,
  usesNetloc,
  usesParams,
  usesRelative,
} from './url-parse.js';
export {
  type ParseQsOptions,
  parseQs,
  parseQsl,
  type QuoteVia,
  type UrlencodeOptions,
  type UrlencodeQuery,
  urlencode,
} from './url-query.js';
export { quote, quoteFromBytes, quotePlus, unquote, unquotePlus, unquoteToBytes } from './url-quote.js';
