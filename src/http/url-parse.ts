/**
 * `urlsplit`, `urlparse`, `urlunsplit`, `urlunparse`, `urljoin` and `urldefrag` — a line-by-line port
 * of CPython 3.11's `urllib.parse` (latest 3.11 security release: C0/space stripping, removal of
 * tab/CR/LF, bracketed-netloc validation, the NFKC netloc check).
 *
 * Why a port and not WHATWG `URL`: the course (and much existing Python code) relies on urllib's
 * results, which differ from the WHATWG URL standard on purpose — e.g. no scheme-specific
 * normalisation (`HTTP://A/%7e` stays as is), no default ports dropped, no IDNA, relative references
 * are parsed without a base, `;params` are split off the last path segment, and unknown schemes are
 * kept opaque. Every function here is pure; errors are NetkitError `NETKIT_INVALID_INPUT` carrying
 * Python's ValueError message.
 */
import { NetkitError } from '../core/errors.js';
import { pyRepr } from './url-codec.js';
import { checkBracketedNetloc, partition, rpartition } from './url-host.js';

/** Schemes whose references can be resolved relative to a base (`urljoin`). */
export const usesRelative: readonly string[] = [
  '',
  'ftp',
  'http',
  'gopher',
  'nntp',
  'imap',
  'wais',
  'file',
  'https',
  'shttp',
  'mms',
  'prospero',
  'rtsp',
  'rtsps',
  'rtspu',
  'sftp',
  'svn',
  'svn+ssh',
  'ws',
  'wss',
];

/** Schemes that have a `//netloc` part. */
export const usesNetloc: readonly string[] = [
  '',
  'ftp',
  'http',
  'gopher',
  'nntp',
  'telnet',
  'imap',
  'wais',
  'file',
  'mms',
  'https',
  'shttp',
  'snews',
  'prospero',
  'rtsp',
  'rtsps',
  'rtspu',
  'rsync',
  'svn',
  'svn+ssh',
  'sftp',
  'nfs',
  'git',
  'git+ssh',
  'ws',
  'wss',
];

/** Schemes whose last path segment may carry `;params` (`urlparse` splits them off). */
export const usesParams: readonly string[] = [
  '',
  'ftp',
  'hdl',
  'prospero',
  'http',
  'imap',
  'https',
  'shttp',
  'rtsp',
  'rtsps',
  'rtspu',
  'sip',
  'sips',
  'mms',
  'sftp',
  'tel',
];

const SCHEME_CHARS = /^[a-zA-Z0-9+.-]*$/;
// Leading C0 control and space are stripped (WHATWG); tab, CR and LF are removed everywhere.
const LEADING_C0_OR_SPACE = /^[\x00-\x20]+/;
const C0_OR_SPACE_BOTH_ENDS = /^[\x00-\x20]+|[\x00-\x20]+$/g;
const TAB_CR_LF = /[\t\r\n]/g;

function invalid(message: string): NetkitError {
  return new NetkitError('NETKIT_INVALID_INPUT', message);
}

/**
 * The parts of a netloc that ParseResult/SplitResult expose as properties. Python computes them on
 * access, so an out-of-range port only raises when `port` is read — the same here (a getter).
 */
abstract class NetlocResult {
  abstract readonly netloc: string;

  /** The user name before `@` (None → null), not percent-decoded. */
  get username(): string | null {
    return this.userinfo()[0];
  }

  /** The password after the first `:` of the userinfo (None → null), not percent-decoded. */
  get password(): string | null {
    return this.userinfo()[1];
  }

  /** The host, lowercased (the IPv6 zone keeps its case), brackets stripped; null when empty. */
  get hostname(): string | null {
    const host = this.hostinfo()[0];
    if (!host) return null;
    const [name, pct, zone] = partition(host, '%');
    return name.toLowerCase() + pct + zone;
  }

  /**
   * The port as a number, or null when absent. Throws NETKIT_INVALID_INPUT ("Port could not be cast
   * to integer value as '…'" / "Port out of range 0-65535") where Python raises ValueError.
   */
  get port(): number | null {
    const port = this.hostinfo()[1];
    if (port === null) return null;
    if (!/^[0-9]+$/.test(port)) throw invalid(`Port could not be cast to integer value as ${pyRepr(port)}`);
    const n = Number(port);
    if (!(n >= 0 && n <= 65535)) throw invalid('Port out of range 0-65535');
    return n;
  }

  private userinfo(): [string | null, string | null] {
    const [userinfo, have] = rpartition(this.netloc, '@');
    if (!have) return [null, null];
    const [user, havePw, pw] = partition(userinfo, ':');
    return [user, havePw ? pw : null];
  }

