/**
 * The POP3 session state machine (RFC 1939 AUTHORIZATION → TRANSACTION → UPDATE, with RFC 2449
 * CAPA and response codes, RFC 2595 STLS, RFC 5034 AUTH PLAIN and RFC 3206's [AUTH]/[SYS/TEMP]).
 *
 * It knows nothing about sockets: it talks through a small {@link Pop3SessionIo} (reply a line,
 * send bulk bytes with backpressure, end, start TLS), so the whole protocol can be unit-tested
 * with a fake link, and `pop3-server.ts` only glues it to a `LineConnection`.
 *
 * Rules kept here, in one place:
 * - one command at a time, in order (the connection feeds pipelined lines one by one);
 * - the maildrop is snapshotted at login under an exclusive lock; DELE only marks; deletions are
 *   applied in UPDATE after QUIT, so a dropped link deletes nothing;
 * - plaintext credentials only over TLS, on loopback, or when the operator allows them;
 * - a failed login is answered after a delay; too many bad commands or failed logins end the link.
 */
import type { EventEmitter } from 'node:events';
import type { AccountStore } from '../core/accounts.js';
import { redactCommand, type TraceEvents } from '../core/trace.js';
import { Maildir } from './maildir.js';
import { decodeSaslPlain, latin1ToUtf8, mailboxForLogin, plaintextAllowed } from './pop3-auth.js';
import { lockMailbox, type MailboxLock } from './pop3-lock.js';
import { type DropMessage, Maildrop, SYNC_READ_LIMIT } from './pop3-maildrop.js';
import { encodeMessage, Pop3Encoder, scanMessage, TERMINATOR, TopCutter, wireParts } from './pop3-message.js';

export type Pop3State = 'AUTHORIZATION' | 'TRANSACTION' | 'UPDATE' | 'CLOSED';

/** What the session needs from the link. */
export interface Pop3SessionIo {
  readonly secure: boolean;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly closed: boolean;
  /** one response line (CRLF is added), traced */
  reply(line: string): void;
  /**
   * bulk bytes (message data, not traced), in order; returns a promise only when the caller must
   * wait for the peer to catch up (backpressure), so a pipelined burst can run without yielding
   */
  send(data: Buffer | Buffer[]): void | Promise<void>;
  /** a trace note about the link */
  trace(kind: 'out' | 'info' | 'error', text: string): void;
  /** send a last line (if any) and close */
  end(line?: string): void;
  /** STLS: switch the link to TLS; pipelined plaintext is discarded */
  startTls(): Promise<void>;
  /** re-arm the idle timer during a long transfer */
  keepAlive(): void;
}

/** Settings shared by every session of one server. */
export interface Pop3SessionConfig {
  dataDir: string;
  accounts: AccountStore;
  authAcceptAny: boolean;
  allowPlaintext: boolean;
  /** STLS can be offered (a TLS context exists) */
  tlsAvailable: boolean;
  failedLoginDelayMs: number;
  maxBadCommands: number;
  maxAuthFailures: number;
  markSeen: boolean;
  /** receives the dashboard events (login, auth-failed, retr, dele, quit, end) */
  events: EventEmitter;
}

/** Dashboard events emitted on the server handle. */
export interface Pop3LoginEvent {
  conn: number;
  mailbox: string;
  peer: string;
  mechanism: 'USER' | 'PLAIN';
  secure: boolean;
  messages: number;
}
export interface Pop3AuthFailedEvent {
  conn: number;
  user: string;
  peer: string;
  mechanism: 'USER' | 'PLAIN';
}
export interface Pop3RetrEvent {
  conn: number;
  mailbox: string;
  msg: number;
  uid: string;
  octets: number;
}
export interface Pop3DeleEvent {
  conn: number;
  mailbox: string;
  msg: number;
  uid: string;
}
/** A session is over (link closed, lock released). `quit`: it ended with QUIT (and UPDATE). */
export interface Pop3EndEvent {
  conn: number;
  mailbox?: string;
  quit: boolean;
}
export interface Pop3QuitEvent {
  conn: number;
  /** undefined when the client quit before logging in */
  mailbox?: string;
  /** UIDs removed in the UPDATE state */
  deleted: string[];
  /** messages retrieved with RETR in the session */
  retrieved: number;
}

