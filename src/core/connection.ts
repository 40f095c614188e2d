/**
 * A line-oriented connection: the shared engine of the chat, POP3 and FTP control channels.
 *
 * - Framing through {@link LineSplitter} with a hard maximum line length.
 * - Pipelined lines are handled one at a time: a handler may return a promise and the next line
 *   waits for it (smtp-server's `oncommand(line, next)` idea). While lines queue up, reading pauses,
 *   so a client that pipelines faster than we answer cannot grow our memory.
 * - The next line also waits while our replies to the earlier ones sit unread (past 64 KiB or half
 *   of `maxOutboundBytes`, or 256 writes since the socket last drained), as Dovecot throttles its
 *   input on a full output buffer: a client that pipelines 100,000 NOOPs and reads nothing costs
 *   one socket buffer, not 100,000 queued replies (each a write request of its own, far more
 *   memory than the bytes `maxOutboundBytes` counts). Waiting on every `'drain'` instead would
 *   cost a well-behaved pipelining client (POP3 RETR after RETR) a pause per reply: a fifth of
 *   its throughput.
 * - Writes: `send()` waits for `'drain'` (bulk data such as RETR); `write()` is for small replies and
 *   drops the connection once its queued output passes `maxOutboundBytes` (a client that never reads).
 * - One idle timer, re-armed by each whole line of input (not by the bytes of an unfinished one).
 * - `upgradeTls()` implements STARTTLS/STLS/AUTH TLS: bytes the client pipelined after the command
 *   are discarded before the handshake, so plaintext can never be injected into the secure session.
 */
import type { EventEmitter } from 'node:events';
import type net from 'node:net';
import type tls from 'node:tls';
import { NetkitError } from './errors.js';
import { TypedEventEmitter } from './events.js';
import { type BareCrHook, LineSplitter } from './lines.js';
import { closeOnceEnded } from './server.js';
import { serverTlsSocket } from './tls-server-socket.js';
import { nextConnId, traceEvent } from './trace.js';

export interface LineConnectionOptions {
  /** service name in trace events and errors (`smtp`, `pop3`, …) */
  service: string;
  /** where trace events go (normally the server handle) */
  tracer?: EventEmitter;
  /** longest line in bytes (default 4096): a longer one is reported once and discarded */
  maxLineLength?: number;
  /** close the connection when no whole line arrives for this long (ms, default 5 min; 0 = never) */
  idleTimeoutMs?: number;
  /** output queued for a client that does not read, in bytes, before its connection is dropped (default 1 MiB) */
  maxOutboundBytes?: number;
  /**
   * how incoming lines are decoded; FTP uses utf8, mail protocols latin1 keeps bytes, the chat a
   * function of its own (UTF-8, else Windows-1252: sockets/chat-charset.ts)
   */
  encoding?: BufferEncoding | ((line: Buffer) => string);
  /** redacts secrets from an incoming line before it is traced */
  redact?: (line: string) => string;
  /** the server is the side that sends `S:` lines (true) or the client (false) */
  isServer?: boolean;
  /** lines a bare CR may end (see {@link LineSplitter}); none by default */
  bareCR?: BareCrHook;
  /**
   * For a handler that answers some lines after it returned (FTP holds commands back while a
   * transfer runs): resolves once every line taken is answered. After the peer's FIN our side
   * closes only then.
   */
  drained?: () => Promise<void>;
  /** a last line without its newline, left when the peer ends its side, is still a line (chat) */
  partialLineAtEnd?: boolean;
  /** bytes in → the bytes to frame (chat strips Telnet commands, see sockets/telnet.ts) */
  inputFilter?: (chunk: Buffer) => Buffer;
  /**
   * bytes of one overlong line discarded before the connection is closed (default 1 MiB; 0 =
   * discard forever): a peer streaming megabytes without a newline is not speaking a line protocol
   */
  maxDiscardBytes?: number;
}

export type LineHandler = (line: string) => void | Promise<void>;

type OptionalHooks =
  | 'tracer'
  | 'redact'
  | 'bareCR'
  | 'drained'
  | 'partialLineAtEnd'
  | 'inputFilter'
  | 'maxDiscardBytes';

export const DEFAULT_MAX_LINE = 4096;
export const DEFAULT_IDLE_MS = 300_000;
export const DEFAULT_MAX_OUTBOUND = 1024 * 1024;
/** Pipelined lines wait while this much of our output is unread, at most half of `maxOutboundBytes`
 * (so replies to lines already read cannot push a paused reader over it); see the module comment. */
