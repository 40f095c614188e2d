/**
 * `netkit ip ADDRESS[/PREFIX]…`: the ipcalc-style calculator. The arithmetic lives in
 * `sockets/ipcalc.ts`; this file only parses arguments and prints a table or JSON lines.
 */
import type { Command } from 'commander';
import { NetkitError, usageError } from '../core/errors.js';
import { groupDigits } from '../sockets/bytes.js';
import { type IpInfo, ipcalc, ipInfoToJson, parsePrefix } from '../sockets/ipcalc.js';
import { action, bold, printJson } from './util.js';

/** The human table, one label per line. */
export function formatIpInfo(info: IpInfo): string {
  const rows: Array<[string, string]> = [
    ['Address', info.address],
    ['Version', info.version === 4 ? `IPv4 (class ${info.class})` : 'IPv6'],
    ['Kind', `${info.kind}: ${info.kindDescription}`],
  ];
  if (info.version === 6) rows.push(['Expanded', info.exploded]);
  if (info.ipv4Mapped) rows.push(['IPv4', `${info.ipv4Mapped} (mapped)`]);
  if (info.sixToFour) rows.push(['IPv4', `${info.sixToFour} (6to4 router)`]);
  if (info.nat64) rows.push(['IPv4', `${info.nat64} (NAT64)`]);
  if (info.teredo) {
    const { server, client, clientPort } = info.teredo;
    rows.push(['IPv4', `${client} port ${clientPort} (Teredo client), server ${server}`]);
  }
  rows.push(
    ['Netmask', `${info.netmask} = /${info.prefix}`],
    ['Wildcard', info.wildcard],
    ['Network', info.network],
  );
  if (info.version === 4) {
    const note = info.prefix >= 31 ? ' (no broadcast on /31 and /32, RFC 3021)' : '';
    rows.push(['Broadcast', `${info.broadcast}${note}`]);
  } else {
    rows.push(['Last addr', info.lastAddress], ['Broadcast', 'none (IPv6 has no broadcast)']);
  }
  rows.push(
    ['First host', info.firstHost],
    ['Last host', info.lastHost],
    ['Hosts', `${groupDigits(info.hosts)} (${groupDigits(info.addresses)} addresses)`],
    ['Hex', `${info.hex} (packed bytes, as inet_${info.version === 4 ? 'aton' : 'pton'} gives)`],
    ['Integer', info.integer.toString()],
    ['Binary', info.binary],
    ['Reverse', info.reversePointer],
  );
  return rows.map(([k, v]) => `${bold(k.padEnd(11))} ${v}`).join('\n');
}

/**
 * `ip 192.168.1.10 255.255.255.0`: the ipcalc form with a separate mask, which may also be a prefix
 * length (`ip 10.0.0.1 24`, `ip 2001:db8::1 64`) or a wildcard (`ip 10.0.0.0 0.0.255.255`), as
 * ipcalc takes them. Two addresses stay two addresses unless the second is such a mask.
 */
function netmaskForm(args: string[]): boolean {
  if (args.length !== 2 || args[0]!.includes('/')) return false;
  // a bare number is never an address: a wrong one is reported as a bad prefix, not a bad address
  if (/^\s*\d+\s*$/.test(args[1]!)) return true;
  if (args[0]!.includes(':')) return false;
  try {
    parsePrefix(args[1]!, 4);
    return true;
  } catch {
    return false;
  }
}

export function register(program: Command): void {
  program
    .command('ip')
    .description('IPv4/IPv6 address and prefix calculator (ipcalc-grade)')
    .argument(
      '<address...>',
      'ADDRESS[/PREFIX] or ADDRESS/NETMASK (several allowed), or ADDRESS NETMASK|PREFIX; a wildcard mask works as a netmask',
    )
    .option('--json', 'one JSON object per address (bigint counts as strings for IPv6)')
    .addHelpText(
      'after',
      `
Shows version, IPv4 class, kind (private, loopback, link-local, multicast, documentation,
shared/CGNAT, unique-local, ...), netmask, wildcard, network, broadcast, first/last host,
host count (RFC 3021 for /31 and /32), packed hex bytes, integer and binary forms, and
the IPv4 address inside an IPv4-mapped, 6to4, Teredo (client, port, server) or NAT64 one.
The mask may be a prefix length, a netmask or a wildcard (0.0.255.255 = /16), as in
ipcalc; an IPv6 zone id (fe80::1%eth0) is kept with the address.

Examples:
  $ netkit ip 10.1.2.3/8
  $ netkit ip 192.168.1.10 255.255.255.0
  $ netkit ip 172.16.5.4/255.240.0.0
  $ netkit ip 10.0.0.0 0.0.255.255
  $ netkit ip fe80::1%eth0/64
  $ netkit ip 2001:db8::1/64 --json
  $ netkit ip 100.64.0.1 169.254.1.1 224.0.0.251`,
    )
    .action(
      action((args: string[], opts: { json?: boolean }) => {
        let infos: IpInfo[];
        try {
          infos = netmaskForm(args) ? [ipcalc(args[0]!, args[1]!)] : args.map((a) => ipcalc(a));
        } catch (err) {
          // a malformed address is a usage error (exit 2)
          throw err instanceof NetkitError ? usageError(err.message) : err;
        }
        if (opts.json) {
          for (const info of infos) printJson(ipInfoToJson(info));
          return;
        }
        process.stdout.write(`${infos.map(formatIpInfo).join('\n\n')}\n`);
      }),
    );
}
