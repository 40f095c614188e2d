/**
 * `createSmtpServer()`: the receiving MTA + MDA of the mail chapter — an ESMTP server that delivers
 * every message into a local Maildir per recipient and never relays.
 *
 * The protocol engine is the `smtp-server` package (nodemailer project): command parsing,
 * pipelining, dot-unstuffing, STARTTLS, SASL PLAIN/LOGIN and the abuse guards are years-hardened
 * there, so we do not write our own. This module decides what it does not: who may authenticate
 * (accounts file; only inside TLS or on loopback), which recipients exist (local part → mailbox,
 * `strict` = accounts only), how DATA is checked (bare CR/LF, size) and stored (durable Maildir
 * write before the `250`), retention, limits, and the trace/transcript stream.
 */
import { EventEmitter } from 'node:events';
import os from 'node:os';
import type {
  SMTPServerAddress,
  SMTPServerAuthentication,
  SMTPServerAuthenticationResponse,
  SMTPServerDataStream,
  SMTPServerOptions,
  SMTPServerSession,
} from 'smtp-server';
import { AccountStore } from '../core/accounts.js';
import { resolveDataDir } from '../core/datadir.js';
import {
  belowReserve,
  cachedFreeSpace,
  DEFAULT_MIN_FREE_BYTES,
  type FreeSpace,
  freeBytes,
} from '../core/disk-space.js';
import { NetkitError, usageError } from '../core/errors.js';
import type { TypedEmitter } from '../core/events.js';
import { formatHostPort } from '../core/server.js';
import { loadTls, serverTlsOptions, type TlsFiles, type TlsMaterial } from '../core/tls.js';
import { DEFAULT_TLS_HANDSHAKE_MS } from '../core/tls-server-socket.js';
import { type TraceEvents, traceEvent } from '../core/trace.js';
import { MailboxCap } from './mailbox-cap.js';
import { mailRoot } from './maildir.js';
import { rawPathOf } from './smtp-commands.js';
import { type BareLineEndingPolicy, checkedMessage, SmtpReplyError } from './smtp-data.js';
import {
  deliveryHeaders,
  MailStore,
  receivedHeader,
  receivedProtocol,
  type StoredCopy,
} from './smtp-delivery.js';
import {
  authPermitted,
  authzidAccepted,
  mailboxForRecipient,
  POSTMASTER,
  parametersRefusal,
  type Refusal,
  utf8Refusal,
} from './smtp-policy.js';
import { closeSmtpListener } from './smtp-shutdown.js';
import { SmtpTraceBridge } from './smtp-trace.js';
import { TunedSMTPServer } from './smtp-tweaks.js';

export const DEFAULT_SMTP_PORT = 2525;
export const DEFAULT_SMTPS_PORT = 4650;
export const DEFAULT_MAX_MESSAGE_SIZE = 25 * 1024 * 1024;
export const DEFAULT_MAX_RECIPIENTS = 100;
/** {@link SmtpServerOptions.maxMailboxes}: mailboxes made on first delivery, at most */
export const DEFAULT_MAX_MAILBOXES = 10_000;
export const DEFAULT_MAX_CLIENTS = 100;
/** Postfix's smtpd_client_connection_count_limit */
export const DEFAULT_MAX_CLIENTS_PER_IP = 50;
export const DEFAULT_MAX_LINE_LENGTH = 4096;
/** idle time before a session is dropped with 421 */
export const DEFAULT_SMTP_IDLE_MS = 60_000;

