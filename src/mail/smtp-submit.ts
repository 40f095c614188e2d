/**
 * One SMTP submission over nodemailer's SMTPConnection: connect (greeting, EHLO, STARTTLS), check the
 * extensions the message needs, AUTH, then MAIL FROM / RCPT TO / DATA.
 *
 * Why SMTPConnection and not nodemailer's SMTP transport: the transport goes from EHLO straight to
 * MAIL FROM, so there is no point at which we could look at the EHLO reply and refuse. A message that
 * needs SMTPUTF8 (RFC 6531) must not start a transaction with a server that lacks it — neither the
 * 8-bit MAIL FROM / RCPT TO nor the UTF-8 headers may go out — so the check sits between the
 * handshake and AUTH, and the session ends with QUIT before any MAIL FROM. The same holds for an 8-bit
 * body (a raw message, raw-message.ts): it goes out with `BODY=8BITMIME`, and only to a server that
 * offers 8BITMIME (eightbitmime.ts).
 *
 * Credentials are a demand, not a wish: nodemailer's transport logs in only when the server offers
 * AUTH and otherwise sends anyway, so a message meant to go out logged in went out anonymously, and
 * the sender never knew. Here a server without AUTH ends the session the same way as a missing
 * extension, before MAIL FROM ({@link authNotOffered}). So does a server off this machine that left
 * the session in plaintext (it offered no STARTTLS, or someone on the path removed the offer): the
 * password goes out in the clear only with `ignoreTLS` (`--no-tls`), see cleartextPasswordRefused.
 */
import SMTPConnection, {
  type SMTPConnectionAuth,
  type SMTPConnectionOptions,
  type SMTPConnectionSendInfo,
} from 'nodemailer/lib/smtp-connection';
import { plaintextAllowed } from '../core/address.js';
import { cleartextPasswordRefused, NetkitError } from '../core/errors.js';
import { greetingName } from './address-literal.js';
import type { ComposedMail } from './compose.js';
import { eightBitMimeNotOffered, offers8BitMime } from './eightbitmime.js';
import { AwaitedReply } from './smtp-awaited.js';
import {
  findUtf8Address,
  hasUtf8LocalPart,
  offersSmtpUtf8,
  smtpUtf8NotOffered,
  withSmtpUtf8Param,
} from './smtputf8.js';

export interface SubmitParams {
  connection: SMTPConnectionOptions;
  /** credentials: the server must offer AUTH, or nothing is sent (NETKIT_AUTH) */
  auth?: SMTPConnectionAuth;
  /** `host:port`, for messages */
  server: string;
  /** told about a refusal of ours (the server never sees it) */
  onRefuse?: (err: NetkitError) => void;
}

/**
 * nodemailer puts the SMTPUTF8 parameter on MAIL FROM only when the envelope itself is non-ASCII;
 * a UTF-8 address that is only in the headers (Reply-To) needs it just as much (RFC 6531 §3.4), so
 * the one command is amended on its way out. `_sendCommand` is nodemailer's internal writer; if it
 * ever goes away we fail loudly rather than send UTF-8 headers without the parameter.
 */
function amendMailFrom(conn: SMTPConnection): void {
  const internals = conn as unknown as { _sendCommand?: (str: string, logStr?: string) => void };
  const write = internals._sendCommand;
  if (typeof write !== 'function')
    throw new NetkitError('NETKIT_PROTOCOL', 'cannot add the SMTPUTF8 parameter: nodemailer has changed');
  internals._sendCommand = (str: string, logStr?: string) =>
    write.call(conn, withSmtpUtf8Param(str), logStr === undefined ? undefined : withSmtpUtf8Param(logStr));
}

/** Does this EHLO reply advertise STARTTLS? Only a whole keyword line counts. */
function offersStartTls(ehloReply: string): boolean {
  return /^250[ -]STARTTLS(?=\s|$)/im.test(ehloReply);
}

/**
 * The refusal when credentials were given and the EHLO reply lists no AUTH; nothing has been sent.
 * Many servers offer AUTH only inside TLS, so the hint says whether that may be the reason.
 */
function authNotOffered(
  server: string,
  session: { secure: boolean; ignoreTLS: boolean; ehlo: string },
): NetkitError {
  const hint = session.secure
    ? 'not even over TLS'
    : session.ignoreTLS && offersStartTls(session.ehlo)
      ? 'it may offer AUTH only after STARTTLS, which --no-tls turned off'
      : 'no TLS was negotiated and the server offers no STARTTLS; it may offer AUTH only on its implicit-TLS port (--tls)';
  return new NetkitError('NETKIT_AUTH', `${server} does not offer AUTH (${hint}); nothing was sent`);
}

/** How long the 221 after QUIT is waited for before the connection is closed anyway. */
const QUIT_REPLY_MS = 3000;

/**
 * May this session end with QUIT? RFC 5321 §4.1.1.10: a client must not close the connection before
 * QUIT, even after an error reply, and should wait for the 221. nodemailer's transport just closes
 * after the message (nodemailer/nodemailer#1292), which servers log as a lost connection, and some
 * count against the client. Not after a failure without a reply (the link is gone, or a message
 * stream broke mid-DATA, where QUIT would be message text), nor after 421 (the server is closing).
 */
