/**
 * The SMTP server's decisions as pure functions, so each can be table-tested without a socket:
 * may this session authenticate, and which mailbox (if any) does a recipient address name.
 *
 * The server never relays: a recipient is only ever a local mailbox, named by the local part of its
 * address (`Bob@anything.example` → `bob`), whatever the domain.
 */
import { isLoopback } from '../core/address.js';
import { normaliseMailbox } from './maildir.js';

export { isLoopback };

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

export type RecipientDecision =
  | { ok: true; mailbox: string }
  | { ok: false; responseCode: number; enhancedCode: string; message: string };

/**
 * The mailbox a recipient address delivers to: its local part, lowercased, if it is a valid
 * mailbox name (`[a-z0-9][a-z0-9._+-]*`, max 64). `postmaster` without a domain is accepted (RFC
 * 5321 §4.1.1.3). Quoted local parts, `%` hacks and non-ASCII names are refused with 553 5.1.3.
 */
export function mailboxForRecipient(address: string): RecipientDecision {
  const at = address.lastIndexOf('@');
  const local = at === -1 ? address : address.slice(0, at);
  if (at === -1 && local.toLowerCase() !== 'postmaster') {
    return {
      ok: false,
      responseCode: 553,
      enhancedCode: '5.1.3',
      message: `<${address}>: recipient address needs a domain`,
    };
  }
  try {
    return { ok: true, mailbox: normaliseMailbox(local) };
  } catch {
    return {
      ok: false,
      responseCode: 553,
      enhancedCode: '5.1.3',
      message: `<${address}>: "${local}" is not a valid mailbox name (letters, digits, . _ + -; max 64)`,
    };
  }
}
