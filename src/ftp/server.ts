/**
 * `createFtpServer()`: netkit's own FTP server (RFC 959, 1123, 2228/4217, 2389, 2428, 3659, 2640).
 *
 * Why our own: the Node FTP servers are abandoned or were unsafe (ftp-srv: PORT bounce
 * CVE-2020-15152, backslash traversal CVE-2020-26299, no MLSD). This one is built on the shared
 * protocol core (listener limits, line framing, idle timeouts, AUTH TLS upgrade, trace events)
 * with the FTP parts split by job: {@link FtpSession} (state and dispatch), `commands/*` (one
 * table per concern), `vfs.ts` (the path jail), `permissions.ts`, `accounts.ts` (real, guest,
 * anonymous), `data-channel.ts`, `listing.ts`, `transfer.ts`.
 *
 * Implicit FTPS: `tlsPort` adds a second listener whose control connections are TLS from the
 * first byte (curl's and lftp's `ftps://`, FileZilla's "implicit FTP over TLS", vsftpd's
 * `implicit_ssl`). Both listeners share the accounts, tree, permissions, login guard, passive
 * ports, sessions and events, and one {@link ConnectionLimits} count, so the second port does not
 * double `maxClients`/`maxClientsPerIp`. The TLS port accepts plain TCP and runs the handshake in
 * the session with the same SecureContext as AUTH TLS, so TLS session resumption on data
 * connections works exactly as on the explicit port (offered, not required). A connection over a
 * limit on the TLS port is closed at once, before any handshake: there is no TLS session yet to
 * carry a 421 in (vsftpd sends it in plaintext, which a TLS client cannot read), and shaking hands
 * with a client we are refusing would spend the CPU the limit protects.
 *
 * The handle is an EventEmitter: `'trace'` ({@link TraceEvent}, PASS redacted) and `'session'`
 * ({@link FtpSessionEvent}: connect, login, command, transfer progress, close) for dashboards;
 * `'warning'` ({@link FtpWarning}) for server-side problems the operator must fix (an unreadable or
 * corrupt accounts file); `sessions()` gives the live sessions.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import type tls from 'node:tls';
import { AccountStore } from '../core/accounts.js';
import { DEFAULT_MAX_OUTBOUND } from '../core/connection.js';
import { resolveDataDir, serverSecrets } from '../core/datadir.js';
import { DEFAULT_MIN_FREE_BYTES, type FreeSpace, freeBytes } from '../core/disk-space.js';
import { NetkitError } from '../core/errors.js';
import type { TypedEmitter } from '../core/events.js';
import { nodeDns } from '../core/lazy.js';
import { ConnectionLimits, listenTcp, type TcpServerHandle } from '../core/server.js';
import { loadTls, type TlsFiles } from '../core/tls.js';
import { DEFAULT_TLS_HANDSHAKE_MS } from '../core/tls-server-socket.js';
import type { TraceEvents } from '../core/trace.js';
import { classPermissions, type FtpAccountPolicy, prepareTree } from './accounts.js';
import { DataPortPool } from './data-channel.js';
import { ListingCache } from './listing-cache.js';
import { LoginGuard } from './login-guard.js';
import type { ClassPermissions } from './permissions.js';
import {
  type FtpLimits,
  FtpSession,
  type FtpSessionEvent,
  type FtpSessionInfo,
  type FtpWarning,
  type SessionContext,
} from './session.js';

export interface FtpServerOptions {
  /** the FTP tree: home/NAME, guest/, pub/, incoming/ (created when missing) */
  root: string;
  /**
   * data directory with accounts.json and tls/ (default: `resolveDataDir()`, i.e. ./netkit-data).
   * Never served: should it lie inside an account's area, sessions find it missing (550) and
   * listings leave it out.
   */
  dataDir?: string;
  /** accounts store (default: `new AccountStore(dataDir)`) */
  accounts?: AccountStore;
  /** address to bind (default 127.0.0.1) */
  host?: string;
  /** 0 = any free port (default 2121) */
  port?: number;
  /**
   * also listen with implicit TLS (FTPS, the control connection is TLS from the first byte) on
   * this port (0 = any free port); omitted = no implicit-TLS port. Needs TLS (not `tls: false`).
   */
  tlsPort?: number;
  /**
   * TLS for AUTH TLS: a SecureContext, `{cert, key}` file paths, `true` for the data directory's
   * development certificate (the default), or `false` to offer no TLS. `{cert, key}` files inside
   * an account's area are hidden as the data directory is.
   */
  tls?: tls.SecureContext | TlsFiles | boolean;
  /** refuse login before AUTH TLS (530) and data connections without PROT P (534) */
  requireTls?: boolean;
  /**
   * accept account passwords without TLS from non-loopback clients too (default false: such a
   * client's USER gets 530 until AUTH TLS, as POP3 and SMTP refuse plaintext logins; anonymous
   * logins are never refused for it)
   */
  allowPlaintext?: boolean;
  /** allow anonymous logins as `anonymous` or `ftp` (default true) */
  anonymous?: boolean;
  /** offer the anonymous write-only incoming/ drop box (default false) */
  anonymousUpload?: boolean;
  /** pyftpdlib-style permission letters per class (`elradfmwMT`) */
  permissions?: Partial<ClassPermissions>;
  /** let guests overwrite existing files (default false) */
  guestOverwrite?: boolean;
  /** passive data ports, inclusive range (default: any free port) */
  passivePorts?: readonly [number, number];
  /** IPv4 address (or name resolving to one) that PASV announces, for NAT */
  publicHost?: string;
  /** total connections, both ports together (default 256) */
  maxClients?: number;
  /** connections per client IP, both ports together (default 32) */
  maxClientsPerIp?: number;
  /** delay before answering a failed login (default 1000 ms) */
  loginFailureDelayMs?: number;
  /** failed logins per IP that trigger a lockout (default 5; 0 = never) */
  maxLoginFailures?: number;
  /** lockout duration (default 60 s) */
  lockoutMs?: number;
  /** limits (defaults in {@link DEFAULT_FTP_LIMITS}) */
  limits?: Partial<FtpLimits>;
  /** free space for a directory's file system, for the upload reserve (default: statfs) */
  freeSpace?: FreeSpace;
  /** greeting text after 220 */
  greeting?: string;
}

