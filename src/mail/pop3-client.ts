/**
 * Our POP3 client, shaped like Python's `poplib.POP3`: one method per command (`stat`, `list`, `uidl`,
 * `top`, `retr`, `dele`, `rset`, `noop`, `quit`, `capa`, `stls`, `user`/`pass`), typed replies, and a
 * `Pop3Error` carrying the server's `-ERR` text and its RFC 2449 / RFC 3206 response code.
 *
 * Why our own: the npm POP3 clients are unmaintained callback wrappers without STLS or pipelining.
 * Shape (after basic-ftp): replies are parsed by the pure {@link Pop3ReplyReader}; commands are queued
 * FIFO so several may be in flight (pipelining, RFC 2449) and replies are matched in order; an `-ERR`
 * rejects that command only and leaves the session usable; every other failure (timeout, garbage,
 * the server closing mid-reply) goes through one `fail()` that rejects everything and closes.
 * The timeout is an idle timeout: armed only while a reply is awaited, restarted whenever bytes
 * arrive, and stopped while the connection waits for the reader of a streamed body (that wait is
 * ours, not the server's).
 *
 * Memory: `retr()` keeps the message (up to `maxBodyBytes`); `retrStream()` / `retrEachStream()`
 * hand it over as it arrives, with backpressure down to the socket (pop3-client-body.ts), so a
 * message of any size takes a bounded amount. Pipelined RETRs are bounded by count and by the sizes
 * LIST gave ({@link RetrWindow}). The client emits `'pause'` when it stops reading the server because
 * a streamed body's reader is behind, and `'resume'` when it reads again (for progress displays).
 *
 * Trace: `'trace'` events with `PASS` and `AUTH` payloads redacted; message bodies are summarised.
 */
import net from 'node:net';
import type { Readable } from 'node:stream';
import tls from 'node:tls';
import { formatHostPort } from '../core/address.js';
import {
  certificateError,
  connectFailure,
  NETKIT_TRUST_FLAGS,
  NetkitError,
  type NetkitErrorCode,
  noReply,
  notTlsThere,
  systemErrorWords,
} from '../core/errors.js';
import { TypedEventEmitter } from '../core/events.js';
import { terminalSafe } from '../core/terminal-safe.js';
import { defaultTrust, sniName } from '../core/tls-trust.js';
import { nextConnId, redactCommand, type TraceEvent, type TraceEvents, traceEvent } from '../core/trace.js';
import { BodyFlow, type BodyStream } from './pop3-client-body.js';
import { type Pop3Reply, Pop3ReplyReader } from './pop3-client-reader.js';

export interface Pop3ConnectOptions {
  /** default 127.0.0.1 */
  host?: string;
  /** default 1110 (or 1995 with `tls`) */
  port?: number;
  /** implicit TLS (POP3S) */
  tls?: boolean;
  /**
   * idle timeout in ms while a reply is awaited: the server sending nothing for this long fails the
   * connection (every chunk received restarts it; not counted while a streamed body's reader is
   * behind). Also the connect and TLS handshake timeout. Default 30 s.
   */
  timeout?: number;
  /** verify the server certificate (default true); false is for the lab's self-signed dev cert only */
  rejectUnauthorized?: boolean;
  /** trusted certificate(s) in PEM, instead of the system roots (e.g. the lab's `tls/dev-cert.pem`) */
  ca?: string | Buffer | Array<string | Buffer>;
  /** SNI / certificate name (default: host, unless it is an IP address) */
  servername?: string;
  /** largest message kept in memory (`retr`, `top`), default 256 MiB; `retrStream` has no limit */
  maxBodyBytes?: number;
  /**
   * largest CAPA, LIST or UIDL listing, default {@link DEFAULT_MAX_LISTING_BYTES} (16 MiB: a million
   * messages or more). Each line becomes an object, so a listing costs many times its size in memory:
   * a server that sends one without end fails with NETKIT_TOO_LARGE instead of taking gigabytes.
   */
  maxListingBytes?: number;
  /** receive trace events from the start (the greeting included) */
  onTrace?: (ev: TraceEvent) => void;
}

