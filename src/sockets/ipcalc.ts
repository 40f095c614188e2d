/**
 * An ipcalc-grade address calculator as pure functions: `ipcalc('10.1.2.3/8')` returns everything
 * `ipcalc` and Python's `ipaddress` would tell you about an IPv4 or IPv6 address and its network.
 *
 * Parsing is ipaddr.js (strict four-part decimal for IPv4, so `010.1.2.3` and `10.1` are rejected as
 * Python does); arithmetic is done on bigints so IPv6 host counts are exact. The special-purpose
 * ranges are our own table rather than ipaddr.js's `range()`, because ipaddr.js folds documentation
 * and benchmarking blocks into "reserved" and has no RFC citations; ours follows the IANA
 * special-purpose registries and gives each range a description.
 *
 * Host counting follows Python (and RFC 3021 / RFC 4291): IPv4 /31 has two usable hosts and /32 one;
 * IPv6 has no broadcast, and its first address (the Subnet-Router anycast) is not a host, except on
 * /127 and /128.
 */
import { createRequire } from 'node:module';
import type IpaddrModule from 'ipaddr.js';
import { NetkitError } from '../core/errors.js';

// ipaddr.js is CommonJS: `require` skips the ESM loader's scan of its source for named exports,
// which costs 20–30 ms of `netkit ip` start-up (target: 150 ms in total).
const ipaddr = createRequire(import.meta.url)('ipaddr.js') as typeof IpaddrModule;
type IPv4 = IpaddrModule.IPv4;
type IPv6 = IpaddrModule.IPv6;

export type IpVersion = 4 | 6;
export type Ipv4Class = 'A' | 'B' | 'C' | 'D' | 'E';
export type IpKind =
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'shared'
  | 'link-local'
  | 'multicast'
  | 'broadcast'
  | 'documentation'
  | 'reserved'
  | 'unique-local'
  | 'site-local'
  | 'ipv4-mapped'
  | 'teredo'
  | '6to4'
  | 'nat64'
  | 'global';

export interface IpInfo {
  /** the text as given */
  input: string;
  version: IpVersion;
  /** the address in canonical form (IPv6 compressed per RFC 5952) */
  address: string;
  /** IPv6 written out in full, eight groups of four digits (Python's `exploded`); IPv4 as `address` */
  exploded: string;
  prefix: number;
  /** IPv4 classful class (historic), null for IPv6 */
  class: Ipv4Class | null;
  kind: IpKind;
  /** a human description of the kind, with its RFC */
  kindDescription: string;
  netmask: string;
  /** the inverse of the netmask (Cisco ACL "wildcard"; Python's `hostmask`) */
  wildcard: string;
  /** network in CIDR form, `10.0.0.0/8` */
  network: string;
  networkAddress: string;
  /** IPv4 only; IPv6 has no broadcast */
  broadcast: string | null;
  /** the last address of the network (Python's `broadcast_address`) */
  lastAddress: string;
  firstHost: string;
  lastHost: string;
  /** usable host addresses */
  hosts: bigint;
  /** all addresses in the network */
  addresses: bigint;
  /** packed network-order bytes in hex: what `inet_aton` / `inet_pton` give */
  hex: string;
  integer: bigint;
  /** dotted binary octets (IPv4) or colon-separated 16-bit groups (IPv6) */
  binary: string;
  /** the PTR name, `3.2.1.10.in-addr.arpa` */
  reversePointer: string;
  /** for `::ffff:a.b.c.d`, the embedded IPv4 address */
  ipv4Mapped?: string;
  /** for a 6to4 address (2002::/16), the IPv4 address of the site's 6to4 router (Python's `sixtofour`) */
  sixToFour?: string;
  /**
   * for a Teredo address (2001::/32, RFC 4380): the Teredo server, and the client's public IPv4
   * address and UDP port, de-obfuscated (Python's `teredo` gives server and client)
   */
  teredo?: TeredoParts;
  /** for an address in the NAT64 well-known prefix 64:ff9b::/96, the IPv4 host it stands for (RFC 6052) */
  nat64?: string;
  /** for `fe80::1%eth0`, the IPv6 zone (scope) id, `eth0`; `address` carries it too, as Python's does */
  zoneId?: string;
}

export interface TeredoParts {
  server: string;
  client: string;
  clientPort: number;
}

interface Special {
  net: string;
  prefix: number;
  kind: IpKind;
  description: string;
}

