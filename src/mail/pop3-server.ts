/**
 * `createPop3Server()`: our own POP3 server (no well-kept Node POP3 server exists), serving the
 * Maildirs under `DATA/mail/` that the SMTP server writes, with logins checked against the shared
 * accounts file.
 *
 * This module is only glue: `listenTcp` for the plain listener and the optional implicit-TLS one,
 * a `LineConnection` per client (framing, pipelining, idle timer, STLS upgrade), and a
 * {@link Pop3Session} that holds the protocol. The TLS port accepts plain TCP and runs the
 * handshake in the connection (as the chat and FTP servers do), so a connection counts against
 * the limits from its first moment and must finish its handshake within `tlsHandshakeTimeoutMs`
 * (on a `tls.Server` it counted only once its handshake was done, and had Node's 120 s for it).
 * Writes are corked for the rest of the tick, so a burst of pipelined commands (DELE 1 … DELE
 * 500, or RETR after RETR) leaves in a few large writevs instead of one syscall per reply; message
 * data waits for `'drain'` once {@link BULK_QUEUE_BYTES} are queued, so a client that stops
 * reading stops the session, not the server's memory.
 */
import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { AccountStore } from '../core/accounts.js';
import { DEFAULT_MAX_OUTBOUND, LineConnection } from '../core/connection.js';
import { NetkitError } from '../core/errors.js';
import type { TypedEmitter } from '../core/events.js';
import { ImplicitTls } from '../core/implicit-tls.js';
import { ConnectionLimits, listenTcp, type TcpServerHandle } from '../core/server.js';
import { loadTls, type TlsMaterial } from '../core/tls.js';
import { DEFAULT_TLS_HANDSHAKE_MS } from '../core/tls-server-socket.js';
import { redactCommand } from '../core/trace.js';
import {
  type Pop3ServerEvents,
  Pop3Session,
  type Pop3SessionConfig,
  type Pop3SessionIo,
} from './pop3-session.js';

export type {
  Pop3AuthFailedEvent,
  Pop3DeleEvent,
  Pop3EndEvent,
  Pop3LoginEvent,
  Pop3QuitEvent,
  Pop3RetrEvent,
  Pop3ServerEvents,
} from './pop3-session.js';

export interface Pop3ServerOptions {
  /** data directory: Maildirs in `DATA/mail/<mailbox>/`, accounts in `DATA/accounts.json` */
  dataDir: string;
  /** address to bind (default 127.0.0.1) */
  host?: string;
  /** plain POP3 port with STLS (default 1110; 0 = any free port) */
  port?: number;
  /** also listen with implicit TLS (POP3S) on this port (0 = any free port); omitted = no TLS port */
  tlsPort?: number;
  /**
   * Certificate for STLS and the TLS port: material from `loadTls(dataDir, {cert, key})`. Default:
   * the development certificate in `DATA/tls/` (created on first use). `false`: no TLS at all
   * (STLS is not offered; `tlsPort` is then an error).
   */
  tls?: TlsMaterial | false;
  /** where logins are checked (default: `new AccountStore(dataDir)`) */
  accounts?: AccountStore;
  /** lab mode: any password opens any valid mailbox name, existing or new */
  authAcceptAny?: boolean;
  /**
   * accept USER/PASS and AUTH PLAIN on non-TLS links from any address. Without it they are accepted
   * only on loopback, after STLS, or on the TLS port.
   */
  allowPlaintext?: boolean;
  /** pause before answering a failed login (default 1000 ms) */
  failedLoginDelayMs?: number;
  /** close a link after this many failed logins (default 3) */
  maxAuthFailures?: number;
  /**
   * a TLS handshake (the implicit-TLS port, counted from the TCP connect, or after STLS) must be
   * done within this time (default 10000 ms; 0 = only the idle timeout applies)
   */
  tlsHandshakeTimeoutMs?: number;
  /** idle timeout; RFC 1939 asks for at least 10 minutes (default 600000 ms; 0 = none) */
  idleTimeoutMs?: number;
  /** simultaneous connections, both listeners together (default 1000) */
  maxConnections?: number;
  /** simultaneous connections per client address, both listeners together (default 100) */
  maxConnectionsPerIp?: number;
  /**
   * longest command line in bytes (default 1024: RFC 2449's 255 for commands, with room for an
   * AUTH PLAIN response carrying long credentials)
   */
  maxLineLength?: number;
  /** unknown, misplaced or malformed commands before the link is closed (default 10) */
  maxBadCommands?: number;
  /**
   * replies a client may leave unread (it pipelines commands and never reads the answers) before
   * its link is dropped (default 1 MiB); RETR and TOP data waits for the client instead
   */
  maxOutboundBytes?: number;
  /** on QUIT, move messages retrieved with RETR to `cur/` with the S (seen) flag, as Dovecot does (default true) */
  markSeen?: boolean;
}

