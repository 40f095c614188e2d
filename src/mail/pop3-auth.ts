/**
 * Login decisions for the POP3 server as pure functions, so each rule is table-tested on its own:
 * SASL PLAIN decoding (RFC 4616 inside RFC 5034's AUTH), whether a plaintext password may be sent
 * on this link (RFC 2595 §2.3: only over TLS, unless the link is loopback or the operator allowed
 * it), and which mailbox a login name means.
 */
import { isLoopback, type PlaintextPolicy, plaintextAllowed } from '../core/address.js';
import { normaliseMailbox } from './maildir.js';

export type SaslPlainResult =
  | { ok: true; authzid: string; authcid: string; password: string }
  | { ok: false; reason: 'base64' | 'format' };

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decode one SASL PLAIN response (`authzid NUL authcid NUL passwd`, base64). RFC 5034 writes an
 * empty initial response as `=`. Strict base64: anything else is refused, never guessed at.
 */
export function decodeSaslPlain(response: string): SaslPlainResult {
  const text = response.trim();
  if (text === '=' || text === '') return { ok: false, reason: 'format' };
  if (!BASE64_RE.test(text)) return { ok: false, reason: 'base64' };
  const parts = Buffer.from(text, 'base64').toString('utf8').split('\u0000');
  if (parts.length !== 3) return { ok: false, reason: 'format' };
  const [authzid, authcid, password] = parts as [string, string, string];
  if (authcid === '' || password === '') return { ok: false, reason: 'format' };
  return { ok: true, authzid, authcid, password };
}

/** Encode credentials as a SASL PLAIN response (used by tests and clients). */
export function encodeSaslPlain(user: string, password: string, authzid = ''): string {
  return Buffer.from(`${authzid}\u0000${user}\u0000${password}`, 'utf8').toString('base64');
}

export { isLoopback, type PlaintextPolicy, plaintextAllowed };

/**
 * The mailbox a login name refers to: `bob` and `bob@lab.example` both mean mailbox `bob` (the SMTP
 * server files `bob@anything` there too). Undefined when the name cannot be a mailbox.
 */
export function mailboxForLogin(name: string): string | undefined {
  const at = name.lastIndexOf('@');
  const local = at > 0 ? name.slice(0, at) : name;
  try {
    return normaliseMailbox(local);
  } catch {
    return undefined;
  }
}

/**
 * Text arrives as latin1 (one char per byte) so nothing is lost; passwords are UTF-8 on the
 * wire, so turn the bytes back into the string the user typed.
 */
export function latin1ToUtf8(text: string): string {
  return Buffer.from(text, 'latin1').toString('utf8');
}
