/**
 * One FTP control connection: its state (login, cwd, TYPE, REST, RNFR, PROT, data channel, the
 * running transfer) and the dispatch of each command line to its handler in the command tables
 * (`commands/*.ts`, smtp-server's `handler_VERB` idea as a map).
 *
 * Ordering: a transfer runs in the background, so ABOR and STAT are answered while it runs; the
 * other commands are held back until its last reply, without blocking the connection
 * ({@link CommandOrder}).
 *
 * Abuse guards: a bound on commands and line length before login, 421 after too many unknown
 * commands in a row, HTTP requests refused at once, the login delay and lockout
 * ({@link LoginGuard}), the idle timeout (421). A session shuts down through one path,
 * {@link FtpSession.close}.
 *
 * Implicit FTPS (the server's `tlsPort`): the session starts with the TLS handshake, bounded by
 * `tlsHandshakeTimeoutMs`, and only then greets; until it does it is invisible (no 'connect' or
 * 'close' event, not in `sessions()`), so a client that never handshakes, or speaks plaintext,
 * just loses its connection. Data connections there default to PROT P.
 */
import type { EventEmitter } from 'node:events';
import type net from 'node:net';
import path from 'node:path';
import type tls from 'node:tls';
import type { AccountStore } from '../core/accounts.js';
import { LineConnection } from '../core/connection.js';
import type { FreeSpace } from '../core/disk-space.js';
import { errorMessage, NetkitError } from '../core/errors.js';
import { TokenBucket } from '../core/throttle.js';
import { redactCommand } from '../core/trace.js';
import type { classPermissions, FtpAccountClass, FtpAccountPolicy, FtpIdentity } from './accounts.js';
import { CommandOrder } from './command-order.js';
import { commandTable, NOT_IMPLEMENTED } from './commands/index.js';
import { DataChannel, type DataPortPool, secureDataSocket } from './data-channel.js';
import { DEFAULT_MLST_FACTS } from './listing.js';
import type { ListingCache } from './listing-cache.js';
import type { LoginGuard } from './login-guard.js';
import { type Permission, Permissions, refusal } from './permissions.js';
import { formatReply, parseCommand, urgentAbort } from './protocol.js';
import type { TransferOutcome, TransferRun } from './transfer.js';
import { isOversize, type UploadLimits } from './upload-limits.js';

export interface FtpLimits {
  /** longest command line accepted (bytes) */
  maxLineLength: number;
  /** longest line before login */
  maxPreLoginLineLength: number;
  /** commands accepted before a successful login; then the connection is closed */
  maxPreLoginCommands: number;
  /** unknown or malformed commands in a row before the connection is closed with 421 */
  maxBadCommands: number;
  /** control connection idle timeout (421) */
  idleTimeoutMs: number;
  /** control replies a client may leave unread before the connection is dropped (bytes) */
  maxOutboundBytes: number;
  /** how long to wait for a data connection (passive accept or active connect), then 425 */
  dataConnectTimeoutMs: number;
  /** a data connection without traffic for this long is broken (426) */
  dataIdleTimeoutMs: number;
  /** at most one transfer progress event per session per interval */
  progressIntervalMs: number;
  /** how long a directory listing may be reused (0 = never; see listing-cache.ts) */
  listingCacheMs: number;
  /** a TLS handshake (implicit-TLS port, AUTH TLS) must finish within this time (0 = only the idle timeout) */
  tlsHandshakeTimeoutMs: number;
  /** largest file an upload may leave, in bytes (0 = no limit); more gets 552 and the upload is undone */
  maxUploadBytes: number;
  /** free space kept on the file system that stores uploads, in bytes (0 = no check); below it, 452 */
  minFreeBytes: number;
  /** bytes per second for each download (RETR), 0 = unlimited */
  downloadRate: number;
  /** bytes per second for each upload (STOR, APPE, STOU), 0 = unlimited */
  uploadRate: number;
  /** bytes per second for each transfer of an anonymous session, either way (0 = as everyone else) */
  anonymousRate: number;
}

export interface FtpTransferInfo {
  /** virtual path */
  file: string;
  direction: 'download' | 'upload' | 'list';
  bytes: number;
  /** expected bytes when known (downloads) */
  total?: number;
  startedAt: string;
  /** running, or how it ended (the last 'transfer' event of a transfer says so) */
  state: 'running' | 'done' | 'failed';
}

