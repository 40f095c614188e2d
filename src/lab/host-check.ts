/**
 * DNS-rebinding protection for the dashboard.
 *
 * A page on evil.example can re-point its own name at 127.0.0.1 and then talk to the lab from a
 * browser: to the browser it is a same-origin request, so the Origin check of writes cannot see
 * it (Origin and Host both say evil.example), and every captured mail becomes readable. What the
 * page cannot choose is the Host header: the browser always sends the name it resolved. So a
 * dashboard on loopback answers only to loopback names (localhost, *.localhost, 127.x.y.z, [::1])
 * and to the address it is bound to. With --ui-auth (required off loopback) any name is accepted:
 * a rebound origin holds no credentials for the lab, and LAN users reach it by many names.
 */
import { isLoopback } from '../core/address.js';

/** The host name of a Host header, without port, brackets or trailing dot, lowercased. */
export function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  const name = h.startsWith('[')
    ? h.slice(1, h.indexOf(']') === -1 ? undefined : h.indexOf(']'))
    : h.replace(/:\d*$/, '');
  return name.replace(/\.$/, '');
}

export function hostAllowed(header: string | undefined, boundHost: string, anyName: boolean): boolean {
  // HTTP/1.0 clients may omit Host; browsers never do, so this is no way round the check
  if (anyName || header === undefined) return true;
  const name = hostName(header);
  return isLoopback(name) || name.endsWith('.localhost') || name === boundHost.toLowerCase();
}