function quitFollows(conn: SMTPConnection, err: unknown): boolean {
  if (conn.destroyed) return false;
  if (!err) return true;
  const code = (err as { responseCode?: unknown }).responseCode;
  return typeof code === 'number' && code !== 421;
}

/**
 * Without a given name, EHLO says the machine's FQDN or the literal of the address this connection
 * leaves from (address-literal.ts), known only once connected: nodemailer reads `name` when it
 * sends EHLO (after the greeting, and again after STARTTLS), so a getter answers from the socket.
 */
function greetWithOwnAddress(conn: SMTPConnection): void {
  Object.defineProperty(conn, 'name', {
    configurable: true,
    enumerable: true,
    get: () => greetingName(conn._socket ? conn._socket.localAddress : undefined),
  });
}

/** Submit one composed message; resolves with nodemailer's send info, rejects with its error (or ours). */
export function submitOnce(composed: ComposedMail, params: SubmitParams): Promise<SMTPConnectionSendInfo> {
  // nodemailer's timeouts say only "Timeout": this names the reply that never came
  const awaited = new AwaitedReply();
  const conn = new SMTPConnection(awaited.watch(params.connection));
  if (params.connection.name === undefined) greetWithOwnAddress(conn);
  // composeMail names the address; for a ComposedMail built elsewhere, look at envelope and headers
  const need =
    composed.smtpUtf8 ??
    findUtf8Address(
      [
        ['from', [composed.envelope.from]],
        ['to', composed.envelope.to],
      ],
      composed.message,
    );
  const envelopeIsAscii =
    !hasUtf8LocalPart(composed.envelope.from) && !composed.envelope.to.some(hasUtf8LocalPart);
  const eightBit = composed.eightBitBody === true;
  return new Promise((resolve, reject) => {
    let settled = false;
    const report = (err: unknown, info?: SMTPConnectionSendInfo) => {
      if (err) reject(awaited.timeoutError(err, params.server, params.connection) ?? err);
      else resolve(info!);
    };
    /** the link failed (socket error, timeout, a message stream that broke mid-DATA): just close */
    const finish = (err: unknown, info?: SMTPConnectionSendInfo) => {
      if (settled) return;
      settled = true;
      conn.close();
      report(err, info);
    };
    /**
     * The server answered the last command (the end of the data, or an error reply such as 535 or
     * 550): end the session with QUIT and report once it is over (see {@link quitFollows}).
     */
    const answered = (err: unknown, info?: SMTPConnectionSendInfo) => {
      if (settled) return;
      if (!quitFollows(conn, err)) return finish(err, info);
      settled = true;
      // the outcome is known: a server slow to say 221 delays it by a few seconds at most
      const slowBye = setTimeout(() => conn.close(), QUIT_REPLY_MS);
      conn.once('end', () => {
        clearTimeout(slowBye);
        report(err, info);
      });
      conn.quit();
    };
    const refuse = (err: NetkitError) => {
      if (settled) return;
      settled = true;
      params.onRefuse?.(err);
      // a polite end: QUIT, and report only once the server has closed, so that a caller (or a
      // test) sees the session over — nothing of the transaction was sent
      conn.once('end', () => reject(err));
      conn.quit();
    };
    conn.once('error', (err) => finish(err));
    conn.connect((err) => {
      if (err) return finish(err);
      // the handshake is done (after STARTTLS the EHLO was repeated), so the last reply is the EHLO
      // (or HELO) reply that lists the extensions this session has
      const ehlo = String(conn.lastServerResponse || '');
      if (need !== undefined) {
        if (!offersSmtpUtf8(ehlo)) return refuse(smtpUtf8NotOffered(need, params.server));
        if (envelopeIsAscii) {
          try {
            amendMailFrom(conn);
          } catch (e) {
            return refuse(e as NetkitError);
          }
        }
      }
      if (eightBit && !offers8BitMime(ehlo)) return refuse(eightBitMimeNotOffered(params.server));
      // a copy: SMTPConnection keeps its recipient bookkeeping (rcptQueue, accepted…) on the object;
      // use8BitMime makes it add BODY=8BITMIME to MAIL FROM (the server offers 8BITMIME, checked above)
      const envelope = { from: composed.envelope.from, to: [...composed.envelope.to], use8BitMime: eightBit };
      const send = () =>
        conn.send(envelope, composed.message, (e, info) => (e ? answered(e) : answered(null, info)));
      if (params.auth === undefined) return send();
      const { host = '', ignoreTLS = false } = params.connection;
      if (!plaintextAllowed({ secure: conn.secure, remoteAddress: host, allowPlaintext: ignoreTLS }))
        return refuse(cleartextPasswordRefused(params.server, 'STARTTLS', '--no-tls'));
      if (!conn.allowsAuth)
        return refuse(
          authNotOffered(params.server, {
            secure: conn.secure,
            ignoreTLS: params.connection.ignoreTLS === true,
            ehlo,
          }),
        );
      conn.login(params.auth, (e) => (e ? answered(e) : send()));
    });
  });
}
