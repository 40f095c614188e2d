/**
 * `--interface` for multicast. For IPv4 it is a local address (IP_MULTICAST_IF takes one). For
 * IPv6, Node's setMulticastInterface/addMembership use only the `%scope` part of the value, so a
 * bare address such as `::1` would mean scope 0, "any interface", silently. A local IPv6 address
 * or an interface name is therefore mapped to `::%NAME` via os.networkInterfaces(); anything else
 * is a usage error.
 */
import net from 'node:net';
import os from 'node:os';
import { NetkitError } from '../core/errors.js';

type Interfaces = NodeJS.Dict<os.NetworkInterfaceInfo[]>;

/** The value to hand to Node for `group`, or a NETKIT_USAGE error saying what to use instead. */
export function resolveMulticastInterface(
  group: string,
  iface: string | undefined,
  interfaces: Interfaces = os.networkInterfaces(),
): string | undefined {
  if (iface === undefined || iface === '') return undefined;
  if (!net.isIPv6(group)) {
    if (net.isIPv4(iface)) return iface;
    throw new NetkitError(
      'NETKIT_USAGE',
      `--interface for the IPv4 group ${group} must be a local IPv4 address (e.g. 127.0.0.1), not "${iface}"`,
    );
  }
  if (iface.includes('%')) return iface;
  const hint = `use ::%NAME (e.g. ${
    Object.keys(interfaces)
      .map((n) => `::%${n}`)
      .slice(0, 2)
      .join(' or ') || '::%eth0'
  })`;
  if (net.isIPv4(iface))
    throw new NetkitError(
      'NETKIT_USAGE',
      `--interface ${iface} is IPv4 but ${group} is an IPv6 group: ${hint}`,
    );
  if (net.isIPv6(iface)) {
    const want = canonical(iface);
    for (const [name, addrs] of Object.entries(interfaces)) {
      if (addrs?.some((a) => a.family === 'IPv6' && canonical(a.address) === want)) return `::%${name}`;
    }
    throw new NetkitError('NETKIT_USAGE', `no local interface has the address ${iface}: ${hint}`);
  }
  if (interfaces[iface]) return `::%${iface}`;
  throw new NetkitError(
    'NETKIT_USAGE',
    `--interface "${iface}" is not a local address or interface: ${hint}`,
  );
}

/** One spelling per IPv6 address (`0:0::1` and `::1` compare equal). */
function canonical(address: string): string {
  return new URL(`http://[${address.split('%')[0]}]/`).hostname;
}