/** What a `Pop3ServerHandle` emits, each event with its listener's arguments. */
export interface Pop3ServerEvents extends TraceEvents {
  /** a client logged in and holds its mailbox lock */
  login: [event: Pop3LoginEvent];
  /** a login was refused */
  'auth-failed': [event: Pop3AuthFailedEvent];
  /** a message was sent whole with RETR */
  retr: [event: Pop3RetrEvent];
  /** a message was marked deleted (removed at QUIT) */
  dele: [event: Pop3DeleEvent];
  /** a client quit; after the UPDATE state when it was logged in */
  quit: [event: Pop3QuitEvent];
  /** a session is over: the link is closed and the mailbox lock released */
  end: [event: Pop3EndEvent];
}

export interface ParsedCommand {
  /** upper-cased keyword */
  verb: string;
  /** space-separated arguments */
  args: string[];
  /** everything after the keyword and one space, unchanged (PASS may contain spaces) */
  rest: string;
}

/** Split a command line: keyword, arguments, and the raw remainder. */
export function parseCommand(line: string): ParsedCommand {
  const sp = line.indexOf(' ');
  if (sp === -1) return { verb: line.toUpperCase(), args: [], rest: '' };
  const rest = line.slice(sp + 1);
  const args: string[] = [];
  for (const a of rest.split(' ')) if (a !== '') args.push(a);
  return { verb: line.slice(0, sp).toUpperCase(), args, rest };
}

/** A message number argument: digits only, no sign, no leading junk. */
export function parseNumber(arg: string | undefined): number | undefined {
  if (arg === undefined || !/^\d{1,9}$/.test(arg)) return undefined;
  return Number(arg);
}

/**
 * TOP's line count: digits only, but of any length. Clients that want "the whole body" without
 * RETR's side effects ask for more lines than any message has (`TOP 1 2147483647`, `TOP 1
 * 99999999999`); Dovecot answers those with the whole message, and so do we.
 */
export function parseLineCount(arg: string | undefined): number | undefined {
  if (arg === undefined || !/^\d+$/.test(arg)) return undefined;
  return Math.min(Number(arg), Number.MAX_SAFE_INTEGER);
}

/** The CAPA list for a state (RFC 2449), in Dovecot's order. */
export function capabilities(opts: {
  state: Pop3State;
  secure: boolean;
  tlsAvailable: boolean;
  plaintext: boolean;
}): string[] {
  const caps = ['TOP', 'UIDL', 'RESP-CODES', 'PIPELINING', 'AUTH-RESP-CODE'];
  if (opts.state === 'AUTHORIZATION') {
    if (opts.tlsAvailable && !opts.secure) caps.push('STLS');
    if (opts.plaintext) caps.push('USER', 'SASL PLAIN');
  }
  caps.push('IMPLEMENTATION netkit');
  return caps;
}

const AUTHORIZATION_VERBS = new Set(['USER', 'PASS', 'AUTH', 'APOP', 'STLS']);
const TRANSACTION_VERBS = new Set(['STAT', 'LIST', 'UIDL', 'TOP', 'RETR', 'DELE', 'NOOP', 'RSET']);

export class Pop3Session {
  state: Pop3State = 'AUTHORIZATION';
  mailbox: string | undefined;
  /** the maildrop snapshot while in TRANSACTION */
  drop: Maildrop | undefined;
  private user: string | undefined;
  private saslPending = false;
  private badCommands = 0;
  private authFailures = 0;
  private lock: MailboxLock | undefined;
  private busy = false;
  private shutdownRequested = false;
  private quitted = false;
  private linkGone = false;

  constructor(
    readonly io: Pop3SessionIo,
    readonly config: Pop3SessionConfig,
    readonly connId: number,
  ) {}

  /** The greeting (RFC 1939 §4). No APOP timestamp: APOP (MD5) is not offered. */
  greet(): void {
    this.io.reply('+OK netkit POP3 server ready');
  }

  /** Trace form of an incoming line: PASS and AUTH secrets, and the whole SASL response, hidden. */
  redact(line: string): string {
    if (this.saslPending) return '****';
    return redactCommand(line);
  }

  private get peer(): string {
    return `${this.io.remoteAddress}:${this.io.remotePort}`;
  }

  private plaintext(): boolean {
    return plaintextAllowed({
      secure: this.io.secure,
      remoteAddress: this.io.remoteAddress,
      allowPlaintext: this.config.allowPlaintext,
    });
  }