/** Live information about a session, for dashboards (`server.sessions()` and 'session' events). */
export interface FtpSessionInfo {
  id: number;
  ip: string;
  port: number;
  user?: string;
  class?: FtpAccountClass;
  secure: boolean;
  connectedAt: string;
  cwd?: string;
  /** the last command, PASS redacted */
  command?: string;
  transfer?: FtpTransferInfo;
}

/** A server-side problem met while serving a session (e.g. a corrupt accounts file). */
export interface FtpWarning {
  /** session id */
  id: number;
  ip: string;
  text: string;
}

export interface FtpSessionEvent extends FtpSessionInfo {
  event: 'connect' | 'login' | 'command' | 'transfer' | 'close';
}

/** What every session of one server shares. */
export interface SessionContext {
  tracer: EventEmitter;
  store: AccountStore;
  policy: FtpAccountPolicy;
  perms: ReturnType<typeof classPermissions>;
  /** AUTH TLS is offered when set */
  tls?: tls.SecureContext;
  requireTls: boolean;
  /** account passwords without TLS from non-loopback clients (see FtpServerOptions) */
  allowPlaintext: boolean;
  guard: LoginGuard;
  pool: DataPortPool;
  /** IPv4 address PASV announces instead of the control connection's local address */
  publicHost?: string;
  limits: FtpLimits;
  listings: ListingCache;
  greeting: string;
  emitSession(ev: FtpSessionEvent): void;
  /** a server-side problem the operator must see even without --trace (the server's 'warning' event) */
  warn?(ev: FtpWarning): void;
  /** false when nobody listens for session events: the session then builds none */
  observed?(): boolean;
  /** free space for a directory's file system (the upload reserve; statfs unless injected) */
  freeSpace: FreeSpace;
}

/** A transfer as a command describes it; the session does the data connection, 150 and 226/426. */
export interface TransferSpec {
  direction: FtpTransferInfo['direction'];
  file: string;
  total?: number;
  /** text of the 150 reply */
  opening: string;
  run(r: TransferRun): Promise<TransferOutcome>;
  /** text of the 226 reply */
  completed?: (o: TransferOutcome) => string;
  /** release resources when the transfer never started (no data connection) */
  cancel?: () => Promise<void> | void;
}

interface ActiveTransfer {
  spec: TransferSpec;
  info: FtpTransferInfo;
  abort: AbortController;
  socket?: net.Socket | tls.TLSSocket;
  done: Promise<void>;
  /** stopped by ABOR, which sends the last reply (226) and then resumes the held commands */
  abortedByCommand?: boolean;
}

export type CommandHandler = (s: FtpSession, arg: string) => void | Promise<void>;

export interface CommandSpec {
  /** needs a logged-in user (default true) */
  auth?: boolean;
  /** the argument is required (501 when missing) */
  needsArg?: boolean;
  /** one-line syntax for HELP */
  help: string;
  run: CommandHandler;
}

const SYNTHETIC_PERMS = new Permissions('el');
const HTTP_REQUEST = /^[A-Z]+ \S+ HTTP\/\d/;

export class FtpSession {
  readonly conn: LineConnection;
  readonly ctx: SessionContext;
  readonly data: DataChannel;
  readonly connectedAt = new Date().toISOString();
  identity: FtpIdentity | undefined;
  /** USER given, waiting for PASS */
  pendingUser: string | undefined;
  cwd = '/';
  type: 'A' | 'I' = 'A';
  restOffset = 0;
  renameFrom: string | undefined;
  /** shared default until OPTS MLST replaces it (never changed in place: one array per server, not per session) */
  mlstFacts: readonly string[] = DEFAULT_MLST_FACTS;
  pbszDone = false;
  prot: 'C' | 'P' = 'C';
  epsvAll = false;
  lastCommand: string | undefined;
  private active: ActiveTransfer | undefined;
  private readonly order = new CommandOrder({
    busy: () => this.active !== undefined,
    verbOf: (line) => parseCommand(line).verb,
    run: (line) => this.dispatch(line),
  });
  private preLoginCommands = 0;
  private badCommands = 0;
  private lastProgress = 0;
  private closing = false;
  /** the control connection came in on the implicit-TLS port */
  readonly implicitTls: boolean;
  private greeted = false;

