/**
 * From smtp-server's log lines to netkit trace events and per-session transcripts.
 *
 * smtp-server reports every command it reads (`C:`) and every reply it writes (`S:`) through the
 * bunyan-style `logger` option, already tagged with the connection id — the one place where the
 * whole conversation is visible without wrapping sockets. This bridge turns those calls into
 * {@link TraceEvent}s (secrets redacted: AUTH arguments and SASL continuation lines never get
 * through) and keeps a bounded transcript per session, so each stored message can carry "the SMTP
 * conversation that delivered it".
 */
import type { EventEmitter } from 'node:events';
import { format } from 'node:util';
import { tlsErrorLine } from '../core/tls-accept.js';
import { nextConnId, redactCommand, traceEvent } from '../core/trace.js';

/** Bounded per-session transcript: the session preamble (greeting, EHLO, STARTTLS, AUTH) plus the
 * lines of the current mail transaction. */
export class Transcript {
  private preamble: string[] = [];
  private current: string[] = [];
  private inTransaction = false;
  private skipped = 0;
  /** after finish(): smtp-server still logs the DATA size and the final reply, already recorded */
  private dropUntilReply = false;

  constructor(
    private readonly maxPreamble = 40,
    private readonly maxTransaction = 80,
    private readonly maxLineLength = 500,
  ) {}

  add(direction: 'C' | 'S', text: string): void {
    if (this.dropUntilReply) {
      if (direction === 'S') this.dropUntilReply = false;
      return;
    }
    const line = `${direction}: ${text.length > this.maxLineLength ? `${text.slice(0, this.maxLineLength)}…` : text}`;
    if (!this.inTransaction && direction === 'C' && /^MAIL\s/i.test(text)) this.inTransaction = true;
    if (!this.inTransaction) {
      if (this.preamble.length < this.maxPreamble) this.preamble.push(line);
      return;
    }
    if (this.current.length >= this.maxTransaction) {
      // keep the start and the end of a long transaction (hundreds of RCPTs)
      this.current.splice(this.maxTransaction / 2, 1);
      this.skipped++;
    }
    this.current.push(line);
  }

  /**
   * The transcript of the transaction that just ended with `closing` (the message size line and the
   * reply to the final dot, which smtp-server logs only after we answer); starts the next one.
   */
  finish(...closing: string[]): string[] {
    const middle = this.skipped ? [`… ${this.skipped} lines omitted …`] : [];
    const half = this.maxTransaction / 2;
    const lines = this.skipped
      ? [...this.current.slice(0, half), ...middle, ...this.current.slice(half)]
      : this.current;
    const out = [...this.preamble, ...lines, ...closing];
    this.current = [];
    this.skipped = 0;
    this.dropUntilReply = true;
    return out;
  }
}

export interface SessionTrace {
  conn: number;
  transcript: Transcript;
  /** the last error traced: smtp-server reports a failed STARTTLS handshake twice */
  lastError?: string;
}

/** A TLS error as smtp-server hands it over: its `meta.stage` is `'connect'` during a handshake. */
type SmtpTlsError = Error & { code?: string; reason?: unknown; library?: unknown; meta?: { stage?: string } };

/**
 * A TLS failure reported by smtp-server, in the words the POP3 and FTP servers trace theirs
 * (`TLS handshake failed: wrong version number (not a TLS client?)`), or undefined for any other
 * error. The library passes OpenSSL's whole message on (`80…:error:0A00010B:SSL
 * routines:ssl3_get_record:wrong version number:../deps/openssl/…:350:` and a newline), or puts its
 * own words over some (`Failed to establish TLS session`, `Socket closed while initiating TLS`).
 */
