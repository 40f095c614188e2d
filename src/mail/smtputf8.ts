/**
 * SMTPUTF8 (RFC 6531) on the sending side. An address with a non-ASCII local part (`bøb@lab`) has no
 * ASCII form — unlike a domain, which becomes an A-label — so MAIL FROM / RCPT TO carry it in UTF-8
 * and the headers carry it raw (RFC 6532). Both are only allowed when the server advertises SMTPUTF8
 * and MAIL FROM carries the SMTPUTF8 parameter (§3.4). A server without it may reject the 8-bit
 * command, or worse accept it and pass on a message other hops cannot handle; so we check the EHLO
 * reply ourselves and refuse before MAIL FROM, as Postfix does (`5.6.7 … SMTPUTF8 is required, but
 * was not offered by host …`).
 */
import { NetkitError } from '../core/errors.js';

/** Why a message needs SMTPUTF8: the first address that has no ASCII form, and where it is. */
export interface Utf8Address {
  /** `from`, `to`, `cc`, `bcc`, `reply-to`, or `header` (an 8-bit header with no such address) */
  field: string;
  address: string;
}

const NON_ASCII = /[^\x00-\x7f]/;

/** Does the local part (everything before the last `@`) need SMTPUTF8? */
export function hasUtf8LocalPart(address: string): boolean {
  const at = address.lastIndexOf('@');
  return NON_ASCII.test(at === -1 ? address : address.slice(0, at));
}

/**
 * The first address that needs SMTPUTF8, looking at every address field in order (the envelope
 * ones and Reply-To, which is only in the headers), then — as a safety net — at the header block of
 * the composed message: any 8-bit byte there is RFC 6532 UTF-8 and needs SMTPUTF8 just as much.
 */
export function findUtf8Address(fields: Array<[string, string[]]>, message: Buffer): Utf8Address | undefined {
  for (const [field, addresses] of fields) {
    const address = addresses.find(hasUtf8LocalPart);
    if (address !== undefined) return { field, address };
  }
  let end = message.indexOf('\r\n\r\n');
  if (end === -1) end = message.length;
  const header = message.subarray(0, end);
  for (let i = 0; i < header.length; i++) {
    if (header[i]! >= 0x80) return { field: 'header', address: headerNameAt(header, i) };
  }
  return undefined;
}

/** The name of the header field that holds byte `i` (walking back over folded lines). */
function headerNameAt(header: Buffer, i: number): string {
  let start = header.lastIndexOf(10, i) + 1;
  while (start > 0 && (header[start] === 32 || header[start] === 9))
    start = header.lastIndexOf(10, start - 2) + 1;
  const colon = header.indexOf(58, start);
  return header.subarray(start, colon === -1 ? start : colon).toString('latin1');
}

/**
 * Does this EHLO reply advertise SMTPUTF8? Only a whole keyword line counts (`250-SMTPUTF8`,
 * `250 SMTPUTF8`) — stricter than nodemailer's own test, so whenever we say yes, nodemailer also
 * sees the extension.
 */
export function offersSmtpUtf8(ehloReply: string): boolean {
  return /^250[ -]SMTPUTF8(?=\s|$)/im.test(ehloReply);
}

/** The one-line refusal when the server lacks SMTPUTF8; nothing has been sent at that point. */
export function smtpUtf8NotOffered(need: Utf8Address, server: string): NetkitError {
  const what =
    need.field === 'header'
      ? `the ${need.address} header contains UTF-8`
      : `<${need.address}> (${need.field}) has a non-ASCII local part`;
  return new NetkitError(
    'NETKIT_PROTOCOL',
    `553 5.6.7 ${what}: SMTPUTF8 is required, but was not offered by host ${server}; nothing was sent`,
  );
}

/**
 * Add the SMTPUTF8 parameter to a MAIL FROM command that lacks it. nodemailer adds it only when the
 * envelope itself is non-ASCII; a UTF-8 Reply-To (headers only) needs it as well (RFC 6531 §3.4).
 */
export function withSmtpUtf8Param(command: string): string {
  if (!/^MAIL FROM:/i.test(command) || /\sSMTPUTF8(\s|$)/i.test(command)) return command;
  const close = command.indexOf('>');
  if (close === -1) return command;
  return `${command.slice(0, close + 1)} SMTPUTF8${command.slice(close + 1)}`;
}
