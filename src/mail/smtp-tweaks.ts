/**
 * Adjustments to smtp-server's per-connection behaviour, applied to each `SMTPConnection`
 * before its `init()` runs (see {@link TunedSMTPServer}):
 *
 * 1. Greeting delay. smtp-server always waits 100 ms before its `220` greeting, to catch clients
 *    that talk before being greeted. On a loopback lab that is pure latency — a sender that opens
 *    one connection per message (most application mailers, Postfix's `smtp-source`) is held to ten
 *    messages a second per connection. netkit makes the delay a setting (`greetingDelay`, default
 *    0: greet on the next event-loop turn). A delay above 0 keeps the library's refusal of early
 *    talkers (`421 You talk too soon`); with 0 there is no window to catch them in, and bytes
 *    written on connect (`printf '…' | nc`) usually arrive before the greeting, so
 *    {@link holdEarlyCommands} answers them after the `220` instead.
 * 2. Enhanced status codes of our own. A handler error is sent behind the library's default code for
 *    its reply number (every 550 becomes `5.1.1`), which is wrong for e.g. a refused bare LF
 *    (`550 5.6.0`) or a bad mailbox name (`553 5.1.3`). Reply texts that start with an enhanced code
 *    are sent exactly as written instead.
 * 3. Command checks the library has no hook for (arguments to RSET/DATA, EXPN, AUTH inside a
 *    transaction, quoted local parts): {@link guardCommands} in smtp-commands.ts.
 * 4. TLS errors on the implicit-TLS port. The library wraps those sockets itself
 *    (`new tls.TLSSocket`, no `tls.Server`) and stops listening for TLS errors once the handshake
 *    is done, so a record that does not decrypt left the session open until `socketTimeout`.
 *    {@link releaseTlsControl} makes such an error close the connection (the connection's
 *    `_socket` field; skipped if absent). After STARTTLS the library keeps its own `_tlsError`
 *    listener, which does the same.
 * 5. A handshake timeout of its own. The library gives a TLS handshake its idle timeout
 *    (`socketTimeout`, a minute by default), on the SMTPS port and after STARTTLS; POP3, FTP, chat
 *    and HTTPS give it `handshakeTimeout` (10 s), so silent clients cannot hold the SMTPS port's
 *    pending slots (`maxClients` of them) for a minute each. A client that half-closes before its
 *    handshake is done (see 10) is dropped at once.
 *
 * 6. AUTH withheld until TLS: `538 5.7.11` (RFC 4954) instead of `500 command not recognized`.
 * 7. The DATA parser's `continue()` ({@link continueBeforeClearing}): the library runs the pending
 *    continuation and clears it only afterwards, so a continuation set while it ran was lost and
 *    the session hung when one write held two whole transactions. Its `_feedDataStream()` removes
 *    a line's leading dot only before a second one: see smtp-dot-unstuffing.ts.
 *
 * 8. The idle timeout counts from the client's last whole line, not its last byte
 *    ({@link watchWholeLines}): the library's socket timeout is re-armed by any byte, so a client
 *    that trickles one byte of a command before each timeout ("slowloris") held its slot forever.
 * 9. A bounded discard after close ({@link boundCloseDiscard}): the library reads and drops what
 *    still arrives for up to 5 s after a `421`, so a client streaming an endless line cost seconds
 *    of CPU per connection; more than {@link CLOSE_DISCARD_BYTES} now closes the socket at once.
 * 10. The end of a half-closed session ({@link closeWhenInputEnds}). smtp-server.ts listens with
 *    `allowHalfOpen`, so a client that writes its whole session and then shuts down its sending
 *    side (`printf '…' | nc -N`, `shutdown(SHUT_WR)`) still reads every reply; without it Node
 *    ended our side at the client's FIN and the replies still owed (the `250` after DATA, the
 *    `221`) were lost. The library's `send()` writes only while the socket's `readyState` is
 *    `'open'`, and a socket the client half-closed is `'writeOnly'`: each reply is written to it
 *    all the same. The library has no end for such a session but QUIT: a FIN'd client that
 *    never said QUIT, or stopped in the middle of a message, would hold its slot until the idle
 *    timeout. Once every line received before the FIN has been answered, the connection is
 *    closed the way the library closes it; a message without its final dot is never delivered.
 * 11. Failed handshakes traced as POP3 and FTP trace theirs. One on the implicit-TLS port reaches
 *    the server's `'error'` event without the client's port, and there is no session to trace it
 *    under: {@link TunedSMTPServer} hands it to `onHandshakeFailure` with the peer. The guards of
 *    5 and 10 end a STARTTLS handshake with an error that says why, shaped as the library's own.
 *
 * The first two use public members of `SMTPConnection` (`connectionReady`, `send`), the hold of
 * early commands the private `_onCommand` and `_ready`; each adjustment is skipped if a future
 * release no longer has what it wraps, falling back to the library's behaviour.
 */