export function smtpTlsFailure(err: SmtpTlsError): string | undefined {
  const handshake = err.meta?.stage === 'connect';
  if (err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return `TLS handshake failed: ${err.message}`;
  if (handshake && err.code === 'SocketError')
    return 'TLS handshake failed: closed by the client during the handshake';
  const openssl =
    err.library !== undefined || typeof err.reason === 'string' || /SSL routines/.test(err.message);
  if (!openssl) return undefined;
  const line = tlsErrorLine(err, 'client');
  return handshake ? `TLS handshake failed: ${line}` : line;
}

type LogFn = (entry: Record<string, unknown>, message?: unknown, ...args: unknown[]) => void;

/** The logger object smtp-server accepts (bunyan-compatible). */
export interface BunyanLogger {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
}

/** Redact one command line as smtp-server logged it (it already hides SASL data as `/* secured *\/`). */
export function redactSmtpLine(line: string): string {
  if (line.includes('/* secured */')) {
    const m = /^(\s*AUTH\s+\S+)\s/i.exec(line);
    return m ? `${m[1]} ****` : '****';
  }
  return redactCommand(line);
}

/** Bridges smtp-server's logger to `'trace'` events on `target` and keeps session transcripts. */
export class SmtpTraceBridge {
  private readonly sessions = new Map<string, SessionTrace>();
  readonly logger: BunyanLogger;

  constructor(
    private readonly target: EventEmitter,
    private readonly service = 'smtp',
  ) {
    const ignore: LogFn = () => {};
    this.logger = {
      trace: ignore,
      warn: ignore,
      fatal: ignore,
      debug: (entry, message, ...args) => this.onDebug(entry, message, args),
      info: (entry, message, ...args) => this.onInfo(entry, message, args),
      error: (entry, message, ...args) => this.onError(entry, message, args),
    };
  }

  /**
   * The state of one session, created on first sight: smtp-server may log before onConnect (a
   * client that talks too soon, one refused by onConnect). Only for a live connection: what is
   * logged after {@link disconnect} must not bring the session back (see onDebug).
   */
  session(id: string): SessionTrace {
    let s = this.sessions.get(id);
    if (!s) {
      s = { conn: nextConnId(), transcript: new Transcript() };
      this.sessions.set(id, s);
    }
    return s;
  }

  connect(id: string, peer: string, text = ''): void {
    traceEvent(this.target, this.service, this.session(id).conn, 'connect', text, peer);
  }

  disconnect(id: string): void {
    const s = this.sessions.get(id);
    if (!s) return;
    this.sessions.delete(id);
    traceEvent(this.target, this.service, s.conn, 'disconnect', '');
  }

  /** A note about a session; dropped once it has disconnected (callers may be late, e.g. an accounts lookup). */
  info(id: string, text: string): void {
    const s = this.sessions.get(id);
    if (s) traceEvent(this.target, this.service, s.conn, 'info', text);
  }

  get size(): number {
    return this.sessions.size;
  }

  private onDebug(entry: Record<string, unknown>, message: unknown, args: unknown[]): void {
    const cid = typeof entry.cid === 'string' ? entry.cid : undefined;
    if (!cid) return;
    if (entry.tnx === 'command' && message === 'C:') {
      const line = redactSmtpLine(String(args[0] ?? ''));
      const s = this.session(cid);
      s.transcript.add('C', line);
      traceEvent(this.target, this.service, s.conn, 'in', line);
    } else if (entry.tnx === 'send' && message === 'S:') {
      const s = this.session(cid);
      for (const line of String(args[0] ?? '').split('\r\n')) {
        s.transcript.add('S', line);
        traceEvent(this.target, this.service, s.conn, 'out', line);
      }
    } else if (entry.tnx === 'data') {
      // logged when the DATA reply is decided, which for a client gone mid-DATA is after
      // disconnect(): a new entry would leak and trace under a connection number never seen
      const s = this.sessions.get(cid);
      if (!s) return;
      const text = `<${entry.bytes ?? '?'} bytes of message data>`;
      s.transcript.add('C', text);
      traceEvent(this.target, this.service, s.conn, 'in', text);
    }
  }

  private onInfo(entry: Record<string, unknown>, message: unknown, args: unknown[]): void {
    const cid = typeof entry.cid === 'string' ? entry.cid : undefined;
    if (!cid || !this.sessions.has(cid)) return;
    const s = this.session(cid);
    switch (entry.tnx) {
      case 'starttls':
        traceEvent(
          this.target,
          this.service,
          s.conn,
          'info',
          `TLS established (${args[0] ?? 'unknown cipher'})`,
        );
        break;
      case 'auth':
      case 'authfail':
      case 'autherror':
        traceEvent(this.target, this.service, s.conn, 'info', format(String(message), ...args));
        break;
      default:
    }
  }

  private onError(entry: Record<string, unknown>, message: unknown, args: unknown[]): void {
    // connection errors are logged as ('%s %s %s', id, address, message)
    const cid = typeof entry.cid === 'string' ? entry.cid : typeof args[0] === 'string' ? args[0] : undefined;
    const s = cid ? this.sessions.get(cid) : undefined;
    const err = entry.err as SmtpTlsError | undefined;
    const text = (err && smtpTlsFailure(err)) ?? err?.message ?? format(String(message), ...args);
    if (s) {
      if (s.lastError === text) return;
      s.lastError = text;
    }
    traceEvent(this.target, this.service, s?.conn ?? 0, 'error', text);
  }

  /**
   * A connection whose implicit-TLS handshake failed: no session was ever made, so it is traced as
   * POP3S and FTPS trace one (connect, the reason, disconnect) under a number of its own.
   */
  handshakeFailed(peer: string, err: Error): void {
    const conn = nextConnId();
    traceEvent(this.target, this.service, conn, 'connect', '', peer);
    traceEvent(
      this.target,
      this.service,
      conn,
      'error',
      smtpTlsFailure(err) ?? `TLS handshake failed: ${err.message}`,
    );
    traceEvent(this.target, this.service, conn, 'disconnect', '');
  }
}
