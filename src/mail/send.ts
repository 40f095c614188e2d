/**
 * Mail submission: `sendMail()` composes a message (see compose.ts) and hands the exact bytes to
 * nodemailer's SMTP connection (smtp-submit.ts) with an explicit envelope (MAIL FROM + every
 * To/Cc/Bcc recipient), so
 * Bcc recipients get the message without appearing in it, and a dry run returns the same bytes
 * that a real send would put after DATA.
 *
 * TLS policy (the nodemailer vocabulary): `secure` = implicit TLS from the first byte (port 465 style);
 * otherwise STARTTLS whenever the server offers it (the default), `requireTLS` to fail when it does
 * not, `ignoreTLS` to stay in plaintext. Credentials go to a server off this machine in the clear
 * only with `ignoreTLS` (smtp-submit.ts): a missing STARTTLS offer may be an attacker's doing.
 * Certificates are verified unless `tlsInsecure` is set — meant for the lab's own self-signed
 * development certificate — or the certificate is trusted through `ca` (e.g.
 * `netkit-data/tls/dev-cert.pem`).
 *
 * A message with a non-ASCII local part (`bøb@lab`) needs SMTPUTF8 (RFC 6531): it is sent with
 * `MAIL FROM:<…> SMTPUTF8` when the server offers the extension, and refused before MAIL FROM when
 * it does not (smtputf8.ts).
 *
 * The SMTP conversation is reported as `'trace'` events (from nodemailer's transaction log, which
 * already masks AUTH secrets; we mask again). Message data is never traced.
 */
import type { EventEmitter } from 'node:events';
import { formatHostPort } from '../core/address.js';
import {
  certificateError,
  connectFailure,
  NETKIT_TRUST_FLAGS,
  NetkitError,
  type NetkitErrorCode,
  notTlsThere,
} from '../core/errors.js';
import { TypedEventEmitter } from '../core/events.js';
import { defaultTrust } from '../core/tls-trust.js';
import {
  nextConnId,
  redactCommand,
  type TraceEvent,
  type TraceEvents,
  type TraceKind,
  traceEvent,
} from '../core/trace.js';
import { assertNoInjection, type ComposedMail, composeMail, type MailMessageOptions } from './compose.js';
import { submitOnce } from './smtp-submit.js';

/** Where and how to submit. */
export interface SmtpSubmitOptions {
  /** default 127.0.0.1 (the lab) */
  host?: string;
  /** default 2525 (the lab's SMTP port) */
  port?: number;
  /** implicit TLS (SMTPS) */
  secure?: boolean;
  /** fail unless the server offers STARTTLS */
  requireTLS?: boolean;
  /** never use STARTTLS, even when offered (and log in in the clear, wherever the server is) */
  ignoreTLS?: boolean;
  /**
   * Do not verify the server certificate. For the lab's self-signed development certificate only:
   * it makes the connection open to interception.
   */
  tlsInsecure?: boolean;
  /** trusted certificate(s) in PEM, instead of the system roots (e.g. the lab's `tls/dev-cert.pem`) */
  ca?: string | Buffer | Array<string | Buffer>;
  /** SNI / certificate name (default: host) */
  servername?: string;
  /** log in as this user: a server that offers no AUTH gets nothing (NETKIT_AUTH) */
  user?: string;
  /** the password of `user` */
  password?: string;
  /** SASL mechanism (PLAIN, LOGIN); default: the first the server offers */
  authMethod?: string;
  /** EHLO name (default: the machine's host name) */
  name?: string;
  /** per-phase timeout in ms (connect, greeting, idle); default 30 s */
  timeoutMs?: number;
}

export interface SendMailOptions extends MailMessageOptions, SmtpSubmitOptions {
  /** compose only: return the message, open no connection */
  dryRun?: boolean;
  /** receive the SMTP conversation */
  onTrace?: (ev: TraceEvent) => void;
}

export interface SendMailResult extends ComposedMail {
  dryRun: boolean;
  /** recipients the server accepted / rejected (empty on a dry run) */
  accepted: string[];
  rejected: string[];
  /** the server's final reply to DATA, e.g. `250 2.0.0 Ok: queued` */
  response?: string;
}

type NodemailerError = Error & { code?: string; response?: string; responseCode?: number; command?: string };

/**
 * A `530` that asks for a login (RFC 4954 §6: `530 5.7.0 Authentication required`, Exchange's
 * `530 5.7.1 Client was not authenticated`) as NETKIT_AUTH, like a refused login; undefined for any
 * other error, and for the `530 5.7.0 Must issue a STARTTLS command first` of RFC 3207, which is
 * about TLS, not credentials.
 * @param user the user that logged in, if any (without one the way out is to log in)
 */