const PIPELINE_THROTTLE_BYTES = 64 * 1024;
const PIPELINE_THROTTLE_WRITES = 256;

/** What a {@link LineConnection} emits, each event with its listener's arguments. */
export interface LineConnectionEvents {
  /** the socket is closed (once) */
  close: [];
  /** nothing arrived for `idleTimeoutMs`; without a listener the connection is destroyed instead */
  idle: [];
  /** a line handler threw or rejected; the connection is then destroyed */
  handlerError: [error: unknown];
}

/**
 * One line-protocol connection over a socket: framed input lines (`onLine`), bounded output
 * (`writeLine`), an idle timeout, `upgradeTls()` for STARTTLS-style commands, and trace events.
 */
export class LineConnection extends TypedEventEmitter<LineConnectionEvents> {
  readonly id = nextConnId();
  socket: net.Socket;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly service: string;
  secure: boolean;
  closed = false;
  private readonly splitter: LineSplitter;
  private readonly opts: Required<Omit<LineConnectionOptions, OptionalHooks>> &
    Pick<LineConnectionOptions, OptionalHooks>;
  private queue: Array<string | null> = [];
  private busy = false;
  /** the next line waits for the peer to read our earlier replies ('drain') */
  private awaitingDrain = false;
  /** writes the socket buffered past its high-water mark since it last drained */
  private writesWhileFull = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private handler: LineHandler = () => {};
  private overflowHandler: () => void = () => this.close();
  private readonly onData = (chunk: Buffer) => this.receive(chunk);

  constructor(socket: net.Socket, options: LineConnectionOptions) {
    super();
    this.socket = socket;
    this.service = options.service;
    this.remoteAddress = socket.remoteAddress ?? '?';
    this.remotePort = socket.remotePort ?? 0;
    this.secure = (socket as Partial<tls.TLSSocket>).encrypted === true;
    this.opts = {
      maxLineLength: DEFAULT_MAX_LINE,
      idleTimeoutMs: DEFAULT_IDLE_MS,
      maxOutboundBytes: DEFAULT_MAX_OUTBOUND,
      encoding: 'utf8',
      isServer: true,
      ...options,
    } as LineConnection['opts'];
    this.splitter = new LineSplitter(this.opts.maxLineLength, this.opts.bareCR, this.opts.maxDiscardBytes);
    this.attach(socket);
    if (this.tracing)
      this.trace('connect', this.secure ? 'tls' : '', `${this.remoteAddress}:${this.remotePort}`);
    this.touch();
  }

  /** Set the function that handles each complete line. */
  onLine(handler: LineHandler): this {
    this.handler = handler;
    return this;
  }

  /** What to do with an overlong line (default: close the connection). */
  onOverflow(handler: () => void): this {
    this.overflowHandler = handler;
    return this;
  }

  /** Queue a small reply. Returns false when the peer is too far behind and was dropped. */
  write(text: string | Buffer): boolean {
    if (this.closed) return false;
    if (!this.socket.write(text)) this.writesWhileFull++;
    if (this.socket.writableLength > this.opts.maxOutboundBytes) {
      this.trace('error', `output queue over ${this.opts.maxOutboundBytes} bytes: peer not reading, dropped`);
      this.destroy();
      return false;
    }
    return true;
  }

  /** Write one protocol line (CRLF added) and trace it. */
  writeLine(line: string, traceText: string = line): boolean {
    this.trace('out', traceText);
    return this.write(`${line}\r\n`);
  }

