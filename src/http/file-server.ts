/**
 * `netkit http serve DIR`: a static file server that downloaders can be tested against. It speaks
 * the parts of HTTP/1.1 a resumable, multi-connection client relies on — `Range` (single ranges as
 * 206, several as `multipart/byteranges`, unsatisfiable as 416), `If-Range`, strong `ETag`,
 * `Last-Modified`, 304s, `HEAD` — plus directory listings (HTML and `?format=json`).
 *
 * Knobs exist to make it misbehave on purpose: `rateLimit` (bytes/second per connection, paced with
 * backpressure) and `noRange` (a server without Range support: no `Accept-Ranges`, Range ignored).
 *
 * Security: the request path is percent-decoded exactly once, NUL is refused, dot-segments are
 * resolved and one that would climb above the root is refused, and the resolved real path of every
 * file served (a directory's `index.html` too) must stay inside the real root, so a symlink cannot
 * lead out; listings escape every name, carry a script-free CSP and do not describe what a link
 * outside the root points to. Connection limits, graceful close and per-connection trace ids come
 * from the shared TCP listener; node:http only parses.
 *
 * Request bodies: none is wanted, and none is read beyond `maxBodyBytes` — a larger declared one is
 * answered 413 and the connection closed, the rest as unread-body.ts says. A request whose framing
 * a proxy in front could read differently (Transfer-Encoding in HTTP/1.0, or not ending in
 * `chunked`) is answered 400 and the connection closed: no second request is read out of its body.
 *
 * HTTPS: `tlsPort` adds a TLS listener beside the plain one, `tlsOnly` makes the main port speak
 * TLS instead (file-server-tls.ts does the handshake; ALPN `http/1.1`). Both listeners feed the same
 * node:http server, so a request is answered the same way on either, and one shared count applies
 * every connection limit to their sum.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { constants } from 'node:fs';
import { access, type FileHandle, open, opendir, realpath, stat } from 'node:fs/promises';
import type http from 'node:http';
import { STATUS_CODES } from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type tls from 'node:tls';
import { isLoopback, reachableHost } from '../core/address.js';
import { hiddenUnder, resolveDataDir, serverSecrets, withinAny } from '../core/datadir.js';
import { NetkitError } from '../core/errors.js';
import type { TypedEmitter } from '../core/events.js';
import { hostAllowed, validHost } from '../core/host-check.js';
import {
  ConnectionLimits,
  closeOnceEnded,
  formatHostPort,
  listenTcp,
  type TcpServerHandle,
} from '../core/server.js';
import { TokenBucket, throttle } from '../core/throttle.js';
import { loadTls, type TlsMaterial } from '../core/tls.js';
import { nextConnId, type TraceEvents, traceEvent } from '../core/trace.js';
import { byteKey, displayPath, type FsPath, fsPath, joinFsPath } from './byte-path.js';
import { httpDate, ifRangeMatches, isNotModified, makeEtag, preconditionFailed } from './conditional.js';
import {
  DEFAULT_HTTP_HEADERS_TIMEOUT_MS,
  DEFAULT_HTTP_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_PIPELINED,
  DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS,
} from './file-server-limits.js';
import { acceptTls } from './file-server-tls.js';
import { LISTING_HEADERS, type ListingEntry, renderListingHtml, renderListingJson } from './listing.js';
import { contentType } from './mime.js';
import { isParseError, type ParseError } from './parse-error-status.js';
import { type ByteRange, DEFAULT_MAX_RANGES, formatContentRange, parseRange } from './range.js';
import {
  absoluteFormAuthority,
  fsErrorStatus,
  jail,
  resolveRequestPath,
  statForListing,
} from './request-path.js';
import { socketFedHttpServer, stopSocketFedServer } from './socket-fed-server.js';
import { answerParseError, bodyTooLarge, DEFAULT_MAX_BODY_BYTES, untrustedFraming } from './unread-body.js';

export interface FileServerOptions {
  /** the directory to serve (the jail) */
  root: string;
  /** default 127.0.0.1 */
  host?: string;
  /** default 0 (any free port); the CLI defaults to 8080 */
  port?: number;
  /** bytes per second per connection; undefined or 0 = unlimited */
  rateLimit?: number;
  /** behave like a server without Range support */
  noRange?: boolean;
  /** directory listings (default true); off → 403 for directories without index.html */
  listings?: boolean;
  /** serve `index.html` for a directory (default true; `?format=json` always lists) */
  index?: boolean;
  /** ranges per request after coalescing; more → the whole file is sent (default 16) */
  maxRanges?: number;
  /** entries shown in one listing, the first ones by name (default 10000); the listing says it was cut */
  maxListingEntries?: number;
  /**
   * the longest request body read, and thrown away (default 1 MiB, nginx's `client_max_body_size`):
   * a request declaring a longer one is answered 413 and the connection closed; a chunked body
   * that grows past it closes the connection once its response is sent
   */
  maxBodyBytes?: number;
  /**
   * pipelined requests waiting behind the one being answered on a connection (default 100); one
   * more and the connection is closed. Requests are answered one at a time, so a waiting one holds
   * no response body in memory.
   */
  maxPipelined?: number;
  /** simultaneous connections, both ports together (default 1000) */
  maxConnections?: number;
  /** simultaneous connections per client address, both ports together (default 100) */
  maxConnectionsPerIp?: number;
  /** also serve HTTPS on this port (0 = any free port) */
  tlsPort?: number;
  /** the main `port` serves HTTPS only (then `tlsPort` must not be given) */
  tlsOnly?: boolean;
  /**
   * certificate and key for HTTPS (`loadTls(dataDir, {cert, key})`); default: the self-signed
   * development certificate in `DATA/tls/`, created on first use. The files it was loaded from
   * (`files`) are never served or listed (403) when they lie inside the root.
   */
  tls?: TlsMaterial;
  /**
   * where the default development certificate is kept (default `$NETKIT_DATA` or `./netkit-data`).
   * When it lies inside the root it is never served or listed (403): it holds the TLS key and the
   * accounts, and `http serve .` next to a lab's data would otherwise publish them.
   */
  dataDir?: string;
  /**
   * an HTTPS client must finish its TLS handshake within this time of connecting (default 10000 ms;
   * 0 = the idle timeout applies instead)
   */
  tlsHandshakeTimeoutMs?: number;
  /** idle time of a keep-alive connection between requests (default 5000 ms) */
  keepAliveTimeoutMs?: number;
  /**
   * a connection on which nothing moves for this long is closed — above all a client that stopped
   * reading a response, which would otherwise hold its connection slot forever (default 60000 ms,
   * like nginx's `send_timeout`; 0 = never)
   */
  idleTimeoutMs?: number;
  /**
   * a request's head must arrive whole within this time of its first byte, however slowly it
   * trickles (default 30000 ms; a slowloris client is answered 408 and closed; 0 = no limit)
   */
  headersTimeoutMs?: number;
  /**
   * On a loopback address only requests for a loopback host name (127.0.0.1, localhost,
   * *.localhost, [::1]) are answered, so a web page cannot read the served files through DNS
   * rebinding; these names are allowed too (`*` = any). Off loopback every name is answered.
   */
  allowedHosts?: string[];
}