import type net from 'node:net';
import type tls from 'node:tls';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import type { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { SMTPStream } from 'smtp-server/lib/smtp-stream.js';
import { formatHostPort } from '../core/address.js';
import { releaseTlsControl } from '../core/tls-server-socket.js';
import { guardCommands } from './smtp-commands.js';
import { unstuffEveryLeadingDot } from './smtp-dot-unstuffing.js';

const ENHANCED_PREFIX = /^([245]\.\d{1,3}\.\d{1,3}) (.*)$/s;

export interface ConnectionTuning {
  /** milliseconds before the 220 greeting; 0 = next event-loop turn */
  greetingDelay: number;
  /** a TLS handshake (SMTPS, STARTTLS) must be done within this; 0 = the idle timeout only */
  handshakeTimeout: number;
  /** the idle timeout, counted from the client's last whole line (0 = the library's timer only) */
  lineTimeout?: number;
  /** told of each failed implicit-TLS handshake, with the client's `host:port` (see 11) */
  onHandshakeFailure?: (peer: string, err: Error) => void;
}

/** Bytes a closing connection still reads and drops before the socket is destroyed. */
export const CLOSE_DISCARD_BYTES = 64 * 1024;

export function tuneConnection(conn: SMTPConnection, tuning: ConnectionTuning): void {
  if (typeof conn.connectionReady === 'function') {
    const ready = conn.connectionReady.bind(conn);
    let started = false;
    // the library's own 100 ms timer calls this: ignore it, we start the session ourselves
    conn.connectionReady = () => {};
    const replayHeld = tuning.greetingDelay > 0 ? undefined : holdEarlyCommands(conn);
    const greeted = closeWhenInputEnds(conn);
    const start = (): void => {
      if (started) return;
      started = true;
      // called just after the 220, and only if the session was not refused
      ready(() => {
        replayHeld?.();
        greeted?.();
      });
    };
    if (tuning.greetingDelay > 0) setTimeout(start, tuning.greetingDelay).unref();
    else setImmediate(start);
  }
  if (typeof conn.send === 'function') {
    const send = conn.send.bind(conn);
    conn.send = (code, data, context) => {
      if (code === 500 && context === 'AUTH' && authNeedsTls(conn)) {
        const hint = conn.session.disabledCommands?.includes('STARTTLS')
          ? ' (this server has no TLS)'
          : ': issue STARTTLS first';
        return send(538, `5.7.11 Encryption required for requested authentication mechanism${hint}`, false);
      }
      if (context === undefined && typeof data === 'string') {
        const m = ENHANCED_PREFIX.exec(data);
        if (m) return send(code, `${m[1]} ${m[2]}`, false);
      }
      return send(code, data, context);
    };
  }
  guardCommands(conn);
  if (typeof conn.upgrade === 'function') {
    const upgrade = conn.upgrade.bind(conn);
    conn.upgrade = (callback, secureCallback) => {
      // still the plain socket: the TLS one takes its place once the handshake is done
      const raw = conn._socket;
      const secure = upgradeSocket(conn, () => upgrade(callback, secureCallback));
      // a client that half-closed before or during the STARTTLS handshake can never finish it
      const endedEarly = (): void => {
        if (conn.secure) return;
        const gone = handshakeError('SocketError', 'closed by the client during the handshake');
        if (secure) secure.destroy(gone);
        raw.destroy(secure ? undefined : gone);
      };
      if (raw.readableEnded) endedEarly();
      else raw.once('end', endedEarly);
      secure?.once('end', endedEarly);
      if (tuning.handshakeTimeout > 0) {
        const timer = setTimeout(() => {
          if (!conn.secure) raw.destroy(handshakeTimedOut(tuning));
        }, tuning.handshakeTimeout);
        raw.once('close', () => clearTimeout(timer));
      }
    };
  }
  // the implicit-TLS port hands over a TLS socket whose handshake is done (before init())
  const socket = (conn as { _socket?: net.Socket })._socket;
  if (socket && (socket as Partial<tls.TLSSocket>).encrypted === true)
    releaseTlsControl(socket as tls.TLSSocket);
  if (tuning.lineTimeout && tuning.lineTimeout > 0) watchWholeLines(conn, tuning.lineTimeout);
  boundCloseDiscard(conn);
}

/**
 * Why our guard ended a STARTTLS handshake, shaped as smtp-server's own TLS errors (`code`,
 * `meta.stage`) so that the trace words it as theirs (smtp-trace.ts `smtpTlsFailure`).
 */
function handshakeError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code, meta: { stage: 'connect' } });
}

