/**
 * netcat-style TCP: a client connect with a connect timeout (optionally from a chosen source
 * address/port, optionally over TLS), a binary-safe relay between a socket and a pair of streams
 * (stdin/stdout in the CLI), and a listener that hands out connections or echoes them (optionally
 * over TLS, with ncat's allow/deny lists).
 *
 * The relay teaches the `shutdown()` lesson: when the input ends we half-close (send FIN, keep
 * reading) instead of closing, so a peer that answers only after it has seen end-of-file (a sort
 * server, an HTTP/1.0 server, `wc`) still gets to answer. Both directions respect backpressure: a
 * slow peer pauses the input, a slow output pauses the socket. Over TLS the same holds: `end()`
 * sends close_notify then FIN, and the peer's close_notify is our end-of-file.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { Readable, Writable } from 'node:stream';
import type tls from 'node:tls';
import { connectFailure, NetkitError } from '../core/errors.js';
import type { TypedEmitter } from '../core/events.js';
import { nodeTls } from '../core/lazy.js';
import { closeOnceEnded, formatHostPort, listenTcp, type TcpServerHandle } from '../core/server.js';
import { serverTlsOptions } from '../core/tls.js';
import { acceptTls, TlsHandshakeError } from '../core/tls-accept.js';
import { nextConnId, type TraceEvents, traceEvent } from '../core/trace.js';
import { AccessList } from './access.js';
import { describeBytes } from './bytes.js';
import { CrlfEncoder } from './crlf.js';
import { checkLiteralFamily } from './family.js';
import { type ProxySpec, parseProxyUrl, proxyHandshake, proxyName } from './proxy.js';
import {
  startTlsClient,
  type TcpTlsClientOptions,
  type TcpTlsServerOptions,
  type TlsSessionInfo,
  tlsSessionInfo,
} from './tcp-tls.js';

export interface TcpConnectOptions {
  /** host name or IP address to connect to */
  host: string;
  /** TCP port to connect to */
  port: number;
  /** connect timeout in ms, TLS handshake included (default 10 s; 0 = none) */
  timeoutMs?: number;
  /** force IPv4 or IPv6 for a host name (an address literal of the other family is refused) */
  family?: 4 | 6;
  /** local address to bind before connecting (ncat `-s`); an IP address of this machine */
  localAddress?: string;
  /** local port to bind before connecting (ncat `-p`; 0 or unset = any) */
  localPort?: number;
  /** speak TLS over the connection (`true` = verify against the system roots) */
  tls?: boolean | TcpTlsClientOptions;
  /**
   * reach `host:port` through a proxy (ncat `--proxy`): a URL such as `http://user:pw@host:3128`,
   * `socks5h://host:1080`, or a parsed {@link ProxySpec}. The timeout covers the proxy connect and
   * its handshake; `family`, `localAddress` and `localPort` apply to the connection to the proxy;
   * TLS runs inside the tunnel and is verified against `host`, not the proxy.
   */
  proxy?: string | ProxySpec;
  /** trace events for the proxy handshake (`'trace'`, password hidden) */
  tracer?: EventEmitter;
  /** the connection id for those trace events */
  conn?: number;
}

export const DEFAULT_CONNECT_TIMEOUT = 10_000;

/** The source address must be of the destination's family (a literal), or picks it (a name). */
function sourceFamily(options: TcpConnectOptions): 4 | 6 | undefined {
  const { host, localAddress } = options;
  if (localAddress === undefined) return options.family;
  const local = net.isIP(localAddress);
  if (local === 0)
    throw new NetkitError('NETKIT_USAGE', `source "${localAddress}" is not an IPv4 or IPv6 address`);
  if (options.family && options.family !== local)
    throw new NetkitError(
      'NETKIT_USAGE',
      `source ${localAddress} is an IPv${local} address, but -${options.family} asks for IPv${options.family}`,
    );
  const remote = net.isIP(host);
  if (remote !== 0 && remote !== local)
    throw new NetkitError(
      'NETKIT_USAGE',
      `source ${localAddress} is an IPv${local} address, but ${host} is IPv${remote}`,
    );
  return local as 4 | 6;
}

/**
 * Open a TCP connection (a `tls.TLSSocket` when `tls` is set, verified unless `insecure`); errors
 * are `NetkitError`s with stable codes. The socket allows half-open connections: a peer's FIN does
 * not end our side, so we can keep sending (see {@link relay}).
 */