export {
  DEFAULT_HTTP_HEADERS_TIMEOUT_MS,
  DEFAULT_HTTP_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS,
};

/** One listening socket of the file server. */
export interface FileServerAddress {
  host: string;
  port: number;
  tls: boolean;
  /** `http://host:port/` or `https://host:port/` (for a wildcard host, its loopback address) */
  url: string;
}

/** The running file server; emits `'trace'`. */
export interface FileServerHandle extends TypedEmitter<TraceEvents> {
  readonly host: string;
  /** the main port (plain HTTP, or HTTPS with `tlsOnly`) */
  readonly port: number;
  /** the port that serves HTTPS: the extra listener, or the main one with `tlsOnly`; else undefined */
  readonly tlsPort: number | undefined;
  /** every listening socket, the main one first */
  readonly addresses: readonly FileServerAddress[];
  /** the real path being served */
  readonly root: string;
  /** the main port's `http://host:port/` (`https://` with `tlsOnly`) */
  readonly url: string;
  /** live connections on both listeners (TLS ones from their TCP connect on) */
  readonly connections: number;
  close(deadlineMs?: number): Promise<void>;
}

interface ConnState {
  id: number;
  active: number;
  closing: boolean;
  bucket?: TokenBucket;
  /** an HTTPS connection's TLS socket, once the handshake is done */
  tls?: tls.TLSSocket;
  /** an HTTPS connection still in its handshake */
  handshaking?: boolean;
  /** a response is being made on this connection: later (pipelined) requests wait in `waiting` */
  busy?: boolean;
  waiting?: Array<() => void>;
}