/** `-ERR` from the server: the command failed, the session is still usable. */
export class Pop3Error extends NetkitError {
  /** the server's text after `-ERR` (and after the response code) */
  readonly serverText: string;
  /** RFC 2449/3206 response code: IN-USE, AUTH, SYS/TEMP, SYS/PERM, LOGIN-DELAY… */
  readonly responseCode: string | undefined;
  /** the command that failed, secrets redacted */
  readonly command: string;

  constructor(command: string, reply: Pop3Reply) {
    const verb = command.split(' ')[0]!.toUpperCase();
    const notCredentials = reply.code !== undefined && reply.code !== 'AUTH'; // IN-USE, SYS/TEMP, LOGIN-DELAY
    const authFailure =
      reply.code === 'AUTH' || (!notCredentials && (verb === 'PASS' || verb === 'AUTH' || verb === 'APOP'));
    const code: NetkitErrorCode = authFailure ? 'NETKIT_AUTH' : 'NETKIT_PROTOCOL';
    const tag = reply.code ? `[${reply.code}] ` : '';
    // the server's text reaches a terminal (the CLI's error line): escape what could drive it
    super(code, `${command}: -ERR ${tag}${terminalSafe(reply.text)}`.trimEnd());
    this.name = 'Pop3Error';
    this.serverText = reply.text;
    this.responseCode = reply.code;
    this.command = command;
  }
}

export interface Pop3Stat {
  count: number;
  size: number;
}
export interface Pop3ListEntry {
  n: number;
  size: number;
}
export interface Pop3UidlEntry {
  n: number;
  uid: string;
}
/** CAPA result: capability name (upper case) → its arguments. */
export type Pop3Capabilities = Record<string, string[]>;

/**
 * How many RETRs may be in flight at once (sent, their message not yet handled): at most `window`
 * (default 32, and 1 when the server does not announce PIPELINING), and only as many as fit in
 * `windowBytes` (default 16 MiB) by the sizes given with the message numbers (a number without a
 * size counts 0). One is always in flight, however large.
 */
export interface RetrWindow {
  window?: number;
  windowBytes?: number;
}

export const DEFAULT_MAX_LISTING_BYTES = 16 * 1024 * 1024;

export const DEFAULT_RETR_WINDOW = 32;
export const DEFAULT_RETR_WINDOW_BYTES = 16 * 1024 * 1024;

interface Pending {
  command: string;
  multiline: boolean;
  resolve: (r: Pop3Reply) => void;
  reject: (e: Error) => void;
  /** the reply's body is streamed here instead of kept */
  body?: BodyStream;
}

/** What a multi-line reply's body may be: streamed to `body`, at most `maxBytes`. */
interface BodyTerms {
  body?: BodyStream;
  maxBytes?: number;
}

function bodyLines(body: Buffer): string[] {
  return body
    .toString('utf8')
    .split(/\r?\n/)
    .filter((l) => l !== '');
}

function parseNumbers(what: string, text: string, count: number): number[] {
  const parts = text.trim().split(/\s+/);
  const nums = parts.slice(0, count).map(Number);
  if (parts.length < count || nums.some((n) => !Number.isSafeInteger(n) || n < 0)) {
    throw new NetkitError(
      'NETKIT_PROTOCOL',
      `malformed ${what} reply: ${terminalSafe(JSON.stringify(text))}`,
    );
  }
  return nums;
}

function checkMsgNumber(n: number): void {
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new NetkitError('NETKIT_INVALID_INPUT', `message number must be a positive integer, got ${n}`);
  }
}

function checkArg(what: string, value: string): void {
  if (/[\r\n\0]/.test(value)) {
    throw new NetkitError('NETKIT_INVALID_INPUT', `${what} contains a line break or NUL`);
  }
}

