/**
 * TCP listener lifecycle shared by every netkit server: bind (port 0 reports the real port),
 * connection limits in total and per client IP (per listener, or shared by several listeners of one
 * service through {@link ConnectionLimits}), optional implicit TLS (counted from the TCP connect,
 * with a handshake timeout), and a `close()` that stops
 * accepting, asks every live connection to finish, and destroys the stragglers after a deadline.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import type tls from 'node:tls';
import { NetkitError } from './errors.js';
import { nodeTls } from './lazy.js';
import { acceptTls } from './tls-accept.js';

export interface ListenAddress {
  host: string;
  port: number;
}

export interface TcpServerOptions {
  /** service name, used in error messages and trace events */
  service: string;
  /** address to bind (default 127.0.0.1) */
  host?: string;
  /** 0 (the default) = any free port; the handle has the real one */
  port?: number;
  /**
   * implicit TLS: the socket handed to `onConnection` is a TLSSocket whose handshake is done. The
   * connection counts against the limits from its TCP connect (over a limit it is closed without
   * a word: nothing can be said before the handshake).
   */
  tls?: tls.SecureContextOptions;
  /** with `tls`: a client must finish its handshake within this (default 10 s; 0 = no limit) */
  tlsHandshakeTimeoutMs?: number;
  /** simultaneous connections (default 1000); the next is rejected (`onReject`) */
  maxConnections?: number;
  /** simultaneous connections from one client address (default 100) */
  maxConnectionsPerIp?: number;
  /** counts shared with other listeners (a plain and a TLS port): replaces the two limits above */
  limits?: ConnectionLimits;
  /** called for every accepted connection within limits */
  onConnection: (socket: net.Socket) => void;
  /** called when a connection is over a limit: write the protocol's busy reply; the socket is then ended */
  onReject?: (socket: net.Socket, reason: 'total' | 'per-ip') => string | undefined;
  /** asked to wind one connection down gracefully during close() */
  onShutdown?: (socket: net.Socket) => void;
}

export interface TcpServerHandle extends EventEmitter {
  readonly host: string;
  readonly port: number;
  readonly connections: number;
  readonly server: net.Server;
  close(deadlineMs?: number): Promise<void>;
}

export const DEFAULT_MAX_CONNECTIONS = 1000;
export const DEFAULT_MAX_PER_IP = 100;

/**
 * Connection counts in total and per client IP. Each listener has its own unless several share
 * one: then a second port (say, an implicit-TLS one beside the plain one) does not double the limits.
 */
export class ConnectionLimits {
  private total = 0;
  private readonly perIp = new Map<string, number>();

  constructor(
    readonly maxTotal = DEFAULT_MAX_CONNECTIONS,
    readonly maxPerIp = DEFAULT_MAX_PER_IP,
  ) {}

  /** live connections counted */
  get count(): number {
    return this.total;
  }

  /** Count a connection from `ip`, or say which limit it is over (nothing is counted then). */
  take(ip: string): 'total' | 'per-ip' | undefined {
    const n = this.perIp.get(ip) ?? 0;
    if (this.total >= this.maxTotal) return 'total';
    if (n >= this.maxPerIp) return 'per-ip';
    this.total += 1;
    this.perIp.set(ip, n + 1);
    return undefined;
  }

  /** A connection counted by `take(ip)` has closed. */
  release(ip: string): void {
    this.total -= 1;
    const n = (this.perIp.get(ip) ?? 1) - 1;
    if (n <= 0) this.perIp.delete(ip);
    else this.perIp.set(ip, n);
  }
}