export const DEFAULT_FTP_PORT = 2121;

export const DEFAULT_FTP_LIMITS: FtpLimits = {
  maxLineLength: 8192,
  maxPreLoginLineLength: 512,
  maxPreLoginCommands: 16,
  maxBadCommands: 10,
  idleTimeoutMs: 300_000,
  maxOutboundBytes: DEFAULT_MAX_OUTBOUND,
  dataConnectTimeoutMs: 30_000,
  dataIdleTimeoutMs: 300_000,
  progressIntervalMs: 250,
  listingCacheMs: 1000,
  tlsHandshakeTimeoutMs: DEFAULT_TLS_HANDSHAKE_MS,
  maxUploadBytes: 0,
  minFreeBytes: DEFAULT_MIN_FREE_BYTES,
  downloadRate: 0,
  uploadRate: 0,
  anonymousRate: 0,
};

/** What an {@link FtpServerHandle} emits, each event with its listener's arguments. */
export interface FtpServerEvents extends TraceEvents {
  /** a session connected, logged in, ran a command, moved bytes or closed (see `event`) */
  session: [event: FtpSessionEvent];
  /** a server-side problem the operator must see even without tracing (a corrupt accounts file…) */
  warning: [warning: FtpWarning];
}

export interface FtpServerHandle extends TypedEmitter<FtpServerEvents> {
  readonly host: string;
  readonly port: number;
  /** the implicit-TLS (FTPS) port, when one was requested */
  readonly tlsPort: number | undefined;
  /** the FTP root directory */
  readonly root: string;
  /** live control connections on both ports (TLS ones still in their handshake included) */
  readonly connections: number;
  /** live sessions: user, class, IP, current transfer and bytes */
  sessions(): FtpSessionInfo[];
  /** stop accepting, let running transfers finish, then close; stragglers destroyed after the deadline */
  close(deadlineMs?: number): Promise<void>;
}

async function resolveTls(
  option: FtpServerOptions['tls'],
  dataDir: string,
): Promise<tls.SecureContext | undefined> {
  if (option === false) return undefined;
  if (option === undefined || option === true) return (await loadTls(dataDir)).context;
  if (isTlsFiles(option)) return (await loadTls(dataDir, option)).context;
  return option;
}

function isTlsFiles(option: tls.SecureContext | TlsFiles): option is TlsFiles {
  return 'cert' in option || 'key' in option;
}

/** The `{cert, key}` files of a `tls` option, when it names files. */
function tlsFilesOf(option: FtpServerOptions['tls']): Array<string | undefined> {
  return typeof option === 'object' && isTlsFiles(option) ? [option.cert, option.key] : [];
}

async function resolvePublicHost(host: string | undefined): Promise<string | undefined> {
  if (host === undefined || net.isIPv4(host)) return host;
  try {
    return (await nodeDns().lookup(host, { family: 4 })).address;
  } catch {
    throw new NetkitError(
      'NETKIT_INVALID_INPUT',
      `--public-host ${host} does not resolve to an IPv4 address`,
    );
  }
}

