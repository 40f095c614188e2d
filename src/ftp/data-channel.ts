/**
 * The FTP data connection of one session: a passive listener (PASV/EPSV) or an active target
 * (PORT/EPRT), turned into one connected socket when a transfer command needs it.
 *
 * - Passive listeners bind the control connection's local address, take a port from the
 *   configured range (shared by all sessions through {@link DataPortPool}), accept only the
 *   control client's own IP, accept exactly one connection and then stop listening. A listener
 *   nobody connects to closes after `connectTimeoutMs`; the transfer command then gets 425.
 * - Accepted sockets start paused (`pauseOnConnect`), so a TLS handshake (PROT P) can take over
 *   the socket without a byte having been read into a JavaScript buffer first.
 * - Active connections go from our control connection's local address to the validated target
 *   (the bounce check is in data-address.ts), with a connect timeout.
 * - One data connection per transfer: after {@link DataChannel.open} the channel is consumed.
 */
import net from 'node:net';
import type tls from 'node:tls';
import { formatHostPort } from '../core/address.js';
import { NetkitError } from '../core/errors.js';
import { tlsErrorLine } from '../core/tls-accept.js';
import { serverTlsSocket } from '../core/tls-server-socket.js';
import { type HostPort, normalizeIp } from './data-address.js';

/** Listening ports for data connections: a server's passive ports (shared by its sessions), a client's active ones. */
export class DataPortPool {
  private readonly inUse = new Set<number>();
  private cursor: number;

  /** `range` undefined: any free port the OS picks. */
  constructor(readonly range?: readonly [number, number]) {
    this.cursor = range ? range[0] + Math.floor(Math.random() * (range[1] - range[0] + 1)) : 0;
  }

  /** Bind `server` on `host` to a free port from the range; resolves with the port. */
  async listen(server: net.Server, host: string): Promise<number> {
    if (!this.range) {
      await listenOn(server, host, 0);
      return (server.address() as net.AddressInfo).port;
    }
    const [from, to] = this.range;
    const size = to - from + 1;
    for (let i = 0; i < size; i++) {
      const port = from + ((this.cursor - from + i) % size);
      if (this.inUse.has(port)) continue;
      try {
        await listenOn(server, host, port);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') continue;
        throw err;
      }
      this.inUse.add(port);
      this.cursor = port + 1 > to ? from : port + 1;
      server.once('close', () => this.inUse.delete(port));
      return port;
    }
    throw new NetkitError('NETKIT_ADDRESS_IN_USE', `no free data port in ${from}-${to}`);
  }
}