/** Start listening; resolves once bound. */
export async function listenTcp(options: TcpServerOptions): Promise<TcpServerHandle> {
  const host = options.host ?? '127.0.0.1';
  const limits = options.limits ?? new ConnectionLimits(options.maxConnections, options.maxConnectionsPerIp);
  const live = new Set<net.Socket>();
  const context = options.tls && nodeTls().createSecureContext(options.tls);
  /** with TLS: each live raw socket's TLS socket, once its handshake is done */
  const secured = new WeakMap<net.Socket, tls.TLSSocket>();

  const accept = (socket: net.Socket): void => {
    const ip = socket.remoteAddress ?? '?';
    const reason = limits.take(ip);
    if (reason) {
      socket.on('error', () => {});
      const reply = context ? undefined : options.onReject?.(socket, reason);
      if (reply) {
        // Read and drop what the client sends: bytes left unread (a client that pipelines its
        // first commands) keep 'end' from ever being emitted, so the socket was never destroyed
        // and its descriptor stayed open for good. A client that never closes is cut off.
        socket.resume();
        socket.setTimeout(5000, () => socket.destroy());
        socket.end(reply);
      } else socket.destroy();
      return;
    }
    live.add(socket);
    // 'close' comes once: `on` spares the per-socket wrapper objects `once` allocates
    socket.on('close', () => {
      live.delete(socket);
      limits.release(ip);
      if (closing && live.size === 0) closing();
    });
    if (!context) {
      options.onConnection(socket);
      return;
    }
    // a failed handshake destroyed the socket; its 'close' frees the slot
    acceptTls(socket, context, { handshakeTimeoutMs: options.tlsHandshakeTimeoutMs }).then(
      (secure) => {
        // close() began during the handshake: no new session
        if (closed) return socket.destroy();
        secured.set(socket, secure);
        options.onConnection(secure);
      },
      () => {},
    );
  };

  // Implicit TLS wraps the accepted sockets too (a tls.Server would count a connection only after
  // its handshake, and give that handshake two minutes).
  const server = net.createServer({ noDelay: true }, accept);
  server.on('error', () => {});

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') {
        reject(
          new NetkitError(
            'NETKIT_ADDRESS_IN_USE',
            `${options.service}: port ${options.port} on ${host} is already in use`,
            {
              cause: err,
            },
          ),
        );
      } else reject(err);
    };
    server.once('error', onError);
    server.listen({ host, port: options.port ?? 0 }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const addr = server.address() as net.AddressInfo;
  let closing: (() => void) | undefined;
  let closed: Promise<void> | undefined;

  const handle = Object.assign(new EventEmitter(), {
    host: addr.address,
    port: addr.port,
    server,
    close(deadlineMs = 5000): Promise<void> {
      if (closed) return closed;
      closed = new Promise<void>((resolve) => {
        server.close();
        if (live.size === 0) return resolve();
        const timer = setTimeout(() => {
          for (const s of live) s.destroy();
        }, deadlineMs);
        timer.unref();
        closing = () => {
          clearTimeout(timer);
          resolve();
        };
        for (const raw of live) {
          const s = context ? secured.get(raw) : raw;
          // still in its handshake: there is no session to wind down
          if (!s) {
            raw.destroy();
            continue;
          }
          closeOnceEnded(s);
          if (options.onShutdown) options.onShutdown(s);
          else s.end();
        }
      });
      return closed;
    },
  });
  // a real getter: Object.assign would have copied the value (0) once
  Object.defineProperty(handle, 'connections', { get: () => live.size, enumerable: true });
  return handle as TcpServerHandle;
}

/**
 * For a server's `close()`: once our side of `socket` has ended and its last bytes (the goodbye)
 * are flushed, the socket is closed without waiting for the peer's FIN. A client that reads the
 * `421` and keeps its socket open (Python's smtplib and ftplib do, until the next command) would
 * otherwise hold the shutdown for the whole drain deadline. A session still busy (a transfer, a
 * message) ends its side later, and is closed then. Pass the socket the session writes to: the
 * TLS socket after STARTTLS.
 */
export function closeOnceEnded(socket: net.Socket): void {
  if (socket.destroyed) return;
  if (socket.writableFinished) socket.destroy();
  else socket.once('finish', () => socket.destroy());
}

export { formatHostPort } from './address.js';
