/**
 * Pure parsing and formatting of FTP data-connection addresses: PORT (RFC 959), EPRT (RFC 2428),
 * the PASV / EPSV replies, passive port ranges, and the bounce check. Kept apart from the sockets
 * in data-channel.ts so every malformed form can be table-tested.
 *
 * Bounce protection (RFC 2577, and ftp-srv's CVE-2020-15152): the server only ever connects back to
 * the control connection's own client address, and never to a privileged port (< 1024).
 */
import net from 'node:net';

export interface HostPort {
  host: string;
  port: number;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

const ok = <T>(value: T): ParseResult<T> => ({ ok: true, value });
const fail = <T>(error: string): ParseResult<T> => ({ ok: false, error });

/** `h1,h2,h3,h4,p1,p2` → `{host: 'h1.h2.h3.h4', port: p1*256+p2}`. */
export function parsePortArgument(arg: string): ParseResult<HostPort> {
  const parts = arg.trim().split(',');
  if (parts.length !== 6) return fail('PORT needs six comma-separated numbers h1,h2,h3,h4,p1,p2');
  const nums: number[] = [];
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p.trim())) return fail(`PORT: "${p}" is not a number 0-255`);
    const n = Number(p.trim());
    if (n > 255) return fail(`PORT: ${n} is over 255`);
    nums.push(n);
  }
  const port = nums[4]! * 256 + nums[5]!;
  if (port === 0) return fail('PORT: port 0');
  return ok({ host: nums.slice(0, 4).join('.'), port });
}

/** `|1|132.235.1.2|6275|` or `|2|::1|6275|` (any delimiter in 33-126, RFC 2428). */
export function parseEprtArgument(arg: string): ParseResult<HostPort & { family: 1 | 2 }> {
  const s = arg.trim();
  if (s.length < 7) return fail('EPRT needs |proto|address|port|');
  const d = s[0]!;
  const code = d.charCodeAt(0);
  if (code < 33 || code > 126 || /[0-9a-f.:]/i.test(d)) return fail(`EPRT: bad delimiter "${d}"`);
  const parts = s.split(d);
  if (parts.length !== 5 || parts[0] !== '' || parts[4] !== '')
    return fail('EPRT needs |proto|address|port|');
  const [, proto, host, portText] = parts as [string, string, string, string, string];
  if (proto !== '1' && proto !== '2') return fail(`EPRT: network protocol ${proto} not supported, use (1,2)`);
  const family = proto === '1' ? 1 : 2;
  if (family === 1 ? !net.isIPv4(host) : !net.isIPv6(host)) {
    return fail(`EPRT: "${host}" is not an IPv${family === 1 ? 4 : 6} address`);
  }
  if (!/^\d{1,5}$/.test(portText)) return fail(`EPRT: "${portText}" is not a port`);
  const port = Number(portText);
  if (port < 1 || port > 65535) return fail(`EPRT: port ${port} out of range`);
  return ok({ family, host, port });
}

/** `227 Entering Passive Mode (h1,h2,h3,h4,p1,p2).` text for an IPv4 address. */
export function formatPasvReply(host: string, port: number): string {
  return `Entering Passive Mode (${host.split('.').join(',')},${port >> 8},${port & 255}).`;
}

/** `229 Entering Extended Passive Mode (|||port|)` text. */
export function formatEpsvReply(port: number): string {
  return `Entering Extended Passive Mode (|||${port}|)`;
}

/** `::ffff:1.2.3.4` → `1.2.3.4`; other addresses unchanged (lower-cased). */
export function normalizeIp(ip: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return m ? m[1]! : ip.toLowerCase();
}

/**
 * The bounce check for PORT/EPRT: undefined when the target is allowed, else the refusal text.
 */
export function checkActiveTarget(target: HostPort, clientIp: string): string | undefined {
  if (target.port < 1024) return `Refusing to connect to privileged port ${target.port}`;
  if (!sameIp(target.host, clientIp))
    return `Refusing to connect to ${target.host}: data connections go only to your own address ${normalizeIp(clientIp)}`;
  return undefined;
}

/** Whether two textual addresses name the same host (IPv4-mapped and abbreviated IPv6 forms too). */
export function sameIp(x: string, y: string): boolean {
  const a = normalizeIp(x);
  const b = normalizeIp(y);
  return net.isIPv6(a) && net.isIPv6(b) ? expandIpv6(a) === expandIpv6(b) : a === b;
}

/** The argument of PORT (IPv4) or EPRT (IPv6) that announces `host:port`, with its verb. */
export function formatActiveCommand(host: string, port: number): string {
  const ip = normalizeIp(host);
  if (net.isIPv4(ip)) return `PORT ${ip.split('.').join(',')},${port >> 8},${port & 255}`;
  return `EPRT |2|${ip}|${port}|`;
}

function expandIpv6(ip: string): string {
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : new Array(8 - h.length - t.length).fill('0');
  return [...h, ...fill, ...t].map((x) => x.padStart(4, '0')).join(':');
}

/** `50000-50100` → `[50000, 50100]`; a single port is a range of one. */
export function parsePortRange(text: string): ParseResult<[number, number]> {
  const m = /^\s*(\d{1,5})\s*(?:-\s*(\d{1,5})\s*)?$/.exec(text);
  if (!m) return fail(`"${text}" is not a port range (e.g. 50000-50100)`);
  const from = Number(m[1]);
  const to = m[2] === undefined ? from : Number(m[2]);
  if (from < 1024 || to > 65535 || from > to) {
    return fail(`"${text}": a port range must lie within 1024-65535, low-high`);
  }
  return ok([from, to]);
}