  /**
   * Handle one command line. Returns a promise when the command had to wait (a file read, a
   * login, backpressure); most pipelined commands complete synchronously, so the connection feeds
   * the next one without a round trip through the promise queue.
   */
  handle(line: string): void | Promise<void> {
    if (this.state === 'CLOSED' || this.state === 'UPDATE') return;
    this.busy = true;
    let pending: void | Promise<void>;
    try {
      pending = this.saslPending ? this.saslResponse(line) : this.command(line);
    } catch (err) {
      this.settle();
      throw err;
    }
    if (!pending) return this.settle();
    return pending.finally(() => this.settle());
  }

  private settle(): void {
    this.busy = false;
    if (this.shutdownRequested) this.shutdown();
  }

  /** An overlong line arrived (already discarded by the framing). */
  overflow(): void {
    if (this.saslPending) {
      this.saslPending = false;
      this.io.reply('-ERR [AUTH] authentication response too long');
    } else {
      this.io.reply('-ERR line too long');
    }
    this.bad();
  }

  private bad(): void {
    this.badCommands += 1;
    if (this.badCommands >= this.config.maxBadCommands) {
      this.io.end('-ERR too many bad commands, closing connection');
      this.state = 'CLOSED';
    }
  }

  private command(line: string): void | Promise<void> {
    const cmd = parseCommand(line);
    const v = cmd.verb;
    if (v === 'CAPA') return this.capa();
    if (v === 'QUIT') return this.quit();
    if (this.state === 'AUTHORIZATION') {
      switch (v) {
        case 'USER':
          return this.userCmd(cmd);
        case 'PASS':
          return this.passCmd(cmd);
        case 'AUTH':
          return this.authCmd(cmd);
        case 'STLS':
          return this.stls();
        case 'APOP':
          // APOP needs the plaintext password on the server (MD5 digest): not offered
          this.io.reply('-ERR APOP is not supported: use USER/PASS or AUTH PLAIN');
          return;
      }
      if (TRANSACTION_VERBS.has(v)) {
        this.io.reply(`-ERR ${v} is not valid before login`);
        return this.bad();
      }
    } else {
      switch (v) {
        case 'STAT':
          return this.stat();
        case 'LIST':
          return this.list(cmd);
        case 'UIDL':
          return this.uidl(cmd);
        case 'RETR':
          return this.retr(cmd);
        case 'TOP':
          return this.top(cmd);
        case 'DELE':
          return this.dele(cmd);
        case 'NOOP':
          this.io.reply('+OK');
          return;
        case 'RSET':
          return this.rset();
      }
      if (AUTHORIZATION_VERBS.has(v)) {
        this.io.reply(`-ERR ${v} is not valid after login`);
        return this.bad();
      }
    }
    this.io.reply(`-ERR unknown command${v && /^[\x21-\x7e]{1,16}$/.test(v) ? `: ${v}` : ''}`);
    this.bad();
  }

  private capa(): void {
    const caps = capabilities({
      state: this.state,
      secure: this.io.secure,
      tlsAvailable: this.config.tlsAvailable,
      plaintext: this.plaintext(),
    });
    this.io.reply('+OK capability list follows');
    for (const c of caps) this.io.reply(c);
    this.io.reply('.');
  }

  /**
   * The body of a multi-line listing (LIST, UIDL), traced line by line but sent in batches with
   * backpressure: a listing of a large mailbox can exceed what may sit in the output queue.
   */
  private async listing(lines: string[]): Promise<void> {
    lines.push('.');
    for (const l of lines) this.io.trace('out', l);
    for (let i = 0; i < lines.length; i += 4096) {
      await this.io.send(Buffer.from(`${lines.slice(i, i + 4096).join('\r\n')}\r\n`, 'latin1'));
    }
  }

  // ---- AUTHORIZATION ----

  private refusePlaintext(): boolean {
    if (this.plaintext()) return false;
    this.io.reply(
      this.config.tlsAvailable
        ? '-ERR [AUTH] plaintext authentication is disallowed on insecure connections: use STLS first'
        : '-ERR [AUTH] plaintext authentication is disallowed on insecure connections',
    );
    return true;
  }