function handshakeTimedOut(tuning: ConnectionTuning): Error {
  return handshakeError('ERR_TLS_HANDSHAKE_TIMEOUT', `no TLS handshake within ${tuning.handshakeTimeout} ms`);
}

/**
 * Runs the library's `upgrade()` and returns the TLS socket it made, which it keeps to itself until
 * the handshake is done: it is the one socket `upgrade()` arms the idle timeout on besides the
 * plain one (undefined if a future release does that differently).
 */
function upgradeSocket(conn: SMTPConnection, run: () => void): net.Socket | undefined {
  if (typeof conn._armTimeout !== 'function') {
    run();
    return undefined;
  }
  const raw = conn._socket;
  const arm = conn._armTimeout;
  let secure: net.Socket | undefined;
  conn._armTimeout = (socket = conn._socket) => {
    if (socket !== raw) secure = socket;
    arm.call(conn, socket);
  };
  try {
    run();
  } finally {
    conn._armTimeout = arm;
  }
  return secure;
}

/**
 * A command that arrives before the session is ready waits instead of getting `421 You talk too
 * soon`. The library's parser hands over one command at a time and reads on only when its callback
 * runs, so at most one is held, and everything behind it stays in order. The returned function goes
 * to `connectionReady(next)`, which calls it just after writing the `220`; a connection refused
 * (onConnect) or closed before that never calls it, and the held command goes with it.
 */
function holdEarlyCommands(conn: SMTPConnection): (() => void) | undefined {
  if (typeof conn._onCommand !== 'function' || typeof conn._ready !== 'boolean') return undefined;
  const onCommand = conn._onCommand.bind(conn);
  let held: { command: Buffer; callback?: () => void } | undefined;
  conn._onCommand = (command, callback) => {
    if (conn._ready) onCommand(command, callback);
    else held = { command, callback };
  };
  return () => {
    const early = held;
    held = undefined;
    if (early) onCommand(early.command, early.callback);
  };
}

/**
 * A timer of our own beside the library's, re-armed only by input that holds a line end: when it
 * runs out the library's own `_onTimeout()` decides, which waits on while a handler owes the client
 * an answer, and otherwise says `421` and closes. It follows the socket the library arms its
 * timeout on (`_armTimeout`): the plain one, then the TLS one after STARTTLS.
 */
