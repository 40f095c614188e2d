/**
 * `netkit http serve DIR`: a static file server that downloaders can be tested against. It speaks
 * the parts of HTTP/1.1 a resumable, multi-connection client relies on — `Range` (single ranges as
 * 206, several as `multipart/byteranges`, unsatisfiable as 416), `If-Range`, strong `ETag`,
 * `Last-Modified`, 304s, `HEAD` — plus directory listings (HTML and `?format=json`).
 *
 * Knobs exist to make it misbehave on purpose: `rateLimit` (bytes/second per connection, paced with
 * backpressure) and `noRange` (a server without Range support: no `Accept-Ranges`, Range ignored).
 *
 * Security: the request path is percent-decoded exactly once, NUL and `..` segments are refused,
 * and the resolved real path must stay inside the real root (so a symlink cannot lead out);
 * listings escape every name and carry a script-free CSP. Connection limits, graceful close and
 * per-connection trace ids come from the shared TCP listener; node:http only parses.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { constants } from 'node:fs';
import { access, type FileHandle, open, opendir, realpath, stat } from 'node:fs/promises';
import http, { STATUS_CODES } from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { NetkitError } from '../core/errors.js';
import { formatHostPort, listenTcp } from '../core/server.js';
import { nextConnId, traceEvent } from '../core/trace.js';
import { httpDate, ifRangeMatches, isNotModified, makeEtag } from './conditional.js';
import { LISTING_HEADERS, type ListingEntry, renderListingHtml, renderListingJson } from './listing.js';
import { contentType } from './mime.js';
import { type ByteRange, DEFAULT_MAX_RANGES, formatContentRange, parseRange } from './range.js';
import { TokenBucket, throttle } from './throttle.js';

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
  /** entries shown in one listing (default 10000) */
  maxListingEntries?: number;
  maxConnections?: number;
  maxConnectionsPerIp?: number;
  /** idle time of a keep-alive connection between requests (default 5000 ms) */
  keepAliveTimeoutMs?: number;
  /**
   * a connection on which nothing moves for this long is closed — above all a client that stopped
   * reading a response, which would otherwise hold its connection slot forever (default 60000 ms,
   * like nginx's `send_timeout`; 0 = never)
   */
  idleTimeoutMs?: number;
}

export const DEFAULT_HTTP_IDLE_TIMEOUT_MS = 60_000;

export interface FileServerHandle extends EventEmitter {
  readonly host: string;
  readonly port: number;
  /** the real path being served */
  readonly root: string;
  /** `http://host:port/` */
  readonly url: string;
  close(deadlineMs?: number): Promise<void>;
}

interface ConnState {
  id: number;
  active: number;
  closing: boolean;
  bucket?: TokenBucket;
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
    rateLimit: options.rateLimit && options.rateLimit > 0 ? options.rateLimit : undefined,
    noRange: options.noRange ?? false,
    listings: options.listings ?? true,
    index: options.index ?? true,
    maxRanges: options.maxRanges ?? DEFAULT_MAX_RANGES,
    maxListingEntries: options.maxListingEntries ?? 10_000,
  };
  const emitter = new EventEmitter();
  const conns = new WeakMap<net.Socket, ConnState>();

  const server = http.createServer((req, res) => {
    const conn = conns.get(req.socket) ?? { id: 0, active: 0, closing: false };
    onRequest(emitter, conf, conn, req, res);
  });
  server.keepAliveTimeout = options.keepAliveTimeoutMs ?? 5000;
  // with no 'timeout' listener, Node destroys a socket idle for this long
  server.timeout = options.idleTimeoutMs ?? DEFAULT_HTTP_IDLE_TIMEOUT_MS;
  server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
    const conn = conns.get(socket);
    traceEvent(emitter, SERVICE, conn?.id ?? 0, 'error', `bad request: ${err.code ?? err.message}`);
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status =
      err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
    );
  });

  const tcp = await listenTcp({
    service: SERVICE,
    host: options.host,
    port: options.port ?? 0,
    maxConnections: options.maxConnections,
    maxConnectionsPerIp: options.maxConnectionsPerIp,
    onConnection(socket) {
      const conn: ConnState = { id: nextConnId(), active: 0, closing: false };
      conns.set(socket, conn);
      const peer = formatHostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
      traceEvent(emitter, SERVICE, conn.id, 'connect', '', peer);
      socket.once('close', () => traceEvent(emitter, SERVICE, conn.id, 'disconnect', ''));
      server.emit('connection', socket);
    },
    onReject: () => 'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
    onShutdown(socket) {
      const conn = conns.get(socket);
      if (conn) conn.closing = true;
      if (!conn || conn.active === 0) socket.end();
    },
  });

  const handle = Object.assign(emitter, {
    host: tcp.host,
    port: tcp.port,
    root,
    url: `http://${formatHostPort(tcp.host, tcp.port)}/`,
    close: (deadlineMs?: number) => tcp.close(deadlineMs),
  });
  return handle as FileServerHandle;
}

