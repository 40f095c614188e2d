/**
 * What the downloader learns before moving a byte: the final URL after redirects, the size,
 * whether byte ranges work, and the validators (ETag, Last-Modified) that tie a resumed `.part`
 * to one version of the remote file. HEAD first; when HEAD fails (some servers refuse it or lie),
 * `GET` with `Range: bytes=0-0` answers the same questions with one byte of body.
 */
import { NetkitError } from '../../core/errors.js';
import { redactUrl } from '../../core/trace.js';
import { zoneNotSupported } from '../http-error.js';
import { parseContentRange } from '../range.js';
import { CREDENTIAL_HEADERS, withoutUserinfo } from '../userinfo.js';
import type { ResponseBody, Transport, TransportResponse } from './node-transport.js';

export interface ProbeResult {
  /** the URL after redirects; segments are fetched from here */
  url: string;
  /** undefined when the server does not say (chunked, or no Content-Length) */
  size?: number;
  /**
   * byte ranges: `true` when the server said so (`Accept-Ranges: bytes`, or a 206 to the probe),
   * `false` when it said no (`Accept-Ranges: none`, a 200 to `Range: bytes=0-0`), `'unknown'` when
   * HEAD did not say: RFC 9110 §14.3 lets a server support Range without advertising it, so the
   * segments try (as aria2c and curl -r do) and a 200 to them falls back to one stream.
   */
  acceptRanges: boolean | 'unknown';
  etag?: string;
  lastModified?: string;
  contentDisposition?: string;
  contentType?: string;
  /** which request answered: HEAD, or the GET 0-0 fallback */
  method: 'HEAD' | 'GET';
}

export type Trace = (kind: 'in' | 'out' | 'info' | 'error', text: string) => void;

export interface RequestContext {
  dispatcher: Transport;
  headers: Record<string, string>;
  signal: AbortSignal;
  trace: Trace;
  maxRedirects: number;
  /** `Authorization` value for requests to `origin` (and no other) */
  auth?: { origin: string; header: string };
  /** origin of the URL the user gave: `headers` that carry secrets go there only */
  userOrigin?: string;
  /** sees every response that is not a redirect (its status and headers), before the caller */
  onResponse?: (method: 'GET' | 'HEAD', res: TransportResponse) => void;
}

const SECRET_HEADERS = new Set<string>(CREDENTIAL_HEADERS);

/** A transfer failure worth retrying (network error, short body, 5xx). */
export class RetryableError extends Error {
  /** the server's `Retry-After`, in ms from when the response arrived (RFC 9110 §10.2.3) */
  readonly retryAfterMs: number | undefined;
  /** the `Retry-After` value as sent, for the trace */
  readonly retryAfter: string | undefined;
  constructor(
    message: string,
    options?: { cause?: unknown; retryAfterMs?: number | undefined; retryAfter?: string | undefined },
  ) {
    super(message, options);
    this.name = 'RetryableError';
    this.retryAfterMs = options?.retryAfterMs;
    this.retryAfter = options?.retryAfter;
  }
}

const HTTP_DATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)/i;

/**
 * `Retry-After` (RFC 9110 §10.2.3) in milliseconds: delay-seconds, or an HTTP-date measured
 * against the response's own `Date` (so a skewed local clock does not matter) or, without one,
 * against `now`. A date in the past is 0; an absent or unparsable value is undefined.
 */
export function retryAfterMs(
  headers: Record<string, string | string[] | undefined>,
  now: number = Date.now(),
): number | undefined {
  const v = header(headers, 'retry-after')?.trim();
  if (!v) return undefined;
  if (/^\d+$/.test(v)) return Math.min(Number(v), 1e9) * 1000;
  if (!HTTP_DATE.test(v)) return undefined;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  const date = header(headers, 'date');
  const base = date !== undefined && HTTP_DATE.test(date.trim()) ? Date.parse(date) : Number.NaN;
  return Math.max(0, at - (Number.isNaN(base) ? now : base));
}

/** A "try again later" status (see {@link RETRY_STATUS}) as a {@link RetryableError}, with its Retry-After. */
export function retryableStatus(
  status: number,
  headers: Record<string, string | string[] | undefined>,
  message = `HTTP ${status}`,
): RetryableError {
  return new RetryableError(message, {
    retryAfterMs: retryAfterMs(headers),
    retryAfter: header(headers, 'retry-after')?.trim(),
  });
}

