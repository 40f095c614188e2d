/**
 * The file server's defaults that its command line shows in `--help`, apart from file-server.ts so
 * that defining the `http serve` command does not load the server (`netkit http get` shares the
 * command group and would pay for it at start-up).
 */
import { DEFAULT_TLS_HANDSHAKE_MS } from '../core/tls-server-socket.js';

/** A connection on which nothing moves for this long is closed (like nginx's `send_timeout`). */
export const DEFAULT_HTTP_IDLE_TIMEOUT_MS = 60_000;

/** Pipelined requests that may wait on one connection behind the one being answered. */
export const DEFAULT_MAX_PIPELINED = 100;

/** A TLS client must finish its handshake within this time. */
export const DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS = DEFAULT_TLS_HANDSHAKE_MS;