function watchWholeLines(conn: SMTPConnection, ms: number): void {
  if (typeof conn._armTimeout !== 'function' || typeof conn._onTimeout !== 'function') return;
  let watched: net.Socket | undefined;
  const timer = setTimeout(function expired() {
    if (!watched || watched.destroyed) return;
    conn._onTimeout();
    timer.refresh();
  }, ms);
  timer.unref();
  const onData = (chunk: Buffer) => {
    if (chunk.includes(10)) timer.refresh();
  };
  const arm = conn._armTimeout.bind(conn);
  conn._armTimeout = (socket = conn._socket) => {
    if (socket !== watched) {
      watched?.off('data', onData);
      watched = socket;
      socket.on('data', onData);
      socket.once('close', () => clearTimeout(timer));
    }
    arm(socket);
  };
}

/**
 * Closes the connection once the client has half-closed and everything it sent before is answered.
 *
 * The parser (a `Writable` the socket is piped into) is ended by the client's FIN and emits
 * `'finish'` only after the callback of its last command ran, that is after the last reply was
 * written — and, behind a final dot, after the `250` and whatever was pipelined behind it. On
 * `'finish'` the library passes a last line without a line end to `_onCommand` without a
 * callback; its callback here is the one that closes. Three cases wait: the greeting is still
 * ahead (the returned function runs after the `220`), such a last line's handler is still running,
 * or the session is already closing (QUIT, `421`: the library ends it). A FIN in the middle of a
 * message finishes the parser in data mode: closing then destroys the unfinished message stream
 * (the library's `_onClose`), so the delivery fails and nothing is stored.
 *
 * Replies to such a client are written although its socket is no longer `'open'` but
 * `'writeOnly'`, the state the library's `send()` does not write in.
 *
 * Each parser is watched, the one made for the TLS session after STARTTLS too; a parser retired
 * by the upgrade is never ended. Returns undefined (library behaviour: the idle timeout ends such
 * a session) if the library no longer has what this relies on.
 */
function closeWhenInputEnds(conn: SMTPConnection): (() => void) | undefined {
  if (
    typeof conn._createParser !== 'function' ||
    typeof conn._onCommand !== 'function' ||
    typeof conn._ready !== 'boolean' ||
    !conn._parser
  )
    return undefined;
  if (typeof conn.send === 'function') {
    const send = conn.send.bind(conn);
    conn.send = (code, data, context) => {
      const socket = conn._socket;
      if (socket?.readyState !== 'writeOnly') return send(code, data, context);
      // for the duration of this call only: the library's single write site checks for 'open'
      Object.defineProperty(socket, 'readyState', { value: 'open', configurable: true });
      try {
        return send(code, data, context);
      } finally {
        delete (socket as { readyState?: string }).readyState;
      }
    };
  }
  let inputEnded = false;
  const closeIfAnswered = (): void => {
    if (!inputEnded || !conn._ready || conn._handlerPending || conn._closing || conn._closed) return;
    conn.close();
  };
  const watch = (parser: SMTPStream): SMTPStream => {
    parser.once('finish', () => {
      if (parser !== conn._parser) return;
      inputEnded = true;
      closeIfAnswered();
    });
    return parser;
  };
  const createParser = conn._createParser.bind(conn);
  conn._createParser = () => watch(createParser());
  watch(conn._parser);
  const onCommand = conn._onCommand.bind(conn);
  conn._onCommand = (command, callback) => onCommand(command, callback ?? closeIfAnswered);
  return closeIfAnswered;
}

/** After the library's `close()`, at most {@link CLOSE_DISCARD_BYTES} more are read and dropped. */
function boundCloseDiscard(conn: SMTPConnection): void {
  if (typeof conn.close !== 'function') return;
  const close = conn.close.bind(conn);
  let bounded = false;
  conn.close = () => {
    close();
    const socket = (conn as { _socket?: net.Socket })._socket;
    if (bounded || !socket || socket.destroyed) return;
    bounded = true;
    let discarded = 0;
    socket.on('data', (chunk: Buffer) => {
      discarded += chunk.length;
      if (discarded > CLOSE_DISCARD_BYTES) socket.destroy();
    });
  };
}