  private userCmd(cmd: ParsedCommand): void {
    if (this.refusePlaintext()) return;
    if (cmd.args.length !== 1) {
      this.io.reply('-ERR USER needs exactly one argument');
      this.bad();
      return;
    }
    // Never reveal whether the name exists: the answer comes after PASS.
    this.user = cmd.args[0]!;
    this.io.reply('+OK');
  }

  private async passCmd(cmd: ParsedCommand): Promise<void> {
    if (this.refusePlaintext()) return;
    if (this.user === undefined) {
      this.io.reply('-ERR no user name given: send USER first');
      return this.bad();
    }
    const user = this.user;
    this.user = undefined;
    await this.login(user, latin1ToUtf8(cmd.rest), 'USER');
  }

  private async authCmd(cmd: ParsedCommand): Promise<void> {
    if (cmd.args.length === 0) {
      // Dovecot answers a bare AUTH with the mechanism list (an extension many clients probe).
      this.io.reply('+OK');
      if (this.plaintext()) this.io.reply('PLAIN');
      this.io.reply('.');
      return;
    }
    const mech = cmd.args[0]!.toUpperCase();
    if (mech !== 'PLAIN') {
      this.io.reply('-ERR unsupported authentication mechanism');
      return this.bad();
    }
    if (this.refusePlaintext()) return;
    if (cmd.args.length > 2) {
      this.io.reply('-ERR AUTH PLAIN takes at most one initial response');
      return this.bad();
    }
    this.user = undefined;
    if (cmd.args.length === 2) return this.saslPlain(cmd.args[1]!);
    this.saslPending = true;
    this.io.reply('+ ');
  }

  private async saslResponse(line: string): Promise<void> {
    this.saslPending = false;
    if (line.trim() === '*') {
      this.io.reply('-ERR authentication cancelled');
      return;
    }
    await this.saslPlain(line);
  }

  private async saslPlain(response: string): Promise<void> {
    const decoded = decodeSaslPlain(response);
    if (!decoded.ok) {
      if (decoded.reason === 'base64') {
        this.io.reply('-ERR invalid base64 data in the authentication response');
        return this.bad();
      }
      return this.loginFailed('(malformed)', 'PLAIN');
    }
    // Acting as someone else (authzid) is not supported: only an empty or identical authzid.
    if (decoded.authzid !== '' && decoded.authzid.toLowerCase() !== decoded.authcid.toLowerCase()) {
      return this.loginFailed(decoded.authcid, 'PLAIN');
    }
    await this.login(decoded.authcid, decoded.password, 'PLAIN');
  }

  private async login(user: string, password: string, mechanism: 'USER' | 'PLAIN'): Promise<void> {
    const mailbox = mailboxForLogin(user);
    let ok = false;
    if (mailbox !== undefined) {
      if (this.config.authAcceptAny) ok = true;
      else {
        try {
          ok = (await this.config.accounts.authenticate(mailbox, password)) !== undefined;
        } catch (err) {
          this.io.trace('error', `accounts: ${(err as Error).message}`);
          this.io.reply('-ERR [SYS/TEMP] cannot check credentials now, try again later');
          return;
        }
      }
    }
    if (!ok || mailbox === undefined) return this.loginFailed(user, mechanism);
    await this.openMaildrop(mailbox, mechanism);
  }

  private async loginFailed(user: string, mechanism: 'USER' | 'PLAIN'): Promise<void> {
    this.authFailures += 1;
    this.config.events.emit('auth-failed', {
      conn: this.connId,
      user: user.slice(0, 100),
      peer: this.peer,
      mechanism,
    } satisfies Pop3AuthFailedEvent);
    // The delay slows password guessing; pipelined commands behind it wait too.
    if (this.config.failedLoginDelayMs > 0) await sleep(this.config.failedLoginDelayMs);
    if (this.io.closed) return;
    if (this.authFailures >= this.config.maxAuthFailures) {
      this.io.end('-ERR [AUTH] authentication failed, too many attempts: closing connection');
      this.state = 'CLOSED';
      return;
    }
    this.io.reply('-ERR [AUTH] authentication failed');
  }