type Conf = {
  root: string;
  rateLimit: number | undefined;
  noRange: boolean;
  listings: boolean;
  index: boolean;
  maxRanges: number;
  maxListingEntries: number;
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
  });
  serve(conf, conn, req, res).catch((err: unknown) => {
    traceEvent(emitter, SERVICE, conn.id, 'error', err instanceof Error ? err.message : String(err));
    if (!res.headersSent) sendText(res, 500, 'Internal Server Error');
    else res.destroy();
  });
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

/**
 * Map a request target to a real path inside the root, or an HTTP status to answer with.
 * Exported for tests: the jail is the part of this server that must never be wrong.
 */
export async function resolveRequestPath(
  root: string,
  target: string,
): Promise<
  | { ok: true; real: string; segments: string[]; trailingSlash: boolean; query: string }
  | { ok: false; status: 400 | 403 | 404; reason: string }
> {
  if (!target.startsWith('/')) return { ok: false, status: 400, reason: 'request target is not a path' };
  const q = target.indexOf('?');
  const rawPath = q === -1 ? target : target.slice(0, q);
  const query = q === -1 ? '' : target.slice(q + 1);
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    return { ok: false, status: 400, reason: 'bad percent-encoding' };
  }
  if (decoded.includes('\0')) return { ok: false, status: 400, reason: 'NUL in path' };
  const segments = decoded.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) return { ok: false, status: 403, reason: 'path outside root' };
  let real: string;
  try {
    real = await realpath(path.join(root, ...segments));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES') return { ok: false, status: 403, reason: 'permission denied' };
    return { ok: false, status: 404, reason: 'not found' };
  }
  if (real !== root && !real.startsWith(root + path.sep))
    return { ok: false, status: 403, reason: 'path outside root (symlink)' };
  return { ok: true, real, segments, trailingSlash: decoded.endsWith('/'), query };
}

async function serve(
  conf: Conf,
  conn: ConnState,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  const head = req.method === 'HEAD';
  if (req.method !== 'GET' && !head) {
    sendText(res, 405, 'Method Not Allowed', { Allow: 'GET, HEAD' });
    return;
  }
  const where = await resolveRequestPath(conf.root, req.url ?? '/');
  if (!where.ok) {
    sendText(res, where.status, STATUS_CODES[where.status]!, {}, head);
    return;
  }
  const st = await stat(where.real);
  if (st.isDirectory()) {
    const canonical = `/${where.segments.map(encodeURIComponent).join('/')}${where.segments.length ? '/' : ''}`;
    if (!where.trailingSlash && where.segments.length > 0) {
      const location = canonical + (where.query ? `?${where.query}` : '');
      sendText(res, 301, `Moved Permanently: ${location}`, { Location: location }, head);
      return;
    }
    const json = new URLSearchParams(where.query).get('format') === 'json';
    if (!json && conf.index) {
      const index = path.join(where.real, 'index.html');
      const ist = await stat(index).catch(() => undefined);
      if (ist?.isFile()) return sendFile(conf, conn, req, res, index);
    }
    if (!conf.listings) {
      sendText(res, 403, 'Forbidden', {}, head);
      return;
    }
    const entries = await readEntries(where.real, conf.maxListingEntries);
    const urlPath = `/${where.segments.join('/')}${where.segments.length ? '/' : ''}`;
    const body = json ? renderListingJson(urlPath, entries) : renderListingHtml(urlPath, entries);
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

async function readEntries(dir: string, max: number): Promise<ListingEntry[]> {
  const entries: ListingEntry[] = [];
  const d = await opendir(dir);
  try {
    for await (const dirent of d) {
      if (entries.length >= max) break;
      const st = await stat(path.join(dir, dirent.name)).catch(() => undefined);
      entries.push({
        name: dirent.name,
        type: st?.isDirectory() ? 'directory' : st?.isFile() ? 'file' : 'other',
        size: st?.isFile() ? st.size : 0,
        mtimeMs: st?.mtimeMs ?? 0,
      });
    }
  } finally {
    await d.close().catch(() => {});
  }
  return entries;
}

async function sendFile(
  conf: Conf,
  conn: ConnState,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  file: string,
): Promise<void> {
  const head = req.method === 'HEAD';
  // Open first and stat the handle: headers and body then describe the same file even if it is
  // replaced while we serve it.
  const fh = await open(file, 'r');
  try {
    const st = await fh.stat();
    const size = st.size;
    const v = { etag: makeEtag(size, st.mtimeMs), mtimeMs: st.mtimeMs };
    const type = contentType(file);
    const base: Record<string, string> = {
      ETag: v.etag,
      'Last-Modified': httpDate(st.mtimeMs),
      'X-Content-Type-Options': 'nosniff',
    };
    if (!conf.noRange) base['Accept-Ranges'] = 'bytes';
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

/** Wait for 'drain'; a response closed meanwhile rejects like a premature close. */
function drained(res: http.ServerResponse): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      if (res.destroyed && !res.writableFinished)
        reject(Object.assign(new Error('client closed'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
      else resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

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
    highWaterMark: 64 * 1024,
  });
  if (conf.rateLimit) {
    conn.bucket ??= new TokenBucket(conf.rateLimit);
    await pipeline(source, throttle(conn.bucket), res, { end: false });
  } else {
    await pipeline(source, res, { end: false });
  }
}
