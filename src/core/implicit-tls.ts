/**
 * Implicit TLS on a line-protocol port (chat's TLS port, POP3S): every accepted connection goes
 * through the TLS handshake first, within a time limit counted from the TCP connect, and only then
 * becomes a session. The connection already counts against the listener's limits during the
 * handshake, so clients that connect and never finish one cannot pile up; at shutdown a
 * connection still in its handshake is simply dropped (there is no session to say goodbye in).
 */
import type net from 'node:net';
import type tls from 'node:tls';
import type { LineConnection } from './connection.js';

export class ImplicitTls {
  /** Connections still in their handshake, by raw socket. */
  private readonly handshaking = new Map<net.Socket, LineConnection>();

  constructor(
    private readonly context: tls.SecureContext,
    private readonly handshakeTimeoutMs?: number,
  ) {}

  /**
   * Run the handshake on `conn` (a LineConnection over `socket`); `ready` runs once it is done,
   * unless the connection closed meanwhile. A failed handshake was traced and both sockets
   * destroyed by `upgradeTls()`; the listener frees the slot.
   */
  accept(socket: net.Socket, conn: LineConnection, ready: () => void): void {
    this.handshaking.set(socket, conn);
    conn.upgradeTls(this.context, { handshakeTimeoutMs: this.handshakeTimeoutMs }).then(
      () => {
        this.handshaking.delete(socket);
        if (!conn.closed) ready();
      },
      () => this.handshaking.delete(socket),
    );
  }

  /** For the listener's `onShutdown`: drop `socket` if it is still in its handshake (true). */
  dropIfHandshaking(socket: net.Socket): boolean {
    const pending = this.handshaking.get(socket);
    if (!pending) return false;
    pending.destroy();
    return true;
  }
}