function authRequired(e: NodemailerError, server: string, user: string | undefined): NetkitError | undefined {
  if (e?.responseCode !== 530) return undefined;
  const reply = (e.response ?? e.message ?? '').split(/\r?\n/)[0]!;
  if (/STARTTLS|\bTLS\b/i.test(reply)) return undefined;
  const said = e.command ? `its reply to ${e.command}: ${reply}` : reply;
  const hint = user === undefined ? '; log in with --user' : '';
  return new NetkitError('NETKIT_AUTH', `${server} requires authentication (${said})${hint}`, { cause: e });
}

/**
 * A failed exchange with the server (`sendMail`, `sendRawMail`, `SmtpSender`; what fails before
 * any connection — a bad option, an attachment not found — is a plain NetkitError): a netkit code
 * to branch on and, when the server refused a command, its reply. `smtpCode` 5xx is permanent,
 * 4xx worth a retry later (RFC 5321 §4.2.1), as nodemailer's `responseCode`. The three are
 * undefined when no reply was involved (a refused connection, a timeout, a TLS failure).
 */
export class SmtpSendError extends NetkitError {
  /** the server's reply code, e.g. 550 or 451 */
  readonly smtpCode: number | undefined;
  /** the server's reply, e.g. `550 5.1.1 <bob@lab>: no such mailbox` */
  readonly response: string | undefined;
  /** the command it answered, e.g. `RCPT TO`, `DATA` (secrets redacted) */
  readonly command: string | undefined;
  constructor(
    code: NetkitErrorCode,
    message: string,
    reply: { smtpCode?: number; response?: string; command?: string } = {},
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.name = 'SmtpSendError';
    this.smtpCode = reply.smtpCode;
    this.response = reply.response;
    this.command = reply.command;
  }
}

/**
 * Turn nodemailer's errors into ours, with a hint where a user can act on it: an
 * {@link SmtpSendError} carrying the server's reply, when there was one.
 * @param user the user given to log in, if any (it shapes the hint of a `530`)
 */
export function mapSmtpError(err: unknown, server: string, user?: string): SmtpSendError {
  if (err instanceof SmtpSendError) return err;
  const mapped = netkitSmtpError(err, server, user);
  const e = err as NodemailerError | undefined;
  const reply =
    typeof e?.responseCode === 'number'
      ? {
          smtpCode: e.responseCode,
          ...(typeof e.response === 'string' ? { response: e.response } : {}),
          ...(typeof e.command === 'string' ? { command: redactCommand(e.command) } : {}),
        }
      : {};
  return new SmtpSendError(
    mapped.code,
    mapped.message,
    reply,
    mapped.cause === undefined ? undefined : { cause: mapped.cause },
  );
}

/** nodemailer's error codes in ours. */
function netkitSmtpError(err: unknown, server: string, user: string | undefined): NetkitError {
  if (err instanceof NetkitError) return err;
  const e = err as NodemailerError;
  const msg = (e?.message ?? String(err)).split('\n')[0]!;
  const failed =
    notTlsThere(err, server) ??
    certificateError(err, server, NETKIT_TRUST_FLAGS) ??
    connectFailure(err, server) ??
    authRequired(e, server, user);
  if (failed) return failed;
  switch (e?.code) {
    case 'EAUTH':
      return new NetkitError('NETKIT_AUTH', `authentication failed at ${server}: ${msg}`, { cause: err });
    case 'ETIMEDOUT':
      return new NetkitError('NETKIT_TIMEOUT', `${server}: ${msg}`, { cause: err });
    case 'EENVELOPE':
    case 'EMESSAGE':
    case 'EPROTOCOL':
    case 'ETLS':
    case 'EREQUIRETLS':
      return new NetkitError('NETKIT_PROTOCOL', `${server}: ${msg}`, { cause: err });
    default:
      // nodemailer keeps the socket's own code in `originalCode`
      if (
        [
          e?.code,
          (e as { originalCode?: string }).originalCode,
          (e as { cause?: { code?: string } }).cause?.code,
        ].includes('ECONNRESET')
      )
        return new NetkitError('NETKIT_PROTOCOL', `connection to ${server} closed unexpectedly`, {
          cause: err,
        });
      return new NetkitError('NETKIT_PROTOCOL', `${server}: ${msg}`, { cause: err });
  }
}

/** nodemailer's chatter that says nothing about the wire (and names its own throw-away message id). */
const NOISE = /^(Creating transport|Sending mail using|Sending message|Resolved )/;

