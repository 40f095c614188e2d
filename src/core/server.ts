/**
 * TCP listener lifecycle shared by every netkit server: bind (port 0 reports the real port),
 * connection limits in total and per client IP, optional implicit TLS, and a `close()` that stops
 * accepting, asks every live connection to finish, and destroys the stragglers after a deadline.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import type tls from 'node:tls';
import { NetkitError } from './errors.js';
import { nodeTls } from './lazy.js';

export interface ListenAddress {
  host: string;
  port: number;
}

export interface TcpServerOptions {
  /** service name, used in error messages and trace events */
  service: string;
  host?: string;
  port?: number;
  /** implicit TLS: the socket handed to `onConnection` is already a TLSSocket */
  tls?: tls.SecureContextOptions;
  maxConnections?: number;
  maxConnectionsPerIp?: number;
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

/** Start listening; resolves once bound. */
export async function listenTcp(options: TcpServerOptions): Promise<TcpServerHandle> {
  const host = options.host ?? '127.0.0.1';
  const maxTotal = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  const maxPerIp = options.maxConnectionsPerIp ?? DEFAULT_MAX_PER_IP;
  const live = new Set<net.Socket>();
  const perIp = new Map<string, number>();

  const accept = (socket: net.Socket): void => {
    const ip = socket.remoteAddress ?? '?';
    const count = perIp.get(ip) ?? 0;
    const reason = live.size >= maxTotal ? 'total' : count >= maxPerIp ? 'per-ip' : undefined;
    if (reason) {
      socket.on('error', () => {});
      const reply = options.onReject?.(socket, reason);
      if (reply) socket.end(reply);
      else socket.destroy();
      return;
    }
    live.add(socket);
    perIp.set(ip, count + 1);
    // 'close' comes once: `on` spares the per-socket wrapper objects `once` allocates
    socket.on('close', () => {
      live.delete(socket);
      const n = (perIp.get(ip) ?? 1) - 1;
      if (n <= 0) perIp.delete(ip);
      else perIp.set(ip, n);
      if (closing && live.size === 0) closing();
    });
    options.onConnection(socket);
  };

  const server: net.Server = options.tls
    ? nodeTls().createServer({ ...options.tls }, accept)
    : net.createServer({ noDelay: true }, accept);
  // A TLS handshake failure is that client's problem, never the server's.
  server.on('tlsClientError', (_err, socket) => socket.destroy());
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
        for (const s of live) {
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

export { formatHostPort } from './address.js';