export interface SmtpServerOptions {
  /** data directory: Maildirs in `mail/`, `accounts.json`, the dev certificate in `tls/` (default `./netkit-data`) */
  dataDir?: string;
  /** interface to bind (default 127.0.0.1) */
  host?: string;
  /** plain SMTP port, STARTTLS offered (default 0 = any free port; the CLI uses 2525) */
  port?: number;
  /** also listen with implicit TLS (SMTPS, RFC 8314) on this port; 0 = any free port; omitted = no such listener */
  tlsPort?: number;
  /** certificate files for STARTTLS and the TLS port (default: the self-signed dev certificate); false = no TLS at all */
  tls?: TlsFiles | false;
  /** the name in the greeting and in Received headers (default os.hostname()) */
  hostname?: string;
  /** SIZE: the largest message accepted, in bytes (default 25 MiB); larger ones get 552 5.3.4 */
  maxSize?: number;
  /** recipients per message (default 100); more get 452 4.5.3 */
  maxRecipients?: number;
  /** simultaneous sessions over both listeners (default 100); more get 421 */
  maxClients?: number;
  /** simultaneous sessions from one client address over both listeners (default 50); more get 421 */
  maxClientsPerIp?: number;
  /** longest command line in bytes (default 4096); longer ones end the session with 421 */
  maxLineLength?: number;
  /** idle time before a session is dropped with 421, ms (default 60 000) */
  socketTimeout?: number;
  /** default deadline of `close()`, ms (default 5000) */
  closeTimeout?: number;
  /** accept only recipients whose mailbox is an account (550 5.1.1 otherwise); default: create mailboxes on first delivery */
  strict?: boolean;
  /** lab mode: every AUTH succeeds, whatever the name and password */
  authAcceptAny?: boolean;
  /** refuse MAIL FROM before a successful AUTH (530 5.7.0); default: AUTH optional */
  requireAuth?: boolean;
  /** offer AUTH without TLS to non-loopback clients too (default: only inside TLS or on loopback) */
  allowPlaintextAuth?: boolean;
  /** pause before answering a failed AUTH, ms (default 1000) */
  authFailureDelay?: number;
  /** keep at most this many messages per mailbox, oldest removed first (default: unlimited) */
  maxMessages?: number;
  /**
   * without `strict`: create at most this many mailboxes (default 10 000; 0 = no cap); a recipient
   * that would make another gets 452 4.3.1, one whose mailbox exists is always accepted
   */
  maxMailboxes?: number;
  /** bare CR / bare LF in DATA: 'reject' (550 5.6.0, default) or 'normalise' to CRLF */
  bareLineEndings?: BareLineEndingPolicy;
  /**
   * milliseconds before the 220 greeting (default 0; smtp-server's own default is 100). Above 0,
   * commands sent before the greeting get `421 You talk too soon`; at 0 they are answered after it.
   */
  greetingDelay?: number;
  /** a TLS handshake (SMTPS port, STARTTLS) must be done within this (default 10 s; 0 = the idle timeout only) */
  tlsHandshakeTimeoutMs?: number;
  /** reverse-DNS lookups of clients (default false: they cost seconds per connection in containers) */
  reverseLookup?: boolean;
  /** the accounts store for AUTH and `strict` (default: `accounts.json` in dataDir) */
  accounts?: AccountStore;
  /**
   * free space kept on the disk that holds the Maildirs, in bytes (default 100 MiB; 0 = no check):
   * below it, MAIL FROM and DATA get 452 4.3.1 (a MAIL FROM's SIZE= counts against it too)
   */
  minFreeBytes?: number;
  /** free space for a directory's file system (default: statfs); for tests and quotas of your own */
  freeSpace?: FreeSpace;
}

/** One stored copy of a message: emitted as `'message'` once it is durable. */
export interface SmtpMessageEvent {
  mailbox: string;
  /** Maildir unique name (also the POP3 UID) */
  id: string;
  /** envelope sender ('' for `<>`) */
  from: string;
  /** envelope recipients delivered into this mailbox */
  to: string[];
  /** bytes stored, Return-Path, Delivered-To and Received included */
  size: number;
  /** ISO time of delivery */
  date: string;
  remoteAddress: string;
  helo: string;
  secure: boolean;
  /** the authenticated user, if any */
  user?: string;
  /** the SMTP conversation that delivered it (`C: …` / `S: …`, AUTH redacted, bounded) */
  transcript: string[];
}

/** What an {@link SmtpServerHandle} emits, each event with its listener's arguments. */
export interface SmtpServerEvents extends TraceEvents {
  /** a message was stored in a mailbox (one event per mailbox it went to) */
  message: [event: SmtpMessageEvent];
}

export interface SmtpServerHandle extends TypedEmitter<SmtpServerEvents> {
  readonly host: string;
  /** the plain (STARTTLS) port */
  readonly port: number;
  /** the implicit-TLS port, when requested */
  readonly tlsPort?: number;
  readonly dataDir: string;
  /** live sessions over both listeners */
  readonly connections: number;
  /** Stop accepting, let transactions in progress finish, drop the rest after `deadlineMs`. */
  close(deadlineMs?: number): Promise<void>;
}

/** An Error smtp-server turns into a reply: `responseCode` + text starting with the enhanced code. */
function reply(code: number, enhanced: string, text: string): Error & { responseCode: number } {
  return Object.assign(new Error(`${enhanced} ${text}`), { responseCode: code });
}