/** The running server; its `trace` events have PASS and AUTH secrets redacted. */
export interface Pop3ServerHandle extends TypedEmitter<Pop3ServerEvents> {
  readonly host: string;
  readonly port: number;
  /** the implicit-TLS port, when one was requested */
  readonly tlsPort: number | undefined;
  /** live client connections on both listeners */
  readonly connections: number;
  /** stop accepting; end idle sessions now and busy ones after their command; destroy the rest after the deadline */
  close(deadlineMs?: number): Promise<void>;
}

export const POP3_DEFAULT_PORT = 1110;
export const POP3S_DEFAULT_PORT = 1995;
export const DEFAULT_FAILED_LOGIN_DELAY_MS = 1000;
export const DEFAULT_POP3_IDLE_MS = 600_000;
export const DEFAULT_POP3_MAX_LINE = 1024;
/** Bytes of message data queued on a socket before a session waits for it to drain. */
export const BULK_QUEUE_BYTES = 256 * 1024;

/** Start a POP3 server on the data directory's Maildirs, with STLS and an optional implicit-TLS port. */
export async function createPop3Server(options: Pop3ServerOptions): Promise<Pop3ServerHandle> {
  if (!options.dataDir) throw new NetkitError('NETKIT_USAGE', 'createPop3Server: dataDir is required');
  const tls: TlsMaterial | undefined =
    options.tls === false ? undefined : (options.tls ?? (await loadTls(options.dataDir)));
  if (options.tlsPort !== undefined && !tls) {
    throw new NetkitError('NETKIT_USAGE', 'pop3: a TLS port needs TLS (tls must not be false)');
  }
  const handshakeTimeoutMs = options.tlsHandshakeTimeoutMs ?? DEFAULT_TLS_HANDSHAKE_MS;
  const handle = new EventEmitter() as EventEmitter & {
    host: string;
    port: number;
    tlsPort: number | undefined;
    connections: number;
    close(deadlineMs?: number): Promise<void>;
  };
  const config: Pop3SessionConfig = {
    dataDir: options.dataDir,
    accounts: options.accounts ?? new AccountStore(options.dataDir),
    authAcceptAny: options.authAcceptAny ?? false,
    allowPlaintext: options.allowPlaintext ?? false,
    tlsAvailable: tls !== undefined,
    failedLoginDelayMs: options.failedLoginDelayMs ?? DEFAULT_FAILED_LOGIN_DELAY_MS,
    maxBadCommands: options.maxBadCommands ?? 10,
    maxAuthFailures: options.maxAuthFailures ?? 3,
    markSeen: options.markSeen ?? true,
    events: handle,
  };
  /** each live session and its link, by the socket its listener counts */
  const sessions = new Map<net.Socket, { session: Pop3Session; conn: LineConnection }>();
  /** sessions whose link closed and whose lock is being released */
  const ending = new Set<Promise<void>>();

  /** Framing, pipelining, idle timer and redaction for a socket of either listener. */
  const lineConnection = (socket: net.Socket, redact: (line: string) => string): LineConnection =>
    new LineConnection(socket, {
      service: 'pop3',
      tracer: handle,
      encoding: 'latin1',
      maxLineLength: options.maxLineLength ?? DEFAULT_POP3_MAX_LINE,
      idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_POP3_IDLE_MS,
      maxOutboundBytes: options.maxOutboundBytes ?? DEFAULT_MAX_OUTBOUND,
      redact,
    });

  /** The session starts: it greets. `socket` is the one its listener counts (the raw one for TLS). */
  const start = (socket: net.Socket, conn: LineConnection, s: Pop3Session): void => {
    sessions.set(socket, { session: s, conn });
    conn.onLine((line) => s.handle(line));
    conn.onOverflow(() => s.overflow());
    conn.on('idle', () => s.idle());
    conn.on('close', () => {
      sessions.delete(socket);
      const done = s.closed().finally(() => ending.delete(done));
      ending.add(done);
    });
    s.greet();
  };

  const onConnection = (socket: net.Socket): void => {
    let session: Pop3Session | undefined;
    const conn = lineConnection(socket, (line) => (session ? session.redact(line) : redactCommand(line)));
    session = new Pop3Session(connectionIo(conn, tls, handshakeTimeoutMs), config, conn.id);
    start(socket, conn, session);
  };

  /**
   * The implicit-TLS port: the handshake first, within `tlsHandshakeTimeoutMs` of the TCP connect,
   * and only then a session and its greeting.
   */
  const implicitTls = tls ? new ImplicitTls(tls.context, handshakeTimeoutMs) : undefined;
  const onTlsConnection = (socket: net.Socket): void => {
    let session: Pop3Session | undefined;
    const conn = lineConnection(socket, (line) => (session ? session.redact(line) : redactCommand(line)));
    implicitTls!.accept(socket, conn, () => {
      session = new Pop3Session(connectionIo(conn, tls, handshakeTimeoutMs), config, conn.id);
      start(socket, conn, session);
    });
  };

  const common = {
    service: 'pop3',
    host: options.host,
    // one count for the plain and the TLS port: a second port must not double the limits
    limits: new ConnectionLimits(options.maxConnections, options.maxConnectionsPerIp),
    onConnection,
    onReject: () => '-ERR [SYS/TEMP] too many connections, try again later\r\n',
    onShutdown: (socket: net.Socket) => {
      if (implicitTls?.dropIfHandshaking(socket)) return;
      const s = sessions.get(socket);
      if (!s) return socket.end();
      s.conn.closeOnceEnded();
      s.session.shutdown();
    },
  };
  const plain = await listenTcp({ ...common, port: options.port ?? POP3_DEFAULT_PORT });
  let secure: TcpServerHandle | undefined;
  if (options.tlsPort !== undefined) {
    try {
      secure = await listenTcp({
        ...common,
        service: 'pop3s',
        port: options.tlsPort,
        onConnection: onTlsConnection,
        // no TLS session yet to carry the -ERR in: the TLS port just closes
        onReject: () => undefined,
      });
    } catch (err) {
      await plain.close(0);
      throw err;
    }
  }

  Object.assign(handle, {
    host: plain.host,
    port: plain.port,
    tlsPort: secure?.port,
    close: async (deadlineMs = 5000) => {
      await Promise.all([plain.close(deadlineMs), secure?.close(deadlineMs)]);
      // resolve only once every mailbox lock is released
      await Promise.all([...ending]);
    },
  });
  Object.defineProperty(handle, 'connections', {
    get: () => plain.connections + (secure?.connections ?? 0),
  });
  return handle;
}