  private async openMaildrop(mailbox: string, mechanism: 'USER' | 'PLAIN'): Promise<void> {
    const maildir = Maildir.open(this.config.dataDir, mailbox);
    let lock: MailboxLock | undefined;
    try {
      await maildir.ensure();
      lock = await lockMailbox(maildir.dir);
    } catch (err) {
      this.io.trace('error', `mailbox ${mailbox}: ${(err as Error).message}`);
      this.io.reply('-ERR [SYS/TEMP] cannot open the mailbox now, try again later');
      return;
    }
    if (!lock) {
      this.io.reply('-ERR [IN-USE] mailbox locked: another POP3 session is using it');
      return;
    }
    let drop: Maildrop;
    try {
      drop = await Maildrop.open(maildir);
    } catch (err) {
      await lock.release();
      this.io.trace('error', `mailbox ${mailbox}: ${(err as Error).message}`);
      this.io.reply('-ERR [SYS/TEMP] cannot read the mailbox now, try again later');
      return;
    }
    if (this.io.closed || this.state !== 'AUTHORIZATION') {
      // the client went away while we were opening: nothing to keep
      await lock.release();
      return;
    }
    this.lock = lock;
    this.drop = drop;
    this.mailbox = mailbox;
    this.state = 'TRANSACTION';
    const count = drop.messages.length;
    this.io.reply(`+OK logged in: mailbox ${mailbox} has ${count} message${count === 1 ? '' : 's'}`);
    this.config.events.emit('login', {
      conn: this.connId,
      mailbox,
      peer: this.peer,
      mechanism,
      secure: this.io.secure,
      messages: count,
    } satisfies Pop3LoginEvent);
  }

  private async stls(): Promise<void> {
    if (!this.config.tlsAvailable) {
      this.io.reply('-ERR STLS is not available on this server');
      return this.bad();
    }
    if (this.io.secure) {
      this.io.reply('-ERR command not permitted when TLS is active');
      return this.bad();
    }
    this.io.reply('+OK begin TLS negotiation');
    // RFC 2595 §4: after STLS the client starts afresh; nothing said before counts.
    this.user = undefined;
    try {
      await this.io.startTls();
    } catch {
      this.state = 'CLOSED';
    }
  }

  // ---- TRANSACTION ----

  /**
   * More arguments than the command takes (RFC 1939 §7: one message number; TOP two numbers):
   * refused, and nothing is done — `DELE 2 3` must not delete 2. Dovecot answers the same way.
   */
  private tooManyArguments(cmd: ParsedCommand, max: number): boolean {
    if (cmd.args.length <= max) return false;
    this.io.reply(`-ERR noise after message number: ${cmd.args.slice(max).join(' ').slice(0, 20)}`);
    this.bad();
    return true;
  }

  /** Resolve a message-number argument, replying -ERR for bad, missing or deleted ones. */
  private message(arg: string | undefined, verb: string): DropMessage | undefined {
    const drop = this.drop!;
    if (arg === undefined) {
      this.io.reply(`-ERR ${verb} needs a message number`);
      this.bad();
      return undefined;
    }
    const n = parseNumber(arg);
    if (n === undefined) {
      this.io.reply(`-ERR invalid message number: ${arg.slice(0, 20)}`);
      this.bad();
      return undefined;
    }
    const msg = n >= 1 ? drop.get(n) : undefined;
    if (!msg) {
      const total = drop.messages.length;
      this.io.reply(`-ERR no such message, only ${total} message${total === 1 ? '' : 's'} in maildrop`);
      return undefined;
    }
    if (msg.deleted) {
      this.io.reply(`-ERR message ${n} already deleted`);
      return undefined;
    }
    return msg;
  }

  private async stat(): Promise<void> {
    const { count, octets } = await this.drop!.stat();
    this.io.reply(`+OK ${count} ${octets}`);
  }

  private async list(cmd: ParsedCommand): Promise<void> {
    if (this.tooManyArguments(cmd, 1)) return;
    const drop = this.drop!;
    if (cmd.args.length > 0) {
      const msg = this.message(cmd.args[0], 'LIST');
      if (msg) this.io.reply(`+OK ${msg.n} ${await drop.sizeOf(msg)}`);
      return;
    }
    const { count, octets } = await drop.stat();
    this.io.reply(`+OK ${count} message${count === 1 ? '' : 's'} (${octets} octets)`);
    await this.listing(drop.live().map((m) => `${m.n} ${m.size}`));
  }