  private hostinfo(): [string, string | null] {
    const hostinfo = rpartition(this.netloc, '@')[2];
    const [, open, bracketed] = partition(hostinfo, '[');
    let hostname: string;
    let port: string;
    if (open) {
      let rest: string;
      [hostname, , rest] = partition(bracketed, ']');
      port = partition(rest, ':')[2];
    } else {
      [hostname, , port] = partition(hostinfo, ':');
    }
    return [hostname, port ? port : null];
  }
}

/** `urllib.parse.SplitResult`: scheme, netloc, path, query, fragment (+ the netloc properties). */
export class SplitResult extends NetlocResult {
  constructor(
    readonly scheme: string,
    readonly netloc: string,
    readonly path: string,
    readonly query: string,
    readonly fragment: string,
  ) {
    super();
  }

  geturl(): string {
    return urlunsplit(this);
  }

  toJSON(): Record<string, string> {
    const { scheme, netloc, path, query, fragment } = this;
    return { scheme, netloc, path, query, fragment };
  }
}

/** `urllib.parse.ParseResult`: scheme, netloc, path, params, query, fragment (+ netloc properties). */
export class ParseResult extends NetlocResult {
  constructor(
    readonly scheme: string,
    readonly netloc: string,
    readonly path: string,
    readonly params: string,
    readonly query: string,
    readonly fragment: string,
  ) {
    super();
  }

  geturl(): string {
    return urlunparse(this);
  }

  toJSON(): Record<string, string> {
    const { scheme, netloc, path, params, query, fragment } = this;
    return { scheme, netloc, path, params, query, fragment };
  }
}

/** `urllib.parse.DefragResult`. */
export interface DefragResult {
  url: string;
  fragment: string;
}

function splitNetloc(url: string, start: number): [string, string] {
  let delim = url.length;
  for (const c of '/?#') {
    const w = url.indexOf(c, start);
    if (w >= 0) delim = Math.min(delim, w);
  }
  return [url.slice(start, delim), url.slice(delim)];
}