const SERVICE = 'http';

/** Start serving `options.root`; resolves once bound. */
export async function createFileServer(options: FileServerOptions): Promise<FileServerHandle> {
  let root: string;
  try {
    root = await realpath(path.resolve(options.root));
  } catch {
    throw new NetkitError('NETKIT_NOT_FOUND', `${options.root}: no such directory`);
  }
  if (!(await stat(root)).isDirectory())
    throw new NetkitError('NETKIT_INVALID_INPUT', `${options.root} is not a directory`);
  // a root this process cannot list would answer 403 to everything: say so now instead
  await access(root, constants.R_OK | constants.X_OK).catch(() => {
    throw new NetkitError('NETKIT_IO', `${options.root}: permission denied (cannot read the directory)`);
  });
  const conf = {
    root,
    hidden: hiddenUnder(
      root,
      await serverSecrets(resolveDataDir(options.dataDir), root, [
        options.tls?.files?.cert,
        options.tls?.files?.key,
      ]),
    ),
    rateLimit: options.rateLimit && options.rateLimit > 0 ? options.rateLimit : undefined,
    noRange: options.noRange ?? false,
    listings: options.listings ?? true,
    index: options.index ?? true,
    maxRanges: options.maxRanges ?? DEFAULT_MAX_RANGES,
    maxListingEntries: options.maxListingEntries ?? 10_000,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    maxPipelined: options.maxPipelined ?? DEFAULT_MAX_PIPELINED,
    boundHost: options.host ?? '127.0.0.1',
    anyHost: !isLoopback(options.host ?? '127.0.0.1'),
    allowedHosts: options.allowedHosts ?? [],
  };
  if (options.tlsOnly && options.tlsPort !== undefined)
    throw new NetkitError('NETKIT_USAGE', 'http: tlsOnly makes the main port HTTPS; do not give tlsPort too');
  const wantsTls = options.tlsOnly === true || options.tlsPort !== undefined;
  const tlsMaterial = wantsTls
    ? (options.tls ?? (await loadTls(resolveDataDir(options.dataDir))))
    : undefined;
  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_HTTP_IDLE_TIMEOUT_MS;
  const handshakeTimeoutMs = options.tlsHandshakeTimeoutMs ?? DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS;
  const emitter = new EventEmitter();
  /** by raw socket, and by TLS socket for HTTPS connections */
  const conns = new WeakMap<net.Socket, ConnState>();

  const headersTimeoutMs = options.headersTimeoutMs ?? DEFAULT_HTTP_HEADERS_TIMEOUT_MS;
  // a GET has no body: the whole request is its head. A request without Host is answered by
  // serve(), so that it is traced and told why, like every other bad request.
  const server = socketFedHttpServer(
    { headersTimeoutMs, requireHostHeader: false, maxBodyBytes: conf.maxBodyBytes },
    (req, res) => {
      const conn = conns.get(req.socket) ?? { id: 0, active: 0, closing: false };
      onRequest(emitter, conf, conn, req, res);
    },
  );
  server.keepAliveTimeout = options.keepAliveTimeoutMs ?? 5000;
  // with no 'timeout' listener, Node destroys a socket idle for this long
  server.timeout = idleTimeoutMs;
  server.on('clientError', (err: ParseError, socket: net.Socket) => {
    const conn = conns.get(socket);
    // a broken TLS record is no request: the session cannot carry an answer any more
    const tlsError = (err as { library?: string }).library !== undefined || err.code?.startsWith('ERR_SSL_');
    const parse = isParseError(err);
    const what = tlsError ? 'TLS error' : parse ? 'bad request' : 'connection error';
    traceEvent(emitter, SERVICE, conn?.id ?? 0, 'error', `${what}: ${err.code ?? err.message}`);
    if (!parse || tlsError) {
      socket.destroy();
      return;
    }
    answerParseError(socket, err);
  });
  // Expect: 100-continue (RFC 9110 §10.1.1): invite the body only of a request we will answer. A
  // refused one gets its final status at once, and the connection closes: its body is not coming.
  server.on('checkContinue', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const wanted = req.method === 'GET' || req.method === 'HEAD';
    if (wanted && !bodyTooLarge(req, conf.maxBodyBytes)) res.writeContinue();
    else res.shouldKeepAlive = false;
    server.emit('request', req, res);
  });
  // CONNECT asks for a tunnel: refuse it like any other method (node:http would drop the socket unanswered)
  server.on('connect', (req: http.IncomingMessage, socket: net.Socket) => {
    // node:http hands the socket over without an error listener: a peer that resets before the
    // 405 is written would otherwise crash the server with an unhandled 'error' event
    socket.on('error', () => {});
    const id = conns.get(socket)?.id ?? 0;
    traceEvent(emitter, SERVICE, id, 'in', `${req.method} ${req.url} HTTP/${req.httpVersion}`);
    // the socket comes with reading stopped: bytes sent after the request would stay unread, 'end'
    // would never come and the descriptor would leak; close once the answer is written (as ws does)
    socket.once('finish', () => socket.destroy());
    socket.end(
      'HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
    );
    traceEvent(emitter, SERVICE, id, 'out', 'HTTP/1.1 405 Method Not Allowed');
  });

  /** An HTTPS connection: node:http gets it once the TLS handshake is done. */
  const acceptHttps = (socket: net.Socket, conn: ConnState): void => {
    conn.handshaking = true;
    acceptTls(socket, {
      context: tlsMaterial!.context,
      alpn: ['http/1.1'],
      // with no handshake limit, the idle limit still keeps a silent client from holding its slot
      handshakeTimeoutMs: handshakeTimeoutMs > 0 ? handshakeTimeoutMs : idleTimeoutMs,
      trace: (kind, text) => traceEvent(emitter, SERVICE, conn.id, kind, text),
    }).then((secure) => {
      conn.handshaking = false;
      if (!secure) return;
      conn.tls = secure;
      conns.set(secure, conn);
      server.emit('connection', secure);
    });
  };

  /** One count for both listeners: a second port does not double the limits. */
  const limits = new ConnectionLimits(options.maxConnections, options.maxConnectionsPerIp);
  const listen = (port: number, secure: boolean): Promise<TcpServerHandle> =>
    listenTcp({
      service: SERVICE,
      host: options.host,
      port,
      limits,
      onConnection(socket) {
        const conn: ConnState = { id: nextConnId(), active: 0, closing: false };
        conns.set(socket, conn);
        const peer = formatHostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
        traceEvent(emitter, SERVICE, conn.id, 'connect', secure ? 'tls' : '', peer);
        socket.once('close', () => traceEvent(emitter, SERVICE, conn.id, 'disconnect', ''));
        if (secure) acceptHttps(socket, conn);
        else server.emit('connection', socket);
      },
      // no TLS session yet to carry the 503 in: the TLS port just closes
      onReject: () =>
        secure
          ? undefined
          : 'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
      onShutdown(socket) {
        const conn = conns.get(socket);
        if (conn?.handshaking) {
          socket.destroy();
          return;
        }
        if (conn) conn.closing = true;
        const carrier = conn?.tls ?? socket;
        // ended now if idle, else once its last response is sent (onRequest)
        closeOnceEnded(carrier);
        if (!conn || conn.active === 0) carrier.end();
      },
    });

  let main: TcpServerHandle | undefined;
  let extra: TcpServerHandle | undefined;
  try {
    main = await listen(options.port ?? 0, options.tlsOnly === true);
    if (options.tlsPort !== undefined) extra = await listen(options.tlsPort, true);
  } catch (err) {
    await main?.close(0);
    throw err;
  }
  const address = (l: TcpServerHandle, secure: boolean): FileServerAddress => ({
    host: l.host,
    port: l.port,
    tls: secure,
    url: `${secure ? 'https' : 'http'}://${formatHostPort(reachableHost(l.host), l.port)}/`,
  });
  const addresses: readonly FileServerAddress[] = Object.freeze([
    address(main, options.tlsOnly === true),
    ...(extra ? [address(extra, true)] : []),
  ]);
  const listeners = [main, ...(extra ? [extra] : [])];
  const handle = Object.assign(emitter, {
    host: main.host,
    port: main.port,
    tlsPort: addresses.find((a) => a.tls)?.port,
    addresses,
    root,
    url: addresses[0]!.url,
    close: async (deadlineMs?: number) => {
      await Promise.all(listeners.map((l) => l.close(deadlineMs)));
      stopSocketFedServer(server);
    },
  });
  Object.defineProperty(handle, 'connections', {
    get: () => listeners.reduce((n, l) => n + l.connections, 0),
    enumerable: true,
  });
  return handle as unknown as FileServerHandle;
}