/**
 * After a message, `continue()` resumes the parser on what the client sent behind the final dot.
 * smtp-server 3.21.6 calls that continuation and only then sets `_continueCallback = false`. When
 * the bytes behind the dot hold a whole second transaction (`printf '…DATA…\r\n.\r\nMAIL…DATA…
 * \r\n.\r\nQUIT\r\n' | nc`) and the MAIL and RCPT handlers answer at once, as ours do, the
 * second message's end stores its own continuation during that call — and the late clearing
 * erases it: the session never reads another command. Clearing before calling keeps it.
 */
export function continueBeforeClearing(proto: {
  continue(): void;
  _continueCallback: (() => void) | boolean;
}): void {
  proto.continue = function (this: typeof proto): void {
    const pending = this._continueCallback;
    if (typeof pending === 'function') {
      this._continueCallback = false;
      pending();
    } else {
      // not over yet: the parser continues as soon as the message ends
      this._continueCallback = true;
    }
  };
}

if (typeof SMTPStream?.prototype?.continue === 'function') continueBeforeClearing(SMTPStream.prototype);
if (typeof SMTPStream?.prototype?._feedDataStream === 'function')
  unstuffEveryLeadingDot(SMTPStream.prototype);

/**
 * AUTH is withheld on this connection until TLS is up (smtp-server.ts lists it in the session's
 * `disabledCommands` on a cleartext, non-loopback connection). The library then answers the
 * command like an unknown one, `500 5.5.2 command not recognized`; the send wrapper turns that
 * into RFC 4954's `538 5.7.11`, which tells the client what to do.
 */
function authNeedsTls(conn: SMTPConnection): boolean {
  return !conn.secure && conn.session?.disabledCommands?.includes('AUTH') === true;
}

/** A Set that tunes each connection as smtp-server registers it (just before `init()`). */
class TunedConnections extends Set<SMTPConnection> {
  constructor(private readonly tune: (conn: SMTPConnection) => void) {
    super();
  }
  override add(conn: SMTPConnection): this {
    if (!this.has(conn)) this.tune?.(conn);
    return super.add(conn);
  }
}

/** smtp-server's `SMTPServer` with {@link tuneConnection} applied to every connection. */
export class TunedSMTPServer extends SMTPServer {
  constructor(
    options: SMTPServerOptions,
    private readonly tuning: ConnectionTuning,
  ) {
    super(options);
    this.connections = new TunedConnections((conn) => tuneConnection(conn, tuning));
  }

  /**
   * The implicit-TLS handshake: shorten the library's timer (its idle timeout) to ours, and end
   * it when the client half-closes first. The listener allows half-open sockets (smtp-server.ts),
   * so Node no longer closes such a socket at the FIN, and nothing can complete the handshake.
   */
  override _upgrade(...args: Parameters<SMTPServer['_upgrade']>): void {
    const [raw, done] = args;
    const peer = formatHostPort(raw.remoteAddress ?? '?', raw.remotePort ?? 0);
    const report = this.tuning.onHandshakeFailure;
    super._upgrade(raw, (err, secureSocket) => {
      // the library's words for its timer (armed below with our limit) say nothing of the limit
      if (err?.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') err.message = handshakeTimedOut(this.tuning).message;
      if (err) report?.(peer, err);
      done(err, secureSocket);
    });
    // the library keeps the TLS socket it made here until the handshake is done
    const secure = this._pendingSockets?.get(args[0]);
    if (!secure || secure === args[0]) return;
    if (this.tuning.handshakeTimeout > 0) secure.setTimeout(this.tuning.handshakeTimeout);
    let established = false;
    secure.once('secure', () => {
      established = true;
    });
    secure.once('end', () => {
      if (!established) secure.destroy();
    });
  }
}