  /** `implicitTls`: the connection came in on the implicit-TLS port (needs `ctx.tls`). */
  constructor(socket: net.Socket, ctx: SessionContext, options: { implicitTls?: boolean } = {}) {
    this.ctx = ctx;
    this.implicitTls = options.implicitTls === true && ctx.tls !== undefined;
    this.conn = new LineConnection(socket, {
      service: 'ftp',
      tracer: ctx.tracer,
      maxLineLength: ctx.limits.maxLineLength,
      idleTimeoutMs: ctx.limits.idleTimeoutMs,
      maxOutboundBytes: ctx.limits.maxOutboundBytes,
      encoding: 'utf8',
      redact: redactCommand,
      bareCR: urgentAbort,
      // The client closed its side. Held commands are still answered, but a transfer that waits
      // for a passive data connection would only wait for its timeout: nobody is left to open it.
      drained: () => {
        this.data.cancelPassiveWait();
        return this.order.drained();
      },
    });
    this.data = new DataChannel({
      control: () => this.conn.socket,
      pool: ctx.pool,
      connectTimeoutMs: ctx.limits.dataConnectTimeoutMs,
      trace: (text) => this.conn.trace('info', text),
    });
    this.conn.on('idle', () => {
      if (!this.started) this.conn.destroy();
      else if (this.active) this.conn.keepAlive();
      else
        this.close(
          421,
          `Idle timeout (${Math.round(ctx.limits.idleTimeoutMs / 1000)} s): closing control connection`,
        );
    });
    this.conn.on('close', () => this.onClosed());
    this.conn.onOverflow(() => {
      this.reply(500, `Line too long (over ${ctx.limits.maxLineLength} bytes)`);
      this.countBad();
      if (!this.identity) this.close(421, 'Line too long before login: closing control connection');
    });
    this.conn.onLine((line) => (this.closing ? undefined : this.order.push(line)));
    if (!this.implicitTls) {
      this.greet();
      return;
    }
    // Implicit FTPS protects the data connections too unless the client says PROT C: curl and
    // FileZilla send PBSZ 0 + PROT P anyway, but lftp with `ftps:initial-prot P` sends no PROT
    this.prot = 'P';
    this.secureControl().then(
      () => this.greet(),
      () => {
        // the connection traced why and closed itself; the listener frees the slot
      },
    );
  }

  private greet(): void {
    if (this.conn.closed) return;
    this.greeted = true;
    this.emit('connect');
    const locked = this.ctx.guard.lockedFor(this.ip);
    if (locked > 0) {
      this.close(421, `Too many failed logins from your address; try again in ${Math.ceil(locked / 1000)} s`);
      return;
    }
    this.reply(220, this.ctx.greeting);
  }

  /**
   * TLS on the control connection (the implicit port's first bytes, or after AUTH TLS's 234),
   * bounded by `tlsHandshakeTimeoutMs`. Rejects when the handshake fails, times out or the peer
   * goes away; the connection is then closed.
   */
  async secureControl(): Promise<void> {
    const context = this.ctx.tls;
    if (!context) throw new NetkitError('NETKIT_PROTOCOL', 'TLS is not configured');
    return this.conn.upgradeTls(context, { handshakeTimeoutMs: this.ctx.limits.tlsHandshakeTimeoutMs });
  }

  /** greeted (for implicit TLS: once the handshake is done); before that it is no session yet */
  get started(): boolean {
    return this.greeted;
  }

  get id(): number {
    return this.conn.id;
  }

  get ip(): string {
    return this.conn.remoteAddress.replace(/^::ffff:(?=\d+\.)/i, '');
  }

  get secure(): boolean {
    return this.conn.secure;
  }

  get transferring(): boolean {
    return this.active !== undefined;
  }

  info(): FtpSessionInfo {
    const out: FtpSessionInfo = {
      id: this.id,
      ip: this.ip,
      port: this.conn.remotePort,
      secure: this.secure,
      connectedAt: this.connectedAt,
    };
    if (this.identity) {
      out.user = this.identity.user;
      out.class = this.identity.class;
      out.cwd = this.cwd;
    }
    if (this.lastCommand) out.command = this.lastCommand;
    if (this.active) out.transfer = { ...this.active.info };
    return out;
  }

  emit(event: FtpSessionEvent['event'], transfer?: FtpTransferInfo): void {
    if (this.ctx.observed?.() === false) return;
    const info = this.info();
    if (transfer) info.transfer = { ...transfer };
    this.ctx.emitSession({ event, ...info });
  }

  /** Report a server-side problem: an error trace line and the server's 'warning' event. */
  warn(text: string): void {
    this.conn.trace('error', text);
    this.ctx.warn?.({ id: this.id, ip: this.ip, text });
  }