type Conf = {
  root: string;
  /** real paths inside the root never served or listed (`hiddenUnder`: the same rule as `ftp serve`) */
  hidden: readonly string[];
  rateLimit: number | undefined;
  noRange: boolean;
  listings: boolean;
  index: boolean;
  maxRanges: number;
  maxListingEntries: number;
  maxBodyBytes: number;
  maxPipelined: number;
  boundHost: string;
  anyHost: boolean;
  allowedHosts: readonly string[];
};

function onRequest(
  emitter: EventEmitter,
  conf: Conf,
  conn: ConnState,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): void {
  conn.active++;
  if (conn.closing) res.shouldKeepAlive = false;
  const range = req.headers.range ? ` [Range: ${req.headers.range}]` : '';
  traceEvent(emitter, SERVICE, conn.id, 'in', `${req.method} ${req.url} HTTP/${req.httpVersion}${range}`);
  res.once('close', () => {
    conn.active--;
    const cr = res.getHeader('content-range');
    const extra = `${cr ? ` ${cr}` : ''}${res.writableFinished ? '' : ' (aborted)'}`;
    traceEvent(emitter, SERVICE, conn.id, 'out', `HTTP/1.1 ${res.statusCode} ${res.statusMessage}${extra}`);
    if (conn.closing && conn.active === 0) req.socket.end();
    startNext(conn, req.socket);
  });
  const start = (): void => {
    serve(conf, conn, req, res).catch((err: unknown) => {
      traceEvent(emitter, SERVICE, conn.id, 'error', err instanceof Error ? err.message : String(err));
      // mid-body, the only honest end is a broken connection: the client sees the body is short
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // a path we may not read, or that vanished since it was resolved, is not a fault of the server
      const status = fsErrorStatus(err) ?? 500;
      sendText(res, status, STATUS_CODES[status]!, {}, req.method === 'HEAD');
    });
  };
  // Pipelined requests are answered one after another (they leave in order anyway): node:http
  // buffers in memory whatever a response behind the first one writes, so serving them all at once
  // held a whole body per request — a client sending thousands without reading took gigabytes.
  if (!conn.busy) {
    conn.busy = true;
    start();
    return;
  }
  const waiting = (conn.waiting ??= []);
  if (waiting.length >= conf.maxPipelined) {
    traceEvent(
      emitter,
      SERVICE,
      conn.id,
      'error',
      `more than ${conf.maxPipelined} pipelined requests waiting; closing`,
    );
    waiting.length = 0;
    req.socket.destroy();
    return;
  }
  waiting.push(start);
}