/** A bunyan-style logger for nodemailer that turns its transaction log into trace events. */
function traceLogger(target: EventEmitter, conn: number, peer: string) {
  const emit = (level: string, entry: { tnx?: string } | undefined, message: unknown, ...args: unknown[]) => {
    let text = typeof message === 'string' ? message : String(message ?? '');
    let i = 0;
    text = text.replace(/%[sdjo%]/g, (m) => (m === '%%' ? '%' : String(args[i++] ?? '')));
    let kind: TraceKind;
    if (entry?.tnx === 'client') kind = 'out';
    else if (entry?.tnx === 'server') kind = 'in';
    else if (level === 'error' || level === 'fatal') kind = 'error';
    else if (entry?.tnx === 'network' && /^Connection established/.test(text)) kind = 'connect';
    else if (entry?.tnx === 'network' && /^Connection closed/.test(text)) kind = 'disconnect';
    else if (NOISE.test(text)) return;
    else kind = 'info';
    for (const line of text.split(/\r?\n/)) {
      if (line === '' && kind !== 'info') continue;
      const shown = kind === 'out' ? redactCommand(line) : line;
      traceEvent(target, 'smtp', conn, kind, kind === 'connect' || kind === 'disconnect' ? '' : shown, peer);
    }
  };
  const levels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
  return Object.fromEntries(
    levels.map((l) => [
      l,
      (entry: { tnx?: string }, message: unknown, ...args: unknown[]) => emit(l, entry, message, ...args),
    ]),
  );
}

/**
 * An SMTP submission client: composes and sends, emitting `'trace'`. One connection per message
 * (a CLI send or a test); nothing is pooled.
 */
export class SmtpSender extends TypedEventEmitter<TraceEvents> {
  readonly host: string;
  readonly port: number;

  constructor(readonly options: SmtpSubmitOptions = {}) {
    super();
    this.host = options.host ?? '127.0.0.1';
    this.port = options.port ?? 2525;
    for (const [what, v] of [
      ['server host', this.host],
      ['EHLO name', options.name],
      ['user', options.user],
      ['servername', options.servername],
    ] as const) {
      if (v !== undefined) assertNoInjection(what, v);
    }
    if (options.password !== undefined && /[\r\n\0]/.test(options.password))
      throw new NetkitError('NETKIT_INVALID_INPUT', 'password contains a line break or NUL');
    if (options.password !== undefined && options.user === undefined)
      throw new NetkitError('NETKIT_USAGE', 'a password needs a user (--user)');
    if (options.secure && options.ignoreTLS)
      throw new NetkitError('NETKIT_USAGE', 'implicit TLS (--tls) and --no-tls contradict each other');
  }

  /** Compose (with all checks) and submit. */
  async send(message: MailMessageOptions): Promise<SendMailResult> {
    const composed = await composeMail(message);
    return this.submit(composed);
  }

  /** Submit an already composed message. */
  async submit(composed: ComposedMail): Promise<SendMailResult> {
    const o = this.options;
    const server = formatHostPort(this.host, this.port);
    const conn = nextConnId();
    const timeout = o.timeoutMs ?? 30_000;
    try {
      const info = await submitOnce(composed, {
        server,
        connection: {
          host: this.host,
          port: this.port,
          secure: o.secure ?? false,
          requireTLS: o.requireTLS ?? false,
          ignoreTLS: o.ignoreTLS ?? false,
          name: o.name,
          connectionTimeout: timeout,
          greetingTimeout: timeout,
          socketTimeout: timeout,
          dnsTimeout: timeout,
          tls: {
            rejectUnauthorized: !o.tlsInsecure,
            ...defaultTrust(o.ca),
            ...(o.servername !== undefined ? { servername: o.servername } : {}),
          },
          logger: traceLogger(this, conn, server),
          transactionLog: true,
          debug: false,
        },
        auth:
          o.user !== undefined
            ? {
                user: o.user,
                credentials: { user: o.user, pass: o.password ?? '' },
                method: o.authMethod?.trim().toUpperCase() || false,
              }
            : undefined,
        onRefuse: (err) => traceEvent(this, 'smtp', conn, 'error', err.message, server),
      });
      return {
        ...composed,
        dryRun: false,
        accepted: (info.accepted ?? []).map(String),
        rejected: (info.rejected ?? []).map(String),
        response: info.response,
      };
    } catch (err) {
      throw mapSmtpError(err, server, o.user);
    }
  }
}

/**
 * Compose and send one message (or, with `dryRun`, only compose it). Every value bound for a header
 * or an SMTP command is checked for CR/LF/NUL before any file is read or socket opened.
 *
 * @example
 * const r = await sendMail({ from: 'me@lab', to: ['bob@lab'], subject: 'hi', text: 'hello', port: 2525 });
 * r.messageId; r.accepted;
 */
export async function sendMail(options: SendMailOptions): Promise<SendMailResult> {
  const sender = new SmtpSender(options); // validates the connection values first
  if (options.onTrace) sender.on('trace', options.onTrace);
  const composed = await composeMail(options);
  if (options.dryRun) return { ...composed, dryRun: true, accepted: [], rejected: [] };
  return sender.submit(composed);
}
