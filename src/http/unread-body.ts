/**
 * Request bodies a handler does not read, on the servers fed by socket-fed-server.ts (`http serve`
 * and the lab's dashboard). node:http reads such a body to its end after the response, however
 * long it is, to find the next request behind it: a 100 MB POST to a static file server was read
 * in full, and a client streaming without end kept a connection and a CPU busy for good. And when
 * the response closes the connection, node:http closed the socket as soon as the response was
 * written, with the body still arriving: the unread bytes make the kernel send an RST, which can
 * erase the response before the client reads it — Python's urllib, sending a 10 MB PUT with
 * `Connection: close`, got "Broken pipe" instead of the status.
 *
 * Here, as nginx does:
 * - a body whose framing a proxy could read differently is refused (400, {@link untrustedFraming})
 *   and one that declares more than the limit too (413, {@link bodyTooLarge}), without reading
 *   them, and the connection is closed;
 * - the rest of a body left unread when its response is done is read and thrown away, at most
 *   `maxBodyBytes` of it (a chunked body declares no length) before the connection is closed;
 * - a connection closed after a response while its request's body is still arriving "lingers":
 *   its side is closed (FIN) and what still arrives is thrown away until the body ends or the
 *   client closes, at most {@link LINGER_MAX_BYTES} and {@link LINGER_MAX_MS} (nginx's
 *   `lingering_close`), so that the client reads the answer rather than a reset; a request
 *   behind that body is not answered;
 * - a parse error in a body whose request was already handed over gets no answer of its own, and
 *   one in a request pipelined behind a response in progress waits for it ({@link answerParseError}).
 */
import type http from 'node:http';
import { STATUS_CODES } from 'node:http';
import net from 'node:net';
import { clientErrorStatus, type ParseError } from './parse-error-status.js';

/** The largest request body read, and thrown away when unwanted (nginx's `client_max_body_size`). */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** What a lingering close throws away at most before it closes: a client sending more is cut off. */
export const LINGER_MAX_BYTES = 64 * 1024 * 1024;

/** How long a lingering close waits at most for the client to finish its body (nginx's `lingering_time`). */
export const LINGER_MAX_MS = 30_000;

export interface UnreadBodyOptions {
  /** unread body bytes thrown away after a response that keeps the connection */
  maxBodyBytes: number;
}

interface ConnBodies {
  /** the request last handed to the handler: the only one whose body can still be arriving */
  last?: http.IncomingMessage;
  lastResponse?: http.ServerResponse;
  /** the connection is closing: what arrives is thrown away, and no request is answered any more */
  lingering?: boolean;
  /** a parse error cut the last request's body short: nothing more is read as HTTP */
  broken?: boolean;
}

const bySocket = new WeakMap<net.Socket, ConnBodies>();

function stateOf(socket: net.Socket): ConnBodies {
  let state = bySocket.get(socket);
  if (!state) {
    state = {};
    bySocket.set(socket, state);
  }
  return state;
}

/** The length a request's Content-Length declares (llhttp has refused any that is not digits). */
function declaredBodyBytes(req: http.IncomingMessage): number | undefined {
  const value = req.headers['content-length'];
  return value === undefined ? undefined : Number(value);
}

/** The request declares a body longer than `max`: answer 413 and close without reading it. */
export function bodyTooLarge(req: http.IncomingMessage, max: number): boolean {
  return (declaredBodyBytes(req) ?? 0) > max;
}

/**
 * Why a request's body framing cannot be trusted, if it cannot: a proxy in front may read it
 * differently, and the bytes after it would be one request to the proxy and another one here.
 * - RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing (llhttp reads
 *   the body as chunked, an HTTP/1.0 proxy sees none);
 * - §6.3: a Transfer-Encoding that does not end in `chunked` leaves the body's end unknowable —
 *   400 and close. llhttp says so only after the request has been handed over, and read its body
 *   as the next request (`xchunked`, `"chunked"`, `chunked;x=1`, `gzip`; nginx answers 501).
 */
export function untrustedFraming(req: http.IncomingMessage): string | undefined {
  const te = req.headers['transfer-encoding'];
  if (te === undefined) return undefined;
  if (req.httpVersionMajor === 1 && req.httpVersionMinor === 0)
    return 'Transfer-Encoding in an HTTP/1.0 request';
  if (!/(?:^|,)[ \t]*chunked[ \t]*$/i.test(te)) return 'Transfer-Encoding must end in chunked';
  return undefined;
}

