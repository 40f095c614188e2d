/** Address formatting with no I/O imports, so light commands (ip, port) need not load net/tls. */

/** `host:port`, with IPv6 literals bracketed. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
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