function refusal(r: Refusal): Error & { responseCode: number } {
  return reply(r.responseCode, r.enhancedCode, r.message);
}

/** Did this MAIL FROM carry the SMTPUTF8 parameter? */
function hasSmtpUtf8(mailFrom: SMTPServerAddress | false): boolean {
  return mailFrom !== false && mailFrom.args !== false && mailFrom.args.SMTPUTF8 === true;
}

/** Is the session's transaction SMTPUTF8? Read from its MAIL FROM, not `envelope.smtpUtf8`:
 * smtp-server sets that before onMailFrom and never clears it when the MAIL is refused. */
function smtpUtf8(session: SMTPServerSession): boolean {
  return hasSmtpUtf8(session.envelope.mailFrom);
}

function userName(session: SMTPServerSession): string | undefined {
  const u = session.user as unknown;
  if (!u) return undefined;
  return typeof u === 'string' ? u : String((u as { name?: string }).name ?? u);
}

/** Start the SMTP server; resolves once every listener is bound. */
export async function createSmtpServer(options: SmtpServerOptions = {}): Promise<SmtpServerHandle> {
  const dataDir = resolveDataDir(options.dataDir);
  const host = options.host ?? '127.0.0.1';
  const hostname = options.hostname ?? os.hostname();
  const maxSize = options.maxSize ?? DEFAULT_MAX_MESSAGE_SIZE;
  const maxClients = options.maxClients ?? DEFAULT_MAX_CLIENTS;
  const maxPerIp = options.maxClientsPerIp ?? DEFAULT_MAX_CLIENTS_PER_IP;
  const authFailureDelay = options.authFailureDelay ?? 1000;
  const policy = options.bareLineEndings ?? 'reject';
  if (!(maxSize > 0)) throw usageError('maxSize must be greater than 0');
  if (options.tls === false && options.tlsPort !== undefined) {
    throw usageError('an implicit-TLS port needs TLS (tls must not be false)');
  }
  const tls: TlsMaterial | undefined =
    options.tls === false ? undefined : await loadTls(dataDir, options.tls);
  const accounts = options.accounts ?? new AccountStore(dataDir);
  const store = new MailStore(dataDir, { maxMessages: options.maxMessages });
  const mailboxCap = new MailboxCap(dataDir, options.maxMailboxes ?? DEFAULT_MAX_MAILBOXES);
  const minFree = options.minFreeBytes ?? DEFAULT_MIN_FREE_BYTES;
  // the default asks the kernel at most once a second while a GiB more than the largest message is free
  const freeSpace =
    options.freeSpace ?? cachedFreeSpace(freeBytes, { trustAbove: minFree + maxSize + 1024 ** 3 });
  /** RFC 5321 §4.5.3.1.10 / RFC 1870 §6.1: a temporary 452 while the disk is below the reserve */
  const storageShort = (extra = 0): Error | undefined =>
    belowReserve(freeSpace, mailRoot(dataDir), minFree, extra)
      ? reply(452, '4.3.1', 'Insufficient system storage, try again later')
      : undefined;
  const emitter = new EventEmitter();
  const bridge = new SmtpTraceBridge(emitter, 'smtp');
  /** session id → client address of every accepted session, and the count per address */
  const live = new Map<string, string>();
  const perIp = new Map<string, number>();
  const inflight = new Set<Promise<unknown>>();
  const baseDisabled = tls ? [] : ['STARTTLS'];

  const onConnect = (session: SMTPServerSession, callback: (err?: Error | null) => void): void => {
    const ip = session.remoteAddress;
    const fromIp = perIp.get(ip) ?? 0;
    const busy =
      live.size >= maxClients
        ? 'Too many connected clients'
        : fromIp >= maxPerIp
          ? 'Too many connections from your address'
          : undefined;
    if (busy) {
      callback(Object.assign(new Error(`${hostname} ${busy}, try again later`), { responseCode: 421 }));
      return;
    }
    live.set(session.id, ip);
    perIp.set(ip, fromIp + 1);
    bridge.connect(
      session.id,
      formatHostPort(session.remoteAddress, session.remotePort),
      session.secure ? 'tls' : '',
    );
    const mayAuth = authPermitted({
      secure: session.secure,
      remoteAddress: session.remoteAddress,
      allowPlaintextAuth: options.allowPlaintextAuth,
    });
    // AUTH is neither advertised nor accepted until TLS is up (onSecure) unless it is safe here
    session.disabledCommands = mayAuth ? baseDisabled : [...baseDisabled, 'AUTH'];
    callback();
  };

  const onSecure = (
    _socket: unknown,
    session: SMTPServerSession,
    callback: (err?: Error | null) => void,
  ): void => {
    session.disabledCommands = baseDisabled;
    callback();
  };

  const onClose = (session: SMTPServerSession): void => {
    const ip = live.get(session.id);
    if (ip !== undefined) {
      live.delete(session.id);
      const n = (perIp.get(ip) ?? 1) - 1;
      if (n <= 0) perIp.delete(ip);
      else perIp.set(ip, n);
    }
    bridge.disconnect(session.id);
  };

  const onAuth = (
    auth: SMTPServerAuthentication,
    session: SMTPServerSession,
    callback: (err: Error | null | undefined, response?: SMTPServerAuthenticationResponse) => void,
  ): void => {
    const allowed = authPermitted({
      secure: session.secure,
      remoteAddress: session.remoteAddress,
      allowPlaintextAuth: options.allowPlaintextAuth,
    });
    if (!allowed) {
      callback(reply(538, '5.7.11', 'Encryption required for requested authentication mechanism'));
      return;
    }
    // RFC 4954 §4 (smtp-commands.ts refuses this already at the AUTH command, before the SASL exchange)
    if (session.envelope?.mailFrom) {
      callback(reply(503, '5.5.1', 'Error: MAIL transaction in progress'));
      return;
    }
    const failed = (): void => {
      setTimeout(
        () => callback(reply(535, '5.7.8', 'Authentication credentials invalid')),
        authFailureDelay,
      ).unref();
    };
    // acting as another user (an authzid) is not supported, as in the POP3 server (RFC 4616 §2)
    if (!authzidAccepted(auth.authzid, auth.authcid)) {
      failed();
      return;
    }
    const username = auth.username ?? '';
    if (options.authAcceptAny) {
      callback(null, { user: username });
      return;
    }
    accounts.authenticate(username, auth.password ?? '').then(
      (account) => {
        if (account) callback(null, { user: account.name });
        else failed();
      },
      (err: unknown) => {
        bridge.info(session.id, `accounts unavailable: ${(err as Error).message}`);
        callback(reply(454, '4.7.0', 'Temporary authentication failure'));
      },
    );
  };

  const onMailFrom = (
    address: SMTPServerAddress,
    session: SMTPServerSession,
    callback: (err?: Error | null) => void,
  ): void => {
    if (options.requireAuth && !session.user) {
      callback(reply(530, '5.7.0', 'Authentication required'));
      return;
    }
    const refused =
      parametersRefusal('MAIL', address.args, session.openingCommand) ??
      utf8Refusal(rawPathOf(address), hasSmtpUtf8(address));
    if (refused) {
      callback(refusal(refused));
      return;
    }
    // the declared SIZE (checked against maxSize by the library) must also fit above the reserve
    const declared = Number((address.args ? address.args.SIZE : undefined) ?? 0);
    callback(storageShort(Number.isFinite(declared) ? declared : 0) ?? null);
  };

  const onRcptTo = (
    address: SMTPServerAddress,
    session: SMTPServerSession,
    callback: (err?: Error | null) => void,
  ): void => {
    const refused =
      parametersRefusal('RCPT', address.args, session.openingCommand) ??
      utf8Refusal(rawPathOf(address), smtpUtf8(session));
    if (refused) {
      callback(refusal(refused));
      return;
    }
    const decision = mailboxForRecipient(address.address);
    if (!decision.ok) {
      callback(refusal(decision));
      return;
    }
    // postmaster is accepted even in strict mode (RFC 5321 §4.5.1) and goes to the mailbox "postmaster"
    if (decision.mailbox === POSTMASTER) {
      callback();
      return;
    }
    if (!options.strict) {
      // any local part is a mailbox, made on its first message: up to the cap (mailbox-cap.ts)
      mailboxCap.admits(decision.mailbox).then(
        (admitted) =>
          callback(
            admitted
              ? null
              : reply(
                  452,
                  '4.3.1',
                  `<${address.address}>: mailbox limit reached (${mailboxCap.max} mailboxes), try again later`,
                ),
          ),
        () => callback(reply(451, '4.3.0', 'Local error: mailboxes unavailable')),
      );
      return;
    }
    accounts.get(decision.mailbox).then(
      (account) =>
        callback(
          account ? null : reply(550, '5.1.1', `<${address.address}>: no such mailbox here (strict mode)`),
        ),
      () => callback(reply(451, '4.3.0', 'Local error: accounts unavailable')),
    );
  };

  const onData = (
    stream: SMTPServerDataStream,
    session: SMTPServerSession,
    callback: (err?: Error | null, message?: string) => void,
  ): void => {
    const envelope = session.envelope;
    const from = envelope.mailFrom ? envelope.mailFrom.address : '';
    const recipients = envelope.rcptTo.map((r) => r.address);
    const byMailbox = new Map<string, string[]>();
    for (const rcpt of recipients) {
      const d = mailboxForRecipient(rcpt);
      if (d.ok) byMailbox.set(d.mailbox, [...(byMailbox.get(d.mailbox) ?? []), rcpt]);
    }
    const mailboxes = [...byMailbox.keys()];
    if (mailboxes.length === 0) {
      // cannot happen (every RCPT was checked), but never leave DATA unanswered
      stream.resume();
      callback(reply(554, '5.5.1', 'No valid recipients'));
      return;
    }
    const tlsInfo = session.tlsOptions
      ? { version: session.tlsOptions.version, cipher: session.tlsOptions.name }
      : undefined;
    const user = userName(session);
    const protocol = receivedProtocol({
      ehlo: session.openingCommand === 'EHLO',
      smtpUtf8: smtpUtf8(session),
      secure: session.secure,
      authenticated: user !== undefined,
    });
    const header = receivedHeader({
      from,
      to: recipients,
      helo: session.hostNameAppearsAs || '',
      remoteAddress: session.remoteAddress,
      remoteName:
        options.reverseLookup && !session.clientHostname.startsWith('[') ? session.clientHostname : undefined,
      serverName: hostname,
      protocol,
      tls: tlsInfo,
      // one id per message: smtp-server numbers the transactions of a session. A hyphen, not a dot:
      // RFC 5321 §4.4 makes the id an Atom, and "." is not atext
      id: `${session.id}-${session.transaction}`,
    });
    const trace = bridge.session(session.id);
    const short = storageShort();
    if (short) {
      // the disk filled since MAIL FROM: let the message arrive and be discarded, then 452
      stream.resume();
      trace.transcript.finish();
      traceEvent(emitter, 'smtp', trace.conn, 'info', `message refused: ${short.message}`);
      stream.once('end', () => callback(short));
      return;
    }
    const delivery = store.deliver(
      mailboxes,
      checkedMessage(header, stream, { policy, maxBytes: maxSize }),
      // the first recipient address that named the mailbox (bob@a and bob@b fill one copy)
      mailboxes.map((mb) => deliveryHeaders(from, byMailbox.get(mb)![0]!)),
    );
    const tracked = delivery.then(
      (copies: StoredCopy[]) => {
        const text =
          copies.length === 1
            ? `Ok: stored in mailbox ${copies[0]!.mailbox} as ${copies[0]!.id}`
            : `Ok: stored in ${copies.length} mailboxes`;
        const transcript = trace.transcript.finish(
          `C: <${stream.byteLength} bytes of message data>`,
          `S: 250 2.6.0 ${text}`,
        );
        callback(null, text);
        const date = new Date().toISOString();
        for (const c of copies) {
          traceEvent(
            emitter,
            'smtp',
            trace.conn,
            'info',
            `stored ${c.size} bytes in ${c.mailbox} as ${c.id}`,
          );
          const ev: SmtpMessageEvent = {
            mailbox: c.mailbox,
            id: c.id,
            from,
            to: byMailbox.get(c.mailbox) ?? [],
            size: c.size,
            date,
            remoteAddress: session.remoteAddress,
            helo: session.hostNameAppearsAs || '',
            secure: session.secure,
            transcript,
          };
          if (user !== undefined) ev.user = user;
          emitter.emit('message', ev);
        }
      },
      (err: unknown) => {
        // let the rest of DATA arrive and be discarded: the reply comes after the final dot
        if (!stream.readableEnded) stream.resume();
        trace.transcript.finish();
        if (err instanceof SmtpReplyError) {
          traceEvent(emitter, 'smtp', trace.conn, 'info', `message refused: ${err.message}`);
          callback(Object.assign(new Error(err.message), { responseCode: err.responseCode }));
        } else {
          traceEvent(emitter, 'smtp', trace.conn, 'error', `message not stored: ${(err as Error).message}`);
          callback(reply(451, '4.3.0', 'Local error in processing'));
        }
      },
    );
    inflight.add(tracked);
    void tracked.finally(() => inflight.delete(tracked));
  };

  const smtpOptions = (secure: boolean): SMTPServerOptions => ({
    secure,
    // goes to net.createServer(), and the TLS sockets of both listeners inherit it: a client that
    // half-closes after its last command (`nc -N`) still gets every reply; smtp-tweaks.ts then
    // closes the session once they are sent
    allowHalfOpen: true,
    name: hostname,
    banner: 'netkit',
    logger: bridge.logger as unknown as SMTPServerOptions['logger'],
    ...(tls ? serverTlsOptions(tls.cert, tls.key) : {}),
    disabledCommands: baseDisabled,
    hideSTARTTLS: !tls,
    hideENHANCEDSTATUSCODES: false,
    hideDSN: true,
    hideREQUIRETLS: true,
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: true,
    // decided per session in onConnect/onSecure/onAuth (loopback or TLS), see authPermitted()
    allowInsecureAuth: true,
    size: maxSize,
    rejectOversized: true,
    maxRecipients: options.maxRecipients ?? DEFAULT_MAX_RECIPIENTS,
    maxClients,
    maxCommandLength: options.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH,
    socketTimeout: options.socketTimeout ?? DEFAULT_SMTP_IDLE_MS,
    closeTimeout: options.closeTimeout ?? 5000,
    disableReverseLookup: !options.reverseLookup,
    onConnect,
    onSecure,
    onAuth,
    onMailFrom,
    onRcptTo,
    onData,
    onClose,
  });

  const tuning = {
    greetingDelay: options.greetingDelay ?? 0,
    handshakeTimeout: options.tlsHandshakeTimeoutMs ?? DEFAULT_TLS_HANDSHAKE_MS,
    lineTimeout: options.socketTimeout ?? DEFAULT_SMTP_IDLE_MS,
    onHandshakeFailure: (peer: string, err: Error) => bridge.handshakeFailed(peer, err),
  };
  const servers: TunedSMTPServer[] = [];
  const listen = async (secure: boolean, port: number): Promise<number> => {
    const srv = new TunedSMTPServer(smtpOptions(secure), tuning);
    // smtp-server wraps the logger option in nodemailer's, which copies every entry into a new
    // object before calling ours, for every command and reply (eight or more times per message).
    // The bridge reads none of the fields the wrapper adds, so it is called directly.
    srv.logger = bridge.logger as unknown as typeof srv.logger;
    // connection errors reach the trace through the logger already (they carry remoteAddress),
    // a failed implicit-TLS handshake through tuning.onHandshakeFailure (its meta.stage is 'connect')
    srv.on('error', (err: Error & { remoteAddress?: string; meta?: { stage?: string } }) => {
      if (err.remoteAddress === undefined && err.meta?.stage !== 'connect')
        traceEvent(emitter, 'smtp', 0, 'error', err.message);
    });
    servers.push(srv);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        reject(
          err.code === 'EADDRINUSE'
            ? new NetkitError('NETKIT_ADDRESS_IN_USE', `smtp: port ${port} on ${host} is already in use`, {
                cause: err,
              })
            : err,
        );
      };
      srv.server.once('error', onError);
      srv.listen(port, host, () => {
        srv.server.off('error', onError);
        resolve();
      });
    });
    return (srv.server.address() as import('node:net').AddressInfo).port;
  };

  let closed: Promise<void> | undefined;
  const close = (deadlineMs = options.closeTimeout ?? 5000): Promise<void> => {
    closed ??= (async () => {
      // sessions between transactions are told right away; the others finish their message first
      await Promise.all(servers.map((srv) => closeSmtpListener(srv, deadlineMs)));
      await Promise.allSettled([...inflight]);
    })();
    return closed;
  };

  let port = 0;
  let tlsPort: number | undefined;
  try {
    port = await listen(false, options.port ?? 0);
    if (options.tlsPort !== undefined) tlsPort = await listen(true, options.tlsPort);
  } catch (err) {
    await close(0);
    throw err;
  }
  const address = servers[0]!.server.address() as import('node:net').AddressInfo;

  const handle = Object.assign(emitter, { host: address.address, port, tlsPort, dataDir, close });
  Object.defineProperty(handle, 'connections', { get: () => live.size, enumerable: true });
  return handle as unknown as SmtpServerHandle;
}
