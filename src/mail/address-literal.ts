/**
 * SMTP address literals (RFC 5321 §4.1.3: `[192.0.2.1]`, `[IPv6:2001:db8::1]`) and the name a
 * client greets with when it has no better one (§4.1.4): the machine's fully qualified name, else
 * the literal of the address the connection really leaves from. nodemailer's fallback is always
 * `[127.0.0.1]`, which on an IPv6 connection (or any off this machine) names an address the client
 * does not have — and servers that check the greeting against the peer see a mismatch.
 */
import { isIP } from 'node:net';
import { hostname } from 'node:os';

/** `[a.b.c.d]` or `[IPv6:…]` for an address as Node reports it (IPv4-mapped, with a %zone). */
export function addressLiteral(ip: string): string {
  const a = ip.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '').replace(/%.*$/, '');
  return a.includes(':') ? `[IPv6:${a}]` : `[${a}]`;
}

/**
 * The EHLO name: `machine` when it is a fully qualified domain name (nodemailer's rule: it has a
 * dot and is not an address), else the address literal of `localAddress` (the connected socket's).
 */
export function greetingName(localAddress: string | undefined, machine = hostname()): string {
  if (machine.includes('.') && isIP(machine) === 0) return machine;
  return addressLiteral(localAddress ?? '127.0.0.1');
}