/** The session's view of one LineConnection, with per-tick corking of writes. */
function connectionIo(
  conn: LineConnection,
  tls: TlsMaterial | undefined,
  handshakeTimeoutMs: number,
): Pop3SessionIo {
  let corked: net.Socket | undefined;
  let lastKeepAlive = 0;
  const cork = (): void => {
    if (corked || conn.closed) return;
    const socket = conn.socket;
    corked = socket;
    socket.cork();
    process.nextTick(() => {
      corked = undefined;
      socket.uncork();
    });
  };
  return {
    get secure() {
      return conn.secure;
    },
    get closed() {
      return conn.closed;
    },
    remoteAddress: conn.remoteAddress,
    remotePort: conn.remotePort,
    reply(line) {
      cork();
      conn.writeLine(line);
    },
    send(data) {
      // Backpressure with a deeper queue than the socket's 16 KB mark: corked writes collect into
      // writes of up to BULK_QUEUE_BYTES (one writev), which is what makes a pipelined download
      // of many small messages fast; past that mark we wait for 'drain' like conn.send() does.
      if (conn.closed) return;
      // a client busy reading a long download is not idle, even if it sends nothing
      // (re-arming a timer per message is measurable: once a second is plenty)
      const now = Date.now();
      if (now - lastKeepAlive > 1000) {
        lastKeepAlive = now;
        conn.keepAlive();
      }
      cork();
      const socket = conn.socket;
      if (Array.isArray(data)) for (const d of data) socket.write(d);
      else socket.write(data);
      if (socket.writableLength >= BULK_QUEUE_BYTES) return drained(socket);
    },
    trace(kind, text) {
      conn.trace(kind, text);
    },
    end(line) {
      conn.end(line);
    },
    keepAlive() {
      conn.keepAlive();
    },
    async startTls() {
      if (!tls) throw new NetkitError('NETKIT_PROTOCOL', 'no TLS context');
      // The "+OK" must leave in plaintext before the handshake takes over the socket.
      const socket = conn.socket;
      while (socket.writableCorked > 0) socket.uncork();
      corked = undefined;
      if (socket.writableLength > 0) await drained(socket);
      if (conn.closed) throw new NetkitError('NETKIT_PROTOCOL', 'connection closed before TLS');
      await conn.upgradeTls(tls.context, { handshakeTimeoutMs });
    },
  };
}

/** Resolves on 'drain' (or when the socket closes). */
function drained(socket: net.Socket): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}
