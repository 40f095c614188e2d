/**
 * Server-side TLS over an accepted TCP socket, behaving after the handshake like the sockets a
 * `tls.Server` hands out. Every netkit TLS listener wraps its own accepted sockets (so that one set
 * of connection limits and one handshake timeout cover a connection from its first moment, and
 * STARTTLS/STLS/AUTH TLS upgrade sockets in place), and `new tls.TLSSocket(raw, {isServer: true})`
 * alone is not enough:
 *
 * Until "control is released" (`_releaseControl()`, which `tls.Server` calls on `'secure'`), Node
 * keeps a TLS error after the handshake to itself: it neither emits `'error'` nor destroys the
 * socket. A record that does not decrypt then leaves the connection open until some idle timeout,
 * and Node's renegotiation guard (`tls.CLIENT_RENEG_LIMIT` handshakes per `CLIENT_RENEG_WINDOW`,
 * reported as `ERR_TLS_SESSION_ATTACK` the same way) never fires, so a TLS 1.2 client could make
 * the server run full handshakes on one connection for as long as it likes. There is no public way
 * to build a server TLSSocket without a `tls.Server`; the hostile-client tests (a broken record)
 * fail should this internal method ever go away. (Renegotiation is now refused outright by
 * `serverTlsOptions` in tls.ts; the guard stays for contexts made elsewhere.)
 *
 * And even once released, Node only emits such an error, it does not close the socket (a
 * `tls.Server` user is expected to): here a TLS error after the handshake destroys the socket, as
 * any error does on a plain TCP socket.
 */
import type net from 'node:net';
import type tls from 'node:tls';
import { nodeTls } from './lazy.js';

/** How long every netkit TLS server gives a client to finish its handshake, unless told otherwise. */
export const DEFAULT_TLS_HANDSHAKE_MS = 10_000;

/** Wrap an accepted socket as the TLS server side; see the module comment for what it adds. */
export function serverTlsSocket(
  raw: net.Socket,
  options: Omit<tls.TLSSocketOptions, 'isServer'> & { secureContext: tls.SecureContext },
): tls.TLSSocket {
  const socket = new (nodeTls().TLSSocket)(raw, { ...options, isServer: true });
  socket.once('secure', () => releaseTlsControl(socket));
  return socket;
}

/**
 * For a server TLSSocket whose handshake is done but that no `tls.Server` made: let TLS errors
 * (a broken record, a renegotiation attack) reach `'error'`, and close the connection on them.
 */
export function releaseTlsControl(socket: tls.TLSSocket): void {
  const internal = socket as unknown as { _releaseControl?: () => boolean };
  internal._releaseControl?.();
  socket.on('error', () => socket.destroy());
}