/** The next pipelined request of `conn`, once the one before it is answered (or the connection died). */
function startNext(conn: ConnState, socket: net.Socket): void {
  const next = conn.waiting?.shift();
  // node:http never answers, nor closes, the responses queued behind a broken connection's first
  if (!next || socket.destroyed) {
    conn.busy = false;
    if (conn.waiting) conn.waiting.length = 0;
    return;
  }
  next();
}

/** writeHead via setHeader, so the trace (and tests) can read the headers back with getHeader. */
function writeHead(res: http.ServerResponse, status: number, headers: Record<string, string | number>): void {
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.writeHead(status);
}

function sendText(
  res: http.ServerResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
  head = false,
): void {
  const body = `${text}\n`;
  writeHead(res, status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'X-Content-Type-Options': 'nosniff',
    ...headers,
  });
  res.end(head ? undefined : body);
}

/** The host a request is for: the authority of an absolute-form target, else the Host header. */
function requestAuthority(req: http.IncomingMessage): string | undefined {
  return absoluteFormAuthority(req.url ?? '') ?? req.headers.host;
}

async function serve(
  conf: Conf,
  conn: ConnState,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  const head = req.method === 'HEAD';
  // RFC 9112 §3.2: more than one Host is a 400 (node:http would keep the first and drop the others)
  if ((req.headersDistinct.host?.length ?? 0) > 1) {
    res.shouldKeepAlive = false;
    sendText(res, 400, 'Bad Request: more than one Host', {}, head);
    return;
  }
  // and so is an HTTP/1.1 request with none, even in absolute-form (RFC 9112 §3.2): someone typing
  // a request into nc is told what is missing, not handed an empty 400
  if (req.httpVersionMajor === 1 && req.httpVersionMinor === 1 && req.headers.host === undefined) {
    res.shouldKeepAlive = false;
    sendText(res, 400, 'Bad Request: an HTTP/1.1 request needs a Host header', {}, head);
    return;
  }
  // and so is a Host, or an absolute-form authority, that is not host[:port] (`[::1`, `x:99999`):
  // the Host check below read "[::1" as loopback and served it
  const authority = requestAuthority(req);
  if (authority !== undefined && !validHost(authority)) {
    res.shouldKeepAlive = false;
    sendText(res, 400, 'Bad Request: malformed Host', {}, head);
    return;
  }
  // llhttp lets `HTTP/2.0` through; only 1.x is spoken here (RFC 9110 §6.2)
  if (req.httpVersionMajor !== 1) {
    res.shouldKeepAlive = false;
    sendText(res, 505, 'HTTP Version Not Supported', {}, head);
    return;
  }
  // framing a proxy in front could read otherwise (unread-body.ts): no request is read out of the body
  const framing = untrustedFraming(req);
  if (framing) {
    res.shouldKeepAlive = false;
    sendText(res, 400, `Bad Request: ${framing}`, {}, head);
    return;
  }
  // nginx's 413 too comes before the method is looked at; the body is not read
  if (bodyTooLarge(req, conf.maxBodyBytes)) {
    res.shouldKeepAlive = false;
    sendText(res, 413, `Content Too Large: the limit is ${conf.maxBodyBytes} bytes`, {}, head);
    return;
  }
  // DNS rebinding (host-check.ts): a page that re-points its own name at 127.0.0.1 must not read
  // the files; the target's authority (absolute-form) counts over Host, as RFC 9112 §3.2.2 says
  if (!hostAllowed(authority, conf.boundHost, conf.anyHost, conf.allowedHosts)) {
    sendText(
      res,
      403,
      `Forbidden: this server on ${conf.boundHost} answers only to loopback host names (netkit http serve --allowed-host NAME)`,
      {},
      head,
    );
    return;
  }
  if (req.method !== 'GET' && !head) {
    sendText(res, 405, 'Method Not Allowed', { Allow: 'GET, HEAD' });
    return;
  }
  const where = await resolveRequestPath(conf.root, req.url ?? '/', conf.hidden);
  if (!where.ok) {
    sendText(res, where.status, STATUS_CODES[where.status]!, {}, head);
    return;
  }
  const st = await stat(where.real);
  // `/a.txt/` names a directory that does not exist; serving the file would give it a second URL
  if (where.trailingSlash && !st.isDirectory()) {
    sendText(res, 404, 'Not Found', {}, head);
    return;
  }
  if (st.isDirectory()) {
    const canonical = `${where.canonical}${where.segments.length ? '/' : ''}`;
    if (!where.trailingSlash && where.segments.length > 0) {
      const location = canonical + (where.query ? `?${where.query}` : '');
      sendText(res, 301, `Moved Permanently: ${location}`, { Location: location }, head);
      return;
    }
    const json = new URLSearchParams(where.query).get('format') === 'json';
    if (!json && conf.index) {
      // index.html may be a symlink too: it passes the jail like any other path
      const index = await jail(conf.root, joinFsPath(where.real, 'index.html'), conf.hidden);
      if (!index.ok && index.status === 403) {
        sendText(res, 403, 'Forbidden', {}, head);
        return;
      }
      if (index.ok && (await stat(index.real).catch(() => undefined))?.isFile())
        return sendFile(conf, conn, req, res, index.real);
    }
    if (!conf.listings) {
      sendText(res, 403, 'Forbidden', {}, head);
      return;
    }
    const { entries, total } = await readEntries(conf, where.real);
    const urlPath = `/${where.segments.join('/')}${where.segments.length ? '/' : ''}`;
    const body = json
      ? renderListingJson(urlPath, entries, total)
      : renderListingHtml(urlPath, entries, total);
    writeHead(res, 200, {
      'Content-Type': json ? 'application/json; charset=utf-8' : 'text/html; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
      'Cache-Control': 'no-cache',
      ...LISTING_HEADERS,
    });
    res.end(head ? undefined : body);
    return;
  }
  if (!st.isFile()) {
    sendText(res, 403, 'Forbidden', {}, head);
    return;
  }
  await sendFile(conf, conn, req, res, where.real);
}