/** Statuses that say "try again later" (curl --retry's list, plus 425). */
export const RETRY_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);

/**
 * Drop a response body we will not read. A body destroyed before its end may report an 'error'
 * (undici's RequestAbortedError, Node's "aborted"); nobody else listens, so swallow it here.
 */
export function discard(body: ResponseBody): void {
  body.on('error', () => {});
  body.destroy();
}

/** First value of a response header. */
export function header(
  headers: Record<string, string | string[] | undefined>,
  name: string,
): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** A Content-Length that is a plain non-negative integer, else undefined. */
export function contentLength(headers: Record<string, string | string[] | undefined>): number | undefined {
  const v = header(headers, 'content-length');
  return v !== undefined && /^\d+$/.test(v.trim()) ? Number(v) : undefined;
}

export function httpError(status: number, url: string): NetkitError {
  const code =
    status === 404 || status === 410
      ? 'NETKIT_NOT_FOUND'
      : status === 401 || status === 403
        ? 'NETKIT_AUTH'
        : 'NETKIT_PROTOCOL';
  return new NetkitError(code, `HTTP ${status} from ${url}`);
}

export function checkUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    const zone = zoneNotSupported(url, "use the host's global or unique-local address");
    throw new NetkitError('NETKIT_INVALID_INPUT', `"${redactUrl(url)}" is not a URL${zone}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new NetkitError(
      'NETKIT_INVALID_INPUT',
      `"${redactUrl(url)}": only http, https, ftp and ftps URLs can be downloaded`,
    );
  return u;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** One request, following redirects; the caller owns (and must consume or destroy) the body. */
export async function requestFollowing(
  ctx: RequestContext,
  url: string,
  method: 'GET' | 'HEAD',
  extra: Record<string, string> = {},
): Promise<{ url: string; res: TransportResponse }> {
  let current = url;
  for (let hop = 0; ; hop++) {
    const u = checkUrl(current);
    const headers: Record<string, string> = { ...ctx.headers, ...extra };
    if (ctx.userOrigin !== undefined && u.origin !== ctx.userOrigin) {
      for (const name of Object.keys(headers))
        if (SECRET_HEADERS.has(name.toLowerCase())) delete headers[name];
    }
    // an Authorization header the caller gave wins over credentials (as a custom header does in curl)
    const ownAuthorization = Object.keys(headers).some((h) => h.toLowerCase() === 'authorization');
    if (ctx.auth && u.origin === ctx.auth.origin && !ownAuthorization)
      headers.authorization = ctx.auth.header;
    const cond = extra['if-range'] ? ` If-Range: ${extra['if-range']}` : '';
    const shown = u.username || u.password ? `${u.protocol}//${u.host}${u.pathname}${u.search}` : u.href;
    ctx.trace('out', `${method} ${shown}${extra.range ? ` Range: ${extra.range}` : ''}${cond}`);
    const res = await ctx.dispatcher.request({
      origin: u.origin,
      path: `${u.pathname}${u.search}`,
      method,
      headers,
      signal: ctx.signal,
    });
    ctx.trace('in', `HTTP ${res.statusCode}${sizeNote(res.headers)}`);
    const location = header(res.headers, 'location');
    if (REDIRECTS.has(res.statusCode) && location) {
      discard(res.body);
      // credentials written into a Location are neither used nor shown
      const next = URL.canParse(location, u.href) ? new URL(location, u) : undefined;
      if (hop >= ctx.maxRedirects)
        throw new NetkitError(
          'NETKIT_PROTOCOL',
          `too many redirects (more than ${ctx.maxRedirects}); last one: ${redactUrl(u.href)} → ${redactUrl(next?.href ?? location)}`,
        );
      // the server's word, not the user's: a bad or non-http target is the server's protocol error
      // (exit 1, naming the redirect), never a local file:// read or a usage error
      if (next?.protocol !== 'http:' && next?.protocol !== 'https:')
        throw new NetkitError(
          'NETKIT_PROTOCOL',
          `${redactUrl(u.href)} redirects to "${redactUrl(location)}": only http and https redirects are followed`,
        );
      current = withoutUserinfo(next.href);
      continue;
    }
    ctx.onResponse?.(method, res);
    return { url: current, res };
  }
}

