/**
 * 8BITMIME (RFC 6152) on the sending side. A message body with octets above 127 may only be sent to a
 * server that advertises 8BITMIME, and MAIL FROM then carries `BODY=8BITMIME`. A composed message
 * never needs it (nodemailer encodes every body part as quoted-printable or base64), but a prepared
 * message sent as it is (`mail send --raw`, raw-message.ts) may have an 8-bit body. Sending it to a
 * server without the extension would hand 8-bit data to a 7-bit path — RFC 6152 §3 leaves the client
 * only to convert the body (MIME-aware, which rewriting a prepared message is not) or not send — so we
 * refuse after EHLO, before MAIL FROM, as smtputf8.ts does for SMTPUTF8.
 *
 * 8-bit header octets are a different matter: they are UTF-8 headers (RFC 6532) and need SMTPUTF8.
 */
import { NetkitError } from '../core/errors.js';

/** Where the body starts: after the first empty line (CRLF CRLF), or nowhere when there is none. */
function bodyStart(message: Buffer): number {
  if (message.subarray(0, 2).equals(Buffer.from('\r\n'))) return 2;
  const i = message.indexOf('\r\n\r\n');
  return i === -1 ? message.length : i + 4;
}

/** Does the body (everything after the header section) contain an octet above 127? */
export function hasEightBitBody(message: Buffer): boolean {
  for (let i = bodyStart(message); i < message.length; i++) if (message[i]! >= 0x80) return true;
  return false;
}

/** Does this EHLO reply advertise 8BITMIME? Only a whole keyword line counts. */
export function offers8BitMime(ehloReply: string): boolean {
  return /^250[ -]8BITMIME(?=\s|$)/im.test(ehloReply);
}

/** The one-line refusal when the body is 8-bit and the server lacks 8BITMIME; nothing has been sent. */
export function eightBitMimeNotOffered(server: string): NetkitError {
  return new NetkitError(
    'NETKIT_PROTOCOL',
    `554 5.6.3 the message body contains 8-bit data: 8BITMIME is required, but was not offered by host ${server}; nothing was sent (encode the body as quoted-printable or base64)`,
  );
}
