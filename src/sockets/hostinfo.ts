/**
 * Host information: this machine's name and interface addresses, forward lookups (every A and AAAA
 * address a name has) and reverse lookups. Lookups go through the system resolver (getaddrinfo /
 * getnameinfo), like `gethostbyname` in the course and like every connect we make, so `/etc/hosts`
 * counts and the answers match what Python's `socket` module sees.
 */
import dns from 'node:dns/promises';
import net from 'node:net';
import os from 'node:os';
import { NetkitError } from '../core/errors.js';
import { ipcalc } from './ipcalc.js';

export interface InterfaceAddress {
  /** interface name: lo, eth0… */
  name: string;
  family: 4 | 6;
  address: string;
  netmask: string;
  /** address/prefix */
  cidr: string | null;
  internal: boolean;
  mac: string;
  /** IPv6 scope id (link-local addresses) */
  scopeId?: number;
}

export interface LocalHostInfo {
  hostname: string;
  interfaces: InterfaceAddress[];
}

/** This machine: hostname and every interface address. */
export function localHostInfo(): LocalHostInfo {
  const interfaces: InterfaceAddress[] = [];
  for (const [name, list] of Object.entries(os.networkInterfaces())) {
    for (const a of list ?? []) {
      const entry: InterfaceAddress = {
        name,
        family: a.family === 'IPv6' ? 6 : 4,
        address: a.address,
        netmask: a.netmask,
        cidr: a.cidr,
        internal: a.internal,
        mac: a.mac,
      };
      if (a.family === 'IPv6' && a.scopeid) entry.scopeId = a.scopeid;
      interfaces.push(entry);
    }
  }
  return { hostname: os.hostname(), interfaces };
}

export interface HostAddresses {
  name: string;
  addresses: Array<{ address: string; family: 4 | 6 }>;
}

/** Every IPv4 and IPv6 address of `name` (system resolver, so /etc/hosts counts). */
export async function lookupHost(name: string): Promise<HostAddresses> {
  // Node's getaddrinfo answers "" with no addresses at all instead of an error
  if (name.trim() === '') throw new NetkitError('NETKIT_INVALID_INPUT', 'the host name is empty');
  let found: Array<{ address: string; family: number }>;
  try {
    found = await dns.lookup(name, { all: true, verbatim: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new NetkitError(
      'NETKIT_NOT_FOUND',
      `host ${name} not found${code === 'EAI_AGAIN' ? ' (no answer from the resolver)' : ''}`,
      { cause: err },
    );
  }
  const seen = new Set<string>();
  const addresses: HostAddresses['addresses'] = [];
  for (const a of found) {
    if (seen.has(a.address)) continue;
    seen.add(a.address);
    addresses.push({ address: a.address, family: a.family === 6 ? 6 : 4 });
  }
  return { name, addresses };
}

export interface ReverseResult {
  address: string;
  /** the PTR name (`1.0.0.127.in-addr.arpa`) */
  pointer: string;
  names: string[];
}

/**
 * The name of an address: getnameinfo (it reads /etc/hosts and then DNS, as Python's
 * `gethostbyaddr` does), falling back to a direct DNS PTR query.
 */
export async function reverseLookup(
  address: string,
  options: { dnsTimeoutMs?: number } = {},
): Promise<ReverseResult> {
  if (!net.isIP(address)) throw new NetkitError('NETKIT_INVALID_INPUT', `"${address}" is not an IP address`);
  const info = ipcalc(address);
  const names: string[] = [];
  try {
    const r = await dns.lookupService(info.address, 0);
    if (r.hostname && r.hostname !== info.address) names.push(r.hostname);
  } catch {
    // no name from the system resolver; try DNS below
  }
  if (!names.length) {
    // getnameinfo found nothing (e.g. nsswitch without dns): ask DNS for PTR records directly
    const resolver = new dns.Resolver({ timeout: options.dnsTimeoutMs ?? 2000, tries: 1 });
    try {
      names.push(...(await resolver.reverse(info.address)));
    } catch {
      // no PTR record or no DNS server
    }
  }
  if (!names.length) {
    throw new NetkitError('NETKIT_NOT_FOUND', `no name found for ${info.address} (${info.reversePointer})`);
  }
  return { address: info.address, pointer: info.reversePointer, names };
}