  /** Send a reply (one line or multi-line). */
  reply(code: number, text: string | readonly string[]): void {
    for (const line of formatReply(code, text)) this.conn.writeLine(line);
  }

  /** Last reply and close the control connection; the one shutdown path. */
  close(code?: number, text?: string): void {
    if (this.closing) return;
    this.closing = true;
    this.order.clear();
    this.active?.abort.abort();
    this.data.close();
    if (code !== undefined) this.conn.end(formatReply(code, text ?? '').join('\r\n'));
    else this.conn.end();
  }

  /** Server shutdown: finish a running transfer, then say goodbye. */
  shutdown(): void {
    if (!this.started) {
      // still in its TLS handshake: nothing to say goodbye in
      this.closing = true;
      this.conn.destroy();
      return;
    }
    const bye = () => this.close(421, 'Server shutting down');
    this.conn.closeOnceEnded();
    if (this.active) this.active.done.then(bye, bye);
    else bye();
  }

  private onClosed(): void {
    this.closing = true;
    const a = this.active;
    // An upload whose data already ended is allowed to reach the disk; anything else stops.
    if (a && !(a.spec.direction === 'upload' && a.socket?.readableEnded)) a.abort.abort();
    // the transfer owns its socket already; a passive listener still waiting goes now
    this.data.close();
    this.order.clear();
    if (this.started) this.emit('close');
  }

  // ---- dispatch ----

  private async dispatch(line: string): Promise<void> {
    if (this.closing) return;
    const { verb, arg } = parseCommand(line);
    if (!this.identity) {
      if (HTTP_REQUEST.test(line)) {
        this.close(421, 'This is an FTP server, not an HTTP server');
        return;
      }
      this.preLoginCommands += 1;
      if (this.preLoginCommands > this.ctx.limits.maxPreLoginCommands) {
        this.close(421, `Too many commands (${this.ctx.limits.maxPreLoginCommands}) without logging in`);
        return;
      }
      if (Buffer.byteLength(line) > this.ctx.limits.maxPreLoginLineLength) {
        this.close(421, `Line too long before login (over ${this.ctx.limits.maxPreLoginLineLength} bytes)`);
        return;
      }
    }
    const spec = verb ? commandTable[verb] : undefined;
    if (!spec) {
      // RFC 959 §4.2: 502 is for a command recognised but not implemented, 500 for the rest
      if (NOT_IMPLEMENTED.has(verb)) {
        this.badCommands = 0;
        this.reply(502, `Command ${verb} not implemented`);
        return;
      }
      this.reply(500, verb ? `Unknown command ${verb}` : 'Syntax error, command unrecognized');
      this.countBad();
      return;
    }
    this.badCommands = 0;
    this.lastCommand = redactCommand(arg ? `${verb} ${arg}` : verb);
    if (verb !== 'RNTO' && verb !== 'RNFR') this.renameFrom = undefined;
    if (spec.auth !== false && !this.identity) {
      this.reply(530, 'Please log in with USER and PASS first');
      return;
    }
    if (spec.needsArg && arg.trim() === '') {
      this.reply(501, `Syntax error: ${verb} needs an argument (${spec.help})`);
      return;
    }
    if (this.identity) this.emit('command');
    try {
      await spec.run(this, arg);
    } catch (err) {
      this.replyError(err);
    }
  }

  private countBad(): void {
    this.badCommands += 1;
    if (this.badCommands >= this.ctx.limits.maxBadCommands) {
      this.close(
        421,
        `Too many unrecognized commands (${this.ctx.limits.maxBadCommands}): closing connection`,
      );
    }
  }

