/** Address formatting with no I/O imports, so light commands (ip, port) need not load net/tls. */

/** `host:port`, with IPv6 literals bracketed. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