export async function tcpConnect(
  options: TcpConnectOptions & { tls: true | TcpTlsClientOptions },
): Promise<tls.TLSSocket>;
export async function tcpConnect(options: TcpConnectOptions): Promise<net.Socket>;
export async function tcpConnect(options: TcpConnectOptions): Promise<net.Socket> {
  const { host, port } = options;
  const timeoutMs = options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT;
  const proxy = typeof options.proxy === 'string' ? parseProxyUrl(options.proxy) : options.proxy;
  const where = formatHostPort(host, port);
  checkLiteralFamily(host, options.family);
  // with a proxy, the local socket goes to the proxy: the source must match its family
  const hop = proxy ? { host: proxy.host, port: proxy.port } : { host, port };
  if (proxy) checkLiteralFamily(proxy.host, options.family);
  const family = sourceFamily({ ...options, host: hop.host });
  let timer: NodeJS.Timeout | undefined;
  let current: net.Socket | undefined;
  let stage: 'connect' | 'proxy' | 'tls' = 'connect';
  const via = proxy ? ` via ${proxyName(proxy)}` : '';
  const timeout =
    timeoutMs > 0
      ? new Promise<never>((_resolve, reject) => {
          timer = setTimeout(() => {
            current?.destroy();
            reject(
              new NetkitError(
                'NETKIT_TIMEOUT',
                stage === 'tls'
                  ? `TLS handshake with ${where}${via} timed out after ${timeoutMs} ms`
                  : stage === 'proxy'
                    ? `proxy handshake for ${where}${via} timed out after ${timeoutMs} ms`
                    : `connect to ${proxy ? proxyName(proxy) : where} timed out after ${timeoutMs} ms`,
              ),
            );
          }, timeoutMs);
        })
      : undefined;
  const work = (async () => {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const connectOpts: net.NetConnectOpts = { host: hop.host, port: hop.port, allowHalfOpen: true };
      if (family) connectOpts.family = family;
      if (options.localAddress !== undefined) connectOpts.localAddress = options.localAddress;
      if (options.localPort) connectOpts.localPort = options.localPort;
      const s = net.connect(connectOpts);
      current = s;
      const onError = (err: NodeJS.ErrnoException) => {
        s.destroy();
        const error = connectError(err, hop.host, hop.port, options);
        if (proxy) error.message = `cannot reach ${proxyName(proxy)}: ${error.message}`;
        reject(error);
      };
      s.once('error', onError);
      s.once('connect', () => {
        s.off('error', onError);
        resolve(s);
      });
    });
    if (proxy) {
      stage = 'proxy';
      try {
        const tunnel = await proxyHandshake(socket, proxy, host, port, {
          family: options.family,
          tracer: options.tracer,
          conn: options.conn,
        });
        if (tunnel.rest.length > 0) {
          // a TLS server never speaks first: bytes before our ClientHello are not TLS
          if (options.tls)
            throw new NetkitError(
              'NETKIT_PROTOCOL',
              `${proxyName(proxy)} sent ${tunnel.rest.length} bytes before the TLS handshake`,
            );
          socket.unshift(tunnel.rest);
        }
      } catch (err) {
        socket.destroy();
        throw err;
      }
    }
    if (!options.tls) return socket;
    stage = 'tls';
    return startTlsClient(socket, host, port, options.tls === true ? {} : options.tls);
  })();
  try {
    return await (timeout ? Promise.race([work, timeout]) : work);
  } finally {
    clearTimeout(timer);
    // the loser of the race must not become an unhandled rejection
    work.catch(() => {});
  }
}