/** What a {@link Pop3Client} emits, each event with its listener's arguments. */
export interface Pop3ClientEvents extends TraceEvents {
  /** reading from the server stopped: a streamed body's reader is behind */
  pause: [];
  /** reading from the server goes on */
  resume: [];
}

/**
 * A POP3 client (RFC 1939, with CAPA, STLS, UIDL, TOP, pipelining): open one with
 * {@link Pop3Client.connect}; an `-ERR` is a {@link Pop3Error} and leaves the session usable.
 */
export class Pop3Client extends TypedEventEmitter<Pop3ClientEvents> {
  /** the server greeting text (after `+OK`) */
  greeting = '';
  /** true once the link is TLS (implicit, or after STLS) */
  secure: boolean;
  readonly host: string;
  readonly port: number;
  private socket: net.Socket | tls.TLSSocket;
  private readonly reader: Pop3ReplyReader;
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly timeoutMs: number;
  /** the terms of a CAPA, LIST or UIDL body */
  private readonly listing: BodyTerms;
  private closed = false;
  /** the server (or the network) ended the connection while no reply was awaited */
  private closedByServer = false;
  private failure: Error | undefined;
  private capabilities: Pop3Capabilities | undefined;
  private readonly conn = nextConnId();
  private readonly peer: string;
  private detach: () => void = () => {};
  private closedResolve!: () => void;
  /** streamed bodies: the socket is paused while one of their readers is behind */
  private readonly flow = new BodyFlow({
    pause: () => {
      this.socket.pause();
      this.rearm();
      this.emit('pause');
    },
    resume: () => {
      if (this.failure || this.closed) return;
      this.socket.resume();
      this.rearm();
      this.emit('resume');
    },
  });
  /** Resolves once the connection is fully closed (after QUIT, `close()`, or by the server). */
  readonly whenClosed: Promise<void> = new Promise((r) => {
    this.closedResolve = r;
  });

  private constructor(
    socket: net.Socket | tls.TLSSocket,
    private readonly opts: Pop3ConnectOptions,
  ) {
    super();
    this.socket = socket;
    this.host = opts.host ?? '127.0.0.1';
    this.port = opts.port ?? (opts.tls ? 1995 : 1110);
    this.secure = !!opts.tls;
    this.timeoutMs = opts.timeout ?? 30_000;
    this.peer = formatHostPort(this.host, this.port);
    this.reader = new Pop3ReplyReader({ maxBodyBytes: opts.maxBodyBytes });
    this.listing = { maxBytes: opts.maxListingBytes ?? DEFAULT_MAX_LISTING_BYTES };
    this.attach(socket);
  }

