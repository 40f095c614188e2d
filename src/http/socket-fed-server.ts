/**
 * An `http.Server` that never listens itself: one of our TCP listeners (core/server.ts: limits in
 * total and per address, graceful close) accepts each connection and hands it over with
 * `emit('connection')`. node:http starts checking `headersTimeout` and `requestTimeout` only from
 * its own `'listening'` event on, so such a server never timed out a client that trickles its
 * request head ("slowloris") — this one is told once, at creation. Used by `http serve` and the
 * lab's dashboard.
 *
 * Half-close: a client may send its request and then its FIN (`nc -N`, `shutdown(SHUT_WR)`, an
 * HTTP/1.0 script) and still read the answer — Python's http.server and nginx give it one. node:http
 * by default ends the connection the moment the FIN arrives (`httpAllowHalfOpen` false, and a
 * socket from `net.createServer` turns every later write into an EPIPE), which lost every response
 * not written in the same tick: a file, a listing, anything behind an `await`. This server keeps
 * the sending side open: node:http then marks the response in progress (or the last pipelined one)
 * as the connection's last and closes once it is sent; a FIN with no request pending still closes
 * at once. A half-open client that never reads is bounded like any other: by the idle timeout
 * (`server.timeout`) and the connection limits. A response that never ends by itself (the
 * dashboard's event stream) must end on the socket's `'end'`, or the connection stays open.
 *
 * Request bodies the handler leaves unread are thrown away within bounds, and a connection closed
 * while one still arrives lingers (unread-body.ts). The parser is llhttp in its strict mode
 * whatever NODE_OPTIONS says (`--insecure-http-parser` would accept Content-Length beside
 * Transfer-Encoding, bare LF, obs-fold: the stuff of request smuggling), with a fixed head limit.
 */
import http from 'node:http';
import type net from 'node:net';
import {
  DEFAULT_MAX_BODY_BYTES,
  lingerOnClose,
  trackUnreadBodies,
  type UnreadBodyOptions,
} from './unread-body.js';

/** The largest request head (request line and headers) read: more is 431 (or 414), as by default. */
export const MAX_REQUEST_HEAD_BYTES = 16 * 1024;

export interface SocketFedOptions {
  /** a request's head must arrive whole within this time of its first byte (0 = no limit) */
  headersTimeoutMs: number;
  /** the whole request, body included (at least `headersTimeoutMs`; default: the same) */
  requestTimeoutMs?: number;
  /**
   * node:http answers an HTTP/1.1 request without Host itself (an empty 400 the request handler
   * never sees, so it is neither traced nor explained); false hands it to the handler (default true)
   */
  requireHostHeader?: boolean;
  /**
   * unread request body thrown away after a response that keeps the connection; more closes it
   * (default {@link DEFAULT_MAX_BODY_BYTES})
   */
  maxBodyBytes?: number;
}

export function socketFedHttpServer(opts: SocketFedOptions, handler: http.RequestListener): http.Server {
  const head = opts.headersTimeoutMs;
  const bodies: UnreadBodyOptions = { maxBodyBytes: opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES };
  const server = http.createServer(
    {
      headersTimeout: head,
      requestTimeout: head > 0 ? Math.max(head, opts.requestTimeoutMs ?? head) : 0,
      // how often the timeouts are checked: their granularity
      connectionsCheckingInterval: Math.min(Math.max(head / 10, 100), 5000),
      requireHostHeader: opts.requireHostHeader ?? true,
      // explicit, so that neither --insecure-http-parser nor --max-http-header-size changes them
      insecureHTTPParser: false,
      maxHeaderSize: MAX_REQUEST_HEAD_BYTES,
    },
    trackUnreadBodies(handler, bodies),
  );
  // not in @types/node, but read by node:http's `socketOnEnd` since Node 0.x; the half-close
  // tests fail should it ever go away
  (server as http.Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  // the socket's own flag too (a TLS socket's as well: it copied its raw socket's when it was made)
  server.prependListener('connection', (socket: net.Socket) => {
    socket.allowHalfOpen = true;
    lingerOnClose(socket);
  });
  if (head > 0) server.emit('listening');
  return server;
}

/** Stop the timeout checks once the listener is closed (the callback gets "not running": ignored). */
export function stopSocketFedServer(server: http.Server): void {
  server.close(() => {});
}