/** Most specific first: the first match wins. */
const V4_SPECIAL: Special[] = [
  { net: '0.0.0.0', prefix: 32, kind: 'unspecified', description: 'unspecified address (RFC 1122)' },
  { net: '0.0.0.0', prefix: 8, kind: 'reserved', description: '"this network" (RFC 791)' },
  { net: '10.0.0.0', prefix: 8, kind: 'private', description: 'private network (RFC 1918)' },
  { net: '100.64.0.0', prefix: 10, kind: 'shared', description: 'shared address space / CGNAT (RFC 6598)' },
  { net: '127.0.0.0', prefix: 8, kind: 'loopback', description: 'loopback (RFC 1122)' },
  { net: '169.254.0.0', prefix: 16, kind: 'link-local', description: 'link-local (RFC 3927)' },
  { net: '172.16.0.0', prefix: 12, kind: 'private', description: 'private network (RFC 1918)' },
  {
    net: '192.0.0.0',
    prefix: 24,
    kind: 'reserved',
    description: 'IETF protocol assignments (RFC 6890)',
  },
  { net: '192.0.2.0', prefix: 24, kind: 'documentation', description: 'TEST-NET-1 documentation (RFC 5737)' },
  { net: '192.168.0.0', prefix: 16, kind: 'private', description: 'private network (RFC 1918)' },
  { net: '198.18.0.0', prefix: 15, kind: 'reserved', description: 'benchmarking (RFC 2544)' },
  {
    net: '198.51.100.0',
    prefix: 24,
    kind: 'documentation',
    description: 'TEST-NET-2 documentation (RFC 5737)',
  },
  {
    net: '203.0.113.0',
    prefix: 24,
    kind: 'documentation',
    description: 'TEST-NET-3 documentation (RFC 5737)',
  },
  // the multicast blocks whose scope or use a user needs to know (IANA multicast registry)
  {
    net: '224.0.0.0',
    prefix: 24,
    kind: 'multicast',
    description: 'multicast, local network control: link-local scope, never forwarded (RFC 5771)',
  },
  {
    net: '224.0.1.0',
    prefix: 24,
    kind: 'multicast',
    description: 'multicast, internetwork control (RFC 5771)',
  },
  { net: '232.0.0.0', prefix: 8, kind: 'multicast', description: 'multicast, source-specific (RFC 4607)' },
  {
    net: '233.252.0.0',
    prefix: 24,
    kind: 'multicast',
    description: 'multicast, MCAST-TEST-NET documentation (RFC 6676)',
  },
  { net: '233.0.0.0', prefix: 8, kind: 'multicast', description: 'multicast, GLOP addressing (RFC 3180)' },
  {
    net: '239.0.0.0',
    prefix: 8,
    kind: 'multicast',
    description: 'multicast, administratively scoped: organization or site only (RFC 2365)',
  },
  { net: '224.0.0.0', prefix: 4, kind: 'multicast', description: 'multicast (RFC 5771)' },
  { net: '255.255.255.255', prefix: 32, kind: 'broadcast', description: 'limited broadcast (RFC 919)' },
  { net: '240.0.0.0', prefix: 4, kind: 'reserved', description: 'reserved for future use (RFC 1112)' },
];

const V6_SPECIAL: Special[] = [
  { net: '::', prefix: 128, kind: 'unspecified', description: 'unspecified address (RFC 4291)' },
  { net: '::1', prefix: 128, kind: 'loopback', description: 'loopback (RFC 4291)' },
  { net: '::ffff:0:0', prefix: 96, kind: 'ipv4-mapped', description: 'IPv4-mapped address (RFC 4291)' },
  // outside 2000::/3 but globally reachable: DNS64/NAT64 networks give every IPv4 host such an address
  {
    net: '64:ff9b::',
    prefix: 96,
    kind: 'nat64',
    description: 'IPv4/IPv6 translation, well-known prefix (RFC 6052)',
  },
  {
    net: '64:ff9b:1::',
    prefix: 48,
    kind: 'nat64',
    description: 'IPv4/IPv6 translation, local use (RFC 8215)',
  },
  { net: 'ff00::', prefix: 8, kind: 'multicast', description: 'multicast (RFC 4291)' },
  { net: 'fe80::', prefix: 10, kind: 'link-local', description: 'link-local unicast (RFC 4291)' },
  { net: 'fec0::', prefix: 10, kind: 'site-local', description: 'site-local, deprecated (RFC 3879)' },
  { net: 'fc00::', prefix: 7, kind: 'unique-local', description: 'unique local address (RFC 4193)' },
  { net: '2001:db8::', prefix: 32, kind: 'documentation', description: 'documentation (RFC 3849)' },
  { net: '2001::', prefix: 32, kind: 'teredo', description: 'Teredo tunnelling (RFC 4380)' },
  { net: '2002::', prefix: 16, kind: '6to4', description: '6to4 (RFC 3056)' },
  { net: '100::', prefix: 64, kind: 'reserved', description: 'discard-only (RFC 6666)' },
  { net: '2001::', prefix: 23, kind: 'reserved', description: 'IETF protocol assignments (RFC 2928)' },
  // everything outside 2000::/3 that is not matched above is unassigned by IANA (RFC 4291 §2.4)
  { net: '2000::', prefix: 3, kind: 'global', description: 'global unicast (RFC 4291)' },
];

