/**
 * netcat-style TCP: a client connect with a connect timeout, a binary-safe relay between a socket
 * and a pair of streams (stdin/stdout in the CLI), and a listener that hands out connections or
 * echoes them.
 *
 * The relay teaches the `shutdown()` lesson: when the input ends we half-close (send FIN, keep
 * reading) instead of closing, so a peer that answers only after it has seen end-of-file (a sort
 * server, an HTTP/1.0 server, `wc`) still gets to answer. Both directions respect backpressure: a
 * slow peer pauses the input, a slow output pauses the socket.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { NetkitError } from '../core/errors.js';
import { formatHostPort, listenTcp, type TcpServerHandle } from '../core/server.js';
import { nextConnId, traceEvent } from '../core/trace.js';
import { describeBytes } from './bytes.js';
import { checkLiteralFamily } from './family.js';

export interface TcpConnectOptions {
  host: string;
  port: number;
  /** connect timeout in ms (default 10 s; 0 = none) */
  timeoutMs?: number;
  /** force IPv4 or IPv6 for a host name (an address literal of the other family is refused) */
  family?: 4 | 6;
}

export const DEFAULT_CONNECT_TIMEOUT = 10_000;

/**
 * Open a TCP connection; errors are `NetkitError`s with stable codes. The socket allows half-open
 * connections: a peer's FIN does not end our side, so we can keep sending (see {@link relay}).
 */
export function tcpConnect(options: TcpConnectOptions): Promise<net.Socket> {
  const { host, port } = options;
  const timeoutMs = options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT;
  const where = formatHostPort(host, port);
  try {
    checkLiteralFamily(host, options.family);
  } catch (err) {
    return Promise.reject(err);
  }
  return new Promise((resolve, reject) => {
    const connectOpts: net.NetConnectOpts = { host, port, allowHalfOpen: true };
    if (options.family) connectOpts.family = options.family;
    const socket = net.connect(connectOpts);
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            socket.destroy();
            reject(new NetkitError('NETKIT_TIMEOUT', `connect to ${where} timed out after ${timeoutMs} ms`));
          }, timeoutMs)
        : undefined;
    socket.once('connect', () => {
      if (timer) clearTimeout(timer);
      socket.off('error', onError);
      resolve(socket);
    });
    const onError = (err: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      socket.destroy();
      reject(connectError(err, host, port));
    };
    socket.once('error', onError);
  });
}

/** Map a socket error from connect() to a NetkitError with a clear message. */
export function connectError(err: NodeJS.ErrnoException, host: string, port: number): NetkitError {
  const where = formatHostPort(host, port);
  switch (err.code) {
    case 'ECONNREFUSED':
      return new NetkitError('NETKIT_CONNECT_FAILED', `connection refused by ${where}`, { cause: err });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new NetkitError('NETKIT_NOT_FOUND', `cannot resolve host "${host}"`, { cause: err });
    case 'ETIMEDOUT':
      return new NetkitError('NETKIT_TIMEOUT', `connect to ${where} timed out`, { cause: err });
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new NetkitError('NETKIT_CONNECT_FAILED', `${where} is unreachable`, { cause: err });
    default:
      return new NetkitError('NETKIT_CONNECT_FAILED', `connect to ${where} failed: ${err.message}`, {
        cause: err,
      });
  }
}

export interface RelayOptions {
  /** close the connection after this long without traffic either way (ms, 0 = never) */
  idleTimeoutMs?: number;
  /** on input EOF, shut down our write side and keep reading (default true) */
  halfClose?: boolean;
  /**
   * when the peer shuts down its side, shut ours too even though input may still come (for an
   * interactive terminal). Default false: input is still sent until it ends, as TCP allows.
   * Needs a socket with `allowHalfOpen` (sockets from {@link tcpConnect} and {@link tcpListen} have it).
   */
  endOnPeerEof?: boolean;
  /** trace events (chunks in/out, half-close, disconnect) */
  tracer?: EventEmitter;
  service?: string;
  conn?: number;
}

export interface RelayStats {
  bytesSent: number;
  bytesReceived: number;
}

/**
 * Relay `input → socket` and `socket → output` until the connection closes. Resolves with byte
 * counts when the peer has closed and everything it sent was written to `output`; rejects on a
 * reset, an idle timeout or an output error.
 */