  /** Reply for a thrown error: path jail → 550, file system errors → 550/553/452, else 451. */
  replyError(err: unknown): void {
    const code = (err as NodeJS.ErrnoException)?.code;
    const msg = errorMessage(err);
    if (err instanceof NetkitError) {
      if (err.code === 'NETKIT_PATH_OUTSIDE_ROOT') {
        this.reply(550, `${msg.replace(/^"(.*?)": /, '$1: ')} (NETKIT_PATH_OUTSIDE_ROOT)`);
        return;
      }
      if (err.code === 'NETKIT_INVALID_INPUT') {
        this.reply(550, msg);
        return;
      }
    }
    switch (code) {
      case 'ENOENT':
        this.reply(550, 'No such file or directory');
        return;
      case 'EEXIST':
        this.reply(550, 'File exists');
        return;
      case 'ENOTDIR':
        this.reply(550, 'Not a directory');
        return;
      case 'EISDIR':
        this.reply(550, 'Is a directory');
        return;
      case 'ENOTEMPTY':
        this.reply(550, 'Directory not empty');
        return;
      case 'EACCES':
      case 'EPERM':
        this.reply(550, 'Permission denied by the file system');
        return;
      case 'ELOOP':
        this.reply(550, 'Refusing to follow a symbolic link');
        return;
      case 'ENOSPC':
      case 'EDQUOT':
        this.reply(452, 'Insufficient storage space');
        return;
      case 'ENAMETOOLONG':
        this.reply(553, 'File name too long');
        return;
      case 'EROFS':
        this.reply(550, 'Read-only file system');
        return;
    }
    this.conn.trace('error', msg);
    // a system error's message names real paths, which the jail keeps hidden: the trace has it
    if (err instanceof NetkitError) this.reply(451, `Local error: ${msg}`);
    else this.reply(451, `Local error in processing${code ? ` (${code})` : ''}`);
  }

  // ---- helpers for command handlers ----

  /** A client path → normal virtual path (throws NETKIT_PATH_OUTSIDE_ROOT). */
  resolve(arg: string): string {
    return this.identity!.vfs.resolve(this.cwd, arg);
  }

  /** Permissions at a virtual path (synthetic directories: list and enter only). */
  permsAt(vpath: string): Permissions {
    return this.identity!.vfs.mountOf(vpath)?.perms ?? SYNTHETIC_PERMS;
  }

  /** This server changed `real` (a file or directory): cached listings of its directory go. */
  changed(real: string, isDir = false): void {
    this.ctx.listings.invalidate(path.dirname(real));
    if (isDir) this.ctx.listings.invalidate(real);
  }

  /** Check a permission; on refusal reply (550/532) and return false. */
  allowed(p: Permission, vpath: string): boolean {
    if (this.permsAt(vpath).has(p)) return true;
    const r = refusal(p, this.identity!.class, vpath);
    this.reply(r.code, r.text);
    return false;
  }

  /**
   * The preconditions of a data transfer: a data connection was set up, and PROT P when TLS is
   * required. Replies and returns false when not met.
   */
  dataReady(): boolean {
    if (this.ctx.requireTls && this.prot !== 'P') {
      this.data.dismiss();
      this.reply(534, 'PROT P required: this server only transfers data over TLS');
      return false;
    }
    if (!this.data.configured) {
      this.reply(425, 'Use PASV, EPSV, PORT or EPRT first');
      return false;
    }
    return true;
  }

  /** Drop the data channel after a transfer command was refused before it started. */
  refuseTransfer(code: number, text: string): void {
    this.data.dismiss();
    this.reply(code, text);
  }

  /** The REST offset for this file transfer command; it is used up either way. */
  takeRest(): number {
    const offset = this.restOffset;
    this.restOffset = 0;
    return offset;
  }

  /** Start a transfer in the background (the handler returns at once; see the ordering note). */
  startTransfer(spec: TransferSpec): void {
    const active: ActiveTransfer = {
      spec,
      abort: new AbortController(),
      info: {
        file: spec.file,
        direction: spec.direction,
        bytes: 0,
        startedAt: new Date().toISOString(),
        state: 'running',
        ...(spec.total !== undefined ? { total: spec.total } : {}),
      },
      done: Promise.resolve(),
    };
    this.active = active;
    this.emit('transfer');
    active.done = this.runTransfer(active).then(
      () => this.finishTransfer(active),
      (err) => {
        this.finishTransfer(active);
        this.replyError(err);
      },
    );
    void active.done.then(() => {
      if (!active.abortedByCommand) void this.order.resume();
    });
  }

  /** ABOR: stop the running transfer (it answers 426), then 226. */
  async abortTransfer(): Promise<void> {
    const a = this.active;
    if (!a) {
      this.data.close();
      this.reply(225, 'No transfer to abort; data connection closed');
      return;
    }
    a.abortedByCommand = true;
    a.abort.abort();
    this.data.close();
    await a.done;
    this.reply(226, 'ABOR successful: transfer aborted');
    void this.order.resume();
  }

  /** HELP: the syntax of one command (undefined when unknown). */
  commandHelp(verb: string): string | undefined {
    return commandTable[verb]?.help;
  }

  /** HELP: every command verb, sorted. */
  commandVerbs(): string[] {
    return Object.keys(commandTable).sort();
  }