const V6_UNASSIGNED: Pick<Special, 'kind' | 'description'> = {
  kind: 'reserved',
  description: 'reserved by IETF, not global unicast (RFC 4291)',
};
const V4_GLOBAL: Pick<Special, 'kind' | 'description'> = { kind: 'global', description: 'global unicast' };

const parsedSpecials = new Map<Special, IPv4 | IPv6>();
function specialAddr(s: Special): IPv4 | IPv6 {
  let a = parsedSpecials.get(s);
  if (!a) {
    a = ipaddr.parse(s.net);
    parsedSpecials.set(s, a);
  }
  return a;
}

/** The kind of one address (not of a network). */
export function classify(address: string): { kind: IpKind; description: string } {
  const addr = parseAddress(address);
  return classifyParsed(addr);
}

function classifyParsed(addr: IPv4 | IPv6): { kind: IpKind; description: string } {
  const table = addr.kind() === 'ipv4' ? V4_SPECIAL : V6_SPECIAL;
  for (const s of table) {
    // biome-ignore lint/suspicious/noExplicitAny: ipaddr.js match() is typed per family
    if ((addr as any).match(specialAddr(s), s.prefix)) {
      if (s.kind === 'multicast' && addr.kind() === 'ipv6') {
        return { kind: s.kind, description: `multicast, ${v6MulticastScope(addr as IPv6)} (RFC 4291)` };
      }
      return { kind: s.kind, description: s.description };
    }
  }
  return addr.kind() === 'ipv4' ? V4_GLOBAL : V6_UNASSIGNED;
}

/** RFC 4291 §2.7 and RFC 7346: the low nibble of the second byte of `ffXS::` is the scope. */
const V6_SCOPES: Record<number, string> = {
  1: 'interface-local',
  2: 'link-local',
  3: 'realm-local',
  4: 'admin-local',
  5: 'site-local',
  8: 'organization-local',
  14: 'global',
};

function v6MulticastScope(addr: IPv6): string {
  const scope = addr.parts[0]! & 0xf;
  const name = V6_SCOPES[scope];
  return name
    ? `${name} scope`
    : `scope ${scope.toString(16)} (${scope === 0 || scope === 0xf ? 'reserved' : 'unassigned'})`;
}

/** IPv4 classful class from the first octet. */
export function ipv4Class(firstOctet: number): Ipv4Class {
  if (firstOctet < 128) return 'A';
  if (firstOctet < 192) return 'B';
  if (firstOctet < 224) return 'C';
  if (firstOctet < 240) return 'D';
  return 'E';
}

const EMBEDDED_V4 = /^(.*:)(\d{1,3}(?:\.\d{1,3}){3})$/;

/**
 * Parse one address strictly. ipaddr.js reads `::1.2.3.4` (IPv4-compatible) as `::ffff:1.2.3.4`
 * (IPv4-mapped), so an embedded dotted quad is rewritten into two hex groups first.
 */
