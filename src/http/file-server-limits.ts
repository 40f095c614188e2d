/**
 * The file server's defaults that its command line shows in `--help`, apart from file-server.ts so
 * that defining the `http serve` command does not load the server (`netkit http get` shares the
 * command group and would pay for it at start-up).
 */
import { DEFAULT_TLS_HANDSHAKE_MS } from '../core/tls-server-socket.js';

/** A connection on which nothing moves for this long is closed (like nginx's `send_timeout`). */
export const DEFAULT_HTTP_IDLE_TIMEOUT_MS = 60_000;

/**
 * A request's head (request line and headers) must arrive whole within this time of its first
 * byte, however slowly it trickles in: a "slowloris" client that sends one byte before each idle
 * timeout would otherwise hold its connection slot forever. nginx's `client_header_timeout` is 60 s;
 * a GET's head is a few hundred bytes.
 */
export const DEFAULT_HTTP_HEADERS_TIMEOUT_MS = 30_000;

/** Pipelined requests that may wait on one connection behind the one being answered. */
export const DEFAULT_MAX_PIPELINED = 100;

/** A TLS client must finish its handshake within this time. */
export const DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS = DEFAULT_TLS_HANDSHAKE_MS;