function listenOn(server: net.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

export interface DataChannelOptions {
  /** the control connection (for its local address and the client's IP) */
  control: () => net.Socket;
  pool: DataPortPool;
  /** how long a passive listener waits for its connection, and an active connect may take */
  connectTimeoutMs: number;
  trace: (text: string) => void;
}

interface PassiveState {
  server: net.Server;
  port: number;
  socket?: net.Socket;
  timedOut: boolean;
  timer: NodeJS.Timeout;
  waiters: Array<() => void>;
}

export class DataChannel {
  private passiveState: PassiveState | undefined;
  private activeTarget: HostPort | undefined;
  private current: net.Socket | undefined;
  /** data connections of refused transfers, left for the client to close (see {@link dismiss}) */
  private readonly lingering = new Set<net.Socket>();

  constructor(private readonly opts: DataChannelOptions) {}

  /** PASV/EPSV or PORT/EPRT was given and not used yet. */
  get configured(): boolean {
    return this.passiveState !== undefined || this.activeTarget !== undefined;
  }

  get mode(): 'passive' | 'active' | 'none' {
    return this.passiveState ? 'passive' : this.activeTarget ? 'active' : 'none';
  }

  /** Open a passive listener; resolves with the bound port. */
  async passive(): Promise<number> {
    this.close();
    const control = this.opts.control();
    const clientIp = normalizeIp(control.remoteAddress ?? '');
    const server = net.createServer({ pauseOnConnect: true, noDelay: true });
    server.on('error', () => {});
    const state: PassiveState = {
      server,
      port: 0,
      timedOut: false,
      waiters: [],
      timer: setTimeout(() => {
        if (state.socket) return;
        state.timedOut = true;
        this.opts.trace(
          `passive port ${state.port}: no data connection within ${this.opts.connectTimeoutMs} ms`,
        );
        server.close();
        for (const w of state.waiters.splice(0)) w();
      }, this.opts.connectTimeoutMs),
    };
    state.timer.unref();
    server.on('connection', (socket) => {
      socket.on('error', () => {});
      const ip = normalizeIp(socket.remoteAddress ?? '');
      if (ip !== clientIp) {
        this.opts.trace(`passive port ${state.port}: refused data connection from foreign address ${ip}`);
        socket.destroy();
        return;
      }
      if (state.socket || state.timedOut) {
        socket.destroy();
        return;
      }
      state.socket = socket;
      clearTimeout(state.timer);
      server.close();
      this.opts.trace(`data connection from ${formatHostPort(ip, socket.remotePort ?? 0)}`);
      for (const w of state.waiters.splice(0)) w();
    });
    this.passiveState = state;
    try {
      state.port = await this.opts.pool.listen(server, control.localAddress ?? '127.0.0.1');
    } catch (err) {
      this.close();
      throw err;
    }
    return state.port;
  }

  /** Remember an active-mode target (already bounce-checked by the caller). */
  active(target: HostPort): void {
    this.close();
    this.activeTarget = target;
  }

  /** The connected data socket for one transfer (paused; not yet TLS). Consumes the channel. */
  async open(): Promise<net.Socket> {
    const passive = this.passiveState;
    const target = this.activeTarget;
    if (passive) {
      if (!passive.socket && !passive.timedOut) {
        await new Promise<void>((resolve) => passive.waiters.push(resolve));
      }
      const socket = passive.socket;
      this.passiveState = undefined;
      clearTimeout(passive.timer);
      passive.server.close();
      if (!socket || socket.destroyed) {
        throw new NetkitError(
          'NETKIT_TIMEOUT',
          `no data connection arrived within ${this.opts.connectTimeoutMs} ms`,
        );
      }
      this.current = socket;
      return socket;
    }
    if (target) {
      this.activeTarget = undefined;
      const control = this.opts.control();
      const socket = await connectWithTimeout(
        target,
        activeLocalAddress(control.localAddress, target.host),
        this.opts.connectTimeoutMs,
      );
      this.opts.trace(`data connection to ${formatHostPort(target.host, target.port)}`);
      this.current = socket;
      return socket;
    }
    throw new NetkitError('NETKIT_PROTOCOL', 'no data connection: use PASV, EPSV, PORT or EPRT first');
  }

  /** Stop a passive listener that has not been connected to yet (its waiting transfer gets 425). */
  cancelPassiveWait(): void {
    const passive = this.passiveState;
    if (!passive || passive.socket) return;
    clearTimeout(passive.timer);
    passive.timedOut = true;
    passive.server.close();
    for (const w of passive.waiters.splice(0)) w();
  }

  /**
   * Drop the channel after a refused transfer (a permission or path error before any data moved).
   * A data connection the client has already opened is not reset but left to the client, as
   * vsftpd does: curl and basic-ftp start TLS on it as soon as it connects, and a reset there
   * reached them before the refusal on the control connection, so they reported "connection
   * reset" (curl: exit 13, bad PASV response) instead of our 550. What the client sends on it is
   * read and dropped; it is closed when the client closes it, at the next data command, at the end
   * of the session, or after the data connect timeout.
   */
  dismiss(): void {
    const socket = this.passiveState?.socket ?? this.current;
    if (this.passiveState) this.passiveState.socket = undefined;
    this.current = undefined;
    this.close();
    if (!socket || socket.destroyed) return;
    this.lingering.add(socket);
    const timer = setTimeout(() => socket.destroy(), this.opts.connectTimeoutMs);
    timer.unref();
    socket.on('close', () => {
      clearTimeout(timer);
      this.lingering.delete(socket);
    });
    socket.on('data', () => {});
    socket.resume();
  }

  /** Close the listener and any data socket. */
  close(): void {
    for (const socket of this.lingering) socket.destroy();
    this.lingering.clear();
    const passive = this.passiveState;
    if (passive) {
      clearTimeout(passive.timer);
      passive.server.close();
      passive.socket?.destroy();
      for (const w of passive.waiters.splice(0)) w();
    }
    this.passiveState = undefined;
    this.activeTarget = undefined;
    this.current?.destroy();
    this.current = undefined;
  }

  /** Forget the current socket without destroying it (the transfer owns its lifetime). */
  release(socket: net.Socket): void {
    if (this.current === socket) this.current = undefined;
  }
}

/**
 * The address an active data connection leaves from: the control connection's own, in the target's
 * family. A server on `::` sees an IPv4 client as `::ffff:a.b.c.d`, and a socket to the IPv4 address
 * of PORT cannot bind that form (EINVAL).
 */
function activeLocalAddress(controlLocal: string | undefined, targetHost: string): string | undefined {
  if (controlLocal === undefined) return undefined;
  return net.isIPv4(targetHost) ? normalizeIp(controlLocal) : controlLocal;
}

function connectWithTimeout(
  target: HostPort,
  localAddress: string | undefined,
  timeoutMs: number,
): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: target.host, port: target.port, localAddress, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new NetkitError(
          'NETKIT_TIMEOUT',
          `connecting to ${formatHostPort(target.host, target.port)} timed out`,
        ),
      );
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      socket.on('error', () => {});
      socket.pause();
      resolve(socket);
    });
    const onError = (err: Error) => {
      clearTimeout(timer);
      reject(
        new NetkitError(
          'NETKIT_CONNECT_FAILED',
          `cannot connect to ${formatHostPort(target.host, target.port)}: ${err.message}`,
        ),
      );
    };
    socket.once('error', onError);
  });
}

