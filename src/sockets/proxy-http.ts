/**
 * The client side of an HTTP `CONNECT` tunnel (RFC 9110 §9.3.6), as a pure state machine: it makes
 * the request bytes and reads the proxy's response head from whatever chunks arrive, so it can be
 * table-tested byte by byte and driven by any socket (see `proxy.ts`). Our own because it is 40
 * lines: undici's `ProxyAgent` does CONNECT only for its own HTTP requests, not for a raw socket.
 *
 * - `CONNECT host:port HTTP/1.1` with `Host:` (the authority form; an IPv6 literal in brackets),
 *   plus `Proxy-Authorization: Basic …` (RFC 7617) when credentials are given.
 * - Any 2xx opens the tunnel. Interim 1xx heads are skipped. Bytes after the blank line that ends
 *   the head already belong to the tunnel and are handed back (`rest`), never dropped.
 * - The head is bounded (`maxHeadBytes`, default 16 KiB): a proxy that never ends it is an error,
 *   not unbounded buffering. A status line that is not `HTTP/1.x NNN` is an error at once.
 * - 407 (credentials missing or wrong; tinyproxy says 401 to a wrong password), 403 / 5xx and any other status become one-line
 *   `NetkitError`s naming the proxy and its status line.
 */
import net from 'node:net';
import { NetkitError } from '../core/errors.js';

export const DEFAULT_MAX_PROXY_HEAD = 16 * 1024;

export interface ProxyCredentials {
  username: string;
  password: string;
}

/** `host:port`, with an IPv6 literal in brackets (the authority form of RFC 9112 §3.2.3). */
export function authority(host: string, port: number): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Reject a target that would let a caller inject header lines into the request. */
function checkTarget(host: string, port: number): void {
  if (host === '' || /[\s\0/@]/.test(host) || (!net.isIPv6(host) && host.includes(':')))
    throw new NetkitError('NETKIT_INVALID_INPUT', `invalid target host ${JSON.stringify(host)} for CONNECT`);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new NetkitError('NETKIT_INVALID_INPUT', `invalid target port ${port} for CONNECT`);
}

/** The request head: `CONNECT host:port HTTP/1.1`, `Host`, optional `Proxy-Authorization`. */
export function httpConnectRequest(host: string, port: number, auth?: ProxyCredentials): Buffer {
  checkTarget(host, port);
  const target = authority(host, port);
  const lines = [`CONNECT ${target} HTTP/1.1`, `Host: ${target}`];
  if (auth) lines.push(`Proxy-Authorization: ${basicCredentials(auth)}`);
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8');
}

/** `Basic base64(user:pass)` (RFC 7617, UTF-8). */
export function basicCredentials(auth: ProxyCredentials): string {
  return `Basic ${Buffer.from(`${auth.username}:${auth.password}`, 'utf8').toString('base64')}`;
}

export interface HttpConnectResponse {
  status: number;
  /** the whole status line, e.g. `HTTP/1.1 200 Connection established` */
  statusLine: string;
  /** the header lines as received (without the status line) */
  headers: string[];
  /** bytes after the head: the first bytes of the tunnel */
  rest: Buffer;
}

export interface HttpConnectOptions {
  /** how the proxy is named in errors, e.g. `HTTP proxy 127.0.0.1:3128` */
  proxyName: string;
  /** `host:port` of the target, for errors */
  target: string;
  /** were credentials sent? (a 407 then means they were wrong) */
  withCredentials: boolean;
  /** cap on the response head (default 16 KiB) */
  maxHeadBytes?: number;
}

/** A printable, bounded excerpt of bytes that are not what we expected. */
export function excerpt(bytes: Buffer, max = 40): string {
  const text = bytes.subarray(0, max).toString('latin1');
  return JSON.stringify(text).slice(1, -1) + (bytes.length > max ? '…' : '');
}

/**
 * Reads the proxy's answer. `push()` returns undefined until a final (non-1xx) head is complete,
 * then the response for a 2xx; anything else throws a `NetkitError`.
 */
export class HttpConnectReader {
  private buf: Buffer = Buffer.alloc(0);
  private readonly max: number;
  /** interim 1xx heads seen (for the trace) */
  readonly interim: string[] = [];

  constructor(private readonly opts: HttpConnectOptions) {
    this.max = opts.maxHeadBytes ?? DEFAULT_MAX_PROXY_HEAD;
  }

  push(chunk: Buffer): HttpConnectResponse | undefined {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      // fail fast on a first line that cannot be a status line
      if (this.buf.length >= 5 && this.buf.subarray(0, 5).toString('latin1') !== 'HTTP/')
        throw this.error(`did not answer like an HTTP proxy: "${excerpt(this.buf)}"`);
      const end = headEnd(this.buf);
      if (end === -1) {
        if (this.buf.length > this.max)
          throw this.error(`sent a response head over ${this.max} bytes without ending it`);
        return undefined;
      }
      if (end.start > this.max) throw this.error(`sent a response head over ${this.max} bytes`);
      const lines = this.buf.subarray(0, end.start).toString('latin1').split(/\r?\n/);
      const rest = this.buf.subarray(end.after);
      const statusLine = lines[0] ?? '';
      const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(statusLine);
      if (!m)
        throw this.error(`sent a malformed status line: "${excerpt(Buffer.from(statusLine, 'latin1'))}"`);
      const status = Number(m[1]);
      if (status >= 100 && status < 200) {
        this.interim.push(statusLine);
        this.buf = Buffer.from(rest);
        continue;
      }
      if (status >= 200 && status < 300) return { status, statusLine, headers: lines.slice(1), rest };
      throw this.refusal(status, statusLine);
    }
  }

  /** The proxy closed before a final head: an error naming how far it got. */
  closed(): NetkitError {
    return this.error(
      this.buf.length === 0
        ? 'closed the connection without answering CONNECT'
        : `closed the connection in the middle of its response: "${excerpt(this.buf)}"`,
    );
  }

  private refusal(status: number, statusLine: string): NetkitError {
    const { proxyName, target } = this.opts;
    const line = excerpt(Buffer.from(statusLine, 'latin1'), 120);
    // 407 is the standard answer; tinyproxy answers a wrong password with 401
    if (status === 407 || status === 401)
      return new NetkitError(
        'NETKIT_AUTH',
        this.opts.withCredentials
          ? `${proxyName} rejected the credentials (${line})`
          : `${proxyName} requires authentication (${line}); put user:pass@ in the proxy URL or use --proxy-auth`,
      );
    return new NetkitError('NETKIT_CONNECT_FAILED', `${proxyName} refused CONNECT to ${target}: ${line}`);
  }

  private error(what: string): NetkitError {
    return new NetkitError('NETKIT_PROTOCOL', `${this.opts.proxyName} ${what}`);
  }
}

/** Where the head ends: the offset of the blank line and the first byte after it. */
function headEnd(buf: Buffer): { start: number; after: number } | -1 {
  for (let i = buf.indexOf(0x0a); i !== -1; i = buf.indexOf(0x0a, i + 1)) {
    // "\n\n" or "\n\r\n"; the head text stops before the CR of its last line
    const start = i > 0 && buf[i - 1] === 0x0d ? i - 1 : i;
    if (buf[i + 1] === 0x0a) return { start, after: i + 2 };
    if (buf[i + 1] === 0x0d && buf[i + 2] === 0x0a) return { start, after: i + 3 };
  }
  return -1;
}