  private async uidl(cmd: ParsedCommand): Promise<void> {
    if (this.tooManyArguments(cmd, 1)) return;
    const drop = this.drop!;
    if (cmd.args.length > 0) {
      const msg = this.message(cmd.args[0], 'UIDL');
      if (msg) this.io.reply(`+OK ${msg.n} ${msg.uid}`);
      return;
    }
    this.io.reply('+OK unique-id listing follows');
    await this.listing(drop.live().map((m) => `${m.n} ${m.uid}`));
  }

  private retr(cmd: ParsedCommand): void | Promise<void> {
    if (this.tooManyArguments(cmd, 1)) return;
    const msg = this.message(cmd.args[0], 'RETR');
    if (!msg) return;
    if (msg.rawSize > SYNC_READ_LIMIT) return this.retrStreamed(msg);
    let buf: Buffer | undefined;
    try {
      buf = this.drop!.readWholeNow(msg);
    } catch (err) {
      return this.readFailed(msg, err);
    }
    if (buf) return this.retrWhole(msg, buf);
    // moved by another program since login: find it again, then answer
    return this.drop!.readWhole(msg).then(
      (found) => this.retrWhole(msg, found),
      (err) => this.readFailed(msg, err),
    );
  }

  /** RETR of a message held in memory: status line, content and terminator in one write. */
  private retrWhole(msg: DropMessage, buf: Buffer): void | Promise<void> {
    // the scan from STAT/LIST (or an earlier session) is reused when the file is unchanged
    let scan = msg.scan;
    if (!scan || buf.length !== msg.rawSize) {
      scan = scanMessage(buf);
      if (buf.length === msg.rawSize) this.drop!.record(msg, scan);
    }
    const status = `+OK ${scan.size} octets`;
    this.io.trace('out', status);
    const wait = this.io.send(wireParts(buf, scan, Buffer.from(`${status}\r\n`, 'latin1')));
    this.noteRetrieved(msg, scan.size);
    return wait;
  }

  private async retrStreamed(msg: DropMessage): Promise<void> {
    let octets: number;
    try {
      octets = await this.drop!.sizeOf(msg);
    } catch (err) {
      return this.readFailed(msg, err);
    }
    this.io.reply(`+OK ${octets} octets`);
    if (await this.streamMessage(msg)) this.noteRetrieved(msg, octets);
  }

  private noteRetrieved(msg: DropMessage, octets: number): void {
    this.io.trace('out', `(${octets} octets of message ${msg.n})`);
    this.io.trace('out', '.');
    msg.retrieved = true;
    this.config.events.emit('retr', {
      conn: this.connId,
      mailbox: this.mailbox!,
      msg: msg.n,
      uid: msg.uid,
      octets,
    } satisfies Pop3RetrEvent);
  }

  /** Stream a large message chunk by chunk. False when the link died (or the file did) midway. */
  private async streamMessage(msg: DropMessage, cutter?: TopCutter): Promise<boolean> {
    const enc = new Pop3Encoder();
    try {
      for await (let chunk of this.drop!.chunks(msg)) {
        if (this.io.closed) return false;
        if (cutter) chunk = cutter.push(chunk).keep;
        await this.io.send(enc.push(chunk));
        this.io.keepAlive();
        if (cutter?.done) break;
      }
    } catch (err) {
      // The status line is out already: a broken response cannot be repaired, only cut short.
      this.io.trace('error', `reading message ${msg.n}: ${(err as Error).message}`);
      this.io.end();
      this.state = 'CLOSED';
      return false;
    }
    const tail = enc.end();
    await this.io.send(tail.length ? Buffer.concat([tail, TERMINATOR]) : TERMINATOR);
    return true;
  }