/** Start an FTP server; resolves once listening. */
export async function createFtpServer(options: FtpServerOptions): Promise<FtpServerHandle> {
  const root = path.resolve(options.root);
  const dataDir = resolveDataDir(options.dataDir);
  const policy: FtpAccountPolicy = {
    root,
    anonymous: options.anonymous ?? true,
    anonymousUpload: options.anonymousUpload ?? false,
    guestOverwrite: options.guestOverwrite ?? false,
    ...(options.permissions ? { permissions: options.permissions } : {}),
  };
  const perms = classPermissions(policy);
  if (options.passivePorts) {
    const [from, to] = options.passivePorts;
    if (!(from >= 1024 && to <= 65535 && from <= to)) {
      throw new NetkitError(
        'NETKIT_INVALID_INPUT',
        `passive port range ${from}-${to} must lie within 1024-65535`,
      );
    }
  }
  await prepareTree(policy);
  const tlsContext = await resolveTls(options.tls, dataDir);
  // after resolveTls, which may have created it: the accounts file and the TLS keys are never served
  policy.hidden = await serverSecrets(dataDir, root, tlsFilesOf(options.tls));
  if (options.requireTls && !tlsContext) {
    throw new NetkitError('NETKIT_INVALID_INPUT', 'requireTls needs TLS (do not disable tls)');
  }
  if (options.tlsPort !== undefined && !tlsContext) {
    throw new NetkitError('NETKIT_INVALID_INPUT', 'an implicit-TLS port needs TLS (do not disable tls)');
  }
  const limits = { ...DEFAULT_FTP_LIMITS, ...options.limits };
  const emitter = new EventEmitter();
  const live = new Map<net.Socket, FtpSession>();
  const ctx: SessionContext = {
    tracer: emitter,
    store: options.accounts ?? new AccountStore(dataDir),
    policy,
    perms,
    ...(tlsContext ? { tls: tlsContext } : {}),
    requireTls: options.requireTls ?? false,
    allowPlaintext: options.allowPlaintext ?? false,
    guard: new LoginGuard({
      failureDelayMs: options.loginFailureDelayMs ?? 1000,
      maxFailures: options.maxLoginFailures ?? 5,
      lockoutMs: options.lockoutMs ?? 60_000,
    }),
    pool: new DataPortPool(options.passivePorts),
    ...(options.publicHost ? { publicHost: await resolvePublicHost(options.publicHost) } : {}),
    limits,
    listings: new ListingCache(limits.listingCacheMs),
    greeting: options.greeting ?? 'netkit FTP server ready',
    emitSession: (ev: FtpSessionEvent) => {
      if (emitter.listenerCount('session') > 0) emitter.emit('session', ev);
    },
    observed: () => emitter.listenerCount('session') > 0,
    freeSpace: options.freeSpace ?? freeBytes,
    warn: (ev: FtpWarning) => {
      if (emitter.listenerCount('warning') > 0) emitter.emit('warning', ev);
    },
  };

  // one count for the plain and the TLS port: a second port must not double the limits
  const connectionLimits = new ConnectionLimits(options.maxClients ?? 256, options.maxClientsPerIp ?? 32);
  const listen = (port: number, implicitTls: boolean): Promise<TcpServerHandle> =>
    listenTcp({
      service: implicitTls ? 'ftps' : 'ftp',
      host: options.host ?? '127.0.0.1',
      port,
      limits: connectionLimits,
      // no TLS session yet on the implicit port to carry the 421 in: that one just closes
      onReject: (_socket, reason) =>
        implicitTls
          ? undefined
          : `421 Too many connections ${reason === 'per-ip' ? 'from your address' : 'to this server'}; try again later\r\n`,
      onConnection(socket) {
        const session = new FtpSession(socket, ctx, { implicitTls });
        live.set(socket, session);
        // 'close' comes once: `on` spares the per-socket wrapper objects `once` allocates
        socket.on('close', () => live.delete(socket));
      },
      onShutdown(socket) {
        const session = live.get(socket);
        if (session) session.shutdown();
        else socket.end();
      },
    });

  const tcp = await listen(options.port ?? DEFAULT_FTP_PORT, false);
  let secure: TcpServerHandle | undefined;
  if (options.tlsPort !== undefined) {
    try {
      secure = await listen(options.tlsPort, true);
    } catch (err) {
      await tcp.close(0);
      throw err;
    }
  }

  const handle = Object.assign(emitter, {
    host: tcp.host,
    port: tcp.port,
    tlsPort: secure?.port,
    root,
    // sessions still in their implicit-TLS handshake are not sessions yet
    sessions: () => [...live.values()].filter((s) => s.started).map((s) => s.info()),
    close: async (deadlineMs?: number) => {
      await Promise.all([tcp.close(deadlineMs), secure?.close(deadlineMs)]);
    },
  });
  // a getter: Object.assign would copy the value once
  Object.defineProperty(handle, 'connections', {
    get: () => tcp.connections + (secure?.connections ?? 0),
    enumerable: true,
  });
  return handle as FtpServerHandle;
}