  /** STAT during a transfer. */
  transferStatus(): string | undefined {
    const a = this.active;
    if (!a) return undefined;
    const total = a.info.total !== undefined ? ` of ${a.info.total}` : '';
    return `Transfer in progress: ${a.info.direction} ${a.info.file}, ${a.info.bytes}${total} bytes`;
  }

  private finishTransfer(a: ActiveTransfer): void {
    if (this.active === a) this.active = undefined;
    if (a.info.state === 'running') a.info.state = 'failed';
    this.emit('transfer', a.info);
  }

  private async runTransfer(a: ActiveTransfer): Promise<void> {
    const { spec } = a;
    let raw: net.Socket;
    try {
      raw = await this.data.open();
    } catch (err) {
      await spec.cancel?.();
      if (a.abort.signal.aborted) this.reply(426, 'Transfer aborted before the data connection opened');
      else this.reply(425, `Can't open data connection: ${errorMessage(err)}`);
      return;
    }
    this.data.release(raw);
    a.socket = raw;
    const context = this.prot === 'P' ? this.ctx.tls : undefined;
    const securing = context
      ? secureDataSocket(raw, context, this.ctx.limits.dataConnectTimeoutMs)
      : undefined;
    this.reply(150, spec.opening);
    let socket: net.Socket | tls.TLSSocket = raw;
    if (securing) {
      try {
        socket = await securing;
        a.socket = socket;
      } catch (err) {
        raw.destroy();
        await spec.cancel?.();
        this.reply(425, `Can't open data connection: ${errorMessage(err)}`);
        return;
      }
    }
    const rate = this.transferRate(spec.direction);
    const outcome = await spec.run({
      socket,
      signal: a.abort.signal,
      idleTimeoutMs: this.ctx.limits.dataIdleTimeoutMs,
      onBytes: (n) => this.progress(a, n),
      ...(rate > 0 ? { bucket: new TokenBucket(rate) } : {}),
    });
    a.info.bytes = outcome.bytes;
    if (outcome.ok) {
      a.info.state = 'done';
      this.reply(226, spec.completed?.(outcome) ?? `Transfer complete (${outcome.bytes} bytes)`);
      lingerThenDestroy(socket);
      return;
    }
    socket.destroy();
    if (outcome.reason === 'aborted') {
      this.reply(426, `Transfer aborted after ${outcome.bytes} bytes`);
    } else if (outcome.reason === 'connection') {
      this.conn.trace('error', `data connection broke: ${outcome.error.message}`);
      this.reply(
        426,
        `Connection closed; transfer aborted after ${outcome.bytes} bytes (${outcome.error.message})`,
      );
    } else {
      const code = (outcome.error as NodeJS.ErrnoException).code;
      if (isOversize(outcome.error)) this.reply(552, `${outcome.error.message}; upload discarded`);
      else if (code === 'ENOSPC' || code === 'EDQUOT')
        this.reply(452, 'Insufficient storage space; transfer aborted');
      else this.reply(451, `Local error; transfer aborted: ${outcome.error.message}`);
    }
  }

  /** The rate limit of a transfer this way for this session (bytes/s, 0 = none): the lower one wins. */
  private transferRate(direction: FtpTransferInfo['direction']): number {
    const { downloadRate, uploadRate, anonymousRate } = this.ctx.limits;
    const own = direction === 'download' ? downloadRate : direction === 'upload' ? uploadRate : 0;
    const anon = this.identity?.class === 'anonymous' && direction !== 'list' ? anonymousRate : 0;
    return own > 0 && anon > 0 ? Math.min(own, anon) : own || anon;
  }

  /** What uploads may take from the disk (see upload-limits.ts). */
  uploadLimits(): UploadLimits {
    const { maxUploadBytes, minFreeBytes } = this.ctx.limits;
    return { maxUploadBytes, minFreeBytes, freeSpace: this.ctx.freeSpace };
  }

  private progress(a: ActiveTransfer, n: number): void {
    a.info.bytes += n;
    this.conn.keepAlive();
    const now = Date.now();
    if (now - this.lastProgress >= this.ctx.limits.progressIntervalMs) {
      this.lastProgress = now;
      this.emit('transfer');
    }
  }
}

/**
 * After a successful transfer: let the peer finish its side (its FIN or TLS close_notify) so that
 * closing never resets a connection with bytes in flight, but do not wait forever.
 */
function lingerThenDestroy(socket: net.Socket): void {
  if (socket.destroyed) return;
  const timer = setTimeout(() => socket.destroy(), 10_000);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.on('error', () => {});
  socket.resume();
}
