/**
 * The SMTP server's decisions as pure functions, so each can be table-tested without a socket:
 * may this session authenticate (and as whom), which mailbox (if any) does a recipient address
 * name, and which MAIL/RCPT parameters and addresses a transaction may use.
 *
 * The server never relays: a recipient is only ever a local mailbox, named by the local part of its
 * address (`Bob@anything.example` → `bob`), whatever the domain.
 */
import { isLoopback } from '../core/address.js';
import { normaliseMailbox } from './maildir.js';
import { isAscii, isQuoted, splitAddress, unquoteLocalPart } from './smtp-address.js';

export { isLoopback };

/** RFC 5321 §4.5.1: mail to `postmaster` must be accepted, whatever else is refused (`strict`). */
export const POSTMASTER = 'postmaster';

/**
 * AUTH sends a reusable password (PLAIN and LOGIN are only base64), so it is offered only where
 * nobody can listen in: inside TLS (STARTTLS or the implicit-TLS port), on loopback, or when the
 * operator explicitly allows plaintext (`allowPlaintextAuth`, e.g. a lab inside a private network).
 */
export function authPermitted(session: {
  secure: boolean;
  remoteAddress: string | undefined;
  allowPlaintextAuth?: boolean;
}): boolean {
  return session.secure || session.allowPlaintextAuth === true || isLoopback(session.remoteAddress);
}

/**
 * SASL PLAIN's authorization identity (RFC 4616 §2): acting as someone else is not supported, so
 * only an empty authzid or one equal to the authentication identity (case-insensitively) is
 * accepted — the rule the POP3 server applies too. An empty authcid means smtp-server already
 * used the authzid as the user name (a common client quirk), which is fine.
 */
export function authzidAccepted(authzid: string | undefined, authcid: string | undefined): boolean {
  if (!authzid || !authcid) return true;
  return authzid.toLowerCase() === authcid.toLowerCase();
}

/** A refusal: SMTP reply code, enhanced status code, text. */
export interface Refusal {
  responseCode: number;
  enhancedCode: string;
  message: string;
}

export type RecipientDecision = { ok: true; mailbox: string } | ({ ok: false } & Refusal);

function badMailbox(address: string, local: string): RecipientDecision {
  return {
    ok: false,
    responseCode: 553,
    enhancedCode: '5.1.3',
    message: `<${address}>: "${local}" is not a valid mailbox name (letters, digits, . _ + -; max 64)`,
  };
}

/**
 * The mailbox of a local part that is a valid address but not a mailbox name as it stands — quoted
 * (`"John Smith"`) or with RFC 5322 atext such as `'` and `=` (`o'brien`, `first=last`, which
 * applications send and a mail catcher must not refuse): every run of characters other than
 * letters, digits, `.`, `_`, `+`, `-` becomes one `_` (`john_smith`, `o_brien`), so the name can
 * never leave the mail directory. The `%`/`!` relay forms and non-ASCII text stay refused.
 */
function mappedMailbox(text: string): string | undefined {
  if (!/^[\x20-\x7e]+$/.test(text) || /[%!@]/.test(text)) return undefined;
  try {
    return normaliseMailbox(text.replace(/[^A-Za-z0-9._+-]+/g, '_'));
  } catch {
    return undefined;
  }
}

/**
 * The mailbox a recipient address delivers to: its local part, lowercased, if it is a valid
 * mailbox name (`[a-z0-9][a-z0-9._+-]*`, max 64). `postmaster` without a domain is accepted (RFC
 * 5321 §4.1.1.3). A quoted local part is unquoted first (`"bob"` is `bob`, RFC 5321 §2.4); other
 * quoted names and atext beyond the mailbox alphabet are mapped by {@link mappedMailbox}. `%` hacks
 * and non-ASCII names are refused with 553 5.1.3.
 */
/** An unquoted dot-atom local part (RFC 5322 §3.2.3 atext and dots). */
const ATEXT_LOCAL = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+$/;

export function mailboxForRecipient(address: string): RecipientDecision {
  const { local, domain } = splitAddress(address);
  if (domain === undefined && local.toLowerCase() !== POSTMASTER) {
    return {
      ok: false,
      responseCode: 553,
      enhancedCode: '5.1.3',
      message: `<${address}>: recipient address needs a domain`,
    };
  }
  const text = unquoteLocalPart(local);
  if (text === undefined) return badMailbox(address, local);
  try {
    return { ok: true, mailbox: normaliseMailbox(text) };
  } catch {
    const mapped = isQuoted(local) || ATEXT_LOCAL.test(text) ? mappedMailbox(text) : undefined;
    return mapped ? { ok: true, mailbox: mapped } : badMailbox(address, local);
  }
}

/**
 * MAIL parameters we advertise or handle: SIZE (RFC 1870), BODY (8BITMIME, RFC 6152), SMTPUTF8
 * (RFC 6531) and AUTH= (RFC 4954 §5, sent by relays that authenticated; accepted and ignored).
 * DSN and REQUIRETLS are not advertised, so RCPT takes none.
 */
const MAIL_PARAMETERS = new Set(['SIZE', 'BODY', 'SMTPUTF8', 'AUTH']);
const RCPT_PARAMETERS = new Set<string>();

/**
 * Are the ESMTP parameters of a MAIL or RCPT command acceptable? Parameters need EHLO (after HELO
 * they are a syntax error, 501); unknown ones get 555 5.5.4 (RFC 5321 §4.1.1.11, §3.3).
 */
export function parametersRefusal(
  command: 'MAIL' | 'RCPT',
  args: object | false | undefined,
  openingCommand: string | false | undefined,
): Refusal | undefined {
  const keys = args ? Object.keys(args) : [];
  if (keys.length === 0) return undefined;
  if (openingCommand !== 'EHLO') {
    return {
      responseCode: 501,
      enhancedCode: '5.5.4',
      message: `${command} parameters are only allowed after EHLO`,
    };
  }
  const known = command === 'MAIL' ? MAIL_PARAMETERS : RCPT_PARAMETERS;
  const unknown = keys.filter((k) => !known.has(k.toUpperCase()));
  if (unknown.length === 0) return undefined;
  return {
    responseCode: 555,
    enhancedCode: '5.5.4',
    message: `${command} ${command === 'MAIL' ? 'FROM' : 'TO'} parameters not recognized: ${unknown
      .map((k) => k.slice(0, 32))
      .join(' ')}`,
  };
}

/**
 * A non-ASCII address needs the SMTPUTF8 parameter on MAIL FROM (RFC 6531 §3.4); without it the
 * transaction is ASCII-only and the address is refused with 553 5.6.7 (RFC 6531 §3.7.4.2). `path`
 * is the address as the client sent it. The reply does not echo it: the client did not ask for
 * UTF-8.
 */
export function utf8Refusal(path: string, smtpUtf8: boolean): Refusal | undefined {
  if (smtpUtf8 || isAscii(path)) return undefined;
  return {
    responseCode: 553,
    enhancedCode: '5.6.7',
    message: 'Non-ASCII address without the SMTPUTF8 parameter (RFC 6531)',
  };
}