export function parseAddress(text: string): IPv4 | IPv6 {
  const s = text.trim();
  if (s.includes(':')) {
    let v6 = s;
    const m = EMBEDDED_V4.exec(s);
    if (m) {
      if (!ipaddr.IPv4.isValidFourPartDecimal(m[2]!)) throw invalid(text);
      const o = ipaddr.IPv4.parse(m[2]!).octets;
      v6 = `${m[1]}${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
    }
    if (v6.includes('%') || !ipaddr.IPv6.isValid(v6)) throw invalid(text);
    return ipaddr.IPv6.parse(v6);
  }
  if (!ipaddr.IPv4.isValidFourPartDecimal(s)) throw invalid(text);
  return ipaddr.IPv4.parse(s);
}

function invalid(text: string): NetkitError {
  return new NetkitError('NETKIT_INVALID_INPUT', `"${text}" is not an IPv4 or IPv6 address`);
}

/** Bytes → bigint (network order). */
function toBig(bytes: number[]): bigint {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n;
}

function fromBig(n: bigint, version: IpVersion): IPv4 | IPv6 {
  const len = version === 4 ? 4 : 16;
  const bytes: number[] = new Array(len);
  for (let i = len - 1; i >= 0; i--) {
    bytes[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return ipaddr.fromByteArray(bytes);
}

function text(n: bigint, version: IpVersion): string {
  return fromBig(n, version).toString();
}

/** Parse a prefix: a number (`24`) or, for IPv4, a dotted netmask (`255.255.255.0`). */
export function parsePrefix(value: string, version: IpVersion): number {
  const bits = version === 4 ? 32 : 128;
  const v = value.trim();
  if (/^\d+$/.test(v)) {
    // leading zeros are fine (`/024`), as in Python
    const n = Number(v);
    if (n <= bits) return n;
    throw new NetkitError('NETKIT_INVALID_INPUT', `prefix /${v} is too long for IPv${version} (max ${bits})`);
  }
  if (version === 4 && ipaddr.IPv4.isValidFourPartDecimal(v)) {
    const mask = ipaddr.IPv4.parse(v);
    const p = mask.prefixLengthFromSubnetMask();
    if (p !== null) return p;
    // a Cisco wildcard (`0.0.0.255` = /24): Python's ipaddress and ipcalc take it after the netmask
    const wildcard = new ipaddr.IPv4(mask.octets.map((o) => 255 - o)).prefixLengthFromSubnetMask();
    if (wildcard !== null) return wildcard;
    throw new NetkitError(
      'NETKIT_INVALID_INPUT',
      `${v} is neither a netmask nor a wildcard mask (its ones must be contiguous)`,
    );
  }
  throw new NetkitError('NETKIT_INVALID_INPUT', `"${value}" is not a prefix length or netmask`);
}

/**
 * Everything about `ADDRESS[/PREFIX]` (or `ADDRESS/NETMASK`, or an address with a separate
 * `netmask` argument). Without a prefix the address stands alone (/32 or /128). Throws
 * `NETKIT_INVALID_INPUT` for anything malformed.
 */
export function ipcalc(input: string, netmask?: string): IpInfo {
  const trimmed = input.trim();
  const slash = trimmed.indexOf('/');
  const addrText = slash === -1 ? trimmed : trimmed.slice(0, slash);
  const prefixText = slash === -1 ? netmask : trimmed.slice(slash + 1);
  if (slash !== -1 && netmask !== undefined) {
    throw new NetkitError(
      'NETKIT_INVALID_INPUT',
      'give the prefix either after "/" or as a netmask, not both',
    );
  }
  const { address: addrOnly, zoneId } = splitZone(addrText);
  const addr = parseAddress(addrOnly);
  if (zoneId !== undefined && addr.kind() !== 'ipv6') throw invalid(addrText);
  const version: IpVersion = addr.kind() === 'ipv4' ? 4 : 6;
  const bits = version === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? bits : parsePrefix(prefixText, version);

  const value = toBig(addr.toByteArray());
  const all = (1n << BigInt(bits)) - 1n;
  const hostmask = (1n << BigInt(bits - prefix)) - 1n;
  const mask = all ^ hostmask;
  const network = value & mask;
  const last = network | hostmask;
  const addresses = hostmask + 1n;

  let first: bigint;
  let lastHost: bigint;
  let hosts: bigint;
  if (prefix === bits) {
    first = lastHost = network;
    hosts = 1n;
  } else if (prefix === bits - 1) {
    // RFC 3021 point-to-point links (and IPv6 /127, RFC 6164): both addresses are hosts
    first = network;
    lastHost = last;
    hosts = 2n;
  } else if (version === 4) {
    first = network + 1n;
    lastHost = last - 1n;
    hosts = addresses - 2n;
  } else {
    // the first IPv6 address is the Subnet-Router anycast address (RFC 4291 §2.6.1)
    first = network + 1n;
    lastHost = last;
    hosts = addresses - 1n;
  }

  const bytes = addr.toByteArray();
  const withZone = (text: string) => (zoneId === undefined ? text : `${text}%${zoneId}`);
  const { kind, description } = classifyParsed(addr);
  const info: IpInfo = {
    input,
    version,
    address: withZone(addr.toString()),
    exploded: withZone(version === 4 ? addr.toString() : explodedForm(bytes)),
    prefix,
    class: version === 4 ? ipv4Class(bytes[0]!) : null,
    kind,
    kindDescription: description,
    netmask: text(mask, version),
    wildcard: text(hostmask, version),
    network: `${text(network, version)}/${prefix}`,
    networkAddress: text(network, version),
    broadcast: version === 4 ? text(last, version) : null,
    lastAddress: text(last, version),
    firstHost: text(first, version),
    lastHost: text(lastHost, version),
    hosts,
    addresses,
    hex: bytes.map((b) => b.toString(16).padStart(2, '0')).join(''),
    integer: value,
    binary: binaryForm(bytes, version),
    reversePointer: reversePointer(bytes, version),
  };
  if (version === 6 && (addr as IPv6).isIPv4MappedAddress()) {
    info.ipv4Mapped = (addr as IPv6).toIPv4Address().toString();
  }
  if (version === 6) Object.assign(info, embeddedIpv4(bytes));
  if (zoneId !== undefined) info.zoneId = zoneId;
  return info;
}

/**
 * The IPv4 addresses inside a transition-mechanism IPv6 address, at the places their RFCs put them:
 * 6to4 (RFC 3056) after 2002:, Teredo (RFC 4380) the server after 2001:0:, then the client's port
 * and address with every bit flipped; NAT64 (RFC 6052, /96 form) the last 32 bits.
 */
function embeddedIpv4(bytes: number[]): Pick<IpInfo, 'sixToFour' | 'teredo' | 'nat64'> {
  const v4 = (at: number, flip = 0) =>
    bytes
      .slice(at, at + 4)
      .map((b) => b ^ flip)
      .join('.');
  const starts = (...prefix: number[]) => prefix.every((b, i) => bytes[i] === b);
  if (starts(0x20, 0x02)) return { sixToFour: v4(2) };
  if (starts(0x20, 0x01, 0, 0)) {
    const clientPort = ((bytes[10]! << 8) | bytes[11]!) ^ 0xffff;
    return { teredo: { server: v4(4), client: v4(12, 0xff), clientPort } };
  }
  if (starts(0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0)) return { nat64: v4(12) };
  return {};
}

/**
 * `fe80::1%eth0` → address and zone id. Python's ipaddress takes any non-empty zone without `%`
 * (interface names, numbers); the network, netmask and PTR name are those of the bare address.
 */
function splitZone(text: string): { address: string; zoneId?: string } {
  const percent = text.indexOf('%');
  if (percent === -1) return { address: text };
  const zoneId = text.slice(percent + 1);
  if (!zoneId || zoneId.includes('%')) throw invalid(text);
  return { address: text.slice(0, percent), zoneId };
}

/** `2001:0db8:0000:…:0001`: every group, four hex digits each. */
function explodedForm(bytes: number[]): string {
  const groups: string[] = [];
  for (let i = 0; i < bytes.length; i += 2)
    groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16).padStart(4, '0'));
  return groups.join(':');
}

function binaryForm(bytes: number[], version: IpVersion): string {
  const bin = bytes.map((b) => b.toString(2).padStart(8, '0'));
  if (version === 4) return bin.join('.');
  const groups: string[] = [];
  for (let i = 0; i < bin.length; i += 2) groups.push(bin[i]! + bin[i + 1]!);
  return groups.join(':');
}

/** The DNS name used for reverse lookups (what Python's `reverse_pointer` gives). */
export function reversePointer(bytes: number[], version: IpVersion): string {
  if (version === 4) return `${[...bytes].reverse().join('.')}.in-addr.arpa`;
  const nibbles = bytes.flatMap((b) => [(b >> 4).toString(16), (b & 15).toString(16)]);
  return `${nibbles.reverse().join('.')}.ip6.arpa`;
}

/** The JSON form: bigints become numbers for IPv4 and decimal strings for IPv6. */
export function ipInfoToJson(info: IpInfo): Record<string, unknown> {
  const num = (n: bigint) => (info.version === 4 ? Number(n) : n.toString());
  return { ...info, hosts: num(info.hosts), addresses: num(info.addresses), integer: num(info.integer) };
}
