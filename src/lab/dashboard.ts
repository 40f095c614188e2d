/**
 * The lab's dashboard server: static front end from `web/`, the REST API under /api/v1, live
 * updates over WebSocket (/api/v1/ws, which also accepts chat posts) and Server-Sent Events
 * (/api/v1/events), and health endpoints /livez and /readyz.
 *
 * Security: binds loopback unless told otherwise, and binding elsewhere requires `uiAuth`
 * (HTTP basic). On loopback only loopback Host names are answered (DNS rebinding, host-check.ts).
 * Every page carries a strict Content-Security-Policy, and every other response (API data, errors)
 * one that loads nothing, with nosniff and no-referrer (http-util.ts); writes must be same-origin
 * JSON, so neither a captured mail nor another site can drive the API.
 *
 * Limits: connections are accepted by the shared TCP listener (core/server.ts), in total and per
 * client address, and node:http only parses; a client over a limit gets 503 and is closed. A
 * client that falls more than 1 MiB behind (WebSocket or SSE) is cut off, whatever is being sent
 * to it, and a WebSocket client that keeps sending what is not a JSON object is closed (1008).
 * Request bodies: an API call reads at most 64 KiB of JSON, a body declared over 1 MiB gets 413
 * before it is read, and framing a proxy could read otherwise gets 400 (unread-body.ts).
 */

import { timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import path from 'node:path';
import { type Duplex, pipeline } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { type WebSocket, WebSocketServer } from 'ws';
import { formatHostPort, reachableHost } from '../core/address.js';
import { hostAllowed } from '../core/host-check.js';
import { listenTcp } from '../core/server.js';
import type { TraceEvent } from '../core/trace.js';
import { DEFAULT_HTTP_HEADERS_TIMEOUT_MS } from '../http/file-server-limits.js';
import { isParseError, type ParseError } from '../http/parse-error-status.js';
import { socketFedHttpServer, stopSocketFedServer } from '../http/socket-fed-server.js';
import {
  answerParseError,
  bodyTooLarge,
  DEFAULT_MAX_BODY_BYTES,
  untrustedFraming,
} from '../http/unread-body.js';
import { handleApi } from './api.js';
import { checkDashboardAuth } from './config.js';
import type { LabContext } from './context.js';
import {
  badRequest,
  HttpError,
  sameOrigin,
  securityHeaderLines,
  securityHeaders,
  sendJson,
} from './http-util.js';
import { parseRequest } from './request-target.js';

export interface DashboardOptions {
  /** address to bind (default 127.0.0.1) */
  host?: string;
  /** 0 (the default) = any free port */
  port?: number;
  /** `user:pass`; required when binding a non-loopback address */
  uiAuth?: string;
  /** directory of the front end (default: the package's web/) */
  webDir?: string;
  /**
   * simultaneous connections in all — page loads, API calls, event streams and WebSockets alike
   * (default {@link DEFAULT_DASHBOARD_MAX_CONNECTIONS}); over it a client gets 503 and is closed
   */
  maxConnections?: number;
  /** simultaneous connections from one client address (default {@link DEFAULT_DASHBOARD_MAX_PER_IP}) */
  maxConnectionsPerIp?: number;
  /**
   * a request's head must arrive whole within this time of its first byte (default 30000 ms; a
   * slow client is answered 408 and closed; 0 = no limit)
   */
  headersTimeoutMs?: number;
}

export interface DashboardHandle extends EventEmitter {
  host: string;
  port: number;
  url: string;
  /** live connections (the event streams and WebSockets among them) */
  readonly connections: number;
  close(): Promise<void>;
}

/**
 * A dashboard has a handful of users. A browser opens at most 6 connections to one origin plus a
 * WebSocket per tab, so 64 per address is ten busy tabs with room for scripts on the API; on
 * loopback every client is one address, so this is the local limit too. 256 in all keeps the
 * dashboard to a quarter of a common 1,024-descriptor budget, leaving the mail, FTP and chat
 * listeners theirs, and bounds what clients that stop reading can pin (1 MiB each, see below).
 */
export const DEFAULT_DASHBOARD_MAX_CONNECTIONS = 256;
export const DEFAULT_DASHBOARD_MAX_PER_IP = 64;

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
};

const PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "frame-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** A live client (WebSocket or SSE) with more than this unsent is dropped rather than buffered for. */
const MAX_CLIENT_BUFFER = 1024 * 1024;

/**
 * Messages a WebSocket client may send that are not a JSON object (each answered with an `error`
 * message); the next one closes it with 1008. The dashboard's page never sends one.
 */
const MAX_INVALID_MESSAGES = 20;

const BUSY_REPLY =
  'HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Type: text/plain; charset=utf-8\r\n' +
  `${securityHeaderLines()}Content-Length: 30\r\nConnection: close\r\n\r\ntoo many dashboard connections\n`;

/**
 * Answer an upgrade we will not do, and close. node:http hands the socket over with reading
 * stopped: a client that sent anything after its request (a first WebSocket frame) left bytes
 * nobody reads, so 'end' never came, the socket was never destroyed and its descriptor leaked for
 * good. As ws does for the handshakes it refuses: destroy once the answer is written.
 */
function refuseUpgrade(socket: Duplex, status: number, reason: string, body: string): void {
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\n${securityHeaderLines()}` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

export function defaultWebDir(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../web');
}

/** Serve the lab's dashboard and its REST API and event stream for `ctx`'s services. */
export async function startDashboard(ctx: LabContext, opts: DashboardOptions = {}): Promise<DashboardHandle> {
  const host = opts.host ?? '127.0.0.1';
  checkDashboardAuth(host, opts.uiAuth);
  const webDir = opts.webDir ?? defaultWebDir();
  const expectedAuth = opts.uiAuth
    ? Buffer.from(`Basic ${Buffer.from(opts.uiAuth).toString('base64')}`)
    : undefined;
  const sse = new Set<ServerResponse>();
  let ready = false;

  /** `forHost`: the host the request names (parseRequest: absolute-form authority, else Host). */
  const authorized = (req: IncomingMessage, forHost: string | undefined): boolean => {
    if (!hostAllowed(forHost, host, Boolean(expectedAuth))) return false;
    if (!expectedAuth) return true;
    const got = Buffer.from(req.headers.authorization ?? '');
    return got.length === expectedAuth.length && timingSafeEqual(got, expectedAuth);
  };

  const serveStatic = async (res: ServerResponse, pathname: string): Promise<boolean> => {
    const rel = pathname === '/' ? 'index.html' : pathname.slice(1);
    if (rel.includes('..') || rel.includes('\0')) return false;
    const file = path.join(webDir, rel);
    const st = await stat(file).catch(() => undefined);
    if (!st?.isFile()) return false;
    res.writeHead(200, {
      'content-type': MIME[path.extname(file)] ?? 'application/octet-stream',
      'content-length': st.size,
      ...securityHeaders(PAGE_CSP),
      'cache-control': 'no-cache',
    });
    // pipeline, not pipe: when the client goes away, pipe() leaves the file stream paused and its
    // descriptor open for good (one leaked fd per aborted page load)
    pipeline(createReadStream(file), res, () => {});
    return true;
  };

  const headersTimeoutMs = opts.headersTimeoutMs ?? DEFAULT_HTTP_HEADERS_TIMEOUT_MS;
  // the whole request (an API call's body too) gets Node's default of five minutes
  const server = socketFedHttpServer(
    { headersTimeoutMs, requestTimeoutMs: 300_000 },
    async (req: IncomingMessage, res: ServerResponse) => {
      try {
        // a target or Host we cannot read is the client's error: 400, before anything else
        const parsed = parseRequest(req);
        if (!parsed.ok) return badRequest(res, parsed.reason);
        // framing a proxy in front could read otherwise (unread-body.ts), or a body longer than any endpoint reads
        const framing = untrustedFraming(req);
        if (framing) return badRequest(res, framing);
        if (bodyTooLarge(req, DEFAULT_MAX_BODY_BYTES)) throw new HttpError(413, 'request body too large');
        const { url } = parsed;
        if (url.pathname === '/livez') return sendJson(res, 200, { ok: true });
        if (url.pathname === '/readyz') return sendJson(res, ready ? 200 : 503, { ready });
        if (!hostAllowed(parsed.host, host, Boolean(expectedAuth))) {
          throw new HttpError(403, `unknown Host "${parsed.host}": open the dashboard at a loopback address`);
        }
        if (!authorized(req, parsed.host)) {
          res.writeHead(401, {
            'www-authenticate': 'Basic realm="netkit lab"',
            'content-type': 'text/plain',
            ...securityHeaders(),
          });
          return res.end('authentication required\n');
        }
        const write = req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'OPTIONS';
        if (write && !sameOrigin(req)) throw new HttpError(403, 'cross-origin writes are not allowed');
        if (url.pathname === '/api/v1/events') return openSse(req, res);
        if (url.pathname.startsWith('/api/v1/') || url.pathname === '/api/v1') {
          if (await handleApi(ctx, req, res, url)) return;
          throw new HttpError(404, 'no such endpoint');
        }
        if (req.method === 'GET' && (await serveStatic(res, url.pathname))) return;
        throw new HttpError(404, 'not found');
      } catch (err) {
        const status = err instanceof HttpError ? err.status : 500;
        // the rest of a body too large is not read: the connection cannot carry another request
        if (status === 413) res.shouldKeepAlive = false;
        if (!res.headersSent) sendJson(res, status, { error: (err as Error).message });
        else res.destroy();
      }
    },
  );

  // a request node:http cannot parse: 400 (431, 414, 408…) and close, as node:http would, but
  // never in place of, or as a second, answer to a request already handed over (unread-body.ts)
  server.on('clientError', (err: ParseError, socket: Socket) => {
    if (!isParseError(err)) {
      socket.destroy();
      return;
    }
    answerParseError(socket, err, securityHeaderLines());
  });

  const openSse = (req: IncomingMessage, res: ServerResponse): void => {
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      ...securityHeaders(),
    });
    res.write(': netkit lab events\n\n');
    sse.add(res);
    req.on('close', () => sse.delete(res));
    // the client's FIN (closing its EventSource) ends the stream: a half-closed connection is kept
    // open until its response is sent (socket-fed-server.ts), and this one is never done by itself
    req.socket.once('end', () => res.end());
  };

  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  server.on('upgrade', (req, socket, head) => {
    // node:http hands the socket over without an error listener: a peer that resets before our
    // answer is written would otherwise crash the lab with an unhandled 'error' event
    socket.on('error', () => {});
    // e.g. "//x:99999" used to throw here, outside any handler: that crashed the lab
    const parsed = parseRequest(req);
    if (!parsed.ok) return refuseUpgrade(socket, 400, 'Bad Request', `Bad Request: ${parsed.reason}\n`);
    if (parsed.url.pathname !== '/api/v1/ws' || !authorized(req, parsed.host) || !sameOrigin(req)) {
      return refuseUpgrade(socket, 403, 'Forbidden', '');
    }
    wss.handleUpgrade(req, socket, head, (ws) => onSocket(ws));
  });

  /**
   * Every message to a WebSocket client goes through here: one that has more than
   * MAX_CLIENT_BUFFER unsent (it stopped reading) is cut off instead of buffered for without end.
   */
  const sendTo = (ws: WebSocket, payload: string): void => {
    if (ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount > MAX_CLIENT_BUFFER) ws.terminate();
    else ws.send(payload);
  };

  const onSocket = (ws: WebSocket): void => {
    // a malformed frame (bad RSV bits, an oversized payload, bad UTF-8) is an 'error' on the
    // WebSocket, and ws closes the connection itself; without a listener it crashed the lab
    ws.on('error', () => {});
    let invalid = 0;
    ws.on('message', (data) => {
      // we closed it for its errors and it still sends: it does not read what we say, so we stop
      // reading too (ws would otherwise parse its frames until the 30 s close timeout)
      if (ws.readyState !== ws.OPEN) return ws.terminate();
      try {
        const msg = JSON.parse(String(data)) as Record<string, unknown> | null;
        if (typeof msg !== 'object' || msg === null || Array.isArray(msg))
          throw new Error('expected a JSON object');
        if (msg.type === 'chat.post' && ctx.chat) {
          // JSON may hold anything: a room or text that is an object or a number reached the chat
          // server, and its TypeError ("name.startsWith is not a function") was the reply
          const { room, nick, text } = msg;
          if (
            typeof room !== 'string' ||
            typeof text !== 'string' ||
            (nick !== undefined && typeof nick !== 'string')
          )
            throw new Error('chat.post needs "room" and "text" strings (and "nick", when given)');
          if (room && text) ctx.chat.post(room, nick || 'web', text);
        }
      } catch (err) {
        // each reply costs memory until the client reads it: a client flooding garbage (and not
        // reading) grew the lab by hundreds of MiB before this cap
        invalid += 1;
        if (invalid > MAX_INVALID_MESSAGES) return ws.close(1008, 'too many invalid messages');
        sendTo(ws, JSON.stringify({ type: 'error', data: { message: (err as Error).message } }));
      }
    });
  };

  /** Send one event to every live client; a client that falls behind is dropped. */
  const broadcast = (type: string, data: unknown): void => {
    const payload = JSON.stringify({ type, data });
    for (const ws of wss.clients) sendTo(ws, payload);
    for (const res of sse) {
      if (res.writableLength > MAX_CLIENT_BUFFER) {
        res.destroy();
        sse.delete(res);
      } else res.write(`event: ${type}\ndata: ${payload}\n\n`);
    }
  };

  // Trace events can arrive by the thousand: batch them per 100 ms.
  let traceBatch: TraceEvent[] = [];
  let traceTimer: NodeJS.Timeout | undefined;
  const onTrace = (ev: TraceEvent) => {
    traceBatch.push(ev);
    traceTimer ??= setTimeout(() => {
      traceTimer = undefined;
      const batch = traceBatch;
      traceBatch = [];
      broadcast('trace', batch);
    }, 100);
  };
  const onMail = (d: unknown) => broadcast('mail', d);
  const onChat = (d: unknown) => broadcast('chat', d);
  const onRooms = () => broadcast('rooms', ctx.chat?.rooms() ?? []);
  const onFtp = () => broadcast('ftp', ctx.ftp?.sessions() ?? []);

  // The shared listener counts connections (an upgraded WebSocket and an event stream hold theirs
  // until they close) and refuses those over a limit; node:http gets the others.
  let listener: Awaited<ReturnType<typeof listenTcp>>;
  try {
    listener = await listenTcp({
      service: 'dashboard',
      host,
      port: opts.port ?? 0,
      maxConnections: opts.maxConnections ?? DEFAULT_DASHBOARD_MAX_CONNECTIONS,
      maxConnectionsPerIp: opts.maxConnectionsPerIp ?? DEFAULT_DASHBOARD_MAX_PER_IP,
      onConnection: (socket) => server.emit('connection', socket),
      onReject: () => BUSY_REPLY,
      // close() ends everything at once, as it always has: a page or stream has nothing to finish
      onShutdown: (socket) => socket.destroy(),
    });
  } catch (err) {
    stopSocketFedServer(server);
    throw err;
  }

  // only once listening: a failed start leaves no listener on the lab's emitters
  ctx.wire.on('event', onTrace);
  ctx.mail.on('change', onMail);
  ctx.chat?.on('message', onChat);
  ctx.chat?.on('rooms', onRooms);
  ctx.ftp?.on('session', onFtp);
  ready = true;
  const handle = Object.assign(new EventEmitter(), {
    host: listener.host,
    port: listener.port,
    url: `http://${formatHostPort(reachableHost(listener.host), listener.port)}/`,
    broadcast,
    async close() {
      ready = false;
      ctx.wire.off('event', onTrace);
      ctx.mail.off('change', onMail);
      ctx.chat?.off('message', onChat);
      ctx.chat?.off('rooms', onRooms);
      ctx.ftp?.off('session', onFtp);
      if (traceTimer) clearTimeout(traceTimer);
      for (const ws of wss.clients) ws.terminate();
      for (const res of sse) res.destroy();
      await listener.close(0);
      stopSocketFedServer(server);
    },
  });
  // a real getter: Object.assign would have copied the value (0) once
  Object.defineProperty(handle, 'connections', { get: () => listener.connections, enumerable: true });
  return handle as typeof handle & DashboardHandle;
}