export function relay(
  socket: net.Socket,
  input: Readable | null,
  output: Writable | null,
  options: RelayOptions = {},
): Promise<RelayStats> {
  const stats: RelayStats = { bytesSent: 0, bytesReceived: 0 };
  const tracer = options.tracer;
  const service = options.service ?? 'tcp';
  const conn = options.conn ?? nextConnId();
  const trace = (kind: 'in' | 'out' | 'info' | 'error' | 'disconnect', text: string) => {
    if (tracer) traceEvent(tracer, service, conn, kind, text);
  };
  const tracing = () => tracer !== undefined && tracer.listenerCount('trace') > 0;

  return new Promise((resolve, reject) => {
    let failure: Error | undefined;

    const onInput = (chunk: Buffer) => {
      stats.bytesSent += chunk.length;
      if (tracing()) trace('out', describeBytes(chunk));
      if (!socket.write(chunk)) {
        input!.pause();
        socket.once('drain', () => input!.resume());
      }
    };
    let inputDone = input === null;
    const onInputEnd = () => {
      inputDone = true;
      if (socket.destroyed) return;
      if (options.halfClose === false) return;
      trace('info', 'input ended: half-close (FIN sent), still reading');
      socket.end();
    };
    const onInputError = (err: Error) => {
      failure = err;
      socket.destroy();
    };
    if (input) {
      input.on('data', onInput);
      input.once('end', onInputEnd);
      input.once('error', onInputError);
      input.resume();
    }

    const onOutputError = (err: NodeJS.ErrnoException) => {
      // the reader went away (EPIPE): nothing more can be delivered
      if (err.code !== 'EPIPE') failure = err;
      socket.destroy();
    };
    if (output) output.on('error', onOutputError);

    socket.on('data', (chunk: Buffer) => {
      stats.bytesReceived += chunk.length;
      if (tracing()) trace('in', describeBytes(chunk));
      if (output && !output.write(chunk)) {
        socket.pause();
        output.once('drain', () => socket.resume());
      }
    });
    socket.once('end', () => {
      trace('info', 'peer closed its side (FIN received)');
      // nothing more can come from us: finish our side so the connection closes
      if ((options.endOnPeerEof || inputDone) && !socket.writableEnded) socket.end();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      failure ??=
        err.code === 'ECONNRESET'
          ? new NetkitError('NETKIT_IO', 'connection reset by peer', { cause: err })
          : new NetkitError('NETKIT_IO', err.message, { cause: err });
      trace('error', failure.message);
    });
    const idle = options.idleTimeoutMs ?? 0;
    if (idle > 0) {
      socket.setTimeout(idle, () => {
        failure ??= new NetkitError('NETKIT_TIMEOUT', `idle for ${idle} ms, connection closed`);
        trace('error', failure.message);
        socket.destroy();
      });
    }
    socket.once('close', () => {
      trace('disconnect', `${stats.bytesSent} bytes sent, ${stats.bytesReceived} received`);
      if (input) {
        input.off('data', onInput);
        input.off('end', onInputEnd);
        input.off('error', onInputError);
        input.pause();
      }
      if (output) output.off('error', onOutputError);
      if (failure) reject(failure);
      else resolve(stats);
    });
  });
}

export interface TcpListenOptions {
  host?: string;
  port?: number;
  /** echo every connection's bytes back to it instead of handing it out */
  echo?: boolean;
  /** accept only one connection, then stop listening (netcat's default) */
  once?: boolean;
  maxConnections?: number;
  maxConnectionsPerIp?: number;
  /** close connections idle this long (ms, 0 = never; echo mode only) */
  idleTimeoutMs?: number;
}

export interface TcpConnectionInfo {
  id: number;
  socket: net.Socket;
  /** `host:port` of the peer */
  peer: string;
}

/** A listening TCP socket; emits `'connection'` ({@link TcpConnectionInfo}) and `'trace'`. */
export interface TcpListener extends EventEmitter {
  readonly host: string;
  readonly port: number;
  readonly connections: number;
  /** stop accepting, leaving live connections alone */
  stopAccepting(): void;
  close(deadlineMs?: number): Promise<void>;
}

/** Listen for TCP connections (loopback by default). */
export async function tcpListen(options: TcpListenOptions = {}): Promise<TcpListener> {
  const emitter = new EventEmitter();
  let server: TcpServerHandle | undefined;
  let accepted = 0;
  server = await listenTcp({
    service: 'tcp',
    host: options.host,
    port: options.port,
    maxConnections: options.maxConnections,
    maxConnectionsPerIp: options.maxConnectionsPerIp,
    onConnection(socket) {
      accepted += 1;
      if (options.once && accepted >= 1) server?.server.close();
      // a client's FIN must not end our side while we still relay (half-close both ways)
      if (!options.echo) socket.allowHalfOpen = true;
      const id = nextConnId();
      const peer = formatHostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
      traceEvent(emitter, 'tcp', id, 'connect', '', peer);
      socket.on('error', (err) => traceEvent(emitter, 'tcp', id, 'error', err.message));
      if (options.echo) {
        echoSocket(socket, { tracer: emitter, id, idleTimeoutMs: options.idleTimeoutMs });
      }
      emitter.emit('connection', { id, socket, peer } satisfies TcpConnectionInfo);
    },
  });
  const handle = Object.assign(emitter, {
    host: server.host,
    port: server.port,
    stopAccepting() {
      server!.server.close();
    },
    close(deadlineMs?: number) {
      return server!.close(deadlineMs);
    },
  });
  // a real getter (Object.assign would copy the value once)
  Object.defineProperty(handle, 'connections', { get: () => server!.connections, enumerable: true });
  return handle as TcpListener;
}

/**
 * Echo a socket to itself. `pipe()` pauses reading whenever the write queue is full, so a peer
 * that sends without reading can never make us buffer more than one high-water mark.
 */
export function echoSocket(
  socket: net.Socket,
  options: { tracer: EventEmitter; id: number; service?: string; idleTimeoutMs?: number },
): void {
  const { tracer, id } = options;
  const service = options.service ?? 'tcp';
  const idleTimeoutMs = options.idleTimeoutMs ?? 0;
  let bytes = 0;
  socket.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    if (tracer.listenerCount('trace') > 0) {
      const text = describeBytes(chunk);
      traceEvent(tracer, service, id, 'in', text);
      traceEvent(tracer, service, id, 'out', text);
    }
  });
  socket.pipe(socket);
  if (idleTimeoutMs > 0) socket.setTimeout(idleTimeoutMs, () => socket.destroy());
  socket.once('close', () => traceEvent(tracer, service, id, 'disconnect', `${bytes} bytes echoed`));
}
