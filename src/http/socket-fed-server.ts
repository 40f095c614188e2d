/**
 * An `http.Server` that never listens itself: one of our TCP listeners (core/server.ts: limits in
 * total and per address, graceful close) accepts each connection and hands it over with
 * `emit('connection')`. node:http starts checking `headersTimeout` and `requestTimeout` only from
 * its own `'listening'` event on, so such a server never timed out a client that trickles its
 * request head ("slowloris") — this one is told once, at creation. Used by `http serve` and the
 * lab's dashboard.
 */
import http from 'node:http';

export interface SocketFedOptions {
  /** a request's head must arrive whole within this time of its first byte (0 = no limit) */
  headersTimeoutMs: number;
  /** the whole request, body included (at least `headersTimeoutMs`; default: the same) */
  requestTimeoutMs?: number;
}

export function socketFedHttpServer(opts: SocketFedOptions, handler: http.RequestListener): http.Server {
  const head = opts.headersTimeoutMs;
  const server = http.createServer(
    {
      headersTimeout: head,
      requestTimeout: head > 0 ? Math.max(head, opts.requestTimeoutMs ?? head) : 0,
      // how often the timeouts are checked: their granularity
      connectionsCheckingInterval: Math.min(Math.max(head / 10, 100), 5000),
    },
    handler,
  );
  if (head > 0) server.emit('listening');
  return server;
}

/** Stop the timeout checks once the listener is closed (the callback gets "not running": ignored). */
export function stopSocketFedServer(server: http.Server): void {
  server.close(() => {});
}