/** Close the connection once what is written to it has been sent (node's `destroySoon`). */
function closeWhenWritten(socket: net.Socket): void {
  if (!socket.destroyed) net.Socket.prototype.destroySoon.call(socket);
}

/**
 * The rest of a body its handler left unread, thrown away as it arrives: at most `maxBodyBytes`
 * while the connection is kept, {@link LINGER_MAX_BYTES} once it lingers; beyond that, or at the
 * end of the body of a lingering connection, the connection is closed.
 */
function discardRest(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  state: ConnBodies,
  opts: UnreadBodyOptions,
): void {
  const socket = req.socket;
  // a response that closes the connection (a 413, or to `Connection: close`) lingers once written
  const closing = (): boolean => state.lingering === true || !res.shouldKeepAlive;
  let seen = 0;
  req.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > (closing() ? LINGER_MAX_BYTES : opts.maxBodyBytes)) closeWhenWritten(socket);
  });
  req.once('end', () => {
    if (state.lingering) closeWhenWritten(socket);
  });
  req.resume();
}

/**
 * The request listener that tracks each connection's last request for the parts above; the
 * response's 'prefinish' comes before node:http's own end-of-response handling, which would
 * otherwise read the rest of the body itself, without a limit.
 */
export function trackUnreadBodies(
  handler: http.RequestListener,
  opts: UnreadBodyOptions,
): http.RequestListener {
  return (req, res) => {
    const socket = req.socket;
    const state = stateOf(socket);
    // a request behind a body we were throwing away: the client did not wait for our answer
    if (state.lingering || state.broken) {
      closeWhenWritten(socket);
      return;
    }
    state.last = req;
    state.lastResponse = res;
    res.once('prefinish', () => {
      if (!req.complete) discardRest(req, res, state, opts);
    });
    handler(req, res);
  };
}

/**
 * node:http's close after a `Connection: close` response, lingering while the request's body is
 * still arriving (see above); otherwise it closes as before, once the response is written.
 */
function lingeringClose(this: net.Socket): void {
  const state = stateOf(this);
  if (!state.last || state.last.complete || state.broken || this.destroyed) {
    closeWhenWritten(this);
    return;
  }
  state.lingering = true;
  this.end();
  const timer = setTimeout(() => this.destroy(), LINGER_MAX_MS);
  this.once('close', () => clearTimeout(timer));
}

/** Make node:http's close of `socket` a {@link lingeringClose}. */
export function lingerOnClose(socket: net.Socket): void {
  socket.destroySoon = lingeringClose;
}

/**
 * Answer a request node:http could not parse ('clientError': `err`) with its status (400, 431,
 * 414, 408…; `headerLines` added, each ending in CRLF) and close the connection, as node:http
 * would — unless that would answer the wrong request:
 * - an error in the body of a request already handed to the handler (a broken chunk, a timeout)
 *   gets no answer of its own: that request has, or will have, its answer, and a second one would
 *   be read as the answer to the client's next request; the connection closes after it;
 * - an error in a request pipelined behind one still being answered waits for that answer (it
 *   used to be written at once: into the middle of a file being sent, or in place of the answer);
 * - on a connection already closing, nothing is answered.
 */
export function answerParseError(socket: net.Socket, err: ParseError, headerLines = ''): void {
  const status = clientErrorStatus(err);
  const answer = `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${headerLines}Connection: close\r\nContent-Length: 0\r\n\r\n`;
  const state = stateOf(socket);
  if (state.lingering) {
    socket.destroy();
    return;
  }
  // the parser stays broken: it reports every later chunk again
  if (state.broken) return;
  state.broken = true;
  const res = state.lastResponse;
  const inFlight = res !== undefined && !res.writableFinished && !res.destroyed;
  if (state.last && !state.last.complete) {
    if (!inFlight) closeWhenWritten(socket);
    else if (!res.headersSent) res.shouldKeepAlive = false;
    else res.once('finish', () => closeWhenWritten(socket));
    return;
  }
  const end = (): void => {
    if (socket.writable) socket.end(answer);
    else socket.destroy();
  };
  if (inFlight) res.once('finish', end);
  else end();
}