function sizeNote(h: Record<string, string | string[] | undefined>): string {
  const cr = header(h, 'content-range');
  const cl = header(h, 'content-length');
  return cr ? ` Content-Range: ${cr}` : cl ? ` Content-Length: ${cl}` : '';
}

/**
 * What a response's Accept-Ranges says: `bytes` among its units is a yes; no header at all says
 * nothing (RFC 9110 §14.3: try); `none`, or only other units, is a no.
 */
export function acceptsRanges(h: Record<string, string | string[] | undefined>): boolean | 'unknown' {
  const advertised = header(h, 'accept-ranges');
  if (advertised === undefined) return 'unknown';
  return advertised
    .toLowerCase()
    .split(/\s*,\s*/)
    .includes('bytes');
}

/** A response's validators: what ties bytes received now to those received in another response. */
export function validators(h: Record<string, string | string[] | undefined>): {
  etag: string | undefined;
  lastModified: string | undefined;
} {
  return { etag: header(h, 'etag'), lastModified: header(h, 'last-modified') };
}

/** What the probe reads from a response besides its size: validators, the name, the type. */
function described(h: Record<string, string | string[] | undefined>) {
  return {
    ...validators(h),
    contentDisposition: header(h, 'content-disposition'),
    contentType: header(h, 'content-type'),
  };
}

function compact<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/**
 * Probe once. A busy or briefly broken server (503, 429, a reset connection) is a
 * {@link RetryableError}, which the caller retries with backoff as it does a segment — curl
 * `--retry` and aria2c retry the first request too, and giving up on one 503 before a single byte
 * moved would be the least patient part of the download.
 */
export async function probe(ctx: RequestContext, url: string): Promise<ProbeResult> {
  try {
    const { url: final, res } = await requestFollowing(ctx, url, 'HEAD');
    await res.body.dump();
    if (res.statusCode >= 200 && res.statusCode < 300) {
      return compact({
        url: final,
        size: contentLength(res.headers),
        acceptRanges: acceptsRanges(res.headers),
        ...described(res.headers),
        method: 'HEAD' as const,
      });
    }
    ctx.trace('info', `HEAD answered ${res.statusCode}; probing with GET Range: bytes=0-0`);
  } catch (err) {
    if (ctx.signal.aborted || (err instanceof NetkitError && err.code !== 'NETKIT_PROTOCOL')) throw err;
    ctx.trace('info', `HEAD failed (${err instanceof Error ? err.message : String(err)}); probing with GET`);
  }
  let got: Awaited<ReturnType<typeof requestFollowing>>;
  try {
    got = await requestFollowing(ctx, url, 'GET', { range: 'bytes=0-0' });
  } catch (err) {
    // a connection reset is transient; refused, unknown host or a bad certificate are not
    const code = (err as NodeJS.ErrnoException)?.code;
    if (!ctx.signal.aborted && (code === 'ECONNRESET' || code === 'EPIPE'))
      throw new RetryableError(`${err instanceof Error ? err.message : String(err)} (${redactUrl(url)})`, {
        cause: err,
      });
    throw err;
  }
  const { url: final, res } = got;
  discard(res.body);
  if (res.statusCode === 206) {
    const cr = parseContentRange(header(res.headers, 'content-range'));
    return compact({
      url: final,
      size: cr?.total,
      acceptRanges: cr !== undefined && cr.start === 0 && cr.total !== undefined,
      ...described(res.headers),
      method: 'GET' as const,
    });
  }
  if (res.statusCode >= 200 && res.statusCode < 300) {
    return compact({
      url: final,
      size: contentLength(res.headers),
      acceptRanges: false,
      ...described(res.headers),
      method: 'GET' as const,
    });
  }
  if (RETRY_STATUS.has(res.statusCode))
    throw retryableStatus(res.statusCode, res.headers, `HTTP ${res.statusCode} from ${final}`);
  throw httpError(res.statusCode, final);
}

/** The `If-Range` value: a strong ETag, else Last-Modified, else nothing. */
export function ifRangeValidator(v: { etag?: string; lastModified?: string }): string | undefined {
  if (v.etag && !v.etag.startsWith('W/')) return v.etag;
  return v.lastModified;
}
