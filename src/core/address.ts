/** Address formatting with no I/O imports, so light commands (ip, port) need not load net/tls. */

/** `host:port`, with IPv6 literals bracketed. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The address a client on this machine connects to for a server bound to `host`. A wildcard
 * (`0.0.0.0`, `::`) names no host — TLS certificates do not carry it, browsers refuse to open it —
 * so URLs and hints printed for one use the loopback address of its family.
 */
export function reachableHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::' || host === '0:0:0:0:0:0:0:0') return '::1';
  return host;
}

/** Whether `text` is an IPv6 address (as a URL host; no zone). WHATWG URL is global: no `node:net`. */
export function isIPv6Address(text: string): boolean {
  if (!text.includes(':') || /[[\]/?#@]/.test(text)) return false;
  try {
    new URL(`http://[${text}]/`);
    return true;
  } catch {
    return false;
  }
}

/** What decides whether a password may cross a link in the clear. */
export interface PlaintextPolicy {
  /** the link is TLS (an implicit-TLS port, or after STLS / STARTTLS / AUTH TLS) */
  secure: boolean;
  remoteAddress: string;
  /** the operator's `allowPlaintext` option */
  allowPlaintext: boolean;
}

/**
 * May a password be sent on this link (POP3 USER/PASS and AUTH PLAIN, FTP USER/PASS for accounts)?
 * Only over TLS, from loopback, or where the operator allowed it: the one rule of every server.
 */
export function plaintextAllowed(p: PlaintextPolicy): boolean {
  return p.secure || p.allowPlaintext || isLoopback(p.remoteAddress);
}

/** 127.0.0.0/8, ::1 (also in IPv4-mapped form) and the name localhost. */
export function isLoopback(address: string | undefined | null): boolean {
  if (!address) return false;
  const a = address.toLowerCase().replace(/^::ffff:/, '');
  return (
    a === 'localhost' || a === '::1' || a === '0:0:0:0:0:0:0:1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a)
  );
}