  private readFailed(msg: DropMessage, err: unknown): void {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      this.io.reply(`-ERR message ${msg.n} was removed from the mailbox by another program`);
    } else {
      this.io.trace('error', `reading message ${msg.n}: ${(err as Error).message}`);
      this.io.reply(`-ERR [SYS/TEMP] cannot read message ${msg.n} now`);
    }
  }

  private async top(cmd: ParsedCommand): Promise<void> {
    if (this.tooManyArguments(cmd, 2)) return;
    if (cmd.args.length < 2) {
      this.io.reply('-ERR TOP needs a message number and a line count');
      return this.bad();
    }
    const lines = parseLineCount(cmd.args[1]);
    if (lines === undefined) {
      this.io.reply(`-ERR invalid line count: ${cmd.args[1]!.slice(0, 20)}`);
      return this.bad();
    }
    const msg = this.message(cmd.args[0], 'TOP');
    if (!msg) return;
    try {
      if (msg.rawSize <= SYNC_READ_LIMIT) {
        const buf = new TopCutter(lines).push(await this.drop!.readWhole(msg)).keep;
        this.io.reply('+OK top of message follows');
        await this.io.send(encodeMessage(buf));
      } else {
        this.io.reply('+OK top of message follows');
        if (!(await this.streamMessage(msg, new TopCutter(lines)))) return;
      }
    } catch (err) {
      return this.readFailed(msg, err);
    }
    this.io.trace('out', `(headers and ${lines} body lines of message ${msg.n})`);
    this.io.trace('out', '.');
  }

  private dele(cmd: ParsedCommand): void {
    if (this.tooManyArguments(cmd, 1)) return;
    const msg = this.message(cmd.args[0], 'DELE');
    if (!msg) return;
    msg.deleted = true;
    this.io.reply(`+OK message ${msg.n} deleted`);
    this.config.events.emit('dele', {
      conn: this.connId,
      mailbox: this.mailbox!,
      msg: msg.n,
      uid: msg.uid,
    } satisfies Pop3DeleEvent);
  }

  private async rset(): Promise<void> {
    const drop = this.drop!;
    for (const m of drop.messages) m.deleted = false;
    const { count, octets } = await drop.stat();
    this.io.reply(`+OK maildrop has ${count} message${count === 1 ? '' : 's'} (${octets} octets)`);
  }

  // ---- QUIT / UPDATE ----

  private async quit(): Promise<void> {
    this.quitted = true;
    if (this.state !== 'TRANSACTION') {
      this.state = 'CLOSED';
      this.io.end('+OK netkit POP3 server signing off');
      this.config.events.emit('quit', {
        conn: this.connId,
        deleted: [],
        retrieved: 0,
      } satisfies Pop3QuitEvent);
      return;
    }
    this.state = 'UPDATE';
    const drop = this.drop!;
    let result: Awaited<ReturnType<Maildrop['update']>>;
    try {
      result = await drop.update(this.config.markSeen);
    } catch (err) {
      this.io.trace('error', `update: ${(err as Error).message}`);
      result = { deleted: [], failed: drop.messages.filter((m) => m.deleted).length };
    }
    await this.releaseLock();
    this.state = 'CLOSED';
    const n = result.deleted.length;
    this.io.end(
      result.failed > 0
        ? `-ERR [SYS/TEMP] some deleted messages not removed (${result.failed} of ${n + result.failed})`
        : `+OK netkit POP3 server signing off (${n} message${n === 1 ? '' : 's'} deleted)`,
    );
    this.config.events.emit('quit', {
      conn: this.connId,
      mailbox: this.mailbox,
      deleted: result.deleted,
      retrieved: drop.messages.filter((m) => m.retrieved).length,
    } satisfies Pop3QuitEvent);
    if (this.linkGone) this.reportEnd();
  }

  private async releaseLock(): Promise<void> {
    const lock = this.lock;
    this.lock = undefined;
    if (lock) await lock.release().catch(() => {});
  }

  /**
   * The link closed. Without QUIT there is no UPDATE (RFC 1939 §6): marks are forgotten, the
   * lock is released. A QUIT already in UPDATE finishes and releases the lock itself.
   */
  async closed(): Promise<void> {
    this.linkGone = true;
    if (this.state === 'UPDATE') return; // quit() finishes, then reports the end
    this.state = 'CLOSED';
    this.saslPending = false;
    await this.releaseLock();
    this.reportEnd();
  }

  private reportEnd(): void {
    this.config.events.emit('end', {
      conn: this.connId,
      mailbox: this.mailbox,
      quit: this.quitted,
    } satisfies Pop3EndEvent);
  }

  /** Server shutdown: end the link now, or right after the command in progress. No UPDATE. */
  shutdown(): void {
    if (this.state === 'CLOSED' || this.state === 'UPDATE') return;
    if (this.busy) {
      this.shutdownRequested = true;
      return;
    }
    this.io.end('-ERR [SYS/TEMP] server shutting down');
  }

  /** Idle timeout (RFC 1939 §3: the autologout timer). No UPDATE. */
  idle(): void {
    if (this.state === 'UPDATE') return;
    this.io.end('-ERR autologout: idle for too long');
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
