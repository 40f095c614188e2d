/**
 * One-line errors for failed HTTP requests, shared by the HTTP client and the downloader: undici
 * and Node error codes become NetkitErrors that say what failed and where, naming the proxy when
 * the failure was the proxy's, and never showing a password from a URL.
 */
import {
  certificateError,
  connectFailure,
  errorMessage,
  NetkitError,
  type TrustFlags,
} from '../core/errors.js';
import { fileErrorReason } from '../core/fs-errors.js';
import { redactUrl } from '../core/trace.js';

/** The trust flags of the HTTP commands (`http get`, `download`), named as curl names them. */
export const CURL_TRUST_FLAGS: Readonly<TrustFlags> = { ca: '--cacert FILE', insecure: '--insecure' };

/**
 * Why an http(s) URL with an IPv6 zone (`http://[fe80::1%25eth0]/`, RFC 6874) is refused, or ''.
 * The WHATWG URL standard has no zones, and undici connects to what URL parses, so such a URL
 * cannot be fetched as written; `workaround` says what can (curl takes the zone; we cannot).
 */
export function zoneNotSupported(url: string, workaround: string): string {
  return /^https?:\/\/(?:[^@/?#[]*@)?\[[^\]]*%/i.test(url.trim())
    ? `: an IPv6 zone (%25NAME) cannot be part of an http URL; ${workaround}`
    : '';
}

/** How far a response body got: what a reader knows when the connection fails under it. */
export interface BodyProgress {
  /** the response's headers, lower-case names */
  headers: Record<string, string | string[] | undefined>;
  /** body bytes received, as sent (before any Content-Encoding is decoded) */
  received: number;
}

/**
 * How far the body of `res` got when reading it failed, `read` bytes having been taken from it:
 * those and the ones it still held. undici drops a body's buffered bytes when its connection
 * closes, so a reader that was not waiting for them (one opening its output file) never sees them,
 * though they arrived; `readableLength` still counts them.
 */
export function bodyProgress(
  res: { headers: BodyProgress['headers']; body: { readableLength: number } },
  read: number,
): BodyProgress {
  return { headers: res.headers, received: read + res.body.readableLength };
}

/**
 * Map undici/Node failures to NetkitError with a stable code and a one-line message. `proxy` is
 * the proxy the request went through: connection failures are then the proxy's, and said so.
 * `body`, given while a response body was being read, lets a connection that closed under it say
 * how much of the body arrived.
 */
export function httpError(err: unknown, url: string, proxy?: string, body?: BodyProgress): Error {
  if (err instanceof NetkitError) return err;
  const e = err as NodeJS.ErrnoException & { code?: string };
  const target = safeOrigin(url);
  const where = proxy ? `proxy ${safeOrigin(proxy)} (for ${target})` : target;
  // undici's words for a proxy that answered a CONNECT with an error, or a forwarded request with 407
  const refused =
    proxy && /Proxy response \((\d+)\)|Proxy Authentication Required \((\d+)\)/.exec(errorMessage(err));
  if (refused) {
    const status = refused[1] ?? refused[2];
    return new NetkitError(
      'NETKIT_CONNECT_FAILED',
      `proxy ${safeOrigin(proxy)} refused the ${refused[1] ? 'tunnel' : 'request'} to ${target}: HTTP ${status}${status === '407' ? ' (proxy authentication required: --proxy http://USER:PASSWORD@HOST:PORT)' : ''}`,
      { cause: err },
    );
  }
  // a local file read for the request body (an upload) that vanished while being sent
  if (typeof e?.path === 'string' && (e.syscall === 'open' || e.syscall === 'read'))
    return new NetkitError(
      'NETKIT_IO',
      `cannot read ${e.path} while sending it: ${fileErrorReason(err) ?? errorMessage(err)}`,
      {
        cause: err,
      },
    );
  // undici gives up on a 100 Continue nobody asked for (RFC 9110 says to skip it; undici cannot)
  if (e?.code === 'UND_ERR_SOCKET' && errorMessage(err) === 'bad response')
    return new NetkitError(
      'NETKIT_PROTOCOL',
      `${where} sent an unexpected "100 Continue" before its response, which netkit's HTTP library (undici) cannot skip`,
      { cause: err },
    );
  switch (e?.code) {
    case 'UND_ERR_HEADERS_OVERFLOW':
      return new NetkitError('NETKIT_PROTOCOL', `the response headers from ${where} are too large`, {
        cause: err,
      });
    case 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH':
      return new NetkitError(
        'NETKIT_IO',
        `the request body changed size while it was being sent to ${target} (a file grew or shrank); the request was cut off`,
        { cause: err },
      );
    case 'UND_ERR_CONNECT_TIMEOUT':
      return new NetkitError('NETKIT_TIMEOUT', `timed out connecting to ${where}`, { cause: err });
    case 'UND_ERR_HEADERS_TIMEOUT':
      return new NetkitError('NETKIT_TIMEOUT', `timed out waiting for the response from ${where}`, {
        cause: err,
      });
    case 'UND_ERR_BODY_TIMEOUT':
      return new NetkitError('NETKIT_TIMEOUT', `timed out reading the response body from ${where}`, {
        cause: err,
      });
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return new NetkitError(
        'NETKIT_PROTOCOL',
        `connection to ${where} closed ${(body && bodyCutShort(body)) ?? 'unexpectedly'}`,
        { cause: err },
      );
    case 'UND_ERR_ABORTED':
    case 'ABORT_ERR':
      return requestAborted(url, err);
    default:
      return (
        // refused, unresolvable, unreachable: in the words every client uses
        connectFailureAt(err, where, hostName(proxy ?? url), proxy && target) ??
        // an https:// proxy's own certificate is checked against the system roots, never --cacert
        (proxy?.startsWith('https:')
          ? certificateError(err, where, { insecure: CURL_TRUST_FLAGS.insecure })
          : certificateError(err, target, CURL_TRUST_FLAGS)) ??
        new NetkitError('NETKIT_CONNECT_FAILED', `${where}: ${errorMessage(err)}`, { cause: err })
      );
  }
}

/**
 * A request given up because its `signal` was aborted, whatever the reason it was aborted with
 * (undici rejects with that reason, which may be any value): NETKIT_IO with the reason as `cause`,
 * as the downloader's `DownloadInterrupted` — never a connection failure, which it is not.
 */
export function requestAborted(url: string, reason: unknown): NetkitError {
  return new NetkitError('NETKIT_IO', `request to ${safeOrigin(url)} aborted`, { cause: reason });
}

/**
 * {@link connectFailure} for the server connected to (`host`): the proxy, when there is one, and
 * then said so — `connection refused by proxy 127.0.0.1:3128 (for example.org)`, `cannot resolve
 * host "proxy.invalid" (the proxy for example.org)`.
 */
function connectFailureAt(
  err: unknown,
  where: string,
  host: string | undefined,
  proxiedTarget: string | undefined,
): NetkitError | undefined {
  const failed = connectFailure(err, where, host);
  if (!proxiedTarget || failed?.code !== 'NETKIT_NOT_FOUND') return failed;
  return new NetkitError(failed.code, `${failed.message} (the proxy for ${proxiedTarget})`, { cause: err });
}

/**
 * How far a body got when its connection closed, where the headers say how long it was (curl's
 * "transfer closed with N bytes remaining to read"): `after 1000 of 5000 body bytes
 * (Content-Length)`, or for a chunked body, which undici does not let us see into, `after 100
 * bytes of a chunked body, before its last chunk`. Undefined when the length was never announced.
 */
function bodyCutShort({ headers, received }: BodyProgress): string | undefined {
  const te = headers['transfer-encoding'];
  if (te !== undefined && /(^|,)\s*chunked\s*$/i.test(String(te)))
    return `after ${received} bytes of a chunked body, before its last chunk`;
  const cl = headers['content-length'];
  if (typeof cl === 'string' && /^\d+$/.test(cl.trim()) && received < Number(cl))
    return `after ${received} of ${Number(cl)} body bytes (Content-Length)`;
  return undefined;
}

/** The host name of a URL, or undefined when it has none. */
function hostName(url: string): string | undefined {
  try {
    return new URL(url).hostname || undefined;
  } catch {
    return undefined;
  }
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return redactUrl(url);
  }
}