/**
 * Take over a data socket with TLS as the server side (RFC 4217: the FTP server is the TLS server
 * on data connections in both directions). Resolves once the handshake is done and the socket can
 * be written and closed cleanly.
 *
 * That is one event-loop turn after `'secure'`: with TLS 1.3, Node emits it from inside OpenSSL's
 * handshake, before the session tickets are flushed, and reports a write made there as finished
 * before its bytes reach the socket (the TODO in Node's `TLSWrap::EncOut`). A small listing or
 * file written and ended at once then shuts the TCP connection down while the encrypted output is
 * still queued, so the close_notify alert is lost (EPIPE). Strict clients (OpenSSL 3 without
 * `SSL_OP_IGNORE_UNEXPECTED_EOF`, e.g. python.org builds of Python 3.10–3.13) then fail the
 * transfer with `SHUTDOWN_WHILE_IN_INIT` or an unexpected EOF.
 */
export function secureDataSocket(
  raw: net.Socket,
  context: tls.SecureContext,
  timeoutMs: number,
): Promise<tls.TLSSocket> {
  // serverTlsSocket: a record that does not decrypt fails the transfer at once (an 'error' the
  // transfer sees) instead of stalling it until the data idle timeout
  const secure = serverTlsSocket(raw, { secureContext: context });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      settle();
      secure.destroy();
      reject(new NetkitError('NETKIT_TIMEOUT', 'TLS handshake on the data connection timed out'));
    }, timeoutMs);
    const settle = () => {
      clearTimeout(timer);
      secure.off('error', onError);
      secure.off('end', onGone);
      secure.off('close', onGone);
      raw.off('close', onGone);
    };
    secure.once('secure', () => {
      settle();
      secure.on('error', () => {});
      setImmediate(() => resolve(secure));
    });
    // the reason only: OpenSSL's message carries its own source location ("../deps/openssl/…")
    const fail = (why: string) => {
      settle();
      secure.destroy();
      reject(new NetkitError('NETKIT_PROTOCOL', `TLS handshake on the data connection failed: ${why}`));
    };
    const onError = (err: Error) => fail(tlsErrorLine(err, 'client'));
    // a client that closes the data connection mid-handshake raises no 'error': without these the
    // transfer waited for the timeout (30 s) before its 425
    const onGone = () => fail('closed by the client during the handshake');
    secure.once('error', onError);
    secure.once('end', onGone);
    secure.once('close', onGone);
    raw.once('close', onGone);
  });
}