/**
 * A directory's listing: the first `max` names in code-unit order (the same ones every time, unlike
 * readdir order) and how many entries there are in all. At most 2 × max names are held at once.
 */
async function readEntries(
  conf: Pick<Conf, 'root' | 'hidden' | 'maxListingEntries'>,
  dir: FsPath,
): Promise<{ entries: ListingEntry[]; total: number }> {
  const { root, hidden, maxListingEntries: max } = conf;
  let names: FsPath[] = [];
  let total = 0;
  const hidesText = withinAny(hidden);
  const hidesBytes = withinAny(hidden.map(byteKey));
  const hides = (p: FsPath) => (typeof p === 'string' ? hidesText(p) : hidesBytes(byteKey(p)));
  const byName = (a: FsPath, b: FsPath) => {
    const x = displayPath(a);
    const y = displayPath(b);
    return x < y ? -1 : x > y ? 1 : 0;
  };
  // names as bytes: one that is not UTF-8 is listed with a link made of its bytes (byte-path.ts;
  // Node takes 'buffer' here, its types know only text encodings); the iterator closes the
  // directory when the loop ends, however it ends
  for await (const dirent of await opendir(dir, { encoding: 'buffer' as BufferEncoding })) {
    const name = fsPath(dirent.name as unknown as Buffer);
    if (hides(joinFsPath(dir, name))) continue;
    total++;
    names.push(name);
    if (names.length >= 2 * max) names = names.sort(byName).slice(0, max);
  }
  names = names.sort(byName).slice(0, max);
  const entries: ListingEntry[] = [];
  for (const name of names) entries.push(await describeEntry(root, joinFsPath(dir, name), name, hidden));
  return { entries, total };
}