  /** Write bulk data, resolving once the socket can take more (backpressure reaches the source). */
  async send(data: string | Buffer): Promise<void> {
    if (this.closed) return;
    if (this.socket.write(data)) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.writesWhileFull = 0;
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  /** Send a last line and close gracefully. */
  end(line?: string): void {
    if (this.closed) return;
    if (line !== undefined) this.trace('out', line);
    this.closed = true;
    this.clearIdle();
    if (line === undefined) this.socket.end();
    else this.socket.end(`${line}\r\n`);
    // a peer that never reads must not keep the socket alive forever
    setTimeout(() => this.socket.destroy(), 5000).unref();
  }

  close(): void {
    this.end();
  }

  /**
   * Server shutdown: once our side has ended (now, or after the work in progress) the socket is
   * closed without waiting for the peer's FIN ({@link closeOnceEnded}), the TLS one after an upgrade.
   */
  closeOnceEnded(): void {
    closeOnceEnded(this.socket);
  }

  destroy(): void {
    this.closed = true;
    this.clearIdle();
    this.socket.destroy();
  }

  /**
   * Upgrade to TLS in place. Any bytes already received after the command are thrown away. With
   * `handshakeTimeoutMs` > 0, a client that has not finished its handshake by then fails it.
   */
  upgradeTls(context: tls.SecureContext, options: { handshakeTimeoutMs?: number } = {}): Promise<void> {
    // The peer's FIN may already be here (queued as the null marker, or the raw stream ended) when
    // the command pipelined STLS/STARTTLS/AUTH TLS and hung up: no handshake can follow, and the
    // TLS socket would never hear of that end, so the connection would wait for the idle timeout.
    const peerEnded = this.queue.includes(null) || this.socket.readableEnded;
    this.queue = [];
    this.splitter.reset();
    const raw = this.socket;
    this.detach(raw);
    // Drop whatever the kernel already delivered into the stream buffer.
    raw.pause();
    while (raw.read() !== null) {}
    // like tls.Server's sockets: a TLS error after the handshake (a broken record, a refused
    // renegotiation) closes the connection instead of being kept quiet until the idle timeout
    const secure = serverTlsSocket(raw, { secureContext: context });
    this.socket = secure;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      // The peer may close (FIN or reset) instead of completing the handshake. The TLS socket then
      // only reports 'end' (our raw socket allows half-open), so without this the socket would sit
      // in CLOSE-WAIT until the idle timeout and 'close' would never be emitted.
      const gone = () => fail(new Error('connection closed by the peer'));
      const ms = options.handshakeTimeoutMs ?? 0;
      const timer =
        ms > 0
          ? setTimeout(() => fail(new NetkitError('NETKIT_TIMEOUT', `no TLS handshake within ${ms} ms`)), ms)
          : undefined;
      timer?.unref();
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        secure.off('end', gone);
        secure.off('close', gone);
        raw.off('close', gone);
        // OpenSSL's `reason` ("wrong version number") without the library's file and line
        this.trace('error', `TLS handshake failed: ${(err as { reason?: string }).reason ?? err.message}`);
        this.destroy();
        raw.destroy();
        this.onClose();
        reject(err);
      };
      secure.once('end', gone);
      secure.once('close', gone);
      raw.once('close', gone);
      if (peerEnded) {
        gone();
        return;
      }
      secure.once('secure', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        secure.off('end', gone);
        secure.off('close', gone);
        raw.off('close', gone);
        this.secure = true;
        this.attach(secure);
        this.trace('info', `TLS established (${secure.getProtocol()})`);
        resolve();
      });
      secure.once('error', fail);
    });
  }

  trace(kind: 'connect' | 'disconnect' | 'in' | 'out' | 'error' | 'info', text: string, peer?: string): void {
    if (this.opts.tracer) traceEvent(this.opts.tracer, this.service, this.id, kind, text, peer);
  }

  /** Someone listens for trace events: only then are per-line trace texts built (less garbage). */
  private get tracing(): boolean {
    return this.opts.tracer !== undefined && this.opts.tracer.listenerCount('trace') > 0;
  }

  /** An error ends the connection (a TLS socket emits some without closing itself). */
  private readonly onError = (err: Error) => {
    this.trace('error', err.message);
    this.destroy();
  };
  private readonly onEnd = () => {
    // half-close from the peer: finish what was queued, then close our side
    const rest = this.opts.partialLineAtEnd ? this.splitter.takeRest() : undefined;
    if (rest) this.queue.push(this.decode(rest));
    this.queue.push(null);
    this.pump();
  };
  private readonly onClose = () => {
    if (this.closedEmitted) return;
    this.closedEmitted = true;
    this.closed = true;
    this.clearIdle();
    this.trace('disconnect', '');
    this.emit('close');
  };

  private attach(socket: net.Socket): void {
    // A client may pipeline its commands and half-close (`nc -N`, scripts): every queued line is
    // still answered and only then is our side closed (onEnd). Without this Node ends our side as
    // soon as the FIN arrives, and the replies of commands still running are lost.
    socket.allowHalfOpen = true;
    socket.on('data', this.onData);
    socket.on('error', this.onError);
    socket.on('end', this.onEnd);
    socket.on('close', this.onClose);
    if (socket.isPaused()) socket.resume();
  }

  private detach(socket: net.Socket): void {
    socket.off('data', this.onData);
    socket.off('end', this.onEnd);
    socket.off('close', this.onClose);
    // keep an error listener: an error on the raw socket must never crash the process
  }
  private closedEmitted = false;

  private decode(line: Buffer): string {
    const { encoding } = this.opts;
    return typeof encoding === 'function' ? encoding(line) : line.toString(encoding);
  }

  private receive(chunk: Buffer): void {
    const input = this.opts.inputFilter ? this.opts.inputFilter(chunk) : chunk;
    let whole = false;
    for (const item of this.splitter.push(input)) {
      whole = true;
      if ('runaway' in item) {
        this.trace('error', `one line of more than ${this.splitter.maxDiscard} bytes; closing`);
        this.destroy();
        return;
      }
      if ('overflow' in item) {
        this.queue.push('\u0000overflow');
      } else {
        this.queue.push(this.decode(item.line));
      }
    }
    // Only a whole line re-arms the idle timer, not any byte: a client that trickles one byte of
    // a line before each timeout ("slowloris") would otherwise hold its slot forever. Postfix's
    // smtpd_per_record_deadline does the same.
    if (whole) this.touch();
    if (this.queue.length > 64) this.socket.pause();
    this.pump();
  }

  private pump(): void {
    if (this.busy || this.awaitingDrain) return;
    while (this.queue.length > 0 && !this.busy) {
      if (this.closed && this.queue[0] !== null) {
        this.queue = [];
        return;
      }
      if (this.repliesPiledUp() && this.queue[0] !== null) {
        this.waitForDrain();
        return;
      }
      const line = this.queue.shift()!;
      if (line === null) {
        this.endAfterReplies();
        return;
      }
      if (line === '\u0000overflow') {
        this.trace('error', `line longer than ${this.opts.maxLineLength} bytes`);
        this.overflowHandler();
        continue;
      }
      if (this.tracing) this.trace('in', this.opts.redact ? this.opts.redact(line) : line);
      let result: void | Promise<void>;
      try {
        result = this.handler(line);
      } catch (err) {
        this.fail(err);
        return;
      }
      if (result && typeof (result as Promise<void>).then === 'function') {
        this.busy = true;
        (result as Promise<void>).then(
          () => {
            this.busy = false;
            if (!this.closed && this.queue.length < 16 && this.socket.isPaused()) this.socket.resume();
            this.pump();
          },
          (err) => {
            this.busy = false;
            this.fail(err);
          },
        );
      }
    }
    if (!this.closed && this.queue.length === 0 && this.socket.isPaused() && !this.busy) this.socket.resume();
  }

  private repliesPiledUp(): boolean {
    if (!this.socket.writableNeedDrain) return false;
    return (
      this.socket.writableLength > Math.min(PIPELINE_THROTTLE_BYTES, this.opts.maxOutboundBytes / 2) ||
      this.writesWhileFull >= PIPELINE_THROTTLE_WRITES
    );
  }

  /** Stop reading until the peer has read our replies; then answer the lines still queued. */
  private waitForDrain(): void {
    this.awaitingDrain = true;
    this.socket.pause();
    const socket = this.socket;
    const go = () => {
      socket.off('drain', go);
      socket.off('close', go);
      this.awaitingDrain = false;
      this.writesWhileFull = 0;
      this.pump();
    };
    socket.on('drain', go);
    socket.on('close', go);
  }

  /** The peer half-closed and every queued line ran: close our side once all is answered. */
  private endAfterReplies(): void {
    if (this.closed) return;
    if (!this.opts.drained) {
      this.end();
      return;
    }
    this.busy = true;
    void this.opts.drained().then(() => {
      if (!this.closed) this.end();
    });
  }

  private fail(err: unknown): void {
    this.trace('error', err instanceof Error ? err.message : String(err));
    this.emit('handlerError', err);
    this.destroy();
  }

  private touch(): void {
    if (this.opts.idleTimeoutMs <= 0) return;
    if (this.idleTimer) {
      this.idleTimer.refresh();
      return;
    }
    this.idleTimer = setTimeout(() => {
      this.trace('info', 'idle timeout');
      if (this.listenerCount('idle') > 0) this.emit('idle');
      else this.destroy();
    }, this.opts.idleTimeoutMs);
    this.idleTimer.unref();
  }

  /** Re-arm the idle timer (for activity the connection cannot see, such as a data transfer). */
  keepAlive(): void {
    this.touch();
  }

  private clearIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }
}