function checkNetloc(netloc: string): void {
  if (!netloc || /^[\x00-\x7f]*$/.test(netloc)) return;
  // Characters like U+2100 (℀) expand to 'a/c' under NFKC, which IDNA applies: reject them.
  const n = netloc.replace(/[@:#?]/g, '');
  const normalised = n.normalize('NFKC');
  if (n === normalised) return;
  for (const c of '/?#@:') {
    if (normalised.includes(c))
      throw invalid(`netloc '${netloc}' contains invalid characters under NFKC normalization`);
  }
}

/**
 * Split a URL into 5 components: `<scheme>://<netloc>/<path>?<query>#<fragment>`. `scheme` is the
 * default when the URL has none. Percent-escapes are not decoded.
 */
export function urlsplit(url: string, scheme = '', allowFragments = true): SplitResult {
  url = url.replace(LEADING_C0_OR_SPACE, '').replace(TAB_CR_LF, '');
  scheme = scheme.replace(C0_OR_SPACE_BOTH_ENDS, '').replace(TAB_CR_LF, '');
  let netloc = '';
  let query = '';
  let fragment = '';
  const i = url.indexOf(':');
  if (i > 0 && /^[a-zA-Z]/.test(url) && SCHEME_CHARS.test(url.slice(0, i))) {
    scheme = url.slice(0, i).toLowerCase();
    url = url.slice(i + 1);
  }
  if (url.startsWith('//')) {
    [netloc, url] = splitNetloc(url, 2);
    const open = netloc.includes('[');
    const close = netloc.includes(']');
    if (open !== close) throw invalid('Invalid IPv6 URL');
    if (open && close) checkBracketedNetloc(netloc);
  }
  if (allowFragments && url.includes('#')) [url, , fragment] = partition(url, '#');
  if (url.includes('?')) [url, , query] = partition(url, '?');
  checkNetloc(netloc);
  return new SplitResult(scheme, netloc, url, query, fragment);
}

function splitParams(url: string): [string, string] {
  let i: number;
  if (url.includes('/')) {
    i = url.indexOf(';', url.lastIndexOf('/'));
    if (i < 0) return [url, ''];
  } else {
    i = url.indexOf(';');
  }
  return [url.slice(0, i), url.slice(i + 1)];
}

/**
 * Split a URL into 6 components: `<scheme>://<netloc>/<path>;<params>?<query>#<fragment>`. Params are
 * split off the last path segment only for the schemes in {@link usesParams}.
 */
export function urlparse(url: string, scheme = '', allowFragments = true): ParseResult {
  const s = urlsplit(url, scheme, allowFragments);
  let path = s.path;
  let params = '';
  if (usesParams.includes(s.scheme) && path.includes(';')) [path, params] = splitParams(path);
  return new ParseResult(s.scheme, s.netloc, path, params, s.query, s.fragment);
}

type SplitParts =
  | SplitResult
  | readonly [string, string, string, string, string]
  | { scheme?: string; netloc?: string; path?: string; query?: string; fragment?: string };
type ParseParts =
  | ParseResult
  | readonly [string, string, string, string, string, string]
  | { scheme?: string; netloc?: string; path?: string; params?: string; query?: string; fragment?: string };

/** Join the five parts of {@link urlsplit} back into a URL (possibly not byte-identical). */
export function urlunsplit(parts: SplitParts): string {
  let scheme: string;
  let netloc: string;
  let url: string;
  let query: string;
  let fragment: string;
  if (Array.isArray(parts)) [scheme, netloc, url, query, fragment] = parts as string[];
  else {
    const p = parts as Exclude<SplitParts, readonly string[]>;
    scheme = p.scheme ?? '';
    netloc = p.netloc ?? '';
    url = p.path ?? '';
    query = p.query ?? '';
    fragment = p.fragment ?? '';
  }
  if (netloc || (scheme && usesNetloc.includes(scheme) && url.slice(0, 2) !== '//')) {
    if (url && url[0] !== '/') url = `/${url}`;
    url = `//${netloc || ''}${url}`;
  }
  if (scheme) url = `${scheme}:${url}`;
  if (query) url = `${url}?${query}`;
  if (fragment) url = `${url}#${fragment}`;
  return url;
}

/** Join the six parts of {@link urlparse} back into a URL. */
export function urlunparse(parts: ParseParts): string {
  let scheme: string;
  let netloc: string;
  let url: string;
  let params: string;
  let query: string;
  let fragment: string;
  if (Array.isArray(parts)) [scheme, netloc, url, params, query, fragment] = parts as string[];
  else {
    const p = parts as Exclude<ParseParts, readonly string[]>;
    scheme = p.scheme ?? '';
    netloc = p.netloc ?? '';
    url = p.path ?? '';
    params = p.params ?? '';
    query = p.query ?? '';
    fragment = p.fragment ?? '';
  }
  if (params) url = `${url};${params}`;
  return urlunsplit([scheme, netloc, url, query, fragment]);
}

/**
 * Resolve `url` against `base` (RFC 3986 §5.2 as urllib implements it: only for the schemes in
 * {@link usesRelative}; a different scheme returns `url` unchanged).
 */
export function urljoin(base: string, url: string, allowFragments = true): string {
  if (!base) return url;
  if (!url) return base;
  const b = urlparse(base, '', allowFragments);
  const r = urlparse(url, b.scheme, allowFragments);
  const scheme = r.scheme;
  let { netloc, path, params, query } = r;
  const fragment = r.fragment;
  if (scheme !== b.scheme || !usesRelative.includes(scheme)) return url;
  if (usesNetloc.includes(scheme)) {
    if (netloc) return urlunparse([scheme, netloc, path, params, query, fragment]);
    netloc = b.netloc;
  }
  if (!path && !params) {
    path = b.path;
    params = b.params;
    if (!query) query = b.query;
    return urlunparse([scheme, netloc, path, params, query, fragment]);
  }

  const baseParts = b.path.split('/');
  // The last base segment is not a directory, so it does not take part in the resolution.
  if (baseParts[baseParts.length - 1] !== '') baseParts.pop();

  let segments: string[];
  if (path.startsWith('/')) segments = path.split('/');
  else {
    segments = [...baseParts, ...path.split('/')];
    // Drop empty inner segments, which would make redundant slashes when joined again.
    if (segments.length > 1)
      segments = [segments[0]!, ...segments.slice(1, -1).filter(Boolean), segments[segments.length - 1]!];
  }

  const resolved: string[] = [];
  for (const seg of segments) {
    if (seg === '..') resolved.pop();
    else if (seg !== '.') resolved.push(seg);
  }
  const last = segments[segments.length - 1];
  // A trailing '.' or '..' names a directory: keep the trailing slash.
  if (last === '.' || last === '..') resolved.push('');

  return urlunparse([scheme, netloc, resolved.join('/') || '/', params, query, fragment]);
}

/** Remove the fragment: `{url, fragment}` (fragment '' when there was none). */
export function urldefrag(url: string): DefragResult {
  if (!url.includes('#')) return { url, fragment: '' };
  const p = urlparse(url);
  return { url: urlunparse([p.scheme, p.netloc, p.path, p.params, p.query, '']), fragment: p.fragment };
}