/**
 * One listing row. A symlink is followed only when its target is inside the root, so a listing never
 * shows the size or date of what the jail refuses; what cannot be examined is `other` with no size
 * or date, rather than an invented "0 B, 1970".
 */
async function describeEntry(
  root: string,
  full: FsPath,
  bytes: FsPath,
  hidden: readonly string[],
): Promise<ListingEntry> {
  const name = { name: displayPath(bytes), ...(typeof bytes === 'string' ? {} : { bytes }) };
  const st = await statForListing(root, full, hidden);
  if (!st) return { ...name, type: 'other' };
  return {
    ...name,
    type: st.isDirectory() ? 'directory' : st.isFile() ? 'file' : 'other',
    size: st.isFile() ? st.size : 0,
    mtimeMs: st.mtimeMs,
  };
}

async function sendFile(
  conf: Conf,
  conn: ConnState,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  file: FsPath,
): Promise<void> {
  const head = req.method === 'HEAD';
  // Open first and stat the handle: headers and body then describe the same file even if it is
  // replaced while we serve it.
  const fh = await open(file, 'r');
  try {
    const st = await fh.stat();
    const size = st.size;
    const v = { etag: makeEtag(size, st.mtimeMs), mtimeMs: st.mtimeMs };
    const type = contentType(displayPath(file));
    const base: Record<string, string> = {
      ETag: v.etag,
      'Last-Modified': httpDate(st.mtimeMs),
      'X-Content-Type-Options': 'nosniff',
    };
    if (!conf.noRange) base['Accept-Ranges'] = 'bytes';
    // RFC 9110 §13.2.2: If-Match / If-Unmodified-Since (412) before If-None-Match /
    // If-Modified-Since (304) before If-Range
    if (preconditionFailed(req.headers as Record<string, string | undefined>, v)) {
      sendText(res, 412, 'Precondition Failed', base, head);
      return;
    }
    if (isNotModified(req.headers as Record<string, string | undefined>, v)) {
      writeHead(res, 304, base);
      res.end();
      return;
    }
    const rangeHeader = conf.noRange ? undefined : req.headers.range;
    const ifRange = req.headers['if-range'] as string | undefined;
    const result =
      rangeHeader !== undefined && ifRangeMatches(ifRange, v)
        ? parseRange(rangeHeader, size, { maxRanges: conf.maxRanges })
        : ({ type: 'none' } as const);

    if (result.type === 'unsatisfiable') {
      sendText(res, 416, 'Range Not Satisfiable', { ...base, 'Content-Range': `bytes */${size}` }, head);
      return;
    }
    if (result.type === 'none') {
      writeHead(res, 200, { ...base, 'Content-Type': type, 'Content-Length': String(size) });
      if (!head && size > 0) await sendRange(conf, conn, fh, { start: 0, end: size - 1 }, res);
      res.end();
      return;
    }
    if (result.ranges.length === 1) {
      const r = result.ranges[0]!;
      writeHead(res, 206, {
        ...base,
        'Content-Type': type,
        'Content-Range': formatContentRange(r, size),
        'Content-Length': String(r.end - r.start + 1),
      });
      if (!head) await sendRange(conf, conn, fh, r, res);
      res.end();
      return;
    }
    // multipart/byteranges (RFC 9110 §14.6): every part names its own range.
    const boundary = randomBytes(12).toString('hex');
    const partHead = (r: ByteRange, i: number): string =>
      `${i === 0 ? '' : '\r\n'}--${boundary}\r\nContent-Type: ${type}\r\nContent-Range: ${formatContentRange(r, size)}\r\n\r\n`;
    const tail = `\r\n--${boundary}--\r\n`;
    let length = Buffer.byteLength(tail);
    result.ranges.forEach((r, i) => {
      length += Buffer.byteLength(partHead(r, i)) + (r.end - r.start + 1);
    });
    writeHead(res, 206, {
      ...base,
      'Content-Type': `multipart/byteranges; boundary=${boundary}`,
      'Content-Length': String(length),
    });
    if (!head) {
      // each part's pipeline({end: false}) leaves its listeners on `res` until the response ends:
      // at most maxRanges of them, which is not a leak, so Node's warning at 10 is lifted
      res.setMaxListeners(res.getMaxListeners() + result.ranges.length * 2);
      for (const [i, r] of result.ranges.entries()) {
        if (!res.write(partHead(r, i))) await drained(res);
        await sendRange(conf, conn, fh, r, res);
      }
      res.write(tail);
    }
    res.end();
  } catch (err) {
    // The client went away mid-body: nothing to answer, the socket is already gone.
    if ((err as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE') return;
    throw err;
  } finally {
    await fh.close();
  }
}

/**
 * Wait for 'drain'; a response closed meanwhile rejects like a premature close. So does one that
 * is closed already — its write returned false, and 'close' will never come again — or the
 * multipart loop would wait for good, and the open file would be left to the garbage collector.
 */
function drained(res: http.ServerResponse): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      if (res.destroyed && !res.writableFinished)
        reject(Object.assign(new Error('client closed'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
      else resolve();
    };
    if (res.destroyed) return done();
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * The file is read in pieces of this size. Larger pieces would be faster in a plain `node` process
 * (128 KiB: HTTPS ~0.8x nginx instead of ~0.6x, `npm run bench -- http-serve`), but the `netkit`
 * launcher sets MALLOC_TRIM_THRESHOLD_, which also pins glibc's mmap threshold at 128 KiB: every
 * buffer of that size is then mapped and unmapped afresh, and 128 KiB pieces come out slower than
 * 64 KiB ones. A client that stops reading holds about two pieces until the idle timeout.
 */
const READ_CHUNK_BYTES = 64 * 1024;

/** Stream one inclusive byte range of the open file into the response, paced if rate-limited. */
async function sendRange(
  conf: Conf,
  conn: ConnState,
  fh: FileHandle,
  r: ByteRange,
  res: http.ServerResponse,
): Promise<void> {
  const source = fh.createReadStream({
    start: r.start,
    end: r.end,
    autoClose: false,
    highWaterMark: READ_CHUNK_BYTES,
  });
  if (conf.rateLimit) {
    conn.bucket ??= new TokenBucket(conf.rateLimit);
    await pipeline(source, throttle(conn.bucket), res, { end: false });
  } else {
    await pipeline(source, res, { end: false });
  }
  // A file cut short while it is sent ends the read early, and nothing else notices: failing here
  // makes the caller destroy the connection, so the client sees a short body instead of taking
  // the next response on the connection for the rest of this one (RFC 9112 §6.3).
  const want = r.end - r.start + 1;
  if (source.bytesRead < want)
    throw new Error(`file shrank while being sent: ${source.bytesRead} of ${want} bytes read`);
}
