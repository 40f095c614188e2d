/**
 * Validation of a bracketed URL host (`[v6]`, `[v6%zone]`, `[vF.future]`) exactly as CPython 3.11's
 * `urllib.parse._check_bracketed_host` does it, which means with the address grammar of Python's
 * `ipaddress` module (no leading zeros in dotted quads, one `::`, at most 4 hex digits per group, an
 * optional embedded IPv4 tail, an optional `%scope`).
 *
 * Why not ipaddr.js or `net.isIP`: both accept forms Python rejects (and the other way round), and
 * the point of these functions is to give Python's answer.
 */
import { NetkitError } from '../core/errors.js';
import { pyRepr } from './url-codec.js';

/** Parse a dotted quad like `ipaddress.IPv4Address`; undefined when Python would reject it. */
export function parsePyIPv4(text: string): number | undefined {
  if (!text || text.includes('/')) return undefined;
  const octets = text.split('.');
  if (octets.length !== 4) return undefined;
  let value = 0;
  for (const o of octets) {
    if (!/^[0-9]{1,3}$/.test(o)) return undefined;
    if (o !== '0' && o.startsWith('0')) return undefined;
    const n = Number(o);
    if (n > 255) return undefined;
    value = value * 256 + n;
  }
  return value;
}

/** Is `text` an address `ipaddress.IPv6Address` accepts (including `%scope`)? */
export function isPyIPv6(text: string): boolean {
  if (text.includes('/')) return false;
  let addr = text;
  const pct = text.indexOf('%');
  if (pct !== -1) {
    const scope = text.slice(pct + 1);
    if (!scope || scope.includes('%')) return false;
    addr = text.slice(0, pct);
  }
  if (!addr) return false;
  const parts = addr.split(':');
  if (parts.length < 3) return false;
  const last = parts[parts.length - 1]!;
  if (last.includes('.')) {
    const v4 = parsePyIPv4(last);
    if (v4 === undefined) return false;
    parts.pop();
    parts.push(((v4 >>> 16) & 0xffff).toString(16), (v4 & 0xffff).toString(16));
  }
  if (parts.length > 9) return false;
  let skip = -1;
  for (let i = 1; i < parts.length - 1; i++) {
    if (!parts[i]) {
      if (skip !== -1) return false;
      skip = i;
    }
  }
  let hi: number;
  let lo: number;
  if (skip !== -1) {
    hi = skip;
    lo = parts.length - skip - 1;
    if (!parts[0]) {
      hi -= 1;
      if (hi) return false;
    }
    if (!parts[parts.length - 1]) {
      lo -= 1;
      if (lo) return false;
    }
    if (8 - (hi + lo) < 1) return false;
  } else {
    if (parts.length !== 8) return false;
    hi = parts.length;
    lo = 0;
  }
  const groups = [...parts.slice(0, hi), ...(lo ? parts.slice(parts.length - lo) : [])];
  return groups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g));
}

/** `_check_bracketed_host`: throws the ValueError Python raises for a bad bracketed host. */
export function checkBracketedHost(hostname: string): void {
  if (hostname.startsWith('v')) {
    if (!/^v[a-fA-F0-9]+\.[^\n]+$/.test(hostname))
      throw new NetkitError('NETKIT_INVALID_INPUT', 'IPvFuture address is invalid');
    return;
  }
  if (parsePyIPv4(hostname) !== undefined)
    throw new NetkitError('NETKIT_INVALID_INPUT', 'An IPv4 address cannot be in brackets');
  if (!isPyIPv6(hostname))
    throw new NetkitError(
      'NETKIT_INVALID_INPUT',
      `${pyRepr(hostname)} does not appear to be an IPv4 or IPv6 address`,
    );
}

/** `_check_bracketed_netloc`: the host part of a netloc that contains brackets. */
export function checkBracketedNetloc(netloc: string): void {
  const hostAndPort = rpartition(netloc, '@')[2];
  const [before, open, bracketed] = partition(hostAndPort, '[');
  let hostname: string;
  if (open) {
    if (before) throw new NetkitError('NETKIT_INVALID_INPUT', 'Invalid IPv6 URL');
    const [h, , port] = partition(bracketed, ']');
    if (port && !port.startsWith(':')) throw new NetkitError('NETKIT_INVALID_INPUT', 'Invalid IPv6 URL');
    hostname = h;
  } else {
    hostname = partition(hostAndPort, ':')[0];
  }
  checkBracketedHost(hostname);
}

/** Python's `str.partition`. */
export function partition(s: string, sep: string): [string, string, string] {
  const i = s.indexOf(sep);
  return i === -1 ? [s, '', ''] : [s.slice(0, i), sep, s.slice(i + sep.length)];
}

/** Python's `str.rpartition`. */
export function rpartition(s: string, sep: string): [string, string, string] {
  const i = s.lastIndexOf(sep);
  return i === -1 ? ['', '', s] : [s.slice(0, i), sep, s.slice(i + sep.length)];
}