/** Map a socket error from connect() to a NetkitError with a clear message. */
export function connectError(
  err: NodeJS.ErrnoException,
  host: string,
  port: number,
  source: { localAddress?: string; localPort?: number } = {},
): NetkitError {
  const where = formatHostPort(host, port);
  const { localAddress, localPort } = source;
  const from =
    localAddress !== undefined
      ? localPort
        ? formatHostPort(localAddress, localPort)
        : localAddress
      : localPort
        ? `port ${localPort}`
        : undefined;
  if (from !== undefined && (err.syscall === 'bind' || err.code === 'EADDRNOTAVAIL')) {
    const why =
      err.code === 'EADDRNOTAVAIL'
        ? 'the address is not on this machine'
        : err.code === 'EADDRINUSE'
          ? 'the port is in use'
          : err.code === 'EACCES'
            ? 'permission denied'
            : err.message;
    return new NetkitError('NETKIT_CONNECT_FAILED', `cannot bind source ${from}: ${why}`, { cause: err });
  }
  return (
    connectFailure(err, where, host) ??
    new NetkitError('NETKIT_CONNECT_FAILED', `connect to ${where} failed: ${err.message}`, { cause: err })
  );
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
  /** convert LF line endings of the input to CRLF on the wire (ncat `-C`) */
  crlf?: boolean;
  /**
   * ncat `--send-only`: what the peer sends is read and dropped (never written to `output`), and
   * the connection is closed once the input has ended and been handed to the kernel, without
   * waiting for the peer. (`--recv-only` is a `null` input.)
   */
  sendOnly?: boolean;
  /** trace events (chunks in/out, half-close, disconnect) */
  tracer?: EventEmitter;
  /** service name in trace events (default `tcp`) */
  service?: string;
  /** connection id in trace events (default: a new one) */
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

  const crlf = options.crlf ? new CrlfEncoder() : undefined;
  const sendOnly = options.sendOnly === true;
  if (sendOnly) output = null;

  return new Promise((resolve, reject) => {
    let failure: Error | undefined;

    const onInput = (data: Buffer) => {
      const chunk = crlf ? crlf.push(data) : data;
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
      if (sendOnly) {
        trace('info', 'input ended: closing (send-only)');
        socket.end(() => socket.destroy());
        return;
      }
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
  /** address to bind (default 127.0.0.1) */
  host?: string;
  /** 0 (the default) = any free port; the listener has the real one */
  port?: number;
  /** echo every connection's bytes back to it instead of handing it out */
  echo?: boolean;
  /** accept only one connection, then stop listening (netcat's default) */
  once?: boolean;
  /** simultaneous connections (default 1000); over it, a connection is closed at once (`refused`) */
  maxConnections?: number;
  /** simultaneous connections from one client address (default 100) */
  maxConnectionsPerIp?: number;
  /** close connections idle this long (ms, 0 = never; echo mode only) */
  idleTimeoutMs?: number;
  /** implicit TLS: every connection is handed out (or echoed) once its handshake is done */
  tls?: TcpTlsServerOptions;
  /** ncat `--allow`: only peers in these `ADDR[/PREFIX]` ranges may connect (default: all) */
  allow?: readonly string[];
  /** ncat `--deny`: peers in these ranges are closed at once (wins over `allow`) */
  deny?: readonly string[];
}

export interface TcpConnectionInfo {
  id: number;
  /** the connection (a `tls.TLSSocket` on a TLS listener) */
  socket: net.Socket;
  /** `host:port` of the peer */
  peer: string;
  /** protocol, cipher, ALPN of a TLS connection */
  tls?: TlsSessionInfo;
}

/** A peer turned away by `allow`/`deny` (the `'denied'` event). */
export interface TcpDeniedInfo {
  peer: string;
  /** not in any `allow` range, or in a `deny` range */
  reason: 'not-allowed' | 'denied';
  /** the `deny` rule it matched */
  rule?: string;
}

/** A peer closed at once because a connection limit was reached (the `'refused'` event). */
export interface TcpRefusedInfo {
  peer: string;
  /** `maxConnections` reached, or `maxConnectionsPerIp` for the peer's address */
  reason: 'total' | 'per-ip';
}

/** A client whose TLS handshake failed (the `'tlsError'` event); the listener keeps serving. */
export interface TcpTlsErrorInfo {
  peer: string;
  error: Error;
}

/** What a {@link TcpListener} emits, each event with its listener's arguments. */
export interface TcpListenerEvents extends TraceEvents {
  /** a connection to use (or being echoed): past the access rules and, on TLS, the handshake */
  connection: [connection: TcpConnectionInfo];
  /** a peer turned away by `allow`/`deny` */
  denied: [denied: TcpDeniedInfo];
  /** a connection closed at once: `maxConnections` or `maxConnectionsPerIp` reached */
  refused: [refused: TcpRefusedInfo];
  /** a client whose TLS handshake failed; the listener keeps serving */
  tlsError: [failure: TcpTlsErrorInfo];
}

/** A listening TCP socket. */
export interface TcpListener extends TypedEmitter<TcpListenerEvents> {
  readonly host: string;
  readonly port: number;
  readonly connections: number;
  /** stop accepting, leaving live connections alone */
  stopAccepting(): void;
  close(deadlineMs?: number): Promise<void>;
}

/** The listener's TLS context: the one given, or one made from cert and key. */
function serverContext(options: TcpTlsServerOptions): tls.SecureContext {
  if (options.context) return options.context;
  if (options.cert === undefined || options.key === undefined)
    throw new NetkitError('NETKIT_INVALID_INPUT', 'tls: give a context, or both cert and key');
  return nodeTls().createSecureContext(serverTlsOptions(options.cert, options.key));
}

/**
 * Listen for TCP connections (loopback by default). Access rules are checked first, before any byte
 * is read (a denied peer is destroyed at once); then, on a TLS listener, the handshake; with `once`,
 * only a connection that passed both stops the listening.
 * @throws NetkitError NETKIT_INVALID_INPUT for a malformed allow/deny rule, or `tls` without a context or cert and key
 */
export async function tcpListen(options: TcpListenOptions = {}): Promise<TcpListener> {
  const emitter = new EventEmitter();
  const access = new AccessList(options.allow, options.deny);
  const tlsOptions = options.tls;
  const context = tlsOptions && serverContext(tlsOptions);
  let server: TcpServerHandle | undefined;
  let handedOut = false;
  /** the TLS socket over each raw one, so close() can end the session with a close_notify */
  const secureOf = new WeakMap<net.Socket, tls.TLSSocket>();

  const handOut = (socket: net.Socket, id: number, peer: string, info?: TlsSessionInfo) => {
    if (options.once) {
      if (handedOut) {
        // a second client finished its handshake after the first: netcat serves one
        socket.destroy();
        return;
      }
      handedOut = true;
      server?.server.close();
    }
    if (options.echo) {
      echoSocket(socket, { tracer: emitter, id, idleTimeoutMs: options.idleTimeoutMs });
    }
    emitter.emit('connection', {
      id,
      socket,
      peer,
      ...(info ? { tls: info } : {}),
    } satisfies TcpConnectionInfo);
  };

  server = await listenTcp({
    service: 'tcp',
    host: options.host,
    port: options.port,
    maxConnections: options.maxConnections,
    maxConnectionsPerIp: options.maxConnectionsPerIp,
    onShutdown: (socket) => {
      const carrier = secureOf.get(socket) ?? socket;
      closeOnceEnded(carrier);
      carrier.end();
    },
    onReject(socket, reason) {
      const peer = formatHostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
      emitter.emit('refused', { peer, reason } satisfies TcpRefusedInfo);
      return undefined; // closed at once: a raw TCP listener has no busy reply to give
    },
    onConnection(socket) {
      const peer = formatHostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
      if (!access.empty) {
        const verdict = access.check(socket.remoteAddress ?? '');
        if (!verdict.allowed) {
          socket.destroy();
          emitter.emit('denied', {
            peer,
            reason: verdict.reason,
            ...(verdict.reason === 'denied' ? { rule: verdict.rule } : {}),
          } satisfies TcpDeniedInfo);
          return;
        }
      }
      // a client's FIN must not end our side while we still relay (half-close both ways); a TLS
      // socket inherits this from the socket it wraps
      if (!options.echo) socket.allowHalfOpen = true;
      const id = nextConnId();
      traceEvent(emitter, 'tcp', id, 'connect', '', peer);
      socket.on('error', (err) => traceEvent(emitter, 'tcp', id, 'error', err.message));
      if (!context) {
        handOut(socket, id, peer);
        return;
      }
      acceptTls(socket, context, {
        alpn: tlsOptions.alpn,
        handshakeTimeoutMs: tlsOptions.handshakeTimeoutMs,
      }).then(
        (secure) => {
          secureOf.set(socket, secure);
          secure.on('error', (err) => traceEvent(emitter, 'tcp', id, 'error', err.message));
          const info = tlsSessionInfo(secure);
          traceEvent(emitter, 'tcp', id, 'info', `TLS established (${info.protocol}, ${info.cipher})`);
          handOut(secure, id, peer, info);
        },
        (err: Error) => {
          const error = err instanceof TlsHandshakeError ? err : new TlsHandshakeError(err.message, err);
          traceEvent(emitter, 'tcp', id, 'error', `TLS handshake failed: ${error.message}`);
          emitter.emit('tlsError', { peer, error } satisfies TcpTlsErrorInfo);
        },
      );
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
