/**
 * DNS-rebinding protection for servers on loopback (the lab's dashboard, `http serve`).
 *
 * A page on evil.example can re-point its own name at 127.0.0.1 and then talk to the lab from a
 * browser: to the browser it is a same-origin request, so the Origin check of writes cannot see
 * it (Origin and Host both say evil.example), and every captured mail becomes readable. What the
 * page cannot choose is the Host header: the browser always sends the name it resolved. So a
 * dashboard on loopback answers only to loopback names (localhost, *.localhost, 127.x.y.z, [::1])
 * and to the address it is bound to. With --ui-auth (required off loopback) any name is accepted:
 * a rebound origin holds no credentials for the lab, and LAN users reach it by many names.
 */
import { isIP } from 'node:net';
import { isLoopback } from './address.js';

/** The host name of a Host header, without port, brackets or trailing dot, lowercased. */
export function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  const name = h.startsWith('[')
    ? h.slice(1, h.indexOf(']') === -1 ? undefined : h.indexOf(']'))
    : h.replace(/:\d*$/, '');
  return name.replace(/\.$/, '');
}

/**
 * Whether a request naming `header` as its host may be answered by a server bound to `boundHost`.
 * `anyName` turns the check off; `extra` names more hosts the user allows (`*` = any).
 */
export function hostAllowed(
  header: string | undefined,
  boundHost: string,
  anyName: boolean,
  extra: readonly string[] = [],
): boolean {
  // HTTP/1.0 clients may omit Host; browsers never do, so this is no way round the check
  if (anyName || header === undefined || extra.includes('*')) return true;
  const name = hostName(header);
  return (
    isLoopback(name) ||
    name.endsWith('.localhost') ||
    name === boundHost.toLowerCase() ||
    extra.some((h) => hostName(h) === name)
  );
}

/**
 * RFC 9112 §3.2: a Host that is not `host[:port]` is a 400. The accepted names are the ones DNS and
 * IP literals use (letters, digits, `.`, `-`, `_`, `~`): sub-delims such as `;` and `,` are legal in
 * a URI's reg-name but name no real host, and a Host may be echoed into headers.
 */
const HOST = /^(\[[0-9a-f:.]+\]|[a-z0-9._~-]+)(?::(\d{0,5}))?$/i;

/** Whether a Host value (or an absolute-form authority) is `host[:port]` with a host we can name. */
export function validHost(value: string): boolean {
  const m = HOST.exec(value);
  if (!m) return false;
  if (m[2] && Number(m[2]) > 65_535) return false;
  return !m[1]!.startsWith('[') || isIP(m[1]!.slice(1, -1)) === 6;
}