  /**
   * Connect and read the greeting.
   * @throws NetkitError NETKIT_CONNECT_FAILED, NETKIT_TIMEOUT, NETKIT_PROTOCOL (or Pop3Error for a `-ERR` greeting)
   */
  static async connect(opts: Pop3ConnectOptions = {}): Promise<Pop3Client> {
    const host = opts.host ?? '127.0.0.1';
    const port = opts.port ?? (opts.tls ? 1995 : 1110);
    checkArg('host', host);
    const timeout = opts.timeout ?? 30_000;
    const socket = await new Promise<net.Socket | tls.TLSSocket>((resolve, reject) => {
      const s = opts.tls
        ? tls.connect({
            host,
            port,
            rejectUnauthorized: opts.rejectUnauthorized ?? true,
            ...defaultTrust(opts.ca),
            servername: opts.servername ?? sniName(host),
          })
        : net.connect({ host, port });
      const t = setTimeout(() => {
        s.destroy();
        reject(
          new NetkitError(
            'NETKIT_TIMEOUT',
            `connecting to ${formatHostPort(host, port)} timed out after ${timeout} ms`,
          ),
        );
      }, timeout);
      s.once(opts.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(t);
        s.off('error', onError);
        resolve(s);
      });
      const onError = (err: NodeJS.ErrnoException) => {
        clearTimeout(t);
        reject(connectError(err, host, port));
      };
      s.on('error', onError);
    });
    const client = new Pop3Client(socket, { ...opts, host, port });
    if (opts.onTrace) client.on('trace', opts.onTrace);
    client.trace('connect', opts.tls ? 'tls' : '');
    try {
      client.greeting = (await client.send(undefined, false)).text;
    } catch (err) {
      client.close(); // a -ERR greeting (server busy) or garbage: nothing more to say
      throw err;
    }
    return client;
  }

  // ---- plumbing ----

  private attach(socket: net.Socket | tls.TLSSocket): void {
    const onData = (chunk: Buffer) => this.onData(chunk);
    const onError = (err: Error) => this.fail(err);
    const onClose = () => {
      this.closedByServer = !this.closed;
      this.closed = true;
      this.disarm();
      this.trace('disconnect', '');
      this.closedResolve();
      const p = this.queue[0];
      if (p) {
        const what = this.reader.midReply ? 'in the middle of the reply to' : 'before replying to';
        this.fail(
          new NetkitError(
            'NETKIT_PROTOCOL',
            `connection closed by ${this.peer} ${what} ${p.command || 'greeting'}`,
          ),
        );
      }
    };
    socket.on('data', onData);
    socket.on('error', onError);
    socket.once('close', onClose);
    this.detach = () => {
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
  }

  private trace(kind: 'connect' | 'disconnect' | 'in' | 'out' | 'error' | 'info', text: string): void {
    // server lines (and errors quoting them) are printed by `--trace`: no escape sequence gets through
    const shown = terminalSafe(text);
    traceEvent(this, 'pop3', this.conn, kind, shown, kind === 'connect' ? this.peer : undefined);
  }

  private onData(chunk: Buffer): void {
    if (this.failure) return;
    let replies: Pop3Reply[];
    try {
      replies = this.reader.push(chunk);
    } catch (err) {
      this.fail(
        err instanceof NetkitError && err.code === 'NETKIT_TOO_LARGE'
          ? new NetkitError(err.code, `${this.peer}: the reply to ${this.awaited}: ${err.message}`)
          : (err as Error),
      );
      return;
    }
    for (const r of replies) {
      const p = this.queue.shift();
      if (!p) continue;
      this.trace('in', r.line);
      if (r.ok && p.body) {
        this.trace('info', `(${p.body.bytes} octets)`);
        this.trace('in', '.');
      } else if (r.body !== undefined) {
        const verb = p.command.split(' ')[0]!.toUpperCase();
        if (verb === 'RETR' || verb === 'TOP') this.trace('info', `(${r.body.length} octets)`);
        else for (const l of bodyLines(r.body)) this.trace('in', l);
        this.trace('in', '.');
      }
      if (r.ok) p.resolve(r);
      else p.reject(new Pop3Error(p.command || 'greeting', r));
    }
    this.rearm();
  }

  /**
   * The idle timeout runs while a reply is awaited and the socket is being read; while a streamed
   * body's reader is behind, the wait is ours and does not count.
   */
  private rearm(): void {
    if (this.queue.length > 0 && !this.flow.paused && !this.failure && !this.closed) this.arm();
    else this.disarm();
  }

  /** The command whose reply is awaited now, as errors name it (`greeting` before any). */
  private get awaited(): string {
    return this.queue[0]?.command || 'greeting';
  }

  private arm(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      const what = this.awaited;
      this.fail(
        this.reader.midReply
          ? new NetkitError(
              'NETKIT_TIMEOUT',
              `${this.peer} sent nothing for ${this.timeoutMs} ms in the middle of the reply to ${what}`,
            )
          : noReply(this.peer, what, this.timeoutMs),
      );
    }, this.timeoutMs);
    this.timer.unref?.();
  }

  private disarm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The single failure path: reject everything in flight, close the socket. */
  private fail(err: Error): void {
    if (this.failure) return;
    const e =
      err instanceof NetkitError
        ? err
        : new NetkitError('NETKIT_CONNECT_FAILED', `${this.peer}: ${err.message}`, { cause: err });
    this.failure = e;
    this.disarm();
    this.trace('error', e.message);
    const q = this.queue;
    this.queue = [];
    for (const p of q) p.reject(e);
    this.socket.destroy();
  }

  /**
   * Send one command (or none, for the greeting) and await its reply. Commands may be issued without
   * awaiting the previous one: they are pipelined and answered in order.
   */
  private send(
    command: string | undefined,
    multiline: boolean,
    traceText?: string,
    { body, maxBytes }: BodyTerms = {},
  ): Promise<Pop3Reply> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(this.notSent(command));
    return new Promise<Pop3Reply>((resolve, reject) => {
      const p: Pending = {
        command: command === undefined ? '' : redactCommand(command),
        multiline,
        resolve,
        reject,
      };
      if (body) p.body = body;
      this.queue.push(p);
      this.reader.expect(multiline, body && ((piece) => body.write(piece)), maxBytes);
      if (command !== undefined) {
        this.trace('out', traceText ?? redactCommand(command));
        this.socket.write(`${command}\r\n`);
      }
      this.rearm();
    });
  }

  /**
   * Why `command` cannot go out on a closed connection, naming the server and the command — a server
   * that hangs up between two commands (killed, restarted, an idle limit of its own) is told apart
   * from a client that closed or quit.
   */
  private notSent(command: string | undefined): NetkitError {
    const what = command === undefined ? 'the greeting' : redactCommand(command);
    return new NetkitError(
      'NETKIT_PROTOCOL',
      this.closedByServer
        ? `connection closed by ${this.peer} before ${what} could be sent`
        : `connection to ${this.peer} already closed by the client: ${what} not sent`,
    );
  }

  /** Send any command (letters and arguments, no CRLF): the escape hatch, like poplib's `_shortcmd`. */
  async command(line: string, multiline = false): Promise<Pop3Reply> {
    checkArg('command', line);
    return this.send(line, multiline);
  }

  // ---- RFC 2449 / 2595 ----

  /** CAPA: the server's capabilities (cached); throws Pop3Error if the server has no CAPA. */
  async capa(): Promise<Pop3Capabilities> {
    const r = await this.send('CAPA', true, undefined, this.listing);
    const caps: Pop3Capabilities = {};
    for (const l of bodyLines(r.body!)) {
      const [name, ...args] = l.trim().split(/\s+/);
      if (name) caps[name.toUpperCase()] = args;
    }
    this.capabilities = caps;
    return caps;
  }

  /** Capabilities from CAPA, or `{}` when the server does not implement CAPA. */
  async capabilitiesOrEmpty(): Promise<Pop3Capabilities> {
    if (this.capabilities) return this.capabilities;
    try {
      return await this.capa();
    } catch (err) {
      if (err instanceof Pop3Error) return (this.capabilities = {});
      throw err;
    }
  }

  /**
   * STLS: upgrade the connection to TLS. Anything the server sent after its `+OK` (a plaintext
   * injection attempt) is a protocol error. Capabilities are forgotten (they may change).
   */
  async stls(): Promise<void> {
    if (this.secure) throw new NetkitError('NETKIT_USAGE', 'the connection is already TLS');
    await this.send('STLS', false);
    if (this.reader.pending > 0 || this.reader.midReply) {
      this.fail(new NetkitError('NETKIT_PROTOCOL', 'data after the STLS reply (plaintext injection?)'));
      throw this.failure;
    }
    const plain = this.socket;
    this.detach();
    this.reader.reset();
    const secured = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({
        socket: plain,
        rejectUnauthorized: this.opts.rejectUnauthorized ?? true,
        ...defaultTrust(this.opts.ca),
        servername: this.opts.servername ?? sniName(this.host),
      });
      const t = setTimeout(() => {
        s.destroy();
        reject(new NetkitError('NETKIT_TIMEOUT', `TLS handshake with ${this.peer} timed out`));
      }, this.timeoutMs);
      s.once('secureConnect', () => {
        clearTimeout(t);
        s.off('error', onErr);
        resolve(s);
      });
      const onErr = (err: Error) => {
        clearTimeout(t);
        reject(tlsError(err, this.peer));
      };
      s.on('error', onErr); // stays on after a failure: later socket errors are moot
    }).catch((err) => {
      this.closed = true;
      this.failure = err;
      plain.destroy();
      throw err;
    });
    this.socket = secured;
    this.secure = true;
    this.capabilities = undefined;
    this.attach(secured);
    this.trace('info', `TLS established (${secured.getProtocol() ?? 'tls'})`);
  }

  // ---- authorization ----

  async user(name: string): Promise<Pop3Reply> {
    checkArg('user name', name);
    return this.send(`USER ${name}`, false);
  }

  async pass(password: string): Promise<Pop3Reply> {
    checkArg('password', password);
    return this.send(`PASS ${password}`, false, 'PASS ****');
  }

  /** AUTH PLAIN with an initial response (RFC 5034). */
  async authPlain(name: string, password: string): Promise<Pop3Reply> {
    checkArg('user name', name);
    checkArg('password', password);
    const token = Buffer.from(`\0${name}\0${password}`, 'utf8').toString('base64');
    const r = await this.send(`AUTH PLAIN ${token}`, false, 'AUTH PLAIN ****');
    if (r.continuation) {
      // the server ignored the initial response: cancel rather than guess
      await this.send('*', false).catch(() => {});
      throw new NetkitError('NETKIT_PROTOCOL', 'server did not accept the AUTH PLAIN initial response');
    }
    return r;
  }

  /** Log in: USER/PASS (default) or SASL PLAIN. Throws Pop3Error (code NETKIT_AUTH) on failure. */
  async login(name: string, password: string, opts: { method?: 'user' | 'plain' } = {}): Promise<void> {
    if (opts.method === 'plain') {
      await this.authPlain(name, password);
      return;
    }
    await this.user(name);
    await this.pass(password);
  }

  // ---- transaction ----

  async stat(): Promise<Pop3Stat> {
    const r = await this.send('STAT', false);
    const [count, size] = parseNumbers('STAT', r.text, 2);
    return { count: count!, size: size! };
  }

  /** LIST: every message, or one. */
  list(): Promise<Pop3ListEntry[]>;
  list(n: number): Promise<Pop3ListEntry>;
  async list(n?: number): Promise<Pop3ListEntry[] | Pop3ListEntry> {
    if (n !== undefined) {
      checkMsgNumber(n);
      const r = await this.send(`LIST ${n}`, false);
      const [num, size] = parseNumbers('LIST', r.text, 2);
      return { n: num!, size: size! };
    }
    const r = await this.send('LIST', true, undefined, this.listing);
    return bodyLines(r.body!).map((l) => {
      const [num, size] = parseNumbers('LIST', l, 2);
      return { n: num!, size: size! };
    });
  }

  /** UIDL: unique ids of every message, or of one. */
  uidl(): Promise<Pop3UidlEntry[]>;
  uidl(n: number): Promise<Pop3UidlEntry>;
  async uidl(n?: number): Promise<Pop3UidlEntry[] | Pop3UidlEntry> {
    const parse = (l: string): Pop3UidlEntry => {
      const m = /^\s*(\d+)\s+([\x21-\x7e]{1,70})\s*$/.exec(l);
      if (!m)
        throw new NetkitError('NETKIT_PROTOCOL', `malformed UIDL reply: ${terminalSafe(JSON.stringify(l))}`);
      return { n: Number(m[1]), uid: m[2]! };
    };
    if (n !== undefined) {
      checkMsgNumber(n);
      return parse((await this.send(`UIDL ${n}`, false)).text);
    }
    const r = await this.send('UIDL', true, undefined, this.listing);
    return bodyLines(r.body!).map(parse);
  }

  /** TOP: the headers and the first `lines` body lines of a message. */
  async top(n: number, lines: number): Promise<Buffer> {
    checkMsgNumber(n);
    if (!Number.isSafeInteger(lines) || lines < 0)
      throw new NetkitError('NETKIT_INVALID_INPUT', `line count must be ≥ 0, got ${lines}`);
    return (await this.send(`TOP ${n} ${lines}`, true)).body!;
  }

  /**
   * RETR: the whole message in memory, dot-unstuffed, CRLF line ends as sent. A message larger than
   * `maxBodyBytes` fails with NETKIT_TOO_LARGE (and closes the connection): use {@link retrStream}.
   */
  async retr(n: number): Promise<Buffer> {
    checkMsgNumber(n);
    return (await this.send(`RETR ${n}`, true)).body!;
  }

  /**
   * RETR as a stream: the message's bytes (dot-unstuffed, line ends as sent) come out of the
   * returned Readable as they arrive, so a message of any size takes bounded memory. While the
   * Readable holds `highWaterMark` (default 64 KiB) unread, the connection stops reading the
   * socket (and the idle timeout stops): the replies to any later command wait too, so read it to
   * its end, or destroy it — then the rest of the message is read from the server and dropped, and
   * the session stays usable. An `-ERR` or a failure of the connection errors the Readable.
   * `maxBytes` caps the message: a server that sends more fails the connection with
   * NETKIT_TOO_LARGE (the rest cannot be skipped: it may never end).
   */
  retrStream(n: number, opts: { highWaterMark?: number; maxBytes?: number } = {}): Readable {
    const body = this.flow.open(opts.highWaterMark);
    try {
      checkMsgNumber(n);
    } catch (err) {
      body.fail(err as Error);
      return body.readable;
    }
    this.send(`RETR ${n}`, true, undefined, { body, maxBytes: opts.maxBytes }).then(
      () => body.end(),
      (err: Error) => body.fail(err),
    );
    return body.readable;
  }

  /**
   * RETR several messages, handing each to `onMessage` in order as it arrives (nothing is kept).
   * With PIPELINING (RFC 2449) several RETRs are in flight at once, as {@link RetrWindow} allows
   * (pass LIST entries rather than numbers to bound them by size); otherwise one at a time.
   */
  async retrEach(
    messages: Array<number | Pop3ListEntry>,
    onMessage: (n: number, message: Buffer) => void | Promise<void>,
    opts: RetrWindow = {},
  ): Promise<void> {
    await this.pipelined(
      messages,
      ({ n }) => {
        const p = this.retr(n);
        p.catch(() => {}); // awaited in order
        return p;
      },
      async (n, p) => onMessage(n, await p),
      () => {},
      opts,
    );
  }

  /**
   * RETR several messages as streams ({@link retrStream}), pipelined as {@link retrEach}.
   * `onMessage` gets each message's Readable in order and should read it to the end before its
   * promise settles; what is left unread then is dropped. If `onMessage` throws, the messages
   * still in flight are dropped too and the error is rethrown (the session stays usable).
   * `maxBytes(listed)` caps each message by the size given with its number (as `retrStream`).
   */
  async retrEachStream(
    messages: Array<number | Pop3ListEntry>,
    onMessage: (n: number, message: Readable) => void | Promise<void>,
    opts: RetrWindow & { highWaterMark?: number; maxBytes?: (listed: number) => number } = {},
  ): Promise<void> {
    await this.pipelined(
      messages,
      ({ n, size }) => {
        const s = this.retrStream(n, { highWaterMark: opts.highWaterMark, maxBytes: opts.maxBytes?.(size) });
        s.on('error', () => {}); // reported to onMessage's reader, once it reads
        return s;
      },
      async (n, s) => {
        try {
          await onMessage(n, s);
        } finally {
          if (!s.readableEnded) s.destroy();
        }
      },
      (s) => s.destroy(),
      opts,
    );
  }

  /**
   * The pipelining window shared by {@link retrEach} and {@link retrEachStream}: `start` sends a
   * RETR, `handle` consumes its result in order, `drop` gives up one not handled (after a failure).
   */
  private async pipelined<T>(
    messages: Array<number | Pop3ListEntry>,
    start: (m: Pop3ListEntry) => T,
    handle: (n: number, started: T) => Promise<void>,
    drop: (started: T) => void,
    opts: RetrWindow,
  ): Promise<void> {
    const items = messages.map((m) => (typeof m === 'number' ? { n: m, size: 0 } : m));
    for (const m of items) checkMsgNumber(m.n);
    const caps = await this.capabilitiesOrEmpty();
    const window = 'PIPELINING' in caps ? Math.max(1, opts.window ?? DEFAULT_RETR_WINDOW) : 1;
    const budget = opts.windowBytes ?? DEFAULT_RETR_WINDOW_BYTES;
    const started = new Map<number, T>();
    let next = 0;
    let inFlightBytes = 0;
    try {
      for (let i = 0; i < items.length; i++) {
        while (
          next < items.length &&
          next - i < window &&
          (next === i || inFlightBytes + items[next]!.size <= budget)
        ) {
          started.set(next, start(items[next]!));
          inFlightBytes += items[next]!.size;
          next++;
        }
        const s = started.get(i)!;
        started.delete(i);
        try {
          await handle(items[i]!.n, s);
        } finally {
          inFlightBytes -= items[i]!.size;
        }
      }
    } finally {
      for (const s of started.values()) drop(s);
    }
  }

  /** RETR several messages (pipelined when the server allows) and return them all, in order. */
  async retrMany(messages: Array<number | Pop3ListEntry>, opts: RetrWindow = {}): Promise<Buffer[]> {
    const out: Buffer[] = [];
    await this.retrEach(messages, (_n, m) => void out.push(m), opts);
    return out;
  }

  /** DELE: mark for deletion; the server deletes at QUIT (UPDATE state) only. */
  async dele(n: number): Promise<string> {
    checkMsgNumber(n);
    return (await this.send(`DELE ${n}`, false)).text;
  }

  /** RSET: unmark every deletion. */
  async rset(): Promise<string> {
    return (await this.send('RSET', false)).text;
  }

  async noop(): Promise<string> {
    return (await this.send('NOOP', false)).text;
  }

  /**
   * QUIT: ends the session; deletions are applied by the server now. Resolves with the server's text
   * and closes the connection.
   */
  async quit(): Promise<string> {
    try {
      const r = await this.send('QUIT', false);
      return r.text;
    } finally {
      this.close();
    }
  }

  /** Close without QUIT (the server must then delete nothing). */
  close(): void {
    this.closed = true;
    this.disarm();
    const q = this.queue;
    this.queue = [];
    for (const p of q) p.reject(new NetkitError('NETKIT_PROTOCOL', 'connection closed by the client'));
    if (!this.socket.destroyed) {
      this.socket.end();
      this.socket.destroySoon?.();
      setTimeout(() => this.socket.destroy(), 1000).unref();
    }
  }
}

function connectError(err: NodeJS.ErrnoException, host: string, port: number): NetkitError {
  const peer = formatHostPort(host, port);
  return (
    certificateError(err, peer, NETKIT_TRUST_FLAGS) ??
    notTlsThere(err, peer) ??
    connectFailure(err, peer, host) ??
    new NetkitError('NETKIT_CONNECT_FAILED', `cannot connect to ${peer}: ${systemErrorWords(err)}`, {
      cause: err,
    })
  );
}

function tlsError(err: Error, peer: string): NetkitError {
  return (
    certificateError(err, peer, NETKIT_TRUST_FLAGS) ??
    new NetkitError('NETKIT_PROTOCOL', `TLS with ${peer} failed: ${err.message}`, { cause: err })
  );
}
